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
import { HALF_BITS, floatBitsToBf16, floatBitsToHalf } from '../quant/half.js';

/** Element bits of every dtype the format defines (sub-byte types must land on byte boundaries). */
const DTYPE_BITS = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32,
  C64: 64, F64: 64, I64: 64, U64: 64,
} as const;

export type DType = keyof typeof DTYPE_BITS;
/** The dtypes mugpt converts to and from float32. */
export type FloatDType = 'F32' | 'F16' | 'BF16';

export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offsets in the file: [begin, end). */
  begin: number;
  end: number;
}

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BITS, s);
}

export function dtypeBits(dtype: DType): number {
  return DTYPE_BITS[dtype];
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Duplicate-key detection. JSON.parse silently keeps the last of two equal keys; the format forbids
// them (a polyglot-file vector), so scan the header once and check every object's keys.

function findDuplicateKey(json: string): string | null {
  const stack: Array<Set<string> | null> = []; // one entry per open container: keys of an object, null for an array
  let i = 0;
  while (i < json.length) {
    const c = json[i];
    if (c === '{') { stack.push(new Set()); i++; continue; }
    if (c === '[') { stack.push(null); i++; continue; }
    if (c === '}' || c === ']') { stack.pop(); i++; continue; }
    if (c !== '"') { i++; continue; }
    let j = i + 1;
    while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
    const raw = json.slice(i, j + 1);
    i = j + 1;
    const keys = stack[stack.length - 1];
    if (!keys) continue;
    let k = i;
    while (k < json.length && (json[k] === ' ' || json[k] === '\n' || json[k] === '\r' || json[k] === '\t')) k++;
    if (json[k] !== ':') continue; // a string value, not a key
    const key = JSON.parse(raw) as string;
    if (keys.has(key)) return key;
    keys.add(key);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation.

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute file offset of the byte buffer (8 + header length). */
  dataStart: number;
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parses and validates a header. `fileSize` is the size of the whole file; `readAt(offset, length)`
 * returns exactly those bytes. Throws a MugptError naming `file` and the offending tensor or field.
 */
export function parseHeader(file: string, fileSize: number, readAt: (offset: number, length: number) => Uint8Array): SafetensorsHeader {
  const fail = (msg: string): never => { throw new MugptError(`${file}: ${msg}`); };
  if (fileSize < 8) fail(`truncated safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
  const n64 = Buffer.from(readAt(0, 8)).readBigUInt64LE(0);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`safetensors header length ${n64} exceeds the 100,000,000-byte limit (corrupt or not a safetensors file)`);
  const n = Number(n64);
  if (8 + n > fileSize) fail(`truncated safetensors file: header length ${n} but only ${fileSize - 8} bytes follow the length field`);
  const headerBytes = readAt(8, n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('safetensors header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('safetensors header does not start with "{" (corrupt or not a safetensors file)');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`safetensors header is not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('safetensors header is not a JSON object');
  const dup = findDuplicateKey(text);
  if (dup !== null) fail(`safetensors header has the key "${dup}" twice`);

  const dataStart = 8 + n;
  const bufferLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) fail('"__metadata__" must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" field "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = `tensor "${name}"`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${t}: entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDType(dtype)) fail(`${t}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BITS).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) fail(`${t}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
      fail(`${t}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets)}`);
    }
    const dims = shape as number[];
    const [begin, end] = offsets as [number, number];
    const bits = numel(dims) * DTYPE_BITS[dtype as DType];
    if (!Number.isSafeInteger(bits) || bits % 8 !== 0) fail(`${t}: shape ${JSON.stringify(dims)} of ${dtype} does not fill whole bytes`);
    if (bits / 8 !== end - begin) {
      fail(`${t}: shape ${JSON.stringify(dims)} of ${dtype} needs ${bits / 8} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > bufferLen) fail(`${t}: data_offsets [${begin}, ${end}] run past the end of the file (buffer is ${bufferLen} bytes; truncated file?)`);
    entries.push({ name, dtype: dtype as DType, shape: dims, begin: dataStart + begin, end: dataStart + end });
  }

  // The tensors must tile the buffer exactly: sorted by offset, each begins where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = dataStart;
  for (const e of sorted) {
    if (e.begin < expected) fail(`tensor "${e.name}": data_offsets [${e.begin - dataStart}, ${e.end - dataStart}] overlap the previous tensor (which ends at ${expected - dataStart})`);
    if (e.begin > expected) fail(`tensor "${e.name}": data_offsets [${e.begin - dataStart}, ${e.end - dataStart}] leave a gap after offset ${expected - dataStart}`);
    expected = e.end;
  }
  if (expected !== fileSize) fail(`the tensors end at buffer offset ${expected - dataStart} but the file has ${fileSize - expected} more bytes after them (the buffer must end at the end of the file)`);
  return { entries, metadata, dataStart };
}

// ---------------------------------------------------------------------------------------------
// Exact conversions between float32 and the 16-bit formats.

/** bfloat16 → float32 bits, exactly: the bf16 bits are the top half of the float32 (int32 views keep V8 on its fast path). */
function upcastBf16(src: Uint16Array, dst: Int32Array, dstOffset: number): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = src[i] << 16;
}

/** IEEE half → float32 bits, exactly, through the 65,536-entry table. */
function upcastF16(src: Uint16Array, dst: Int32Array, dstOffset: number): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = HALF_BITS[src[i]];
}

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
  return (numel(t.shape) * DTYPE_BITS[t.dtype]) / 8;
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
  const ordered = [...tensors].sort((a, b) => DTYPE_BITS[b.dtype] - DTYPE_BITS[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
