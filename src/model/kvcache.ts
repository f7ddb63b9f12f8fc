// The KV cache of incremental decoding: per layer, the keys and values of every position seen so far.
import { check } from '../errors.js';
import type { KVCache } from './decode.js';
import type { LayerKV } from './gpt.js';

/** Element type of the cached keys and values: float32, or IEEE half (half the memory; llama.cpp's default). */
export type KVCacheType = 'f32' | 'f16';

/** Keys and values per layer, [capacity, D] each, grown by doubling (up to maxLength) as positions arrive. */
export class LayerKVCache implements KVCache {
  length = 0;
  capacity = 0;
  private kv: LayerKV[]; // per layer [capacity, D] keys and values (Float32Array, or Uint16Array half bits)

  constructor(
    readonly owner: object, readonly nLayer: number, readonly D: number, readonly maxLength: number,
    readonly type: KVCacheType = 'f32',
  ) {
    check(type === 'f32' || type === 'f16', () => `kvCache: expected 'f32' or 'f16', got '${String(type)}'`);
    this.kv = Array.from({ length: nLayer }, () => this.alloc(0));
  }

  private alloc(n: number): LayerKV {
    return this.type === 'f16' ? { k: new Uint16Array(n), v: new Uint16Array(n) } : { k: new Float32Array(n), v: new Float32Array(n) };
  }

  /** Each layer's keys and values, [capacity, D]; rows 0 … length−1 hold the cached positions. */
  layers(): readonly LayerKV[] {
    return this.kv;
  }

  /** Per layer keys [capacity, D] (half bits in an f16 cache). */
  get k(): Array<Float32Array | Uint16Array> {
    return this.kv.map((l) => l.k);
  }

  /** Per layer values [capacity, D]. */
  get v(): Array<Float32Array | Uint16Array> {
    return this.kv.map((l) => l.v);
  }

  /** Bytes held by the cache (keys and values of every layer at the current capacity). */
  get bytes(): number {
    return this.kv.reduce((s, l) => s + l.k.byteLength + l.v.byteLength, 0);
  }

  /** Makes room for `total` positions, keeping the cached ones. */
  reserve(total: number): void {
    check(total <= this.maxLength, () => `KV cache: ${total} positions exceed the model's context of ${this.maxLength}`);
    if (total <= this.capacity) return;
    const cap = Math.min(this.maxLength, Math.max(total, 2 * this.capacity, 16));
    this.kv = this.kv.map((old) => {
      const n = this.alloc(cap * this.D);
      n.k.set(old.k.subarray(0, this.length * this.D) as never);
      n.v.set(old.v.subarray(0, this.length * this.D) as never);
      return n;
    });
    this.capacity = cap;
  }
}
