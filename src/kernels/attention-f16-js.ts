// Attention over an f16 KV cache, JS reference: the visible key and value rows are widened to
// float32 (exactly: every half is a float) and the float attention runs on them.
import { check } from '../errors.js';
import { HALF_TABLE } from '../quant/half.js';
import type { AttentionArgs, AttentionF16Args } from './kernels.js';

/** A cached-attention call: the AttentionArgs sizes with k and v of any element type. */
type CachedAttentionArgs = Omit<AttentionArgs, 'k' | 'v' | 'probs'> & { k: ArrayLike<number>; v: ArrayLike<number> };

/**
 * Checks the sizes of an attention call over a cache (as checkAttention does for floats), naming the
 * kernel in its errors; `need(array, n, name)` checks further arrays when Tq > 0.
 */
export function checkCachedAttention(
  kernel: string, a: CachedAttentionArgs, more: (need: (arr: ArrayLike<number>, n: number, what: string) => void) => void = () => {},
): void {
  const { Tq, Tk, H, d, qStride, kvStride } = a;
  for (const [name, v] of [['Tq', Tq], ['Tk', Tk], ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride]] as const) {
    check(Number.isInteger(v) && v >= 0, `${kernel}: ${name} must be a non-negative integer, got ${v}`);
  }
  check(Tq <= Tk, () => `${kernel}: Tq (${Tq}) must not exceed Tk (${Tk})`);
  check(qStride >= H * d && kvStride >= H * d, () => `${kernel}: qStride (${qStride}) and kvStride (${kvStride}) must be at least H·d = ${H * d}`);
  if (Tq === 0) return;
  const need = (arr: ArrayLike<number>, n: number, what: string): void =>
    check(arr.length >= n, () => `${kernel}: ${what} has ${arr.length} elements, needs at least ${n}`);
  need(a.out, Tq * H * d, 'out');
  need(a.q, (Tq - 1) * qStride + H * d, 'q');
  need(a.k, (Tk - 1) * kvStride + H * d, 'k');
  need(a.v, (Tk - 1) * kvStride + H * d, 'v');
  if (a.slopes) need(a.slopes, H, 'slopes');
  more(need);
}

/** Checks the sizes of an f16 attention call. */
export function checkAttentionF16(a: AttentionF16Args): void {
  check(a.k instanceof Uint16Array && a.v instanceof Uint16Array, 'attentionF16: k and v must be Uint16Arrays of half bits');
  checkCachedAttention('attentionF16', a);
}

/** Checks a toHalf call: out holds at least x.length halves. */
export function checkToHalf(out: Uint16Array, x: Float32Array): void {
  check(out instanceof Uint16Array && x instanceof Float32Array, 'toHalf: out must be a Uint16Array and x a Float32Array');
  check(out.length >= x.length, () => `toHalf: out has ${out.length} elements, x has ${x.length}`);
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
  return { ...a, k: widen(a.k), v: widen(a.v) };
}
