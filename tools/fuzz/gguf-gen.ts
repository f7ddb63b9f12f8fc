// Structure-aware GGUF generation for the fuzzer: random metadata of every value type (arrays of each
// scalar type included), tensors of every type mugpt reads (and some it refuses), random alignment.
// The encoder records where every length, count, type and offset field lies, so mutations can set
// exactly those to extremes. Layout: ggml docs/gguf.md (also src/gguf/file.ts).
import type { Mutator } from './mutate.js';

export interface GeneratedGguf {
  bytes: Uint8Array;
  /** Whether mugpt must read this file (every tensor type supported, alignment valid). */
  valid: boolean;
  /** Byte offsets and widths of the header's integer fields (lengths, counts, types, dims, offsets). */
  fields: Array<{ offset: number; width: 4 | 8 }>;
}

const SUPPORTED = [0, 1, 2, 8, 30]; // F32, F16, Q4_0, Q8_0, BF16
const UNSUPPORTED = [3, 6, 7, 10, 12, 14, 16, 24, 28, 29, 31, 39, 1000];

class Enc {
  private chunks: Buffer[] = [];
  length = 0;
  fields: Array<{ offset: number; width: 4 | 8 }> = [];
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  u8(v: number): void { this.push(Buffer.from([v & 0xff])); }
  u32(v: number, field = true): void {
    if (field) this.fields.push({ offset: this.length, width: 4 });
    const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.push(b);
  }
  u64(v: number | bigint, field = true): void {
    if (field) this.fields.push({ offset: this.length, width: 8 });
    const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b);
  }
  str(s: string | Buffer): void { const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s; this.u64(b.length); this.push(b); }
  bytes(): Buffer { return Buffer.concat(this.chunks, this.length); }
}

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Writes one random scalar of a type; returns false when it wrote a string that is not UTF-8. */
function scalar(e: Enc, m: Mutator, type: number): boolean {
  if (type === 8) {
    if (m.chance(0.05)) { e.str(Buffer.from([0x61, 0xff, 0x62])); return false; }
    e.str(m.pick(['', 'gpt2', 'jais', 'é🤖', 'Ġthe', 'x'.repeat(m.int(100))]));
    return true;
  }
  const n = SCALAR_BYTES[type];
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = m.int(256);
  if (type === 7) b[0] = m.chance(0.95) ? m.int(2) : 2 + m.int(254);
  e.push(b);
  return type !== 7 || b[0] < 2;
}

function blocks(type: number): { block: number; bytes: number } {
  switch (type) {
    case 0: return { block: 1, bytes: 4 };
    case 1: case 30: return { block: 1, bytes: 2 };
    case 2: return { block: 32, bytes: 18 };
    case 8: return { block: 32, bytes: 34 };
    default: return { block: 1, bytes: 1 };
  }
}

export function genGguf(m: Mutator): GeneratedGguf {
  const e = new Enc();
  let valid = true;
  e.u32(0x46554747, false);
  e.u32(m.chance(0.9) ? 3 : 2);
  // metadata
  const kvs: Array<() => void> = [];
  let alignment = 32;
  const alignChoice = m.int(4);
  if (alignChoice === 1 || alignChoice === 2) {
    alignment = m.chance(0.8) ? m.pick([8, 16, 64, 128, 256]) : m.pick([0, 1, 7, 12, 48, 0x80000000]);
    if (alignment === 0 || alignment % 8 !== 0 || alignment >= 4096) valid = false;
    const a = alignment;
    kvs.push(() => { e.str('general.alignment'); e.u32(4); e.u32(a, true); });
  }
  kvs.push(() => { e.str('general.architecture'); e.u32(8); e.str(m.pick(['gpt2', 'jais', 'llama'])); });
  const nKv = m.int(8);
  for (let i = 0; i < nKv; i++) {
    const key = `fuzz.key${i}`;
    const type = m.int(13);
    kvs.push(() => {
      e.str(key);
      e.u32(type);
      if (type !== 9) { if (!scalar(e, m, type)) valid = false; return; }
      const et = m.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]);
      e.u32(et);
      const n = m.int(6);
      e.u64(n);
      for (let j = 0; j < n; j++) if (!scalar(e, m, et)) valid = false;
    });
  }
  // tensors
  const nT = m.int(5);
  const tensors: Array<{ name: string; dims: number[]; type: number; bytes: number }> = [];
  for (let i = 0; i < nT; i++) {
    const type = m.chance(0.9) ? m.pick(SUPPORTED) : m.pick(UNSUPPORTED);
    if (!SUPPORTED.includes(type)) valid = false;
    const { block, bytes } = blocks(type);
    const nd = 1 + m.int(4);
    const dims = Array.from({ length: nd }, (_, d) => (d === 0 ? block * (1 + m.int(3)) : 1 + m.int(3)));
    const n = dims.reduce((a, b) => a * b, 1);
    tensors.push({ name: m.chance(0.05) && i > 0 ? tensors[0].name : `blk.${i}.w`, dims, type, bytes: (n / block) * bytes });
  }
  if (new Set(tensors.map((t) => t.name)).size !== tensors.length) valid = false;
  e.u64(tensors.length);
  e.u64(kvs.length);
  for (const kv of kvs) kv();
  const align = alignment > 0 && alignment % 8 === 0 && alignment < 4096 ? alignment : 32;
  let rel = 0;
  for (const t of tensors) {
    e.str(t.name);
    e.u32(t.dims.length);
    for (const d of t.dims) e.u64(d);
    e.u32(t.type);
    e.u64(rel);
    rel += Math.ceil(t.bytes / align) * align;
  }
  const pad = (n: number): Buffer => Buffer.alloc((align - (n % align)) % align);
  e.push(pad(e.length));
  for (const t of tensors) {
    e.push(Buffer.from(Array.from({ length: t.bytes }, () => m.int(256))));
    e.push(pad(t.bytes));
  }
  return { bytes: e.bytes(), valid, fields: e.fields };
}

/** Sets one of the recorded header fields to an extreme value. */
export function extremeField(g: GeneratedGguf, m: Mutator, values: readonly bigint[]): Uint8Array {
  const b = Buffer.from(g.bytes);
  if (g.fields.length === 0) return b;
  const f = m.pick(g.fields);
  const v = m.pick(values);
  if (f.width === 8) b.writeBigUInt64LE(v, f.offset);
  else b.writeUInt32LE(Number(v & 0xffffffffn), f.offset);
  return b;
}
