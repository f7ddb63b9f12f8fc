import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { openCheckpoint, readConfigJson, writeCheckpoint } from '../src/io/hf.js';
import { scratch } from './helpers.js';

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** A tiny GPT-2-shaped tensor set: D=4, V=10, P=6, one layer. */
function tinyTensors(): Array<{ name: string; shape: number[]; data: Float32Array }> {
  let seed = 7;
  const rnd = (n: number): Float32Array => Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 3;
  });
  const specs: Array<[string, number[]]> = [
    ['transformer.wte.weight', [10, 4]], ['transformer.wpe.weight', [6, 4]],
    ['transformer.h.0.ln_1.weight', [4]], ['transformer.h.0.ln_1.bias', [4]],
    ['transformer.h.0.attn.c_attn.weight', [4, 12]], ['transformer.h.0.attn.c_attn.bias', [12]],
    ['transformer.h.0.attn.c_proj.weight', [4, 4]], ['transformer.h.0.mlp.c_fc.weight', [4, 16]],
    ['transformer.ln_f.weight', [4]],
  ];
  return specs.map(([name, shape]) => ({ name, shape, data: rnd(shape.reduce((a, b) => a * b, 1)) }));
}

/** A raw safetensors file from (name, dtype, shape, bytes) entries, in the given order. */
function rawFile(path: string, entries: Array<[string, string, number[], Uint8Array]>): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, ...entries.map((e) => e[3])]));
}

function throwsMugpt(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('save then reload is bit-identical in F32, F16 and BF16 (single file)', () => {
  const tensors = tinyTensors();
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const a = join(scratch(), 'a');
    writeCheckpoint(a, tensors, { dtype });
    const ra = openCheckpoint(a);
    assert.deepEqual(ra.names().sort(), tensors.map((t) => t.name).sort());
    const loaded = tensors.map((t) => ({ name: t.name, shape: ra.info(t.name).shape, data: ra.read(t.name) }));
    for (const t of tensors) {
      assert.deepEqual(ra.info(t.name), { name: t.name, dtype, shape: t.shape, file: join(a, 'model.safetensors') });
      const back = ra.read(t.name);
      if (dtype === 'F32') assert.deepEqual(bits(back), bits(t.data));
      else for (let i = 0; i < back.length; i++) assert.ok(Math.abs(back[i] - t.data[i]) <= Math.abs(t.data[i]) * (dtype === 'F16' ? 2 ** -11 : 2 ** -8) + 1e-7);
    }
    ra.close();
    // Saving what was loaded reproduces the file byte for byte, and the values bit for bit.
    const b = join(scratch(), 'b');
    writeCheckpoint(b, loaded, { dtype });
    assert.deepEqual(readFileSync(join(b, 'model.safetensors')), readFileSync(join(a, 'model.safetensors')));
    const rb = openCheckpoint(b);
    for (const t of loaded) assert.deepEqual(bits(rb.read(t.name)), bits(t.data));
    rb.close();
  }
});

test('sharded save writes shards ≤ maxShardBytes and an index; reload is bit-identical', () => {
  const dir = scratch();
  const tensors = tinyTensors();
  writeCheckpoint(dir, tensors, { dtype: 'BF16', maxShardBytes: 100 });
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  const total = tensors.reduce((s, t) => s + 2 * t.data.length, 0);
  assert.equal(index.metadata.total_size, total);
  assert.deepEqual(Object.keys(index.weight_map), tensors.map((t) => t.name).sort());
  const shards = readdirSync(dir).filter((f) => f.startsWith('model-')).sort();
  assert.ok(shards.length >= 3, `got ${shards.length} shards`);
  assert.match(shards[0], /^model-00001-of-000\d\d\.safetensors$/);
  assert.ok(!existsSync(join(dir, 'model.safetensors')));
  // Each shard holds ≤ 100 bytes of tensor data unless a single tensor is larger.
  for (const s of shards) {
    const inShard = tensors.filter((t) => index.weight_map[t.name] === s);
    const bytes = inShard.reduce((a, t) => a + 2 * t.data.length, 0);
    assert.ok(bytes <= 100 || inShard.length === 1, `${s}: ${bytes} bytes in ${inShard.length} tensors`);
  }
  const r = openCheckpoint(dir);
  const loaded = tensors.map((t) => ({ name: t.name, shape: t.shape, data: r.read(t.name) }));
  assert.equal(r.info('transformer.wte.weight').file, join(dir, index.weight_map['transformer.wte.weight']));
  r.close();
  // Re-saving as one file removes the index and the shards, so the folder is unambiguous.
  writeCheckpoint(dir, loaded, { dtype: 'BF16' });
  assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('.')), ['model.safetensors']);
  const r2 = openCheckpoint(dir);
  for (const t of loaded) assert.deepEqual(bits(r2.read(t.name)), bits(t.data));
  r2.close();
  // And back to shards: the single file goes away.
  writeCheckpoint(dir, loaded, { dtype: 'BF16', maxShardBytes: 150 });
  assert.ok(!existsSync(join(dir, 'model.safetensors')));
  const r3 = openCheckpoint(dir);
  for (const t of loaded) assert.deepEqual(bits(r3.read(t.name)), bits(t.data));
  r3.close();
});

test('bare GPT2Model names get the transformer. prefix; legacy buffers are dropped; lm_head.weight keeps its name', () => {
  const dir = scratch();
  const wte = Float32Array.of(1, 2, 3, 4, 5, 6);
  const f32 = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer.slice(0));
  rawFile(join(dir, 'model.safetensors'), [
    ['wte.weight', 'F32', [3, 2], f32(wte)],
    ['h.0.attn.bias', 'BOOL', [1, 1, 2, 2], Uint8Array.of(1, 0, 1, 1)],
    ['h.0.attn.masked_bias', 'F32', [], f32(Float32Array.of(-1e4))],
    ['h.0.attn.c_attn.bias', 'F16', [2], Uint8Array.of(0x00, 0x3c, 0x00, 0xc0)],
    ['lm_head.weight', 'F32', [3, 2], f32(wte)],
  ]);
  const r = openCheckpoint(dir);
  assert.deepEqual(r.names().sort(), ['lm_head.weight', 'transformer.h.0.attn.c_attn.bias', 'transformer.wte.weight']);
  assert.deepEqual([...r.read('transformer.h.0.attn.c_attn.bias')], [1, -2]);
  assert.deepEqual(r.read('transformer.wte.weight'), wte);
  assert.deepEqual(r.read('lm_head.weight'), wte);
  throwsMugpt(() => r.read('transformer.lm_head.weight'), /has no tensor "transformer.lm_head.weight"/);
  r.close();

  rawFile(join(dir, 'model.safetensors'), [['wte.weight', 'F32', [1], f32(Float32Array.of(1))], ['transformer.wte.weight', 'F32', [1], f32(Float32Array.of(2))]]);
  throwsMugpt(() => openCheckpoint(dir), /both map to "transformer.wte.weight"/);
});

test('bad folders and indexes give errors naming the file', () => {
  const base = scratch();
  throwsMugpt(() => openCheckpoint(join(base, 'nope')), /not a folder/);
  const empty = join(base, 'empty');
  mkdirSync(empty);
  throwsMugpt(() => openCheckpoint(empty), /no model\.safetensors or model\.safetensors\.index\.json/);
  writeFileSync(join(empty, 'pytorch_model.bin'), 'x');
  throwsMugpt(() => openCheckpoint(empty), /pytorch_model\.bin; mugpt reads safetensors/);

  const dir = join(base, 'sharded');
  writeCheckpoint(dir, tinyTensors(), { maxShardBytes: 100 });
  const indexPath = join(dir, 'model.safetensors.index.json');
  const good = readFileSync(indexPath, 'utf8');
  const index = JSON.parse(good);

  writeFileSync(indexPath, '{"weight_map": ');
  throwsMugpt(() => openCheckpoint(dir), /model\.safetensors\.index\.json: safetensors index is not valid JSON/);
  writeFileSync(indexPath, JSON.stringify({ weight_map: ['a'] }));
  throwsMugpt(() => openCheckpoint(dir), /index\.json: "weight_map" must be an object/);
  writeFileSync(indexPath, JSON.stringify({ weight_map: { a: '../x.safetensors' } }));
  throwsMugpt(() => openCheckpoint(dir), /"weight_map" entry "a" must be a shard file name/);
  writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, 'transformer.extra': 'model-00099-of-00099.safetensors' } }));
  throwsMugpt(() => openCheckpoint(dir), /shard "model-00099-of-00099\.safetensors" is listed in weight_map but .* does not exist/);
  const first = index.weight_map['transformer.wte.weight'];
  writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, 'transformer.ghost': first } }));
  throwsMugpt(() => openCheckpoint(dir), new RegExp(`${first}: tensor "transformer.ghost" is listed in model.safetensors.index.json for this shard but is not in it`));

  // A corrupt shard is reported with the shard's path.
  writeFileSync(indexPath, good);
  writeFileSync(join(dir, first), Buffer.from([1, 2, 3]));
  throwsMugpt(() => openCheckpoint(dir), new RegExp(`${first}: truncated safetensors file`));
  rmSync(join(dir, first));
  throwsMugpt(() => openCheckpoint(dir), new RegExp(`shard "${first}" is listed in weight_map but .* does not exist`));
});

test('readConfigJson: a JSON object, or a clear error', () => {
  const dir = scratch();
  throwsMugpt(() => readConfigJson(dir), /no config\.json in this folder/);
  writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2",');
  throwsMugpt(() => readConfigJson(dir), /config\.json: config\.json is not valid JSON/);
  writeFileSync(join(dir, 'config.json'), '[1, 2]');
  throwsMugpt(() => readConfigJson(dir), /config\.json must be a JSON object/);
  writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2", "n_embd": 4}');
  assert.deepEqual(readConfigJson(dir), { model_type: 'gpt2', n_embd: 4 });
});
