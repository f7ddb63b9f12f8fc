// Attention over an f16 KV cache, JS reference: the visible key and value rows are widened to
// float32 (exactly: every half is a float) and the float attention runs on them.
import { HALF_TABLE } from '../quant/half.js';
import type { AttentionArgs, AttentionF16Args } from './kernels.js';

/** The same call with k and v widened to float32 rows [Tk, kvStride]. */
export function widenKV(a: AttentionF16Args): AttentionArgs {
  const n = a.Tk * a.kvStride;
  const widen = (h: Uint16Array): Float32Array => {
    const f = new Float32Array(n);
    const m = Math.min(n, h.length);
    for (let i = 0; i < m; i++) f[i] = HALF_TABLE[h[i]];
    return f;
  };
  return { ...a, k: widen(a.k), v: widen(a.v) };
}
