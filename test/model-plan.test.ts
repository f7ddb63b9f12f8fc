// Decode plans (Kernels.record, Decoder.step): a one-token step recorded once and replayed gives the logits of the
// same step made call by call, bit for bit, for every model family, KV cache type and weight format the native
// kernels run; it is recorded again when what it binds changes (the cache grows or is cut back, a longer prompt,
// the ALiBi scale), and steps it cannot record run call by call.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { MugptError } from '../src/errors.js';
import { exportGguf } from '../src/gguf/export.js';
import '../src/gguf/import.js'; // registers the GGUF reader loadModel uses
import { getKernels, nativeAvailable } from '../src/kernels/index.js';
import type { Kernels } from '../src/kernels/kernels.js';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { loadModel, type Model } from '../src/model/model.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { fixture, scratch } from './helpers.js';

const skip = nativeAvailable() ? false : 'native addon not available';

/** Counts k.record's recordings while fn runs. */
function countRecordings(k: Kernels, fn: () => void): number {
  const own = k.record!;
  let n = 0;
  k.record = (body) => { n++; return own.call(k, body); };
  try { fn(); } finally { k.record = own; }
  return n;
}

/** Runs fn with the kernels' record hidden: every step made call by call. */
function withoutPlans<T>(k: Kernels, fn: () => T): T {
  const own = k.record;
  k.record = undefined;
  try { return fn(); } finally { k.record = own; }
}

/**
 * Decodes `prompt` then `steps` single tokens, with plans and without, from caches of `reserve` positions (cut back
 * to `cutAt` positions once, when given): the logits of every step must be identical. Returns the recordings made.
 */
function comparePlans(model: Model, prompt: number[], steps: number, reserve: number, cutAt?: number): number {
  const V = model.vocabSize, k = model.kernels;
  const run = (): Float32Array[] => {
    const cache = model.newCache(reserve), out: Float32Array[] = [];
    out.push(model.step(cache, prompt));
    for (let i = 0; i < steps; i++) {
      if (cutAt !== undefined && i === steps >> 1) cache.length = cutAt;
      out.push(model.step(cache, [(7 * i + 3) % V]));
    }
    return out;
  };
  let plan: Float32Array[] = [];
  const recordings = countRecordings(k, () => { plan = run(); });
  const calls = withoutPlans(k, run);
  plan.forEach((l, i) => assert.deepEqual(l, calls[i], `step ${i}: plan and calls differ`));
  return recordings;
}

const dir = (name: string): string => fixture('model', name);

for (const name of ['gpt2-gelu', 'gpt2-gelu-new-layer-idx', 'btlm-alibi-h4-stored-slopes', 'btlm-alibi-h6-factor-sharded']) {
  for (const kvCache of ['f32', 'f16'] as const) {
    test(`${name}, ${kvCache} cache: replayed steps equal call-by-call steps bit for bit; one recording while nothing changes`, { skip }, () => {
      const model = loadModel(dir(name), { backend: 'native', kvCache });
      assert.equal(comparePlans(model, [1, 2, 3], 6, 64), 1);
    });
  }
}

test('a cache that grows (an ALiBi model past its reserve), or is cut back, is recorded again and stays exact', { skip }, () => {
  const model = loadModel(dir('btlm-alibi-h4-stored-slopes'), { backend: 'native', kvCache: 'f32' });
  // newCache(0): room for 16, then 32, 64 …: each growth replaces the arrays the plan binds (3 growths in 70 steps)
  assert.equal(comparePlans(model, [5], 70, 0), 4);
  assert.equal(comparePlans(model, [1, 2, 3, 4], 10, 64, 2), 2); // cut back to 2 positions halfway: once more
});

test('dynamic ALiBi scaling: steps past train_seq_len run call by call (their slopes change every step), still exact', { skip }, () => {
  const model = loadModel(dir('btlm-alibi-dynamic-bf16'), { backend: 'native' });
  assert.equal(comparePlans(model, [1], 8, 32), 1); // recorded at the first step; Tk ≤ 4 (scale 1) replays it
});

test('a q8 cache (its stores are not recordable) decodes call by call, exactly as without plans', { skip }, () => {
  const model = loadModel(dir('gpt2-gelu'), { backend: 'native', kvCache: 'q8' });
  assert.equal(comparePlans(model, [1, 2], 4, 32), 1); // tried once, then never for that cache
});

test('quantized GGUF files (Q4_0, Q8_0, a c_proj padded to whole blocks) and an F32 GGUF file replay exactly', { skip }, () => {
  // n_inner 200 = 6 blocks + 8: c_proj is held padded to 224 inputs
  const cfg = makeConfig({
    model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 200, activation_function: 'swiglu',
    position_embedding_type: 'alibi', mup_scale_qk_dot_by_d: true,
  });
  const tensors = new Map(initModel(cfg, { seed: 5, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  for (const type of ['q4_0', 'q8_0', 'f32'] as const) {
    const path = join(scratch(), `plan-${type}.gguf`);
    exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type, embedType: type === 'f32' ? 'f32' : 'q8_0' });
    for (const kvCache of ['f32', 'f16'] as const) {
      const model = loadModel(path, { backend: 'native', kvCache });
      assert.equal(comparePlans(model, [3, 14, 15], 5, 32), 1, `${type} ${kvCache}`);
    }
  }
});

test('Kernels.record records without running; run replays with Tk shifted; other kernels and errors leave nothing behind', { skip }, () => {
  const k = getKernels('native');
  const D = 8, x = Float32Array.from({ length: D }, (_, i) => i - 3), w = new Float32Array(D).fill(1), b = new Float32Array(D);
  const out = new Float32Array(D).fill(7);
  const plan = k.record!(() => k.layerNorm(out, x, w, b, 1, D, 1e-5));
  assert.ok(out.every((v) => v === 7), 'recording runs nothing');
  plan.run(0);
  const want = new Float32Array(D);
  k.layerNorm(want, x, w, b, 1, D, 1e-5);
  assert.deepEqual(out, want);
  // attention's new rows go to Tk + shift − 1
  const H = 1, d = 8, kc = new Float32Array(4 * D), vc = new Float32Array(4 * D), q = new Float32Array(3 * D).fill(0.5), o = new Float32Array(D);
  const attend = k.record!(() => k.attention({ out: o, q, qStride: 3 * D, k: kc, v: vc, kvStride: D, Tq: 1, Tk: 1, H, d, scale: 1, slopes: null,
    kNew: q.subarray(D), vNew: q.subarray(2 * D), newStride: 3 * D }));
  attend.run(2);
  assert.ok(kc.subarray(2 * D, 3 * D).every((v) => v === 0.5) && kc.subarray(0, 2 * D).every((v) => v === 0), 'stored at row 2');
  assert.throws(() => attend.run(-1), /tkShift must be an integer ≥ 0/);
  // a kernel that cannot be recorded: a clear error, and the kernels' own methods back in place
  const ownQrow = k.qrow;
  assert.throws(() => k.record!(() => k.softmaxCrossEntropy(new Float32Array(4), [0], 1, 4, 1)),
    (e: unknown) => e instanceof MugptError && /kernels\.softmaxCrossEntropy cannot be recorded/.test(e.message));
  assert.throws(() => k.record!(() => { throw new Error('body failed'); }), /body failed/);
  assert.equal(k.qrow, ownQrow);
  const after = new Float32Array(D);
  k.layerNorm(after, x, w, b, 1, D, 1e-5); // runs now: no recording left open
  assert.deepEqual(after, want);
});

test('a batch of one sequence and one token (a server with one stream) is a plain step: it replays the plan', { skip }, () => {
  const model = loadModel(dir('btlm-alibi-h4-stored-slopes'), { backend: 'native', kvCache: 'f16' });
  const run = (): Float32Array[] => {
    const cache = model.newCache(32), out: Float32Array[] = model.stepBatch([{ cache, ids: [1, 2, 3] }]).map((l) => l.slice());
    for (let i = 0; i < 5; i++) out.push(...model.stepBatch([{ cache, ids: [(5 * i + 1) % model.vocabSize] }]));
    return out;
  };
  let plan: Float32Array[] = [];
  assert.equal(countRecordings(model.kernels, () => { plan = run(); }), 1);
  const calls = withoutPlans(model.kernels, run);
  plan.forEach((l, i) => assert.deepEqual(l, calls[i], `step ${i}`));
  assert.throws(() => model.stepBatch([{ cache: model.newCache(), ids: [model.vocabSize] }]), /stepBatch: entries\[0\]\.ids\[0\]/);
});
