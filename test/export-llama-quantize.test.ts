// mugpt's Q8_0/Q4_0 quantizer against llama.cpp's own (llama_model_quantize, from the libllama that
// node-llama-cpp ships, built by tools/llamacpp.ts): the same F32 GGUF file quantized by both gives the
// same blocks, bit for bit; and mugpt runs the file llama.cpp wrote like llama.cpp does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf } from '../src/gguf/export.js';
import { GgmlType, readGguf, readGgufTensorBytes } from '../src/gguf/file.js';
import { quantize } from '../src/quant/blocks.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { loadModel } from '../src/index.js';
import { buildLlamaQuantize, llamaCppLogProbs, llamaQuantize } from '../tools/llamacpp.js';
import { scratch } from './helpers.js';

const dir = scratch();
let exe: string | null = null;
let why = '';
try { exe = buildLlamaQuantize(dir); } catch (e) { why = (e as Error).message; }

const cfg = makeConfig({
  model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 192, activation_function: 'swiglu',
  position_embedding_type: 'alibi', mup_embeddings_scale: 2, mup_output_alpha: 2, mup_width_scale: 0.5,
  mup_scale_qk_dot_by_d: true, initializer_range: 0.2,
});
const tensors = new Map(initModel(cfg, { seed: 5, parameterization: 'sp' }).map((t) => [t.name, t.data]));
const f32 = join(dir, 'f32.gguf');
exportGguf(f32, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'f32' });

for (const type of ['q8_0', 'q4_0'] as const) {
  test(`llama.cpp's ${type} blocks equal mugpt's quantizer bit for bit, and mugpt runs llama.cpp's file`, { skip: exe ? false : `llama.cpp quantizer not built: ${why}` }, async () => {
    const out = join(dir, `llama-${type}.gguf`);
    llamaQuantize(exe!, f32, out, type);
    const src = readGguf(f32), q = readGguf(out);
    let compared = 0;
    for (const t of q.tensors.values()) {
      if (t.type !== GgmlType.Q8_0 && t.type !== GgmlType.Q4_0) continue;
      const data = readGgufTensorBytes(src, t.name);
      const floats = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      const [K, rows] = t.dims;
      const ours = quantize(t.type === GgmlType.Q8_0 ? 'q8_0' : 'q4_0', floats, rows, K);
      assert.deepEqual(readGgufTensorBytes(q, t.name), ours, `${t.name} (${t.type === GgmlType.Q8_0 ? 'Q8_0' : 'Q4_0'})`);
      compared++;
    }
    assert.ok(compared >= 8, `compared ${compared} quantized tensors`);
    const ids = [464, 3139, 286, 4881, 318, 6342, 13, 383];
    const { logits, shape: [, T, V] } = loadModel(out, { padToBlocks: false }).forward([ids]);
    const llama = await llamaCppLogProbs(out, ids, V);
    let maxDiff = 0;
    for (let t = 0; t < T; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      let m = -Infinity;
      for (const x of row) m = Math.max(m, x);
      let z = 0;
      for (const x of row) z += Math.exp(x - m);
      const l = m + Math.log(z);
      for (let i = 0; i < V; i++) maxDiff = Math.max(maxDiff, Math.abs(row[i] - l - llama[t][i]));
    }
    assert.ok(maxDiff <= 0.4, `mugpt vs llama.cpp on llama.cpp's ${type} file: max |Δ log p| ${maxDiff}`);
  });
}
