// The KV cache of incremental decoding: per layer, the keys and values of every position seen so far.
import { check } from '../errors.js';
import type { KVCache } from './decode.js';
import type { LayerKV } from './gpt.js';

/**
 * Element type of the cached keys and values: float32; IEEE half (half the memory; llama.cpp's
 * default); or int8 with a float32 scale per position and head (q8: about a quarter of f32).
 */
export type KVCacheType = 'f32' | 'f16' | 'q8';

export const KV_CACHE_TYPES: readonly KVCacheType[] = ['f32', 'f16', 'q8'];

/** Keys and values per layer, [capacity, D] each, grown by doubling (up to maxLength) as positions arrive. */
export class LayerKVCache implements KVCache {
  length = 0;
  capacity = 0;
  private kv: LayerKV[]; // per layer [capacity, D] keys and values (Float32Array, Uint16Array half bits, or Int8Array and [capacity, H] scales)

  /** adopt: where float arrays are placed (Kernels.adopt: the kernels then read them without copying). */
  constructor(
    readonly owner: object, readonly nLayer: number, readonly D: number, readonly maxLength: number,
    readonly type: KVCacheType, readonly H: number, private readonly adopt?: (x: Float32Array) => Float32Array,
  ) {
    check(KV_CACHE_TYPES.includes(type), () => `kvCache: expected one of ${KV_CACHE_TYPES.join(', ')}, got '${String(type)}'`);
    this.kv = Array.from({ length: nLayer }, () => this.alloc(0));
  }

  /** Room for `rows` positions. */
  private alloc(rows: number): LayerKV {
    const n = rows * this.D;
    const f32 = (m: number): Float32Array => (this.adopt && m > 0 ? this.adopt(new Float32Array(m)) : new Float32Array(m));
    if (this.type === 'f16') return { k: new Uint16Array(n), v: new Uint16Array(n) };
    if (this.type === 'q8') return { k: new Int8Array(n), v: new Int8Array(n), kScale: f32(rows * this.H), vScale: f32(rows * this.H) };
    return { k: f32(n), v: f32(n) };
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
    return this.kv.reduce((s, l) => s + l.k.byteLength + l.v.byteLength + ('kScale' in l ? l.kScale.byteLength + l.vScale.byteLength : 0), 0);
  }

  /** A new cache holding a copy of this one's positions, with room for `extra` more. */
  fork(extra = 0): LayerKVCache {
    const c = new LayerKVCache(this.owner, this.nLayer, this.D, this.maxLength, this.type, this.H, this.adopt);
    c.reserve(Math.min(this.maxLength, this.length + extra));
    c.kv.forEach((dst, l) => {
      const src = this.kv[l];
      dst.k.set(src.k.subarray(0, this.length * this.D) as never);
      dst.v.set(src.v.subarray(0, this.length * this.D) as never);
      if ('kScale' in dst && 'kScale' in src) {
        dst.kScale.set(src.kScale.subarray(0, this.length * this.H));
        dst.vScale.set(src.vScale.subarray(0, this.length * this.H));
      }
    });
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
      n.k.set(old.k.subarray(0, this.length * this.D) as never);
      n.v.set(old.v.subarray(0, this.length * this.D) as never);
      if ('kScale' in n && 'kScale' in old) {
        n.kScale.set(old.kScale.subarray(0, this.length * this.H));
        n.vScale.set(old.vScale.subarray(0, this.length * this.H));
      }
      return n;
    });
    this.capacity = cap;
  }
}
