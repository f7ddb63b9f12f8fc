// GGUF files mugpt writes, run by llama.cpp (node-llama-cpp) and by mugpt's own GGUF runtime, against
// the HF-semantics forward of the model they came from: next-token log-probabilities per position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf, type GgufWeightType } from '../src/gguf/export.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { Model, loadModel } from '../src/index.js';
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
    const { quantizeModel } = await import('../src/gguf/quantize-model.js');
    const { readGguf } = await import('../src/gguf/file.js');
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

/** Relative RMS of b − a over all positions (each row of log-probabilities centred), against b. */
function relRms(a: Float64Array[], b: Float64Array[]): number {
  let num = 0, den = 0;
  a.forEach((ra, p) => {
    const rb = b[p];
    let ma = 0, mb = 0;
    for (let i = 0; i < ra.length; i++) { ma += ra[i]; mb += rb[i]; }
    ma /= ra.length; mb /= rb.length;
    for (let i = 0; i < ra.length; i++) { num += (ra[i] - ma - (rb[i] - mb)) ** 2; den += (rb[i] - mb) ** 2; }
  });
  return Math.sqrt(num / den);
}

test('BTLM Q4_0 with n_inner 341 (ffn_down F16 in the file): mugpt and llama.cpp compute the same model', async () => {
  // issue 13 item 11's model: 2 layers, n_embd 128, n_inner 341 (not a multiple of 32), ALiBi, μP
  const cfg = makeConfig({
    model_type: 'btlm', n_embd: 128, n_layer: 2, n_head: 4, n_inner: 341, n_positions: 256, activation_function: 'swiglu',
    position_embedding_type: 'alibi', mup_width_scale: 0.5, mup_embeddings_scale: 14.6, mup_output_alpha: 2.22,
    mup_scale_qk_dot_by_d: true, initializer_range: 0.073,
  });
  const tensors = new Map(initModel(cfg, { seed: 1, parameterization: 'mup', mupBase: { width: 64 } }).map((t) => [t.name, t.data]));
  const tokens = Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % 50000);
  const logProbs = (m: Model): Float64Array[] => {
    const { logits, shape: [, T, V] } = m.forward([tokens]);
    return Array.from({ length: T }, (_, t) => logSoftmax(logits.subarray(t * V, (t + 1) * V)));
  };
  const stepped = (m: Model): Float64Array[] => { const c = m.newCache(); return tokens.map((id) => logSoftmax(m.step(c, [id]))); };
  const f32 = logProbs(Model.fromTensors(cfg, tensors));
  const path = join(scratch(), 'btlm-341-q4_0.gguf');
  exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'q4_0' });
  const llama = await llamaCppLogProbs(path, tokens, cfg.vocab_size);
  const exact = logProbs(loadModel(path, { padToBlocks: false })); // the F16 ffn_down as floats: llama.cpp's arithmetic
  const dflt = logProbs(loadModel(path)); // padded to Q8_0 blocks
  const q4 = logProbs(loadModel(path, { padToBlocks: 'q4_0' })); // padded to Q4_0 blocks (least memory)
  const quantError = Math.min(relRms(llama, f32), relRms(exact, f32));
  const d = { exact: relRms(llama, exact), dflt: relRms(llama, dflt), q4: relRms(llama, q4) };
  // measured: vs F32 1.5e-2 (both engines); llama.cpp vs mugpt 2.4e-3 (none), 3.8e-3 (q8_0, default), 9.5e-3 (q4_0)
  assert.ok(d.exact < 0.3 * quantError, `padToBlocks false: llama.cpp vs mugpt ${d.exact}, either vs F32 ≥ ${quantError}`);
  assert.ok(d.dflt < 0.4 * quantError, `default: llama.cpp vs mugpt ${d.dflt}, either vs F32 ≥ ${quantError}`);
  assert.ok(d.q4 > 2 * d.exact, `q4_0 padding is the deliberate, documented difference: ${d.q4} vs ${d.exact}`);
  // What remains is llama.cpp's F16 attention arithmetic (F16 K/V cache) turned into rounding flips by the Q8_0
  // activation quantization: mugpt's own f16 cache moves it as much on this file (6.7e-4), and 40× less on an F32 file.
  const noise = relRms(stepped(loadModel(path, { padToBlocks: false, kvCache: 'f16' })), stepped(loadModel(path, { padToBlocks: false })));
  assert.ok(d.exact < 6 * noise, `llama.cpp vs mugpt ${d.exact}, mugpt f16 vs f32 KV cache ${noise}`);
});
