// Backward kernels, JS reference: the gradients of the forward kernels in js.ts, plus the fused
// softmax cross-entropy of the LM head. Conventions: gradients of inputs that feed a residual stream
// or a shared buffer ACCUMULATE (+=); pointwise input gradients overwrite. Shapes as in kernels.ts.
import { erfc } from './scalar.js';
import type { AttentionBackwardArgs } from './kernels.js';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** d/dx of the exact GELU x·Φ(x): Φ(x) + x·φ(x). */
export function geluErfGrad(x: number): number {
  return 0.5 * erfc(-x * Math.SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** d/dx of x/2·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³). */
export function geluTanhGrad(x: number): number {
  const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
  const t = Math.tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

/** dx[n] = dout[n] · gelu'(x[n]) (overwrites; dx may alias dout). */
export function geluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number, kind: 'erf' | 'tanh'): void {
  const f = kind === 'erf' ? geluErfGrad : geluTanhGrad;
  for (let i = 0; i < n; i++) dx[i] = dout[i] * f(x[i]);
}

/** out = a·silu(g):  da = dout·silu(g),  dg = dout·a·σ(g)·(1 + g·(1 − σ(g))). Overwrites da, dg. */
export function swigluBackward(da: Float32Array, dg: Float32Array, a: Float32Array, g: Float32Array, dout: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const sg = 1 / (1 + Math.exp(-g[i]));
    const d = dout[i];
    const ai = a[i];
    da[i] = d * g[i] * sg;
    dg[i] = d * ai * sg * (1 + g[i] * (1 - sg));
  }
}

/**
 * LayerNorm backward for y = x̂·w + b, x̂ = (x − μ)·rstd, per row of D:
 *   dw += Σ_rows dy·x̂,  db += Σ_rows dy,
 *   dx += rstd · (dy·w − mean(dy·w) − x̂·mean(dy·w·x̂)).
 */
export function layerNormBackward(
  dx: Float32Array, dw: Float32Array, db: Float32Array, dout: Float32Array, x: Float32Array,
  mean: Float32Array, rstd: Float32Array, w: Float32Array, M: number, D: number,
): void {
  for (let i = 0; i < M; i++) {
    const o = i * D;
    const mu = mean[i];
    const r = rstd[i];
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < D; j++) {
      const g = dout[o + j] * w[j];
      const xh = (x[o + j] - mu) * r;
      sumG += g;
      sumGX += g * xh;
    }
    const mG = sumG / D;
    const mGX = sumGX / D;
    for (let j = 0; j < D; j++) {
      const xh = (x[o + j] - mu) * r;
      const dy = dout[o + j];
      dw[j] += dy * xh;
      db[j] += dy;
      dx[o + j] += r * (dy * w[j] - mG - xh * mGX);
    }
  }
}

let dpScratch = new Float64Array(0);

/**
 * Causal self-attention backward (queries and keys both span positions 0…T−1). With P the softmax
 * of S = scale·QKᵀ + bias: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)),
 * dQ = scale·dS·K, dK = scale·dSᵀ·Q. The ALiBi bias is constant, so it has no gradient.
 */
export function attentionBackward(a: AttentionBackwardArgs): void {
  const { dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale } = a;
  const D = H * d;
  if (dpScratch.length < T) dpScratch = new Float64Array(T);
  const dp = dpScratch;
  for (let h = 0; h < H; h++) {
    const ho = h * d;
    for (let i = 0; i < T; i++) {
      const po = (h * T + i) * T;
      const oo = i * D + ho;
      // dP[i, j] = dO[i]·V[j]; dV[j] += P[i, j]·dO[i]
      let rowDot = 0;
      for (let j = 0; j <= i; j++) {
        const vo = j * kvStride + ho;
        const p = probs[po + j];
        let s = 0;
        for (let c = 0; c < d; c++) {
          s += dout[oo + c] * v[vo + c];
          dv[vo + c] += p * dout[oo + c];
        }
        dp[j] = s;
        rowDot += p * s;
      }
      const qo = i * qStride + ho;
      for (let j = 0; j <= i; j++) {
        const ds = probs[po + j] * (dp[j] - rowDot) * scale;
        if (ds === 0) continue;
        const ko = j * kvStride + ho;
        for (let c = 0; c < d; c++) {
          dq[qo + c] += ds * k[ko + c];
          dk[ko + c] += ds * q[qo + c];
        }
      }
    }
  }
}

/**
 * Fused softmax cross-entropy over rows of logits[M, V], in place: returns Σ_rows −log softmax[target]
 * over rows whose target ≥ 0, and overwrites each row with gradScale · (softmax − onehot(target))
 * (zeros for ignored rows). One pass holds only one row of extra state: the [M, V] probabilities are
 * never materialised next to the logits.
 */
export function softmaxCrossEntropy(logits: Float32Array, targets: ArrayLike<number>, M: number, V: number, gradScale: number): number {
  let loss = 0;
  for (let i = 0; i < M; i++) {
    const o = i * V;
    const t = targets[i];
    if (t < 0) { logits.fill(0, o, o + V); continue; }
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
    const logZ = max + Math.log(sum);
    loss += logZ - logits[o + t];
    for (let j = 0; j < V; j++) logits[o + j] = gradScale * Math.exp(logits[o + j] - logZ);
    logits[o + t] -= gradScale;
  }
  return loss;
}
