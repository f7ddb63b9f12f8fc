// GGUF v3 (ggml docs/gguf.md) reader and writer, by hand: it is a format we must control exactly
// (llama.cpp loads what we write) and the npm GGUF packages parse metadata only.
//
// File: "GGUF" u32 version u64 n_tensors u64 n_kv, KV pairs, tensor infos, pad to alignment, data.
// Tensor dims are written innermost first (ne0 = the contiguous dimension): a row-major [rows, K]
// matrix is dims [K, rows]. Every tensor's data offset is a multiple of the alignment.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadNativeAddon } from '../native/addon.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType, ggmlBytes, parseGguf, type GgufFile, type GgufScalar, type GgufValue, type TypedValue,
} from './parse.js';

export * from './parse.js';

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
  file.map = new Uint8Array(map);
  return true;
}

/** n bytes of the file at pos, read into a fresh array. */
function readAt(path: string, pos: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < n) {
      const got = readSync(fd, out, done, n - done, pos + done);
      if (got === 0) throw new MugptError(`${path}: the file ended at byte ${pos + done} while reading (it changed while loading?)`);
      done += got;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Reads a GGUF file's metadata and tensor index, validating every offset against the file. */
export function readGguf(path: string): GgufFile {
  let size: number;
  try {
    const fd = openSync(path, 'r');
    try { size = fstatSync(fd).size; } finally { closeSync(fd); }
  } catch (e) {
    throw new MugptError(`${path}: cannot open GGUF file (${(e as Error).message})`);
  }
  return parseGguf({ size, read: (pos, n) => readAt(path, pos, n) }, path);
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
