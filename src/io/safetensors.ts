// safetensors reader and writer, written by hand: no maintained npm package reads or writes the format
// (the `safetensors` npm name is an empty stub), and we need streaming reads and writes of multi-GB files.
//
// File layout: u64 little-endian N, N bytes of UTF-8 JSON header, then the byte buffer. The header maps
// tensor names to {dtype, shape, data_offsets: [begin, end)} (offsets relative to the buffer) plus an
// optional "__metadata__" object of string values. The reader enforces every rule of the reference
// implementation: header ≤ 100 MB and starting with `{`, no duplicate keys, known dtypes,
// numel × bits/8 = byte length, tensors tiling the buffer exactly (no overlap, gap or overrun), and the
// buffer ending exactly at the end of the file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { floatBitsToBf16, floatBitsToHalf } from '../quant/half.js';
import { dtypeBits, isNonNegInt, numel, parseHeader, upcastBf16, upcastF16, type FloatDType, type SafetensorsEntry } from './safetensors-parse.js';

export * from './safetensors-parse.js';

/** Encodes float32 values as `dtype` little-endian bytes (a view on data for F32, no copy). */
export function encodeFloats(data: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Int32Array(data.buffer, data.byteOffset, data.length); // int32, not uint32: no heap numbers
  const out = new Uint16Array(data.length);
  // Two loops with direct calls, so V8 can inline each converter.
  if (dtype === 'F16') for (let i = 0; i < data.length; i++) out[i] = floatBitsToHalf(bits[i]);
  else for (let i = 0; i < data.length; i++) out[i] = floatBitsToBf16(bits[i]);
  return new Uint8Array(out.buffer);
}

// ---------------------------------------------------------------------------------------------
// Reading.

const CHUNK_BYTES = 1 << 24; // 16 MB: the largest temporary buffer a read or write allocates

/** An open safetensors file: the header is parsed once, tensors are read from disk on demand. */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly entries = new Map<string, SafetensorsEntry>();
  private fd: number | null;

  constructor(path: string) {
    this.path = path;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new MugptError(`${path}: cannot open safetensors file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    this.fd = fd;
    try {
      const size = fstatSync(fd).size;
      const header = parseHeader(path, size, (offset, length) => this.readBytes(offset, length));
      this.metadata = header.metadata;
      for (const e of header.entries) this.entries.set(e.name, e);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) throw new MugptError(`${this.path}: no tensor named "${name}"`);
    return e;
  }

  /** Reads exactly `length` bytes at `offset` into `into` (or a new buffer). */
  private readBytes(offset: number, length: number, into?: Uint8Array): Uint8Array {
    if (this.fd === null) throw new MugptError(`${this.path}: file is closed`);
    const buf = into ?? new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new MugptError(`${this.path}: unexpected end of file at byte ${offset + done} (file truncated while open?)`);
      done += n;
    }
    return buf;
  }

  /** The raw little-endian bytes of one tensor. */
  readRaw(name: string): Uint8Array {
    const e = this.entry(name);
    return this.readBytes(e.begin, e.end - e.begin);
  }

  /**
   * One tensor as float32: F32 read straight into a fresh (hence aligned) Float32Array, F16 and BF16
   * upcast exactly in 16 MB chunks, F64 rounded to nearest. Only this tensor's bytes are read.
   */
  readFloat32(name: string): Float32Array {
    const e = this.entry(name);
    const n = numel(e.shape);
    const out = new Float32Array(n);
    switch (e.dtype) {
      case 'F32':
        this.readBytes(e.begin, e.end - e.begin, new Uint8Array(out.buffer));
        return out;
      case 'F16':
      case 'BF16': {
        const bits = new Int32Array(out.buffer);
        const chunkElems = Math.min(n, CHUNK_BYTES / 2);
        const scratch = new Uint16Array(chunkElems);
        for (let i = 0; i < n; i += chunkElems) {
          const m = Math.min(chunkElems, n - i);
          const view = new Uint16Array(scratch.buffer, 0, m);
          this.readBytes(e.begin + 2 * i, 2 * m, new Uint8Array(scratch.buffer, 0, 2 * m));
          if (e.dtype === 'BF16') upcastBf16(view, bits, i);
          else upcastF16(view, bits, i);
        }
        return out;
      }
      case 'F64': {
        const chunkElems = Math.min(n, CHUNK_BYTES / 8);
        const scratch = new Float64Array(chunkElems);
        for (let i = 0; i < n; i += chunkElems) {
          const m = Math.min(chunkElems, n - i);
          this.readBytes(e.begin + 8 * i, 8 * m, new Uint8Array(scratch.buffer, 0, 8 * m));
          for (let j = 0; j < m; j++) out[i + j] = scratch[j];
        }
        return out;
      }
      default:
        throw new MugptError(`${this.path}: tensor "${name}" has dtype ${e.dtype}; mugpt reads F32, F16, BF16 and F64 weights`);
    }
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing.

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype: FloatDType;
}

/** Byte size of a file holding these tensors (header included), for shard planning. */
export function tensorBytes(t: { shape: number[]; dtype: FloatDType }): number {
  return (numel(t.shape) * dtypeBits(t.dtype)) / 8;
}

/**
 * Writes tensors to `path` atomically, streamed tensor by tensor in ≤ 16 MB chunks, so saving a
 * multi-GB model needs no second copy of it. Order: dtype alignment descending, then name (as the
 * reference writer). The header is space-padded to a multiple of 8 so the buffer is 8-byte aligned.
 */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new MugptError(`${path}: "__metadata__" cannot be a tensor name`);
    if (seen.has(t.name)) throw new MugptError(`${path}: tensor "${t.name}" given twice`);
    seen.add(t.name);
    if (!t.shape.every(isNonNegInt) || numel(t.shape) !== t.data.length) {
      throw new MugptError(`${path}: tensor "${t.name}" has shape ${JSON.stringify(t.shape)} but ${t.data.length} values`);
    }
  }
  const ordered = [...tensors].sort((a, b) => dtypeBits(b.dtype) - dtypeBits(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of ordered) {
    const bytes = tensorBytes(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));

  writeFileAtomic(path, (write) => {
    write(len);
    write(json);
    for (const t of ordered) {
      const chunk = CHUNK_BYTES / 4;
      for (let i = 0; i < t.data.length; i += chunk) write(encodeFloats(t.data.subarray(i, i + chunk), t.dtype));
    }
  });
}
