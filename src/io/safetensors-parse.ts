// safetensors header parsing and float conversion from bytes, with no Node API (browsers load HF
// folders too); io/safetensors.ts reads and writes files.
//
// File layout: u64 little-endian N, N bytes of UTF-8 JSON header, then the byte buffer. The header maps
// tensor names to {dtype, shape, data_offsets: [begin, end)} (offsets relative to the buffer) plus an
// optional "__metadata__" object of string values. The reader enforces every rule of the reference
// implementation: header ≤ 100 MB and starting with `{`, no duplicate keys, known dtypes,
// numel × bits/8 = byte length, tensors tiling the buffer exactly (no overlap, gap or overrun), and the
// buffer ending exactly at the end of the file.
import { MugptError, shown } from '../errors.js';
import { HALF_BITS } from '../quant/half.js';

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

export function numel(shape: readonly number[]): number {
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

export function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parses and validates a header. `fileSize` is the size of the whole file; `readAt(offset, length)`
 * returns exactly those bytes. Throws a MugptError naming `file` and the offending tensor or field.
 */
export function parseHeader(file: string, fileSize: number, readAt: (offset: number, length: number) => Uint8Array): SafetensorsHeader {
  const fail = (msg: string): never => { throw new MugptError(`${file}: ${msg}`); };
  if (fileSize < 8) fail(`truncated safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBytes = readAt(0, 8);
  const n64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
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
        if (typeof v !== 'string') fail(`"__metadata__" field "${k}" must be a string, got ${shown(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = `tensor "${name}"`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${t}: entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDType(dtype)) fail(`${t}: unknown dtype ${shown(dtype)} (known: ${Object.keys(DTYPE_BITS).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) fail(`${t}: shape must be an array of non-negative integers, got ${shown(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
      fail(`${t}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${shown(offsets)}`);
    }
    const dims = shape as number[];
    const [begin, end] = offsets as [number, number];
    const bits = numel(dims) * DTYPE_BITS[dtype as DType];
    if (!Number.isSafeInteger(bits) || bits % 8 !== 0) fail(`${t}: shape ${shown(dims)} of ${dtype} does not fill whole bytes`);
    if (bits / 8 !== end - begin) {
      fail(`${t}: shape ${shown(dims)} of ${dtype} needs ${bits / 8} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
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
export function upcastBf16(src: Uint16Array, dst: Int32Array, dstOffset: number): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = src[i] << 16;
}

/** IEEE half → float32 bits, exactly, through the 65,536-entry table. */
export function upcastF16(src: Uint16Array, dst: Int32Array, dstOffset: number): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = HALF_BITS[src[i]];
}

/**
 * Tensor e of a safetensors file held in memory (bytes = the whole file) as float32: an F32 tensor at a
 * 4-byte aligned offset is a view of bytes (not a copy); F16 and BF16 are upcast exactly, F64 rounded.
 */
export function tensorFloats(bytes: Uint8Array, e: SafetensorsEntry, file: string): Float32Array {
  const n = numel(e.shape), at = bytes.byteOffset + e.begin;
  switch (e.dtype) {
    case 'F32':
      return at % 4 === 0 ? new Float32Array(bytes.buffer, at, n) : new Float32Array(bytes.slice(e.begin, e.end).buffer);
    case 'F16':
    case 'BF16': {
      const out = new Float32Array(n);
      const src = at % 2 === 0 ? new Uint16Array(bytes.buffer, at, n) : new Uint16Array(bytes.slice(e.begin, e.end).buffer);
      if (e.dtype === 'BF16') upcastBf16(src, new Int32Array(out.buffer), 0);
      else upcastF16(src, new Int32Array(out.buffer), 0);
      return out;
    }
    case 'F64': {
      const v = new DataView(bytes.buffer, at, 8 * n);
      return Float32Array.from({ length: n }, (_, i) => v.getFloat64(8 * i, true));
    }
    default:
      throw new MugptError(`${file}: tensor "${e.name}" has dtype ${e.dtype}; mugpt reads F32, F16, BF16 and F64 weights`);
  }
}
