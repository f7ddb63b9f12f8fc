// Attention over an int8 KV cache, JS reference: the visible key and value rows are widened to
// float32 (q · the position's head scale) and the float attention runs on them; and the per-head
// int8 quantization of the rows entering the cache.
import { check } from '../errors.js';
import { checkCachedAttention } from './attention-f16-js.js';
import type { AttentionArgs, AttentionQ8Args } from './kernels.js';

/** Checks the sizes of an int8 attention call, scales included. */
export function checkAttentionQ8(a: AttentionQ8Args): void {
  check(a.k instanceof Int8Array && a.v instanceof Int8Array, 'attentionQ8: k and v must be Int8Arrays');
  check(a.kScale instanceof Float32Array && a.vScale instanceof Float32Array, 'attentionQ8: kScale and vScale must be Float32Arrays');
  checkCachedAttention('attentionQ8', a, (need) => {
    need(a.kScale, a.Tk * a.H, 'kScale');
    need(a.vScale, a.Tk * a.H, 'vScale');
  });
}

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

/** Checks a quantizeHeads call. */
export function checkQuantizeHeads(q: Int8Array, scale: Float32Array, x: Float32Array, H: number, d: number): void {
  check(Number.isInteger(H) && H >= 0 && Number.isInteger(d) && d >= 0, () => `quantizeHeads: H and d must be non-negative integers, got ${H}, ${d}`);
  check(q instanceof Int8Array && scale instanceof Float32Array && x instanceof Float32Array,
    'quantizeHeads: q must be an Int8Array, scale and x Float32Arrays');
  check(x.length >= H * d && q.length >= H * d && scale.length >= H,
    () => `quantizeHeads: x (${x.length}) and q (${q.length}) need H·d = ${H * d} elements, scale (${scale.length}) needs H = ${H}`);
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
