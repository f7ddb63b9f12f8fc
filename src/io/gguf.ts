// GGUF v3 (ggml docs/gguf.md) reader and writer, by hand: it is a format we must control exactly
// (llama.cpp loads what we write) and the npm GGUF packages parse metadata only.
//
// File: "GGUF" u32 version u64 n_tensors u64 n_kv, KV pairs, tensor infos, pad to alignment, data.
// Tensor dims are written innermost first (ne0 = the contiguous dimension): a row-major [rows, K]
// matrix is dims [K, rows]. Every tensor's data offset is a multiple of the alignment.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { BLOCK_BYTES, QK } from '../quant/blocks.js';
import { loadNativeAddon } from '../native/addon.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

/** The ggml tensor types mugpt reads and writes. */
export enum GgmlType { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 }

const TYPE_NAMES: Record<number, string> = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 8: 'Q8_0', 30: 'BF16' };

/** Bytes of n elements of a ggml type (n a multiple of the block size for block types). */
export function ggmlBytes(type: GgmlType, n: number): number {
  switch (type) {
    case GgmlType.F32: return 4 * n;
    case GgmlType.F16: case GgmlType.BF16: return 2 * n;
    case GgmlType.Q8_0: return (n / QK) * BLOCK_BYTES.q8_0;
    case GgmlType.Q4_0: return (n / QK) * BLOCK_BYTES.q4_0;
  }
}

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufValue[] | TypedValue;

/** A value with an explicit GGUF type (plain numbers are written as FLOAT32 or INT32/UINT32 by default). */
export interface TypedValue { type: GgufValueType; value: GgufScalar | GgufScalar[]; arrayType?: GgufValueType }

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the contiguous dimension. */
  dims: number[];
  type: GgmlType;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  bytes: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufScalar | GgufScalar[]>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
  dataOffset: number;
  fileSize: number;
  /** The whole file memory-mapped (mapGguf), from which tensor bytes are views, not copies. */
  map?: ArrayBuffer;
}

/**
 * Maps the file into memory through the native addon (mmap, copy-on-write), so readGgufTensorBytes
 * returns views: a quantized model then costs its file's pages once (shared with the page cache)
 * instead of a second, private copy. Returns false (nothing changes) where the addon is unavailable.
 */
export function mapGguf(file: GgufFile): boolean {
  const addon = loadNativeAddon();
  if (!addon || typeof addon.mapFile !== 'function') return false;
  let map: ArrayBuffer | undefined;
  try {
    map = addon.mapFile(file.path);
  } catch (e) {
    throw new MugptError(`${file.path}: cannot memory-map the GGUF file (${(e as Error).message})`);
  }
  if (!map) return false;
  if (map.byteLength !== file.fileSize) {
    throw new MugptError(`${file.path}: the file changed size while loading (${file.fileSize} → ${map.byteLength} bytes)`);
  }
  file.map = map;
  return true;
}

/** Sequential little-endian reader over a file descriptor, with bounds checks against the file size. */
class Cursor {
  pos = 0;
  private buf = Buffer.alloc(1 << 16);
  private bufStart = 0;
  private bufEnd = 0;
  constructor(private readonly fd: number, readonly size: number, private readonly path: string) {}

  fail(what: string): never {
    throw new MugptError(`${this.path}: not a valid GGUF file: ${what} (at byte ${this.pos})`);
  }

  private need(n: number, what: string): Buffer {
    if (this.pos + n > this.size) this.fail(`${what} runs past the end of the file (${this.size} bytes)`);
    if (this.pos < this.bufStart || this.pos + n > this.bufEnd) {
      if (n > this.buf.length) this.buf = Buffer.alloc(n);
      this.bufStart = this.pos;
      this.bufEnd = this.pos + readSync(this.fd, this.buf, 0, Math.min(this.buf.length, this.size - this.pos), this.pos);
    }
    const off = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  u8(w: string): number { return this.need(1, w).readUInt8(0); }
  i8(w: string): number { return this.need(1, w).readInt8(0); }
  u16(w: string): number { return this.need(2, w).readUInt16LE(0); }
  i16(w: string): number { return this.need(2, w).readInt16LE(0); }
  u32(w: string): number { return this.need(4, w).readUInt32LE(0); }
  i32(w: string): number { return this.need(4, w).readInt32LE(0); }
  f32(w: string): number { return this.need(4, w).readFloatLE(0); }
  f64(w: string): number { return this.need(8, w).readDoubleLE(0); }
  u64(w: string): bigint { return this.need(8, w).readBigUInt64LE(0); }
  i64(w: string): bigint { return this.need(8, w).readBigInt64LE(0); }
  /** A u64 that must fit a JS number and stay below limit. */
  count(w: string, limit: number): number {
    const v = this.u64(w);
    if (v > BigInt(limit)) this.fail(`${w} is ${v}, more than the file can hold`);
    return Number(v);
  }
  str(w: string): string {
    const n = this.count(`length of ${w}`, this.size - this.pos);
    return this.need(n, w).toString('utf8');
  }
}

function readValue(c: Cursor, type: number, key: string): GgufScalar | GgufScalar[] {
  switch (type) {
    case GgufValueType.UINT8: return c.u8(key);
    case GgufValueType.INT8: return c.i8(key);
    case GgufValueType.UINT16: return c.u16(key);
    case GgufValueType.INT16: return c.i16(key);
    case GgufValueType.UINT32: return c.u32(key);
    case GgufValueType.INT32: return c.i32(key);
    case GgufValueType.FLOAT32: return c.f32(key);
    case GgufValueType.FLOAT64: return c.f64(key);
    case GgufValueType.UINT64: return c.u64(key);
    case GgufValueType.INT64: return c.i64(key);
    case GgufValueType.BOOL: {
      const b = c.u8(key);
      if (b > 1) c.fail(`key '${key}': BOOL value ${b} is not 0 or 1`);
      return b === 1;
    }
    case GgufValueType.STRING: return c.str(key);
    case GgufValueType.ARRAY: {
      const et = c.u32(`element type of '${key}'`);
      if (et === GgufValueType.ARRAY) c.fail(`key '${key}': nested arrays are not supported`);
      const n = c.count(`length of '${key}'`, c.size - c.pos);
      const out: GgufScalar[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, key) as GgufScalar;
      return out;
    }
    default: return c.fail(`key '${key}' has unknown value type ${type}`);
  }
}

/** Reads a GGUF file's metadata and tensor index, validating every offset against the file. */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) { throw new MugptError(`${path}: cannot open GGUF file (${(e as Error).message})`); }
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size, path);
    if (size < 24) c.fail('the file is shorter than a GGUF header');
    if (c.u32('magic') !== GGUF_MAGIC) { c.pos = 0; c.fail('the magic bytes are not "GGUF"'); }
    const version = c.u32('version');
    if (version !== 2 && version !== 3) c.fail(`version ${version} is not supported (2 or 3)`);
    const nTensors = c.count('tensor count', size);
    const nKv = c.count('metadata count', size);
    const metadata = new Map<string, GgufScalar | GgufScalar[]>();
    for (let i = 0; i < nKv; i++) {
      const key = c.str(`metadata key #${i}`);
      const type = c.u32(`value type of '${key}'`);
      if (metadata.has(key)) c.fail(`duplicate metadata key '${key}'`);
      metadata.set(key, readValue(c, type, key));
    }
    const alignment = metadata.has('general.alignment') ? Number(metadata.get('general.alignment')) : GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
      c.fail(`general.alignment ${alignment} is not a positive multiple of 8`);
    }
    const infos: Array<Omit<GgufTensorInfo, 'offset' | 'bytes'> & { rel: number }> = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.str(`name of tensor #${i}`);
      const nd = c.u32(`dimension count of '${name}'`);
      if (nd < 1 || nd > 4) c.fail(`tensor '${name}' has ${nd} dimensions (1 to 4 expected)`);
      const dims: number[] = [];
      for (let d = 0; d < nd; d++) dims.push(c.count(`dimension ${d} of '${name}'`, size * 2));
      const type = c.u32(`type of '${name}'`);
      if (!(type in TYPE_NAMES)) c.fail(`tensor '${name}' has ggml type ${type}, which mugpt does not support (F32, F16, BF16, Q8_0, Q4_0)`);
      const rel = c.count(`offset of '${name}'`, size);
      if (rel % alignment !== 0) c.fail(`tensor '${name}' offset ${rel} is not a multiple of the alignment ${alignment}`);
      infos.push({ name, dims, type, rel });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors = new Map<string, GgufTensorInfo>();
    for (const t of infos) {
      if (tensors.has(t.name)) c.fail(`duplicate tensor '${t.name}'`);
      const n = t.dims.reduce((a, b) => a * b, 1);
      if ((t.type === GgmlType.Q8_0 || t.type === GgmlType.Q4_0) && t.dims[0] % QK !== 0) {
        c.fail(`tensor '${t.name}' (${TYPE_NAMES[t.type]}) has a row length ${t.dims[0]} that is not a multiple of ${QK}`);
      }
      const bytes = ggmlBytes(t.type, n);
      const offset = dataOffset + t.rel;
      if (offset + bytes > size) {
        throw new MugptError(`${path}: tensor '${t.name}' data (${bytes} bytes at ${offset}) runs past the end of the file (${size} bytes): the file is truncated or corrupt`);
      }
      tensors.set(t.name, { name: t.name, dims: t.dims, type: t.type, offset, bytes });
    }
    return { path, version, metadata, tensors, alignment, dataOffset, fileSize: size };
  } finally {
    closeSync(fd);
  }
}

/**
 * One tensor's raw bytes: a view of the mapping (mapGguf), else (or with `copy`) read from the file.
 * Bytes that are only converted should be copies: a view's pages stay resident in the process.
 */
export function readGgufTensorBytes(file: GgufFile, name: string, copy = false): Uint8Array {
  const t = file.tensors.get(name);
  if (!t) throw new MugptError(`${file.path}: tensor '${name}' is missing`);
  if (file.map && !copy) return new Uint8Array(file.map, t.offset, t.bytes);
  const out = new Uint8Array(t.bytes);
  const fd = openSync(file.path, 'r');
  try {
    let done = 0;
    while (done < t.bytes) done += readSync(fd, out, done, t.bytes - done, t.offset + done);
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A metadata value of the expected kind, or a clear error naming the key. */
export function ggufGet(file: GgufFile, key: string, kind: 'number'): number;
export function ggufGet(file: GgufFile, key: string, kind: 'string'): string;
export function ggufGet(file: GgufFile, key: string, kind: 'string[]'): string[];
export function ggufGet(file: GgufFile, key: string, kind: 'number' | 'string' | 'string[]'): number | string | string[] {
  const v = file.metadata.get(key);
  if (v === undefined) throw new MugptError(`${file.path}: metadata key '${key}' is missing`);
  if (kind === 'number' && (typeof v === 'number' || typeof v === 'bigint')) return Number(v);
  if (kind === 'string' && typeof v === 'string') return v;
  if (kind === 'string[]' && Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new MugptError(`${file.path}: metadata key '${key}' is not a ${kind}`);
}

// ---- writing ----

export interface GgufTensorOut {
  name: string;
  /** ggml order (dims[0] contiguous). */
  dims: number[];
  type: GgmlType;
  /** Raw bytes in the ggml layout, or a producer called when the tensor is written (keeps memory flat). */
  data: Uint8Array | (() => Uint8Array);
}

function typed(v: GgufValue): TypedValue {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
  if (typeof v === 'string') return { type: GgufValueType.STRING, value: v };
  if (typeof v === 'boolean') return { type: GgufValueType.BOOL, value: v };
  if (typeof v === 'bigint') return { type: GgufValueType.UINT64, value: v };
  if (typeof v === 'number') return { type: Number.isInteger(v) ? (v < 0 ? GgufValueType.INT32 : GgufValueType.UINT32) : GgufValueType.FLOAT32, value: v };
  const first = v[0];
  const arrayType = typeof first === 'string' ? GgufValueType.STRING : typeof first === 'boolean' ? GgufValueType.BOOL
    : (v as number[]).every((x) => Number.isInteger(x)) ? GgufValueType.INT32 : GgufValueType.FLOAT32;
  return { type: GgufValueType.ARRAY, value: v as GgufScalar[], arrayType };
}

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(type: GgufValueType, v: GgufScalar): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case GgufValueType.UINT8: b.writeUInt8(Number(v)); return this.push(b.subarray(0, 1));
      case GgufValueType.INT8: b.writeInt8(Number(v)); return this.push(b.subarray(0, 1));
      case GgufValueType.UINT16: b.writeUInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case GgufValueType.INT16: b.writeInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case GgufValueType.UINT32: b.writeUInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.INT32: b.writeInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.FLOAT32: b.writeFloatLE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.FLOAT64: b.writeDoubleLE(Number(v)); return this.push(b);
      case GgufValueType.UINT64: b.writeBigUInt64LE(BigInt(v)); return this.push(b);
      case GgufValueType.INT64: b.writeBigInt64LE(BigInt(v)); return this.push(b);
      case GgufValueType.BOOL: b.writeUInt8(v ? 1 : 0); return this.push(b.subarray(0, 1));
      case GgufValueType.STRING: return this.str(String(v));
      default: throw new Error(`GGUF writer: value type ${type} is not a scalar`);
    }
  }
  bytes(): Buffer { return Buffer.concat(this.chunks, this.length); }
}

/** Writes a GGUF v3 file atomically; tensors are produced and written one at a time. */
export function writeGguf(path: string, metadata: Record<string, GgufValue>, tensors: GgufTensorOut[], alignment = GGUF_DEFAULT_ALIGNMENT): void {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  const entries = Object.entries(metadata);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !('general.alignment' in metadata)) {
    entries.push(['general.alignment', { type: GgufValueType.UINT32, value: alignment }]);
  }
  w.u64(entries.length);
  for (const [key, raw] of entries) {
    const t = typed(raw);
    w.str(key);
    w.u32(t.type);
    if (t.type === GgufValueType.ARRAY) {
      const arr = t.value as GgufScalar[];
      w.u32(t.arrayType ?? GgufValueType.INT32);
      w.u64(arr.length);
      for (const x of arr) w.scalar(t.arrayType ?? GgufValueType.INT32, x);
    } else {
      w.scalar(t.type, t.value as GgufScalar);
    }
  }
  let rel = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const bytes = ggmlBytes(t.type, n);
    sizes.push(bytes);
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(rel);
    rel += Math.ceil(bytes / alignment) * alignment;
  }
  const header = w.bytes();
  const pad = (n: number): Uint8Array => new Uint8Array((alignment - (n % alignment)) % alignment);
  writeFileAtomic(path, (write) => {
    write(header);
    write(pad(header.length));
    tensors.forEach((t, i) => {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.length !== sizes[i]) {
        throw new Error(`GGUF writer: tensor '${t.name}' has ${data.length} bytes, its dims and type need ${sizes[i]}`);
      }
      write(data);
      write(pad(data.length));
    });
  });
}
