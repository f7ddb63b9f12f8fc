// The KV cache of incremental decoding: per layer, the keys and values of every position seen so far,
// in one of three element types; each type stores new rows and runs attention over what it holds.
import { check } from '../errors.js';
import type { AttentionArgs, Kernels } from '../kernels/kernels.js';
import type { KVCache } from '../generate/decode-model.js';

/**
 * Element type of the cached keys and values: float32; IEEE half (half the memory; llama.cpp's
 * default); or int8 with a float32 scale per position and head (q8: about a quarter of f32).
 */
export type KVCacheType = 'f32' | 'f16' | 'q8';

export const KV_CACHE_TYPES: readonly KVCacheType[] = ['f32', 'f16', 'q8'];

/** An attention call over a layer's cache: the queries, output and sizes (keys and values come from the cache). */
export type CachedAttention = Omit<AttentionArgs, 'k' | 'v' | 'kvStride' | 'probs'>;

/** One layer's cached keys and values, [capacity, D] each (D = H heads of d), of one element type. */
export interface LayerKV {
  readonly k: Float32Array | Uint16Array | Int8Array;
  readonly v: Float32Array | Uint16Array | Int8Array;
  /** Bytes held (keys, values and any scales). */
  readonly byteLength: number;
  /**
   * Stores the keys and values of the call's Tq rows of qkv [rows, 3D] (q | k | v per row), from row r0,
   * at positions Tk−Tq … Tk−1, then runs the call's attention over cached positions 0 … Tk−1.
   */
  appendAttend(kern: Kernels, qkv: Float32Array, r0: number, a: CachedAttention): void;
  /** Copies the first `rows` positions of `src` (a layer of the same type and sizes). */
  copyFrom(src: LayerKV, rows: number): void;
}

/** Keys and values [rows, D] in arrays of one element type; the subclasses store and read them. */
abstract class RowsLayerKV<A extends Float32Array | Uint16Array | Int8Array> implements LayerKV {
  readonly k: A;
  readonly v: A;
  constructor(rows: number, readonly D: number, make: (n: number) => A) {
    this.k = make(rows * D);
    this.v = make(rows * D);
  }
  get byteLength(): number { return this.k.byteLength + this.v.byteLength; }
  abstract appendAttend(kern: Kernels, qkv: Float32Array, r0: number, a: CachedAttention): void;
  /** The new rows' views of the last call's qkv and r0, which a decode passes again every token. */
  private views: { qkv: Float32Array; r0: number; kNew: Float32Array; vNew: Float32Array } | null = null;
  /** Views of the keys and values of qkv's rows from r0 (q | k | v per row), the last call's when they are the same. */
  protected newRows(qkv: Float32Array, r0: number): { kNew: Float32Array; vNew: Float32Array } {
    const D = this.D;
    let w = this.views;
    if (!w || w.qkv !== qkv || w.r0 !== r0) w = this.views = { qkv, r0, kNew: qkv.subarray(r0 * 3 * D + D), vNew: qkv.subarray(r0 * 3 * D + 2 * D) };
    return w;
  }
  copyFrom(src: RowsLayerKV<A>, rows: number): void {
    this.k.set(src.k.subarray(0, rows * this.D) as never);
    this.v.set(src.v.subarray(0, rows * this.D) as never);
  }
}

/**
 * Float32 keys and values: stored as they are, by the attention kernel (kNew), which then attends. The
 * attention's arguments are spelled out rather than spread from `a`: a decode makes this call once a layer a
 * token, right after a product that streamed megabytes through the caches, where every object the call builds
 * costs cache misses (see F16LayerKV).
 */
class F32LayerKV extends RowsLayerKV<Float32Array> {
  constructor(rows: number, D: number, f32: (n: number) => Float32Array) { super(rows, D, f32); }
  appendAttend(kern: Kernels, qkv: Float32Array, r0: number, a: CachedAttention): void {
    const D = this.D, { kNew, vNew } = this.newRows(qkv, r0);
    const { out, q, qStride, Tq, Tk, H, d, scale, slopes } = a;
    kern.attention({ out, q, qStride, k: this.k, v: this.v, kvStride: D, Tq, Tk, H, d, scale, slopes, kNew, vNew, newStride: 3 * D });
  }
}

/**
 * IEEE half keys and values (their bits), rounded to nearest even: the f16 attention kernel stores the new
 * rows as it attends (one call a layer, the conversion inside the kernel's threads). The views of the new rows
 * are kept from one call to the next and the arguments spelled out, not spread: built afresh every call, right
 * after a product that streamed megabytes through the caches, they cost 15–20 µs a layer; measured without them
 * (BENCHMARKS.md, session 12; with the same change in attendSequence): decode ×1.05–×1.07 BTLM-3B Q4_0 and 111M
 * Q4_0, ×1.03–×1.05 the 111M F32 shape.
 */
export class F16LayerKV extends RowsLayerKV<Uint16Array> {
  constructor(rows: number, D: number) { super(rows, D, (n) => new Uint16Array(n)); }
  appendAttend(kern: Kernels, qkv: Float32Array, r0: number, a: CachedAttention): void {
    const D = this.D, { kNew, vNew } = this.newRows(qkv, r0);
    const { out, q, qStride, Tq, Tk, H, d, scale, slopes } = a;
    kern.attentionF16({ out, q, qStride, k: this.k, v: this.v, kvStride: D, kNew, vNew, newStride: 3 * D, Tq, Tk, H, d, scale, slopes });
  }
}

/** Int8 keys and values with a float32 scale per position and head, [capacity, H] (the kernels' quantizeHeads). */
export class Q8LayerKV extends RowsLayerKV<Int8Array> {
  readonly kScale: Float32Array;
  readonly vScale: Float32Array;
  constructor(rows: number, D: number, readonly H: number, f32: (n: number) => Float32Array) {
    super(rows, D, (n) => new Int8Array(n));
    this.kScale = f32(rows * H);
    this.vScale = f32(rows * H);
  }
  override get byteLength(): number { return super.byteLength + this.kScale.byteLength + this.vScale.byteLength; }
  appendAttend(kern: Kernels, qkv: Float32Array, r0: number, a: CachedAttention): void {
    const { D, H } = this, D3 = 3 * D, d = D / H, past = a.Tk - a.Tq;
    for (let t = 0; t < a.Tq; t++) {
      const src = (r0 + t) * D3, dst = (past + t) * D, ds = (past + t) * H;
      kern.quantizeHeads(this.k.subarray(dst, dst + D), this.kScale.subarray(ds, ds + H), qkv.subarray(src + D, src + 2 * D), H, d);
      kern.quantizeHeads(this.v.subarray(dst, dst + D), this.vScale.subarray(ds, ds + H), qkv.subarray(src + 2 * D, src + D3), H, d);
    }
    kern.attentionQ8({ ...a, k: this.k, v: this.v, kScale: this.kScale, vScale: this.vScale, kvStride: this.D });
  }
  override copyFrom(src: Q8LayerKV, rows: number): void {
    super.copyFrom(src, rows);
    this.kScale.set(src.kScale.subarray(0, rows * this.H));
    this.vScale.set(src.vScale.subarray(0, rows * this.H));
  }
}

/**
 * What a cache asks of its model's kernels (bound): float arrays adopted into the kernels' memory
 * (Kernels.adopt), rows mapped before they are written (Kernels.populate).
 */
export interface KVPlacement {
  adopt?: (x: Float32Array) => Float32Array;
  populate?: (x: Float32Array | Uint16Array | Int8Array) => void;
}

/** Rows prepare maps past the ones asked for: one system call a layer every this many decode tokens. */
const PREFAULT_AHEAD = 64;

/** Keys and values per layer, [capacity, D] each, grown by doubling (up to maxLength) as positions arrive. */
export class LayerKVCache implements KVCache {
  length = 0;
  capacity = 0;
  private kv: LayerKV[];
  private mapped = 0; // rows prepare has mapped (the rows copied in by reserve count as mapped)

  /** place: what the cache asks of its model's kernels (see KVPlacement). */
  constructor(
    readonly owner: object, readonly nLayer: number, readonly D: number, readonly maxLength: number,
    readonly type: KVCacheType, readonly H: number, private readonly place: KVPlacement = {},
  ) {
    check(KV_CACHE_TYPES.includes(type), () => `kvCache: expected one of ${KV_CACHE_TYPES.join(', ')}, got '${String(type)}'`);
    this.kv = Array.from({ length: nLayer }, () => this.alloc(0));
  }

  /** Room for `rows` positions. */
  private alloc(rows: number): LayerKV {
    const { adopt } = this.place;
    const f32 = (m: number): Float32Array => (adopt && m > 0 ? adopt(new Float32Array(m)) : new Float32Array(m));
    if (this.type === 'f16') return new F16LayerKV(rows, this.D);
    if (this.type === 'q8') return new Q8LayerKV(rows, this.D, this.H, f32);
    return new F32LayerKV(rows, this.D, f32);
  }

  /**
   * Room for `rows` positions (reserve), and the memory of the rows up to them and PREFAULT_AHEAD past
   * mapped (Kernels.populate) before the kernels write them: each step calls it for the rows it appends,
   * so decoding faults no page in.
   */
  prepare(rows: number): void {
    this.reserve(rows);
    const populate = this.place.populate;
    if (!populate || rows <= this.mapped) return;
    const upto = Math.min(this.capacity, rows + PREFAULT_AHEAD), D = this.D;
    for (const l of this.kv) {
      populate(l.k.subarray(this.mapped * D, upto * D));
      populate(l.v.subarray(this.mapped * D, upto * D));
    }
    this.mapped = upto;
  }

  /** Each layer's keys and values, [capacity, D]; rows 0 … length−1 hold the cached positions. */
  layers(): readonly LayerKV[] {
    return this.kv;
  }

  /** Per layer keys [capacity, D] (half bits in an f16 cache, int8 in a q8 cache). */
  get k(): Array<Float32Array | Uint16Array | Int8Array> {
    return this.kv.map((l) => l.k);
  }

  /** Per layer values [capacity, D]. */
  get v(): Array<Float32Array | Uint16Array | Int8Array> {
    return this.kv.map((l) => l.v);
  }

  /** Bytes held by the cache (keys, values and scales of every layer at the current capacity). */
  get bytes(): number {
    return this.kv.reduce((s, l) => s + l.byteLength, 0);
  }

  /** A new cache holding a copy of this one's positions, with room for `extra` more. */
  fork(extra = 0): LayerKVCache {
    const c = new LayerKVCache(this.owner, this.nLayer, this.D, this.maxLength, this.type, this.H, this.place);
    c.reserve(Math.min(this.maxLength, this.length + extra));
    c.kv.forEach((dst, l) => dst.copyFrom(this.kv[l], this.length));
    c.length = this.length;
    return c;
  }

  /** Makes room for `total` positions, keeping the cached ones. */
  reserve(total: number): void {
    check(total <= this.maxLength, () => `KV cache: ${total} positions exceed the model's context of ${this.maxLength}`);
    if (total <= this.capacity) return;
    const cap = Math.min(this.maxLength, Math.max(total, 2 * this.capacity, 16));
    this.kv = this.kv.map((old) => {
      const n = this.alloc(cap);
      n.copyFrom(old, this.length);
      return n;
    });
    this.capacity = cap;
    this.mapped = this.length;
  }
}
