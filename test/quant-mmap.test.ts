// Memory-mapped GGUF loading: quantized matrices are views of the mapping (no private copy) and the
// model computes exactly what it computes from a file read into memory.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf } from '../src/gguf/export.js';
import { importGguf } from '../src/gguf/import.js';
import { nativeAvailable } from '../src/kernels/index.js';
import { loadModel } from '../src/model/model.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { statSync } from 'node:fs';
import { scratch } from './helpers.js';

const skip = nativeAvailable() ? false : 'mapping needs the native addon';

const cfg = makeConfig({
  model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 192, activation_function: 'swiglu',
  position_embedding_type: 'alibi', mup_scale_qk_dot_by_d: true,
});

test('a mapped GGUF gives the logits of the same file read into memory; its blocks are views of the mapping', { skip }, () => {
  const tensors = new Map(initModel(cfg, { seed: 3, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  const path = join(scratch(), 'm.gguf');
  exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'q4_0', embedType: 'q8_0' });
  const size = statSync(path).size;

  const mapped = importGguf(path), read = importGguf(path, { mmap: false });
  let views = 0;
  for (const [name, t] of mapped.tensors) {
    const r = read.tensors.get(name)!;
    if (t.kind === 'quant' && r.kind === 'quant') {
      assert.equal(t.matrix.data.buffer.byteLength, size, `${name} is a view of the whole mapped file`);
      assert.notEqual(r.matrix.data.buffer.byteLength, size);
      assert.deepEqual(t.matrix.data, r.matrix.data);
      views++;
    }
  }
  assert.ok(views >= 2 * 4 + 2, `${views} quantized matrices`);

  const ids = [[1, 5, 9, 2, 60, 7, 3]];
  // mapped explicitly: kernels that repack the matrices (x16) read the file by default
  const a = loadModel(path, { mmap: true }).forward(ids).logits, b = loadModel(path, { mmap: false }).forward(ids).logits;
  assert.deepEqual(a, b);
});
