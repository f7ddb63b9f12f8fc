// The JS reference backend: readable loops, float64 accumulation where it is cheap.
//
// This is the specification the native backend is tested against, and the fallback where the
// addon did not build. Loops are ordered for cache-friendliness (i-k-j for C += A·B) but
// otherwise plain.

import type { AttentionArgs, GeluKind, Kernels } from './kernels.js';
import { geluErf, geluTanh, silu } from './scalar.js';
import { attentionBackward, geluBackward, layerNormBackward, softmaxCrossEntropy, swigluBackward } from './backward-js.js';
import { qlinearJs, qrowJs } from './qlinear-js.js';
import { storeNewHalves, widenKV } from './attention-f16-js.js';
import { quantizeHeadsJs, widenQ8 } from './attention-q8-js.js';
import { biasRows, storeNewRows } from './rows-js.js';
import {
  attentionF16EachSequence, checkAttention, checkAttentionBackward, checkAttentionF16, checkAttentionQ8, checkBias, checkGeluKind, checkGemm,
  checkLayerNorm, checkLayerNormBackward, checkLinear, checkPointwise, checkQlinearPair, checkQuantMatrix, checkSoftmaxCrossEntropy,
} from './checks.js';

export { erf, erfc } from './scalar.js';

// ---------------------------------------------------------------------------------------------
// GEMM

/**
 * C[c0 : c0+N] += alpha · Σ_k a[a0 + k·aStep] · B[k, :] for B stored [K,N]. Four rows of B per pass
 * over the C row, so C is loaded and stored a quarter as often (3× faster than one row per pass).
 */
function addRowTimesB(
  C: Float32Array, c0: number, A: Float32Array, a0: number, aStep: number, B: Float32Array, N: number, K: number, alpha: number,
): void {
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const x0 = alpha * A[a0 + k * aStep];
    const x1 = alpha * A[a0 + (k + 1) * aStep];
    const x2 = alpha * A[a0 + (k + 2) * aStep];
    const x3 = alpha * A[a0 + (k + 3) * aStep];
    const b0 = k * N;
    const b1 = b0 + N;
    const b2 = b1 + N;
    const b3 = b2 + N;
    for (let j = 0; j < N; j++) C[c0 + j] += x0 * B[b0 + j] + x1 * B[b1 + j] + x2 * B[b2 + j] + x3 * B[b3 + j];
  }
  for (; k < K; k++) {
    const x = alpha * A[a0 + k * aStep];
    const b = k * N;
    for (let j = 0; j < N; j++) C[c0 + j] += x * B[b + j];
  }
}

/** C[M,N] = alpha · op(A) · op(B) + beta · C (see Kernels.gemm). */
function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
): void {
  checkGemm(M, N, K, A, B, C);
  // beta · C first; beta = 0 overwrites, so NaN/Inf in C never leaks through.
  if (beta === 0) C.fill(0, 0, M * N);
  else if (beta !== 1) for (let i = 0; i < M * N; i++) C[i] *= beta;
  if (alpha === 0 || K === 0) return;

  // A(i,k) and B(k,j) address the stored layouts.
  const aRow = transA ? 1 : K; // stride between rows i of op(A)
  const aCol = transA ? M : 1; // stride between columns k of op(A)

  if (M === 1) {
    // Matrix-vector: c[N] += alpha · a[K] · op(B)[K,N], streaming B once.
    if (!transB) {
      addRowTimesB(C, 0, A, 0, aCol, B, N, K, alpha);
    } else {
      for (let j = 0; j < N; j++) {
        const row = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[k * aCol] * B[row + k];
        C[j] += alpha * s;
      }
    }
    return;
  }

  if (!transB) {
    // i-k-j: C[i,:] += alpha·A(i,k) · B[k,:]
    for (let i = 0; i < M; i++) addRowTimesB(C, i * N, A, i * aRow, aCol, B, N, K, alpha);
  } else {
    // B stored [N,K]: C[i,j] += alpha · dot(op(A) row i, B row j)
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let j = 0; j < N; j++) {
        const bj = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[i * aRow + k * aCol] * B[bj + k];
        C[ci + j] += alpha * s;
      }
    }
  }
}

/** out[M,N] = x[M,K] · W[K,N] + bias[N]. */
function linear(out: Float32Array, x: Float32Array, W: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): void {
  checkLinear(out, x, W, bias, M, K, N);
  gemm(false, false, M, N, K, 1, x, W, 0, out);
  if (bias) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] += bias[j];
}

// ---------------------------------------------------------------------------------------------
// Pointwise and row kernels

function layerNorm(
  out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, M: number, D: number, eps: number,
  mean?: Float32Array, rstd?: Float32Array,
): void {
  checkLayerNorm(out, x, w, b, M, D, mean, rstd);
  for (let i = 0; i < M; i++) {
    const o = i * D;
    let s = 0;
    for (let j = 0; j < D; j++) s += x[o + j];
    const mu = s / D;
    let v = 0;
    for (let j = 0; j < D; j++) {
      const c = x[o + j] - mu;
      v += c * c;
    }
    const r = 1 / Math.sqrt(v / D + eps); // biased variance, as torch.nn.LayerNorm
    for (let j = 0; j < D; j++) out[o + j] = (x[o + j] - mu) * r * w[j] + b[j];
    if (mean) mean[i] = mu;
    if (rstd) rstd[i] = r;
  }
}

function gelu(out: Float32Array, x: Float32Array, n: number, kind: GeluKind): void {
  checkGeluKind(kind, 'gelu');
  checkPointwise('gelu', n, [['out', out], ['x', x]]);
  const f = kind === 'erf' ? geluErf : geluTanh;
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
}

function swiglu(out: Float32Array, a: Float32Array, g: Float32Array, n: number): void {
  checkPointwise('swiglu', n, [['out', out], ['a', a], ['g', g]]);
  for (let i = 0; i < n; i++) out[i] = a[i] * silu(g[i]);
}

// ---------------------------------------------------------------------------------------------
// Attention

let scoreScratch = new Float64Array(0); // [Tk] scores of one query row; grown, never shrunk
let accScratch = new Float64Array(0); // [d] output accumulator of one query row and head

function attention(args: AttentionArgs): void {
  checkAttention(args);
  storeNewRows(args);
  const { out, q, k, v, qStride, kvStride, Tq, Tk, H, d, scale, slopes, probs } = args;
  if (scoreScratch.length < Tk) scoreScratch = new Float64Array(Tk);
  if (accScratch.length < d) accScratch = new Float64Array(d);
  const s = scoreScratch;
  const acc = accScratch;
  const D = H * d;
  for (let h = 0; h < H; h++) {
    const slope = slopes ? slopes[h] : 0;
    const ho = h * d;
    for (let t = 0; t < Tq; t++) {
      const i = Tk - Tq + t; // absolute position of this query
      const qo = t * qStride + ho;
      // scores s[j] = scale · q·k_j − slope·(i − j), j ≤ i (causal)
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        const ko = j * kvStride + ho;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[qo + c] * k[ko + c];
        const sj = scale * dot - slope * (i - j);
        s[j] = sj;
        if (sj > max) max = sj;
      }
      // stable softmax: subtract the row max before exp
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        const e = Math.exp(s[j] - max);
        s[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      const oo = t * D + ho;
      acc.fill(0, 0, d);
      for (let j = 0; j <= i; j++) {
        const p = s[j] * inv;
        const vo = j * kvStride + ho;
        for (let c = 0; c < d; c++) acc[c] += p * v[vo + c];
      }
      for (let c = 0; c < d; c++) out[oo + c] = acc[c];
      if (probs) {
        const po = (h * Tq + t) * Tk;
        for (let j = 0; j <= i; j++) probs[po + j] = s[j] * inv;
        for (let j = i + 1; j < Tk; j++) probs[po + j] = 0;
      }
    }
  }
}

/** The JS reference backend. */
export const jsKernels: Kernels = {
  name: 'js',
  gemm,
  linear,
  bias(out, b, M, N, add) {
    checkBias(out, b, M, N);
    biasRows(out, b, M, N, add);
  },
  layerNorm,
  gelu,
  swiglu,
  attention,
  attentionF16(a) {
    checkAttentionF16(a);
    storeNewHalves(a);
    attention(widenKV(a));
  },
  attentionF16Batch(a) {
    attentionF16EachSequence((s) => jsKernels.attentionF16(s), a);
  },
  attentionQ8(a) {
    checkAttentionQ8(a);
    attention(widenQ8(a));
  },
  quantizeHeads: quantizeHeadsJs,
  qlinear: qlinearJs,
  qlinearPair(outA, outB, x, WA, WB, biasA, biasB, M) {
    checkQlinearPair(outA, outB, x, WA, WB, biasA, biasB, M);
    qlinearJs(outA, x, WA, biasA, M);
    qlinearJs(outB, x, WB, biasB, M);
  },
  qrow: qrowJs,
  qprepare(W) {
    checkQuantMatrix(W, 'qprepare'); // nothing to rearrange: the reference reads GGUF's rows layout
  },
  layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D) {
    checkLayerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D);
    layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D);
  },
  geluBackward(dx, x, dout, n, kind) {
    checkGeluKind(kind, 'geluBackward');
    checkPointwise('geluBackward', n, [['dx', dx], ['x', x], ['dout', dout]]);
    geluBackward(dx, x, dout, n, kind);
  },
  swigluBackward(da, dg, a, g, dout, n) {
    checkPointwise('swigluBackward', n, [['da', da], ['dg', dg], ['a', a], ['g', g], ['dout', dout]]);
    swigluBackward(da, dg, a, g, dout, n);
  },
  attentionBackward(args) {
    checkAttentionBackward(args);
    attentionBackward(args);
  },
  softmaxCrossEntropy(logits, targets, M, V, gradScale) {
    return softmaxCrossEntropy(logits, checkSoftmaxCrossEntropy(logits, targets, M, V), M, V, gradScale);
  },
};
