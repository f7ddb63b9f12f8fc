// Attention over an int8 KV cache, JS reference: the visible key and value rows are widened to
// float32 (q · the position's head scale) and the float attention runs on them; and the per-head
// int8 quantization of the rows entering the cache.
import { checkQuantizeHeads } from './checks.js';
import type { AttentionArgs, AttentionQ8Args } from './kernels.js';

/** The same call with k and v widened to float32 rows [Tk, kvStride]. */
export function widenQ8(a: AttentionQ8Args): AttentionArgs {
  const widen = (q: Int8Array, scale: Float32Array): Float32Array => {
    const f = new Float32Array(a.Tk * a.kvStride);
    for (let j = 0; j < a.Tk; j++) {
      for (let h = 0; h < a.H; h++) {
        const s = scale[j * a.H + h], o = j * a.kvStride + h * a.d;
        for (let i = 0; i < a.d; i++) f[o + i] = s * q[o + i];
      }
    }
    return f;
  };
  return { ...a, k: widen(a.k, a.kScale), v: widen(a.v, a.vScale) };
}

/** The reference of Kernels.quantizeHeads (float32 steps through Math.fround; halves away from zero). */
export function quantizeHeadsJs(q: Int8Array, scale: Float32Array, x: Float32Array, H: number, d: number): void {
  checkQuantizeHeads(q, scale, x, H, d);
  for (let h = 0; h < H; h++) {
    let amax = 0;
    for (let i = 0; i < d; i++) amax = Math.max(amax, Math.abs(x[h * d + i]));
    const s = Math.fround(amax / 127), inv = s !== 0 ? Math.fround(1 / s) : 0;
    scale[h] = s;
    for (let i = 0; i < d; i++) {
      const v = Math.fround(x[h * d + i] * inv), a = Math.abs(v);
      let r = Math.floor(a);
      if (a - r >= 0.5) r++;
      q[h * d + i] = v < 0 ? -r : r;
    }
  }
}
