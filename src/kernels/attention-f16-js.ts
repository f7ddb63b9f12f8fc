// Attention over an f16 KV cache, JS reference: the new positions' keys and values are rounded to half
// into the cache, then the visible key and value rows are widened to float32 (exactly: every half is a
// float) and the float attention runs on them.
import { floatToHalf, HALF_TABLE } from '../quant/half.js';
import type { AttentionArgs, AttentionF16Args } from './kernels.js';

/** Writes kNew and vNew's Tq rows into k and v at positions Tk − Tq … Tk − 1 as half bits (nearest even). */
export function storeNewHalves(a: AttentionF16Args): void {
  const D = a.H * a.d, past = a.Tk - a.Tq;
  for (let t = 0; t < a.Tq; t++) {
    const src = t * a.newStride, dst = (past + t) * a.kvStride;
    for (let i = 0; i < D; i++) {
      a.k[dst + i] = floatToHalf(a.kNew[src + i]);
      a.v[dst + i] = floatToHalf(a.vNew[src + i]);
    }
  }
}

/** The same call with k and v widened to float32 rows [Tk, kvStride]. */
export function widenKV(a: AttentionF16Args): AttentionArgs {
  const n = a.Tk * a.kvStride;
  const widen = (h: Uint16Array): Float32Array => {
    const f = new Float32Array(n);
    const m = Math.min(n, h.length);
    for (let i = 0; i < m; i++) f[i] = HALF_TABLE[h[i]];
    return f;
  };
  // the cache as floats, its new rows already stored (not kNew: attention would store the unrounded rows again)
  const { out, q, qStride, kvStride, Tq, Tk, H, d, scale, slopes } = a;
  return { out, q, qStride, k: widen(a.k), v: widen(a.v), kvStride, Tq, Tk, H, d, scale, slopes };
}
