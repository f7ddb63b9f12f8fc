// Memory-mapped GGUF loading: quantized matrices are views of the mapping (no private copy) and the
// model computes exactly what it computes from a file read into memory; kernels that repack the
// matrices (x16) copy them out of the mapping, which is never written.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf } from '../src/gguf/export.js';
import { importGguf } from '../src/gguf/import.js';
import { nativeAvailable } from '../src/kernels/index.js';
import { loadNativeAddon } from '../src/native/addon.js';
import { quantMatrices } from '../src/model/params.js';
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
  const a = loadModel(path, { mmap: true }).forward(ids).logits, b = loadModel(path, { mmap: false }).forward(ids).logits;
  assert.deepEqual(a, b);
});

test('loading maps the file by default; packed (x16) and padded matrices are copies out of it, with the logits of the file read into memory, on every instruction set', { skip }, () => {
  // n_inner 200: mlp.c_proj has 200 inputs, F16 in the file, padded to Q8_0 blocks at load from the mapping
  const shape = makeConfig({ ...cfg, n_inner: 200 });
  const tensors = new Map(initModel(shape, { seed: 4, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  const path = join(scratch(), 'p.gguf');
  exportGguf(path, shape, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'q4_0', embedType: 'q8_0' });
  const size = statSync(path).size;
  const ids = [[1, 5, 9, 2, 60, 7, 3], [4, 4, 8, 1, 0, 33, 2]];
  const addon = loadNativeAddon()!;
  const initial = addon.info().simd;
  try {
    for (const simd of ['avx512', 'avx2', 'portable']) {
      if (!addon.setSimd(simd)) continue;
      const mapped = loadModel(path), read = loadModel(path, { mmap: false });
      const ms = quantMatrices(mapped.params), rs = quantMatrices(read.params);
      assert.equal(ms.length, rs.length);
      ms.forEach((m, i) => {
        assert.equal(m.layout, rs[i].layout, `${simd}: matrix ${i} has the layout of the file read into memory`);
        assert.deepEqual(m.data, rs[i].data, `${simd}: matrix ${i} has the bytes of the file read into memory`);
        if (m.layout === 'x16' || m.K === 224) assert.notEqual(m.data.buffer.byteLength, size, `${simd}: matrix ${i} is a copy out of the mapping`);
        else assert.equal(m.data.buffer.byteLength, size, `${simd}: matrix ${i} is a view of the mapping`);
      });
      assert.ok(ms.some((m) => m.K === 224), 'the padded c_proj is among them');
      assert.deepEqual(mapped.forward(ids).logits, read.forward(ids).logits, simd);
      // the mapping is intact after its pages were released: a model of the same file computes the same
      assert.deepEqual(loadModel(path).forward(ids).logits, read.forward(ids).logits, `${simd}, loaded again`);
    }
  } finally {
    addon.setSimd(initial);
  }
});
