// Float64 reference loops for the kernel tests, written as plainly as possible (no reuse of
// the backends' code), and deterministic random inputs.

/** n standard-normal floats from a seeded generator (mulberry32 + Box–Muller). */
export function randn(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const uni = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(uni())) * Math.cos(2 * Math.PI * uni());
  return out;
}

/** max|a−b| / max|b| (0 when both are all zero). */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= num)) num = Number.isNaN(e) ? Infinity : e;
    den = Math.max(den, Math.abs(b[i]));
  }
  return num === 0 ? 0 : num / den;
}

/** alpha·op(A)·op(B) + beta·C in float64 (beta = 0 ignores C). */
export function refGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, B: Float32Array, beta: number, C: Float32Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
      out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * N + j]);
    }
  }
  return out;
}

export function refLayerNorm(x: Float32Array, w: Float32Array, b: Float32Array, M: number, D: number, eps: number) {
  const out = new Float64Array(M * D);
  const mean = new Float64Array(M);
  const rstd = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    const row = Array.from(x.subarray(i * D, (i + 1) * D));
    const mu = row.reduce((s, v) => s + v, 0) / D;
    const vari = row.reduce((s, v) => s + (v - mu) ** 2, 0) / D;
    const r = 1 / Math.sqrt(vari + eps);
    row.forEach((v, j) => { out[i * D + j] = (v - mu) * r * w[j] + b[j]; });
    mean[i] = mu;
    rstd[i] = r;
  }
  return { out, mean, rstd };
}

/** Causal attention with ALiBi in float64, via explicit score matrices. */
export function refAttention(q: Float32Array, qStride: number, k: Float32Array, v: Float32Array, kvStride: number,
  Tq: number, Tk: number, H: number, d: number, scale: number, slopes: Float32Array | null) {
  const out = new Float64Array(Tq * H * d);
  const probs = new Float64Array(H * Tq * Tk);
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < Tq; t++) {
      const i = Tk - Tq + t;
      const sc: number[] = [];
      for (let j = 0; j < Tk; j++) {
        if (j > i) { sc.push(-Infinity); continue; }
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[t * qStride + h * d + c] * k[j * kvStride + h * d + c];
        sc.push(scale * dot - (slopes ? slopes[h] : 0) * Math.abs(j - i));
      }
      const m = Math.max(...sc);
      const e = sc.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < Tk; j++) probs[(h * Tq + t) * Tk + j] = e[j] / z;
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let j = 0; j < Tk; j++) s += (e[j] / z) * v[j * kvStride + h * d + c];
        out[t * (H * d) + h * d + c] = s;
      }
    }
  }
  return { out, probs };
}
