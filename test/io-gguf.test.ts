import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readGguf, readGgufTensorBytes, writeGguf, GgmlType, GgufValueType, ggufGet } from '../src/gguf/file.js';
import { quantize } from '../src/quant/blocks.js';
import { MugptError } from '../src/errors.js';
import { scratch } from './helpers.js';

function sample(path: string): { w: Float32Array; q: Uint8Array } {
  const w = new Float32Array(64 * 2).map((_, i) => Math.sin(i));
  const q = quantize('q8_0', w, 2, 64);
  writeGguf(path, {
    'general.architecture': 'gpt2',
    'general.name': 'tiny',
    'gpt2.context_length': 16,
    'gpt2.attention.layer_norm_epsilon': 1e-5,
    'general.file_type': { type: GgufValueType.UINT32, value: 7 },
    'tokenizer.ggml.tokens': ['a', 'b', '<|endoftext|>'],
    'tokenizer.ggml.token_type': { type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: [1, 1, 3] },
  }, [
    { name: 'w.f32', dims: [64, 2], type: GgmlType.F32, data: new Uint8Array(w.buffer) },
    { name: 'w.q8', dims: [64, 2], type: GgmlType.Q8_0, data: () => q },
    { name: 'b', dims: [3], type: GgmlType.F32, data: new Uint8Array(new Float32Array([1, 2, 3]).buffer) },
  ]);
  return { w, q };
}

test('GGUF write → read round-trips metadata and tensor bytes, offsets aligned', () => {
  const path = join(scratch(), 'm.gguf');
  const { w, q } = sample(path);
  const f = readGguf(path);
  assert.equal(f.version, 3);
  assert.equal(ggufGet(f, 'general.architecture', 'string'), 'gpt2');
  assert.equal(ggufGet(f, 'gpt2.context_length', 'number'), 16);
  assert.ok(Math.abs(ggufGet(f, 'gpt2.attention.layer_norm_epsilon', 'number') - 1e-5) < 1e-12);
  assert.deepEqual(ggufGet(f, 'tokenizer.ggml.tokens', 'string[]'), ['a', 'b', '<|endoftext|>']);
  assert.deepEqual(f.metadata.get('tokenizer.ggml.token_type'), [1, 1, 3]);
  for (const t of f.tensors.values()) assert.equal(t.offset % 32, 0);
  assert.deepEqual(new Float32Array(readGgufTensorBytes(f, 'w.f32').buffer), w);
  assert.deepEqual(readGgufTensorBytes(f, 'w.q8'), q);
  assert.deepEqual(f.tensors.get('w.q8')!.dims, [64, 2]);
});

test('llama.cpp\'s own GGUF parser (node-llama-cpp) reads what we write', async () => {
  const path = join(scratch(), 'm.gguf');
  sample(path);
  const { readGgufFileInfo } = await import('node-llama-cpp');
  const info = await readGgufFileInfo(path, { readTensorInfo: true });
  assert.equal(info.metadata.general.architecture, 'gpt2');
  const names = (info.fullTensorInfo ?? []).map((t) => t.name).sort();
  assert.deepEqual(names, ['b', 'w.f32', 'w.q8']);
  const q8 = info.fullTensorInfo!.find((t) => t.name === 'w.q8')!;
  assert.equal(Number(q8.ggmlType), GgmlType.Q8_0);
  assert.deepEqual(q8.dimensions.map(Number), [64, 2]);
});

test('bad GGUF files give clear errors naming the problem', () => {
  const dir = scratch();
  const good = join(dir, 'good.gguf');
  sample(good);
  const bytes = readFileSync(good);
  const bad = (name: string, data: Uint8Array, re: RegExp): void => {
    const p = join(dir, name);
    writeFileSync(p, data);
    assert.throws(() => readGguf(p), (e: unknown) => e instanceof MugptError && re.test(e.message) && e.message.includes(name));
  };
  bad('truncated.gguf', bytes.subarray(0, statSync(good).size - 40), /truncated|past the end/);
  bad('header-cut.gguf', bytes.subarray(0, 60), /past the end/);
  const magic = Buffer.from(bytes); magic.write('GGUX', 0);
  bad('magic.gguf', magic, /magic/);
  const ver = Buffer.from(bytes); ver.writeUInt32LE(9, 4);
  bad('version.gguf', ver, /version 9/);
  const huge = Buffer.from(bytes); huge.writeBigUInt64LE(1n << 60n, 8);
  bad('count.gguf', huge, /tensor count/);
  // unknown ggml type: find the type field of tensor 'b' (after its dims) and set it to 12 (Q4_K)
  const ty = Buffer.from(bytes);
  const pos = bytes.lastIndexOf(Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('b')])) + 9; // name length 1, "b"
  ty.writeUInt32LE(12, pos + 4 + 8); // skip n_dims (u32) and one dim (u64): the type field, 12 = Q4_K
  bad('type.gguf', ty, /ggml type 12/);
  const mis = Buffer.from(bytes);
  mis.writeBigUInt64LE(mis.readBigUInt64LE(pos + 4 + 8 + 4) + 4n, pos + 4 + 8 + 4); // offset no longer aligned
  bad('misaligned.gguf', mis, /alignment/);
});
