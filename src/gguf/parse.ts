// GGUF v3 (ggml docs/gguf.md) parsing from any byte source, with no Node API, so browsers read
// GGUF files too (src/web/); gguf/file.ts reads files and writes them.
//
// File: "GGUF" u32 version u64 n_tensors u64 n_kv, KV pairs, tensor infos, pad to alignment, data.
// Tensor dims are written innermost first (ne0 = the contiguous dimension): a row-major [rows, K]
// matrix is dims [K, rows]. Every tensor's data offset is a multiple of the alignment.
import { MugptError, shown } from '../errors.js';
import { BLOCK_BYTES, QK } from '../quant/blocks.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

/** The ggml tensor types mugpt reads and writes. */
export enum GgmlType { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 }

export const TYPE_NAMES: Record<number, string> = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 8: 'Q8_0', 30: 'BF16' };

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
  /** A fresh copy of `bytes` bytes of the file at `offset`. */
  read(offset: number, bytes: number): Uint8Array;
  /** The whole file in memory (memory-mapped by mapGguf, or loaded by a browser), from which tensor bytes are views, not copies. */
  map?: Uint8Array;
}

/** Random access to a file's bytes: read returns n bytes at pos (n ≤ size − pos), a copy. */
export interface ByteSource {
  size: number;
  read(pos: number, n: number): Uint8Array;
}

/** Sequential little-endian reader over a byte source (64 KiB at a time), with bounds checks against its size. */
/** Bytes of one array element of a value type (a string's length field alone). */
const ELEMENT_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 10: 8, 11: 8, 12: 8 };

class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  private bufEnd = 0;
  readonly size: number;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  constructor(private readonly src: ByteSource, private readonly path: string) {
    this.size = src.size;
  }

  fail(what: string): never {
    throw new MugptError(`${this.path}: not a valid GGUF file: ${what} (at byte ${this.pos})`);
  }

  /** The offset in buf (and view) of n bytes at pos, read in when outside it (so view is read after need); advances pos. */
  private need(n: number, what: string): number {
    if (this.pos + n > this.size) this.fail(`${what} runs past the end of the file (${this.size} bytes)`);
    if (this.pos < this.bufStart || this.pos + n > this.bufEnd) {
      this.buf = this.src.read(this.pos, Math.min(Math.max(n, 1 << 16), this.size - this.pos));
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      this.bufStart = this.pos;
      this.bufEnd = this.pos + this.buf.length;
    }
    const off = this.pos - this.bufStart;
    this.pos += n;
    return off;
  }

  u8(w: string): number { const o = this.need(1, w); return this.view.getUint8(o); }
  i8(w: string): number { const o = this.need(1, w); return this.view.getInt8(o); }
  u16(w: string): number { const o = this.need(2, w); return this.view.getUint16(o, true); }
  i16(w: string): number { const o = this.need(2, w); return this.view.getInt16(o, true); }
  u32(w: string): number { const o = this.need(4, w); return this.view.getUint32(o, true); }
  i32(w: string): number { const o = this.need(4, w); return this.view.getInt32(o, true); }
  f32(w: string): number { const o = this.need(4, w); return this.view.getFloat32(o, true); }
  f64(w: string): number { const o = this.need(8, w); return this.view.getFloat64(o, true); }
  u64(w: string): bigint { const o = this.need(8, w); return this.view.getBigUint64(o, true); }
  i64(w: string): bigint { const o = this.need(8, w); return this.view.getBigInt64(o, true); }
  /** A u64 that must fit a JS number and stay below limit. */
  count(w: string, limit: number): number {
    const v = this.u64(w);
    if (v > BigInt(limit)) this.fail(`${w} is ${v}, more than the file can hold`);
    return Number(v);
  }
  str(w: string): string {
    const n = this.count(`length of ${w}`, this.size - this.pos);
    const start = this.pos;
    const off = this.need(n, w);
    try { return this.utf8.decode(this.buf.subarray(off, off + n)); } catch {
      this.pos = start;
      return this.fail(`${w} is not valid UTF-8`);
    }
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
      if (!(et in ELEMENT_BYTES)) c.fail(`key '${key}' is an array of unknown value type ${et}`);
      // each element takes at least ELEMENT_BYTES[et] bytes: a longer array cannot fit in the file
      const n = c.count(`length of '${key}'`, Math.max(0, Math.floor((c.size - c.pos - 8) / ELEMENT_BYTES[et])));
      const out: GgufScalar[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, key) as GgufScalar;
      return out;
    }
    default: return c.fail(`key '${key}' has unknown value type ${type}`);
  }
}

/** Parses a GGUF file's metadata and tensor index from a byte source, validating every offset against its size. */
export function parseGguf(src: ByteSource, path: string): GgufFile {
  {
    const size = src.size;
    const c = new Cursor(src, path);
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
    const declared = metadata.get('general.alignment');
    const alignment = declared === undefined ? GGUF_DEFAULT_ALIGNMENT : typeof declared === 'number' ? declared : NaN;
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
      c.fail(`general.alignment ${shown(declared)} is not a positive multiple of 8`);
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
    return { path, version, metadata, tensors, alignment, dataOffset, fileSize: size, read: (o, n) => src.read(o, n) };
  }
}

/**
 * One tensor's raw bytes: a view of the file in memory (GgufFile.map), else (or with `copy`) a copy.
 * Bytes that are only converted should be copies: a view's pages stay resident in the process.
 */
export function readGgufTensorBytes(file: GgufFile, name: string, copy = false): Uint8Array {
  const t = file.tensors.get(name);
  if (!t) throw new MugptError(`${file.path}: tensor '${name}' is missing`);
  if (file.map && !copy) return file.map.subarray(t.offset, t.offset + t.bytes);
  return file.read(t.offset, t.bytes);
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
