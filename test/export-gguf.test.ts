import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf } from '../src/gguf/export.js';
import { importGguf } from '../src/gguf/import.js';
import { llamaAlibiSlopes, planGguf } from '../src/gguf/name-map.js';
import { alibiSlopes } from '../src/model/alibi.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { quantize } from '../src/quant/blocks.js';
import { MugptError } from '../src/errors.js';
import { scratch } from './helpers.js';
import { existsSync } from 'node:fs';
import { quantizeModel } from '../src/gguf/quantize-model.js';

const gpt2 = (): ModelConfig => makeConfig({
  model_type: 'gpt2', vocab_size: 50257, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 32, activation_function: 'gelu',
});
const btlm = (extra: Partial<ModelConfig> = {}): ModelConfig => makeConfig({
  model_type: 'btlm', vocab_size: 50257, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 32, n_inner: 96,
  activation_function: 'swiglu', position_embedding_type: 'alibi', mup_width_scale: 0.5, mup_embeddings_scale: 3,
  mup_output_alpha: 2, mup_scale_qk_dot_by_d: true, ...extra,
});

function weights(cfg: ModelConfig): (name: string) => Float32Array {
  const t = new Map(initModel(cfg, { seed: 3, parameterization: 'sp' }).map((x) => [x.name, x.data]));
  return (name) => {
    const v = t.get(name);
    if (!v) throw new MugptError(`missing ${name}`);
    return v;
  };
}

const spec = (): BpeTokenizer['spec'] => (loadTokenizer('gpt2') as BpeTokenizer).spec;

test('llama.cpp ALiBi slopes with max bias 8 are Press et al.\'s for any head count', () => {
  for (const H of [1, 2, 4, 6, 12, 32, 40]) {
    const a = llamaAlibiSlopes(H), b = alibiSlopes(H);
    for (let h = 0; h < H; h++) assert.ok(Math.abs(a[h] - b[h]) < 1e-7 * b[h], `H=${H} h=${h}`);
  }
});

test('gpt2 F32 export → import gives back every HF tensor exactly', () => {
  const cfg = gpt2();
  const get = weights(cfg);
  const path = join(scratch(), 'm.gguf');
  const plan = exportGguf(path, cfg, get, spec(), { type: 'f32' });
  assert.equal(plan.arch, 'gpt2');
  assert.match(plan.notes.join(' '), /tanh GELU/);
  const m = importGguf(path);
  assert.equal(m.config.activation_function, 'gelu', 'the exact GELU survives through mugpt.hf_config');
  assert.equal(m.config.tie_word_embeddings, true);
  assert.equal(m.tokenizer?.tokenBytes.length, 50257);
  assert.equal(m.tokenizer?.mergeResults.length, 50000);
  assert.equal(m.tokenizer?.eosTokenId, 50256);
  const tok = new BpeTokenizer(m.tokenizer!);
  const text = 'The capital of France is Paris. 🙂 naïve  code();';
  assert.deepEqual(tok.encode(text), loadTokenizer('gpt2').encode(text), 'the embedded vocabulary tokenizes like the bundled one');
  for (const [name, t] of m.tensors) {
    assert.equal(t.kind, 'f32');
    if (t.kind === 'f32') assert.deepEqual(t.data, get(name), name);
  }
});

test('BTLM exports as jais with μP folded: embeddings ×3, explicit output = wte × α·width, Q ×1', () => {
  const cfg = btlm();
  const get = weights(cfg);
  const path = join(scratch(), 'b.gguf');
  const plan = exportGguf(path, cfg, get, spec(), { type: 'f32' });
  assert.equal(plan.arch, 'jais');
  assert.equal(plan.maxAlibiBias, 8);
  const m = importGguf(path);
  assert.equal(m.config.model_type, 'btlm');
  assert.equal(m.config.tie_word_embeddings, false);
  const t = (n: string): Float32Array => { const x = m.tensors.get(n)!; assert.equal(x.kind, 'f32'); return (x as { data: Float32Array }).data; };
  const wte = get('transformer.wte.weight');
  assert.ok(t('transformer.wte.weight').every((v, i) => Math.abs(v - wte[i] * 3) <= 1e-6 * Math.abs(v)));
  assert.ok(t('lm_head.weight').every((v, i) => Math.abs(v - wte[i] * 1) <= 1e-6 * Math.abs(v)));
  assert.deepEqual(t('transformer.h.1.mlp.c_fc2.weight'), get('transformer.h.1.mlp.c_fc2.weight'));
});

test('quantized export keeps matrices as blocks on import; rows not a multiple of 32 fall back to F16', () => {
  const cfg = btlm({ n_inner: 80 }); // mlp.c_proj has reduction length 80: not a multiple of 32
  const get = weights(cfg);
  const path = join(scratch(), 'q.gguf');
  exportGguf(path, cfg, get, spec(), { type: 'q4_0' });
  const m = importGguf(path, { padToBlocks: false }); // as in the file (by default it would be padded to Q4_0 blocks)
  const qkv = m.tensors.get('transformer.h.0.attn.c_attn.weight')!;
  assert.equal(qkv.kind, 'quant');
  if (qkv.kind === 'quant') {
    // blocks equal quantizing the [out, in] transpose of the HF weight (μP Q scale is 1 here)
    const w = get('transformer.h.0.attn.c_attn.weight');
    const t = new Float32Array(w.length);
    for (let i = 0; i < 32; i++) for (let o = 0; o < 96; o++) t[o * 32 + i] = w[i * 96 + o];
    assert.deepEqual(qkv.matrix.data, quantize('q4_0', t, 96, 32));
  }
  assert.equal(m.tensors.get('transformer.h.0.mlp.c_proj.weight')!.kind, 'f32');
});

test('what llama.cpp cannot represent is refused with the reason', () => {
  assert.throws(() => planGguf(btlm({ alibi_scaling: { type: 'linear', factor: 2 } }), null), /alibi_scaling/);
  assert.throws(() => planGguf(btlm(), Float32Array.from([0.5, 0.3, 0.1, 0.01])), /slope of head 1/);
  assert.throws(() => planGguf(makeConfig({ model_type: 'btlm', position_embedding_type: 'learned', activation_function: 'swiglu' }), null), /SwiGLU/);
});

test('llama.cpp loads both exported architectures and returns a full next-token distribution', async () => {
  const { llamaCppLogProbs } = await import('../tools/llamacpp.js');
  for (const cfg of [gpt2(), btlm()]) {
    const path = join(scratch(), 'l.gguf');
    exportGguf(path, cfg, weights(cfg), spec(), { type: 'f16' });
    const lp = await llamaCppLogProbs(path, [464, 3139, 286], cfg.vocab_size);
    assert.equal(lp.length, 3);
    let total = 0;
    for (const v of lp[2]) total += Math.exp(v);
    assert.ok(Math.abs(total - 1) < 1e-3, `probabilities sum to ${total}`);
  }
});

test('mugpt quantize: HF folder → Q8_0 GGUF → F16 GGUF, and bad --type is a clear error', async () => {
  const { spawnSync } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { writeCheckpoint } = await import('../src/io/hf.js');
  const { toHfConfig } = await import('../src/model/config.js');
  const { cliPath } = await import('./helpers.js');
  const dir = scratch();
  const cfg = gpt2();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(cfg)));
  writeCheckpoint(dir, initModel(cfg, { seed: 4, parameterization: 'sp' }));
  const q8 = join(dir, 'm-q8_0.gguf');
  const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, 'quantize', ...args], { encoding: 'utf8' });
  let r = run(dir, '--type', 'q8_0', '-o', q8);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /architecture gpt2, q8_0/);
  assert.equal(importGguf(q8).tensors.get('transformer.h.1.mlp.c_fc.weight')!.kind, 'quant');
  const f16 = join(dir, 'm-f16.gguf');
  r = run(q8, '--type', 'f16', '-o', f16);
  assert.equal(r.status, 1, 'Q8_0 → F16 rounds a second time: refused without --allow-requantize');
  assert.match(r.stderr, /m-q8_0\.gguf: already quantized \(.* is Q8_0\); writing it as f16 would round/);
  assert.match(r.stderr, /--allow-requantize/);
  r = run(q8, '--type', 'f16', '-o', f16, '--allow-requantize');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(importGguf(f16).tensors.get('transformer.h.1.mlp.c_fc.weight')!.kind, 'f32');
  r = run(q8, '--type', 'f32', '-o', join(dir, 'm-f32.gguf'));
  assert.equal(r.status, 0, `dequantizing to F32 is exact, so it needs no flag: ${r.stderr}`);
  r = run(dir, '--type', 'q5_k', '-o', join(dir, 'x.gguf'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--type: "q5_k" is not supported/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

test('re-quantizing a Q4_0 GGUF to Q8_0 is refused without allowRequantize, and with it gives Q8_0 of the Q4_0 weights', () => {
  const dir = scratch();
  const cfg = gpt2();
  const get = weights(cfg);
  const q4 = join(dir, 'm-q4_0.gguf');
  exportGguf(q4, cfg, get, spec(), { type: 'q4_0' });
  const out = join(dir, 'm-q8_0.gguf');
  assert.throws(() => quantizeModel(q4, out, { type: 'q8_0' }),
    (e: Error) => e instanceof MugptError && /m-q4_0\.gguf: already quantized \(blk\.0\.attn_qkv\.weight is Q4_0\); writing it as q8_0/.test(e.message)
      && /--allow-requantize/.test(e.message));
  assert.throws(() => quantizeModel(q4, out, { type: 'f32', embedType: 'q4_0' }), /already quantized .* as f32 \(embeddings q4_0\)/);
  assert.equal(existsSync(out), false, 'nothing written');
  quantizeModel(q4, out, { type: 'q8_0', allowRequantize: true });
  // the Q8_0 file holds the Q8_0 blocks of the dequantized Q4_0 weights
  const from = importGguf(q4, { dequantizeAll: true }).tensors.get('transformer.h.0.mlp.c_fc.weight')!;
  const to = importGguf(out).tensors.get('transformer.h.0.mlp.c_fc.weight')!;
  assert.ok(from.kind === 'f32' && to.kind === 'quant');
  const I = 4 * cfg.n_embd, D = cfg.n_embd;
  const rows = new Float32Array(I * D); // [out, in] as the file stores it
  for (let i = 0; i < D; i++) for (let o = 0; o < I; o++) rows[o * D + i] = from.data[i * I + o];
  assert.deepEqual(to.matrix.data, quantize('q8_0', rows, I, D));
});
