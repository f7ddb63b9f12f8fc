// GGUF files mugpt writes, run by llama.cpp (node-llama-cpp) and by mugpt's own GGUF runtime, against
// the HF-semantics forward of the model they came from: next-token log-probabilities per position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf, type GgufWeightType } from '../src/export/gguf-export.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { Model, loadModel } from '../src/model/model.js';
import { llamaCppLogProbs } from '../tools/llamacpp.js';
import { scratch } from './helpers.js';

const ids = [464, 3139, 286, 4881, 318, 6342, 13, 383, 3139, 286, 4486, 318];

const CONFIGS: Record<string, ModelConfig> = {
  // Cerebras-GPT form with the tanh GELU llama.cpp computes, so only llama.cpp's rounding differs
  gpt2: makeConfig({ model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, activation_function: 'gelu_new', initializer_range: 0.2 }),
  // BTLM form: ALiBi, SwiGLU, μP multipliers (folded into the file), 1/d attention
  jais: makeConfig({
    model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 192, activation_function: 'swiglu',
    position_embedding_type: 'alibi', mup_embeddings_scale: 2, mup_output_alpha: 2, mup_width_scale: 0.5,
    mup_scale_qk_dot_by_d: true, initializer_range: 0.2,
  }),
};

function logSoftmax(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const x of row) m = Math.max(m, x);
  let z = 0;
  for (const x of row) z += Math.exp(x - m);
  const l = m + Math.log(z);
  return Float64Array.from(row, (x) => x - l);
}

/** max |Δ log p| over every position and token, and how often the argmax agrees. */
function compare(a: Float64Array[], b: Float64Array[]): { maxDiff: number; agree: number } {
  let maxDiff = 0, agree = 0;
  a.forEach((ra, p) => {
    const rb = b[p];
    let ia = 0, ib = 0;
    for (let i = 0; i < ra.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ra[i] - rb[i]));
      if (ra[i] > ra[ia]) ia = i;
      if (rb[i] > rb[ib]) ib = i;
    }
    if (ia === ib) agree++;
  });
  return { maxDiff, agree };
}

function rows(m: Model): Float64Array[] {
  const { logits, shape: [, T, V] } = m.forward([ids]);
  return Array.from({ length: T }, (_, t) => logSoftmax(logits.subarray(t * V, (t + 1) * V)));
}

for (const [arch, cfg] of Object.entries(CONFIGS)) {
  const tensors = new Map(initModel(cfg, { seed: 1, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  const hf = rows(Model.fromTensors(cfg, tensors, { backend: 'js' }));
  for (const type of ['f32', 'f16', 'q8_0', 'q4_0'] as GgufWeightType[]) {
    test(`${arch} ${type}: llama.cpp and mugpt run the same GGUF file alike`, async () => {
      const path = join(scratch(), `${arch}-${type}.gguf`);
      exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type, embedType: type });
      const ours = rows(loadModel(path, { backend: 'js' }));
      const llama = await llamaCppLogProbs(path, ids, cfg.vocab_size);
      const vsHf = compare(ours, hf), vsLlama = compare(llama, ours);
      // F32: the folding of μP into the file is exact; llama.cpp differs by its F16 KV cache and fp16 GELU table
      const bound = { f32: 0.02, f16: 0.02, q8_0: 0.3, q4_0: 0.4 }[type];
      assert.ok(vsLlama.maxDiff <= bound, `llama.cpp vs mugpt on ${type}: max |Δ log p| ${vsLlama.maxDiff}`);
      assert.ok(vsLlama.agree >= ids.length - 1, `argmax agrees at ${vsLlama.agree}/${ids.length} positions`);
      if (type === 'f32') assert.ok(vsHf.maxDiff <= 1e-3, `GGUF F32 vs HF forward: ${vsHf.maxDiff}`);
      // quantized: both engines compute the same block arithmetic, so they agree far better than either with floats
      if (type === 'q4_0') assert.ok(vsLlama.maxDiff < vsHf.maxDiff / 4, `llama.cpp vs mugpt ${vsLlama.maxDiff}, mugpt vs float ${vsHf.maxDiff}`);
    });
  }
}

test('Cerebras-GPT\'s exact GELU against llama.cpp\'s tanh GELU: a small, bounded difference', async () => {
  const cfg = makeConfig({ ...CONFIGS.gpt2, activation_function: 'gelu' });
  const tensors = new Map(initModel(cfg, { seed: 1, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  const path = join(scratch(), 'erf.gguf');
  exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'f32' });
  const exact = rows(Model.fromTensors(cfg, tensors, { backend: 'js' }));
  const tanh = rows(Model.fromTensors(makeConfig({ ...CONFIGS.gpt2 }), tensors, { backend: 'js' }));
  const llama = await llamaCppLogProbs(path, ids, cfg.vocab_size);
  const gap = compare(exact, tanh).maxDiff;
  const d = compare(llama, exact);
  assert.ok(gap > 1e-4, 'the two GELUs do differ');
  assert.ok(d.maxDiff <= gap + 0.02 && d.agree === ids.length, `llama.cpp vs exact-GELU model: ${d.maxDiff} (GELU gap ${gap})`);
  assert.equal(loadModel(path).config.activation_function, 'gelu', 'mugpt reruns the file with the exact GELU');
});

for (const arch of ['gpt2', 'jais'] as const) {
  test(`${arch} with an untied head: HF folder → mugpt quantize → output.weight, run alike by llama.cpp`, async () => {
    const { quantizeModel } = await import('../src/quant/quantize-model.js');
    const { readGguf } = await import('../src/io/gguf.js');
    const cfg = makeConfig({ ...CONFIGS[arch], tie_word_embeddings: false });
    const tensors = new Map(initModel(cfg, { seed: 2, parameterization: 'sp' }).map((t) => [t.name, t.data]));
    assert.ok(tensors.has('lm_head.weight'), 'initModel makes an untied head');
    const dir = join(scratch(), `${arch}-untied`);
    Model.fromTensors(cfg, tensors, { backend: 'js' }).save(dir);
    const loaded = loadModel(dir, { backend: 'js' });
    assert.deepEqual(loaded.params.lmHead, tensors.get('lm_head.weight'), 'the HF reader keeps lm_head.weight');
    const hf = rows(loaded);
    // the head matters: the same weights with the embedding as the head predict otherwise
    const tied = rows(Model.fromTensors(makeConfig({ ...cfg, tie_word_embeddings: true }),
      new Map([...tensors].filter(([n]) => n !== 'lm_head.weight')), { backend: 'js' }));
    assert.ok(compare(tied, hf).maxDiff > 1, 'untied and tied heads differ');
    for (const type of ['f32', 'q8_0'] as GgufWeightType[]) {
      const path = join(scratch(), `${arch}-untied-${type}.gguf`);
      quantizeModel(dir, path, { type });
      assert.ok(readGguf(path).tensors.has('output.weight'), 'an untied head is written as output.weight');
      const ours = rows(loadModel(path, { backend: 'js' }));
      const llama = await llamaCppLogProbs(path, ids, cfg.vocab_size);
      const d = compare(llama, type === 'f32' ? hf : ours);
      assert.ok(d.maxDiff <= (type === 'f32' ? 0.02 : 0.3), `llama.cpp vs mugpt (${type}): max |Δ log p| ${d.maxDiff}`);
      assert.ok(d.agree >= ids.length - 1, `argmax agrees at ${d.agree}/${ids.length}`);
    }
  });
}
