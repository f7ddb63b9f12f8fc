// Dropout for training, as PyTorch's nn.Dropout in train mode: each element is kept with probability
// 1 − p and scaled by 1/(1 − p), else zeroed (p = 1 zeroes everything). Masks hold those factors, so
// the forward multiplies by the mask and the backward multiplies the gradient by the same mask.
// Attention dropout acts on the softmax probabilities (HF's attn_dropout), which the fused attention
// kernels do not expose: it is built here from the kernels' gemm, one head at a time, with the
// softmax backward written out. Nothing here is part of the Kernels interface; every backend runs it.
import type { Rng } from '../rng.js';
import type { AttentionBackwardArgs, Kernels } from './kernels.js';
import { checkAttentionDropout, checkPointwise } from './checks.js';

/** mask[0 … n) = 1/(1 − p) with probability 1 − p, else 0; one 32-bit draw per element. */
export function fillDropoutMask(rng: Rng, mask: Float32Array, n: number, p: number): void {
  checkPointwise('fillDropoutMask', n, [['mask', mask]]);
  if (p >= 1) { mask.fill(0, 0, n); return; }
  const keep = 1 / (1 - p), cut = p * 2 ** 32; // drop when the uniform 32-bit draw is below p·2^32
  for (let i = 0; i < n; i++) mask[i] = rng.nextUint32() < cut ? 0 : keep;
}

/** out[i] = x[i] · mask[i] for i < n (out may be x). */
export function applyMask(out: Float32Array, x: Float32Array, mask: Float32Array, n: number): void {
  checkPointwise('applyMask', n, [['out', out], ['x', x], ['mask', mask]]);
  for (let i = 0; i < n; i++) out[i] = x[i] * mask[i];
}

// Per-head scratch: T×T probabilities and T×d rows, grown on demand.
let tt = new Float32Array(0); // [T, T]
let rowsA = new Float32Array(0); // [T, d]
let rowsB = new Float32Array(0); // [T, d]
let rowsC = new Float32Array(0); // [T, d]
function ensure(T: number, d: number): void {
  if (tt.length < T * T) tt = new Float32Array(T * T);
  if (rowsA.length < T * d) { rowsA = new Float32Array(T * d); rowsB = new Float32Array(T * d); rowsC = new Float32Array(T * d); }
}

/** dst[T, d] = head h of x (rows of `stride`, head h at columns h·d … (h+1)·d). */
function gather(dst: Float32Array, x: Float32Array, stride: number, h: number, T: number, d: number): void {
  for (let t = 0; t < T; t++) dst.set(x.subarray(t * stride + h * d, t * stride + (h + 1) * d), t * d);
}

/** Head h of x (rows of `stride`) += src[T, d]. */
function scatterAdd(x: Float32Array, src: Float32Array, stride: number, h: number, T: number, d: number): void {
  for (let t = 0; t < T; t++) {
    const o = t * stride + h * d;
    for (let i = 0; i < d; i++) x[o + i] += src[t * d + i];
  }
}

export interface AttentionDropoutArgs {
  /** [T, D] attention output of one sequence, heads merged: overwritten with Σ_s (P⊙R)[t, s]·v[s]. */
  out: Float32Array;
  /** Value rows v[s·kvStride + h·d + i]. */
  v: Float32Array;
  kvStride: number;
  /** [H, T, T] softmax probabilities P (the kernel's `probs`, zero above the diagonal). */
  probs: Float32Array;
  /** [H, T, T] dropout mask R of the probabilities. */
  mask: Float32Array;
  T: number;
  H: number;
  d: number;
}

/** The attention output with dropped probabilities: out_h = (P_h ⊙ R_h) · V_h, for every head. */
export function attentionDropoutForward(k: Kernels, a: AttentionDropoutArgs): void {
  checkAttentionDropout('attentionDropoutForward', a);
  const { T, H, d } = a, D = H * d, TT = T * T;
  ensure(T, d);
  for (let h = 0; h < H; h++) {
    applyMask(tt, a.probs.subarray(h * TT), a.mask.subarray(h * TT), TT);
    gather(rowsA, a.v, a.kvStride, h, T, d);
    k.gemm(false, false, T, d, T, 1, tt, rowsA, 0, rowsB); // [T, T]·[T, d]
    for (let t = 0; t < T; t++) a.out.set(rowsB.subarray(t * d, (t + 1) * d), t * D + h * d);
  }
}

/** The attention backward's arguments (probs: the forward's P, before the mask) and the mask R of the forward. */
export interface AttentionDropoutBackwardArgs extends AttentionBackwardArgs, Pick<AttentionDropoutArgs, 'mask'> {}

/**
 * Backward of attentionDropoutForward through the softmax, per head, with P̃ = P ⊙ R:
 *   dV = P̃ᵀ·dO,  dP = (dO·Vᵀ) ⊙ R,  dS = P ⊙ (dP − rowsum(P ⊙ dP)),  dQ = scale·dS·K,  dK = scale·dSᵀ·Q.
 * (The ALiBi bias and the causal mask do not depend on q or k; masked entries have P = 0, so dS = 0.)
 */
export function attentionDropoutBackward(kern: Kernels, a: AttentionDropoutBackwardArgs): void {
  checkAttentionDropout('attentionDropoutBackward', a);
  const { T, H, d } = a, D = H * d, TT = T * T;
  ensure(T, d);
  const dOh = rowsA, x = rowsB, res = rowsC;
  for (let h = 0; h < H; h++) {
    const P = a.probs.subarray(h * TT, (h + 1) * TT), R = a.mask.subarray(h * TT, (h + 1) * TT);
    gather(dOh, a.dout, D, h, T, d);
    applyMask(tt, P, R, TT);
    kern.gemm(true, false, T, d, T, 1, tt, dOh, 0, res); // dV = P̃ᵀ·dO
    scatterAdd(a.dv, res, a.kvStride, h, T, d);
    gather(x, a.v, a.kvStride, h, T, d);
    kern.gemm(false, true, T, T, d, 1, dOh, x, 0, tt); // dP̃ = dO·Vᵀ
    for (let t = 0; t < T; t++) {
      const o = t * T;
      let c = 0;
      for (let s = 0; s < T; s++) { tt[o + s] *= R[o + s]; c += P[o + s] * tt[o + s]; }
      for (let s = 0; s < T; s++) tt[o + s] = P[o + s] * (tt[o + s] - c); // dS
    }
    gather(x, a.k, a.kvStride, h, T, d);
    kern.gemm(false, false, T, d, T, a.scale, tt, x, 0, res); // dQ = scale·dS·K
    scatterAdd(a.dq, res, a.qStride, h, T, d);
    gather(x, a.q, a.qStride, h, T, d);
    kern.gemm(true, false, T, d, T, a.scale, tt, x, 0, res); // dK = scale·dSᵀ·Q
    scatterAdd(a.dk, res, a.kvStride, h, T, d);
  }
}

/** out[i] += x[i] · mask[i] for i < n: a dropped branch added into the residual stream. */
export function addMasked(out: Float32Array, x: Float32Array, mask: Float32Array, n: number): void {
  checkPointwise('addMasked', n, [['out', out], ['x', x], ['mask', mask]]);
  for (let i = 0; i < n; i++) out[i] += x[i] * mask[i];
}
