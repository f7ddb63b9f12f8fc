// Row writes every backend makes in JavaScript (wasm too: its memory is written through the same arrays):
// a float32 KV cache's new rows (AttentionArgs.kNew) and bias rows (Kernels.bias).
import type { AttentionArgs } from './kernels.js';

/** Copies kNew, vNew's Tq rows into k and v at positions Tk − Tq … (nothing without kNew). */
export function storeNewRows(a: AttentionArgs): void {
  const { kNew, vNew, newStride, k, v, kvStride, Tq, Tk, H, d } = a;
  if (!kNew || !vNew || newStride === undefined) return;
  const D = H * d;
  for (let t = 0; t < Tq; t++) {
    const dst = (Tk - Tq + t) * kvStride, src = t * newStride;
    k.set(kNew.subarray(src, src + D), dst);
    v.set(vNew.subarray(src, src + D), dst);
  }
}

/** out[M, N]: each row set to b[N] (add false) or increased by it. */
export function biasRows(out: Float32Array, b: Float32Array, M: number, N: number, add: boolean): void {
  for (let r = 0; r < M; r++) {
    const o = r * N;
    if (add) for (let j = 0; j < N; j++) out[o + j] += b[j];
    else out.set(b.subarray(0, N), o);
  }
}
