// Batched decoding (Model.stepBatch): sequences that join and leave a running batch, prompts fed in
// chunks between other sequences' decode steps, give the same greedy tokens as each one generated
// alone by model.generate — for float and Q8_0 / Q4_0 GGUF models, with the JS and native kernels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argmax } from '../src/generate/sampler.js';
import { nativeAvailable } from '../src/kernels/index.js';
import type { BackendName } from '../src/kernels/kernels.js';
import type { KVCache } from '../src/generate/decode-model.js';
import { loadModel, type Model } from '../src/model/model.js';
import type { KVCacheType } from '../src/model/kvcache.js';
import { MugptError } from '../src/errors.js';
import { smallGguf, smallModel, smallTensors } from './serve-models.js';

interface Plan { prompt: number[]; maxNew: number; join: number }

const PLANS: Plan[] = [
  { prompt: [464, 3139, 286, 4881, 318, 6342, 13, 383, 3139], maxNew: 12, join: 0 },
  { prompt: [40], maxNew: 5, join: 0 }, // leaves early
  { prompt: [15496, 11, 995, 0, 314, 716, 257, 1332, 286, 262, 1080, 13, 632, 318], maxNew: 10, join: 2 }, // joins mid-way, long prompt in chunks
  { prompt: [50256, 818, 262], maxNew: 8, join: 6 }, // joins after another has left
];

/** Greedy tokens of every plan run together: each step feeds decoding sequences one token and prompts `chunk` tokens. */
function batchedGreedy(model: Model, plans: Plan[], chunk: number): { tokens: number[][]; widest: number } {
  const tokens: number[][] = plans.map(() => []);
  const caches: Array<KVCache | null> = plans.map(() => null);
  const fed = plans.map(() => 0);
  let widest = 0;
  for (let step = 0; tokens.some((t, i) => t.length < plans[i].maxNew); step++) {
    const entries: Array<{ cache: KVCache; ids: number[] }> = [], who: number[] = [];
    plans.forEach((p, i) => {
      if (step < p.join || tokens[i].length >= p.maxNew) return;
      const cache = (caches[i] ??= model.newCache(p.prompt.length + p.maxNew));
      const ids = fed[i] < p.prompt.length ? p.prompt.slice(fed[i], fed[i] + chunk) : [tokens[i][tokens[i].length - 1]];
      fed[i] = Math.min(p.prompt.length, fed[i] + chunk);
      entries.push({ cache, ids });
      who.push(i);
    });
    if (entries.length === 0) continue;
    widest = Math.max(widest, entries.length);
    const logits = model.stepBatch(entries);
    who.forEach((i, e) => {
      if (fed[i] === plans[i].prompt.length) tokens[i].push(argmax(logits[e]));
    });
  }
  return { tokens, widest };
}

async function solo(model: Model, p: Plan): Promise<number[]> {
  const out: number[] = [];
  for await (const t of model.generate(p.prompt, { maxNewTokens: p.maxNew, ignoreEos: true })) out.push(t.id);
  return out;
}

const cases: Array<{ name: string; make: (backend: BackendName, kvCache: KVCacheType) => Model }> = [
  { name: 'gpt2 F32', make: (backend, kvCache) => smallModel('gpt2', { backend, kvCache }) },
  { name: 'btlm F32', make: (backend, kvCache) => smallModel('btlm', { backend, kvCache }) },
  { name: 'gpt2 F32 GGUF', make: (backend, kvCache) => loadModel(smallGguf('gpt2', 'f32'), { backend, kvCache }) },
  { name: 'btlm F32 GGUF', make: (backend, kvCache) => loadModel(smallGguf('btlm', 'f32'), { backend, kvCache }) },
  { name: 'gpt2 Q8_0 GGUF', make: (backend, kvCache) => loadModel(smallGguf('gpt2', 'q8_0'), { backend, kvCache }) },
  { name: 'btlm Q4_0 GGUF', make: (backend, kvCache) => loadModel(smallGguf('btlm', 'q4_0'), { backend, kvCache }) },
];

// the JS kernels (slow on GPT-2's vocabulary) on one float and one quantized model; the native ones on all
const runs = cases.flatMap((c) => (['f32', 'f16', 'q8'] as KVCacheType[]).map((kv) => ({ ...c, kv, backend: 'native' as BackendName })))
  .filter((r) => nativeAvailable() || r.kv === 'f32').map((r) => nativeAvailable() ? r : { ...r, backend: 'js' as BackendName });
if (nativeAvailable()) runs.push(...[cases[0], cases[2], cases[5]].map((c) => ({ ...c, kv: 'f32' as KVCacheType, backend: 'js' as BackendName })));

for (const { name, make, kv, backend } of runs) {
  test(`${name}, ${backend} kernels, ${kv} cache: batched greedy tokens equal solo generate, sequences joining and leaving`, async () => {
    const model = make(backend, kv);
    const want = await Promise.all(PLANS.map((p) => solo(model, p)));
    for (const chunk of [4, 64]) {
      const { tokens, widest } = batchedGreedy(model, PLANS, chunk);
      assert.ok(widest >= 3, `the batch should hold several sequences at once (widest ${widest})`);
      assert.deepEqual(tokens, want, `prompt chunks of ${chunk}`);
    }
  });
}

// A float GGUF model keeps its Conv1D matrices in the file's [out, in] layout for inference (x·Wᵀ);
// training and saving need HF's [in, out], which parameters() makes once, in place.
test('float GGUF: inference on [out, in] matrices; parameters() gives HF\'s [in, out] tensors, and decoding goes on', () => {
  const model = loadModel(smallGguf('gpt2', 'f32'), { backend: nativeAvailable() ? 'native' : 'js' });
  const ids = [464, 3139, 286, 4881];
  const before = model.step(model.newCache(8), ids).slice();
  const params = model.parameters();
  for (const [name, t] of smallTensors('gpt2')) assert.deepEqual(params[name], t, name);
  const after = model.step(model.newCache(8), ids);
  const worst = after.reduce((w, x, i) => Math.max(w, Math.abs(x - before[i])), 0);
  assert.ok(worst < 1e-4, `logits before and after the transposition differ by ${worst}`);
  assert.equal(argmax(after), argmax(before));
});

test('stepBatch: logits of each sequence equal its own step(), and bad entries are refused before any change', () => {
  const model = smallModel('btlm', { backend: 'js' });
  const a = model.newCache(), b = model.newCache(), a1 = model.newCache(), b1 = model.newCache();
  const [la, lb] = model.stepBatch([{ cache: a, ids: [1, 2, 3] }, { cache: b, ids: [7] }]);
  const wa = model.step(a1, [1, 2, 3]), wb = model.step(b1, [7]);
  for (let i = 0; i < wa.length; i++) {
    assert.ok(Math.abs(la[i] - wa[i]) <= 1e-5 * (1 + Math.abs(wa[i])), `a[${i}]`);
    assert.ok(Math.abs(lb[i] - wb[i]) <= 1e-5 * (1 + Math.abs(wb[i])), `b[${i}]`);
  }
  assert.equal(a.length, 3);
  assert.equal(b.length, 1);
  assert.throws(() => model.stepBatch([]), MugptError);
  assert.throws(() => model.stepBatch([{ cache: a, ids: [1] }, { cache: a, ids: [2] }]), /repeats the cache/);
  assert.throws(() => model.stepBatch([{ cache: a, ids: [1] }, { cache: b, ids: [model.vocabSize] }]), /entries\[1\]\.ids\[0\]/);
  assert.throws(() => model.stepBatch([{ cache: smallModel('btlm').newCache(), ids: [1] }]), /this model's newCache/);
  assert.equal(a.length, 3, 'a refused batch leaves the caches as they were');
  assert.equal(b.length, 1);
});
