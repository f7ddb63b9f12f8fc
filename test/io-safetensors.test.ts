import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { SafetensorsFile, encodeFloats, writeSafetensors } from '../src/io/safetensors.js';
import { floatBitsToHalf } from '../src/quant/half.js';
import { fixture, scratch } from './helpers.js';

/** Bit patterns of a Float32Array, so NaNs and -0 compare exactly. */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** A safetensors file from a header (object or raw text) and buffer, with an optional forced length field. */
function build(dir: string, name: string, header: object | string, buffer: Uint8Array = new Uint8Array(0), lengthField?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, buffer]));
  return path;
}

function assertRejects(path: string, pattern: RegExp): void {
  assert.throws(() => new SafetensorsFile(path), (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    assert.ok(err.message.includes(path), `message should name the file: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('F16 and BF16 upcasts and round-to-nearest-even downcasts equal PyTorch bit for bit', () => {
  const f = new SafetensorsFile(fixture('io', 'torch-dtypes.safetensors'));
  try {
    const src = f.readFloat32('src');
    assert.ok(src.length > 2000);
    assert.deepEqual(bits(f.readFloat32('f16')), bits(f.readFloat32('f16_up')));
    assert.deepEqual(bits(f.readFloat32('bf16')), bits(f.readFloat32('bf16_up')));
    // NaN bit patterns differ between PyTorch's scalar and vector paths (0x7fc0 vs 0xffff): compare NaN-ness there.
    const nan16 = (h: number, expMask: number, mantMask: number): boolean => (h & expMask) === expMask && (h & mantMask) !== 0;
    for (const [dtype, expMask, mantMask] of [['F16', 0x7c00, 0x3ff], ['BF16', 0x7f80, 0x7f]] as const) {
      const ours = new Uint16Array(encodeFloats(src, dtype).slice().buffer);
      const raw = f.readRaw(dtype === 'F16' ? 'f16' : 'bf16');
      const theirs = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
      let nans = 0;
      for (let i = 0; i < src.length; i++) {
        if (Number.isNaN(src[i])) { nans++; assert.ok(nan16(ours[i], expMask, mantMask) && nan16(theirs[i], expMask, mantMask)); }
        else assert.equal(ours[i], theirs[i], `${dtype} of ${src[i]} (element ${i})`);
      }
      assert.equal(nans, 1);
    }
    assert.equal(f.metadata.format, 'pt');
  } finally {
    f.close();
  }
});

test('all 65,536 half values upcast and convert back to themselves', () => {
  const dir = scratch();
  const all = new Uint16Array(65536).map((_, i) => i);
  const path = build(dir, 'all.safetensors', { h: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } }, new Uint8Array(all.buffer));
  const f = new SafetensorsFile(path);
  const up = f.readFloat32('h');
  f.close();
  const u = bits(up);
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN) assert.ok(Number.isNaN(up[h]) && (floatBitsToHalf(u[h]) & 0x7c00) === 0x7c00 && (floatBitsToHalf(u[h]) & 0x3ff) !== 0);
    else assert.equal(floatBitsToHalf(u[h]), h, `half 0x${h.toString(16)}`);
  }
  assert.equal(up[0x3c00], 1);
  assert.equal(up[0x7bff], 65504);
  assert.equal(up[0x0001], 2 ** -24);
  assert.ok(Object.is(up[0x8000], -0));
});

test('write then read is bit-identical in F32, and F16/BF16 round trips are exact on representable values', () => {
  const dir = scratch();
  const data = Float32Array.from({ length: 301 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
  data[0] = -0; data[1] = Infinity; data[2] = NaN;
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const path = join(dir, `${dtype}.safetensors`);
    const exact = dtype === 'F32' ? data : (() => { // values representable in dtype: the first round trip's output
      writeSafetensors(path, [{ name: 'x', shape: [data.length], data, dtype }]);
      const f = new SafetensorsFile(path); const r = f.readFloat32('x'); f.close(); return r;
    })();
    writeSafetensors(path, [{ name: 'b.w', shape: [7, 43], data: exact, dtype }, { name: 'a', shape: [], data: Float32Array.of(1.5), dtype }]);
    const raw = readFileSync(path);
    const n = Number(raw.readBigUInt64LE(0));
    assert.equal(n % 8, 0, 'header padded to a multiple of 8');
    const header = JSON.parse(raw.subarray(8, 8 + n).toString());
    assert.deepEqual(header.__metadata__, { format: 'pt' });
    assert.deepEqual(header.a, { dtype, shape: [], data_offsets: [0, dtype === 'F32' ? 4 : 2] }, 'sorted by name');
    const f = new SafetensorsFile(path);
    assert.deepEqual(bits(f.readFloat32('b.w')), bits(exact));
    assert.deepEqual([...f.readFloat32('a')], [1.5]);
    assert.deepEqual(f.entry('b.w').shape, [7, 43]);
    f.close();
  }
});

test('an F32 tensor at an offset that is not 4-aligned reads correctly', () => {
  const dir = scratch();
  const vals = Float32Array.of(1.25, -3.5e-7);
  const buffer = Buffer.concat([Buffer.from([9, 8, 7]), Buffer.from(vals.buffer)]);
  const path = build(dir, 'odd.safetensors', {
    u: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, x: { dtype: 'F32', shape: [2], data_offsets: [3, 11] },
  }, buffer);
  const f = new SafetensorsFile(path);
  assert.deepEqual(f.readFloat32('x'), vals);
  assert.deepEqual([...f.readRaw('u')], [9, 8, 7]);
  assert.throws(() => f.readFloat32('u'), /tensor "u" has dtype U8/);
  f.close();
});

test('a BF16 tensor larger than one 16 MB read chunk is upcast across chunk boundaries', () => {
  const dir = scratch();
  const n = (1 << 23) + 12345; // 8 Mi + a partial chunk
  const raw = new Uint16Array(n);
  for (let i = 0; i < n; i++) raw[i] = (i * 2654435761) >>> 16 & 0x7f7f;
  const path = build(dir, 'big.safetensors', { x: { dtype: 'BF16', shape: [n], data_offsets: [0, 2 * n] } }, new Uint8Array(raw.buffer));
  const f = new SafetensorsFile(path);
  const u = bits(f.readFloat32('x'));
  f.close();
  for (const i of [0, 1, (1 << 23) - 1, 1 << 23, n - 1]) assert.equal(u[i], raw[i] << 16 >>> 0, `element ${i}`);
  let bad = 0;
  for (let i = 0; i < n; i++) if (u[i] !== (raw[i] << 16 >>> 0)) bad++;
  assert.equal(bad, 0);
});

test('bad files: truncation and header-length problems', () => {
  const dir = scratch();
  const short = join(dir, 'short.safetensors');
  writeFileSync(short, Buffer.from([1, 2, 3]));
  assertRejects(short, /truncated safetensors file: 3 bytes/);
  assertRejects(build(dir, 'huge.safetensors', '{}', undefined, 1n << 40n), /exceeds the 100,000,000-byte limit/);
  assertRejects(build(dir, 'long.safetensors', '{}', undefined, 4096n), /truncated safetensors file: header length 4096/);
  assertRejects(build(dir, 'brace.safetensors', ' {}'), /does not start with "\{"/);
  assertRejects(build(dir, 'array.safetensors', '[1]'), /does not start with "\{"/);
  assertRejects(build(dir, 'json.safetensors', '{"a": '), /not valid JSON/);

  // A valid file cut short: its last tensor now runs past the end.
  const full = join(dir, 'full.safetensors');
  writeSafetensors(full, [{ name: 'w', shape: [64], data: new Float32Array(64), dtype: 'F32' }]);
  const bytes = readFileSync(full);
  const cut = join(dir, 'cut.safetensors');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
  assertRejects(cut, /tensor "w".*run past the end of the file/);
});

test('bad files: header contents', () => {
  const dir = scratch();
  const buf8 = new Uint8Array(8);
  const t = (dtype: string, shape: number[], o: [number, number]): object => ({ dtype, shape, data_offsets: o });
  assertRejects(build(dir, 'dtype.safetensors', { w: t('F17', [2], [0, 8]) }, buf8), /tensor "w": unknown dtype "F17"/);
  assertRejects(build(dir, 'shape.safetensors', { w: t('F32', [3], [0, 8]) }, buf8), /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/);
  assertRejects(build(dir, 'negshape.safetensors', { w: t('F32', [-2], [0, 8]) }, buf8), /tensor "w": shape must be/);
  assertRejects(build(dir, 'offsets.safetensors', { w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, buf8), /tensor "w": data_offsets must be/);
  assertRejects(build(dir, 'overlap.safetensors', { a: t('F32', [2], [0, 8]), b: t('F32', [1], [4, 8]) }, buf8), /overlap the previous tensor/);
  assertRejects(build(dir, 'gap.safetensors', { a: t('F32', [1], [0, 4]), b: t('U8', [2], [6, 8]) }, buf8), /tensor "b".*leave a gap after offset 4/);
  assertRejects(build(dir, 'past.safetensors', { a: t('F32', [4], [0, 16]) }, buf8), /tensor "a": data_offsets \[0, 16\] run past the end of the file/);
  assertRejects(build(dir, 'trailing.safetensors', { a: t('F32', [1], [0, 4]) }, buf8), /4 more bytes after them/);
  assertRejects(build(dir, 'dup.safetensors', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', buf8),
    /key "a" twice/);
  assertRejects(build(dir, 'dupfield.safetensors', '{"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}', buf8), /key "dtype" twice/);
  assertRejects(build(dir, 'meta.safetensors', { __metadata__: { format: 1 } }), /"__metadata__" field "format" must be a string/);
  assertRejects(build(dir, 'entry.safetensors', { a: [1, 2] }), /tensor "a": entry must be an object/);

  // Valid edge cases: an empty tensor, a 0-rank scalar, string keys containing quotes and colons.
  const ok = build(dir, 'ok.safetensors', { 'e"x:': t('F32', [0, 3], [0, 0]), s: t('F32', [], [0, 4]), v: t('I8', [4], [4, 8]) }, buf8);
  const f = new SafetensorsFile(ok);
  assert.deepEqual(f.names().sort(), ['e"x:', 's', 'v']);
  assert.equal(f.readFloat32('e"x:').length, 0);
  assert.deepEqual([...f.readFloat32('s')], [0]);
  f.close();
});

test('writer rejects inconsistent tensors', () => {
  const dir = scratch();
  const p = join(dir, 'w.safetensors');
  assert.throws(() => writeSafetensors(p, [{ name: 'a', shape: [3], data: new Float32Array(2), dtype: 'F32' }]), /tensor "a" has shape \[3\] but 2 values/);
  const one = { name: 'a', shape: [1], data: new Float32Array(1), dtype: 'F32' as const };
  assert.throws(() => writeSafetensors(p, [one, one]), /tensor "a" given twice/);
});
