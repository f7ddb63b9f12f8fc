// The KV cache of incremental decoding: per layer, the keys and values of every position seen so far.
import { check } from '../errors.js';
import type { KVCache } from './decode.js';

/** Keys and values per layer, [capacity, D] each, grown by doubling (up to maxLength) as positions arrive. */
export class LayerKVCache implements KVCache {
  length = 0;
  capacity = 0;
  readonly k: Float32Array[]; // per layer [capacity, D]
  readonly v: Float32Array[]; // per layer [capacity, D]

  constructor(readonly owner: object, readonly nLayer: number, readonly D: number, readonly maxLength: number) {
    this.k = Array.from({ length: nLayer }, () => new Float32Array(0));
    this.v = Array.from({ length: nLayer }, () => new Float32Array(0));
  }

  /** Makes room for `total` positions, keeping the cached ones. */
  reserve(total: number): void {
    check(total <= this.maxLength, () => `KV cache: ${total} positions exceed the model's context of ${this.maxLength}`);
    if (total <= this.capacity) return;
    const cap = Math.min(this.maxLength, Math.max(total, 2 * this.capacity, 16));
    for (let l = 0; l < this.nLayer; l++) {
      const k = new Float32Array(cap * this.D), v = new Float32Array(cap * this.D);
      k.set(this.k[l].subarray(0, this.length * this.D));
      v.set(this.v[l].subarray(0, this.length * this.D));
      this.k[l] = k;
      this.v[l] = v;
    }
    this.capacity = cap;
  }
}
