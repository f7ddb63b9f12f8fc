// padToBlocks: BTLM-style matrices whose input length is not a multiple of 32 (kept F16 in the file,
// as llama.cpp does) held as zero-padded Q4_0 / Q8_0 blocks in memory.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf } from '../src/gguf/export.js';
import { importGguf } from '../src/gguf/import.js';
import { MugptError } from '../src/errors.js';
import { getKernels } from '../src/kernels/index.js';
import { loadModel } from '../src/model/model.js';
import { dequantize, quantize } from '../src/quant/blocks.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { scratch } from './helpers.js';

// n_inner 200 = 6 blocks + 8: mlp.c_proj [64 out, 200 in] is written F16 and padded to 224 inputs
const cfg = makeConfig({
  model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 200, activation_function: 'swiglu',
  position_embedding_type: 'alibi', mup_scale_qk_dot_by_d: true,
});

function file(): string {
  const tensors = new Map(initModel(cfg, { seed: 5, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  const path = join(scratch(), 'pad.gguf');
  exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'q4_0', embedType: 'q8_0' });
  return path;
}

test('padToBlocks holds unaligned float matrices as zero-padded blocks of the float weights', () => {
  const path = file();
  const plain = importGguf(path, { padToBlocks: false }), pad = importGguf(path, { padToBlocks: 'q8_0' });
  const f = plain.tensors.get('transformer.h.0.mlp.c_proj.weight')!, q = pad.tensors.get('transformer.h.0.mlp.c_proj.weight')!;
  assert.equal(f.kind, 'f32'); // F16 in the file
  assert.ok(q.kind === 'quant' && f.kind === 'f32');
  assert.deepEqual([q.matrix.N, q.matrix.K, q.matrix.type], [64, 224, 'q8_0']);
  // the blocks are exactly the quantization of the float rows [out, in] with 24 zeros appended
  const rows = new Float32Array(64 * 224);
  for (let o = 0; o < 64; o++) for (let i = 0; i < 200; i++) rows[o * 224 + i] = f.data[i * 64 + o];
  assert.deepEqual(q.matrix.data, quantize('q8_0', rows, 64, 224));
  const back = dequantize('q8_0', q.matrix.data, 64, 224);
  for (let o = 0; o < 64; o++) for (let i = 200; i < 224; i++) assert.equal(back[o * 224 + i], 0);
  // by default Q8_0 in a quantized file (here Q4_0), whatever its type (docs/quantization.md, "Agreement with llama.cpp")
  const dflt = importGguf(path).tensors.get('transformer.h.1.mlp.c_proj.weight')!;
  assert.ok(dflt.kind === 'quant' && dflt.matrix.type === 'q8_0' && dflt.matrix.K === 224);
  assert.throws(() => importGguf(path, { padToBlocks: 'q2_k' as never }), (e: unknown) => e instanceof MugptError && /padToBlocks/.test(e.message));
});

test('a model with padded blocks runs: its logits stay within the quantization error of the float matrices', () => {
  const path = file();
  const ids = [[3, 14, 15, 9, 26, 5, 35]];
  for (const backend of ['js', getKernels().name] as const) {
    const ref = loadModel(path, { backend, padToBlocks: false }).forward(ids).logits;
    for (const [type, tol] of [['q8_0', 0.01], ['q4_0', 0.03]] as const) { // measured 3.2e-3, 5.7e-3
      const got = loadModel(path, { backend, padToBlocks: type }).forward(ids).logits;
      let num = 0, den = 0;
      for (let i = 0; i < ref.length; i++) { num = Math.max(num, Math.abs(got[i] - ref[i])); den = Math.max(den, Math.abs(ref[i])); }
      assert.ok(num > 0 && num / den < tol, `${backend} ${type}: relative logit difference ${num / den}`);
    }
  }
});
