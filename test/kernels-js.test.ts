// The JS reference kernels against straightforward float64 loops written independently here,
// and erf against values from an independent implementation (CPython's math.erf / math.erfc).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { erf, erfc, jsKernels as JK } from '../src/kernels/js.js';
import { getKernels } from '../src/kernels/index.js';
import { MugptError } from '../src/errors.js';
import { randn, maxRelErr, refGemm, refAttention, refLayerNorm } from './kernels-ref.js';

test('erf and erfc match CPython math.erf/erfc to 1e-14 relative', () => {
  const cases: Array<[number, number, number]> = [
    [1e-8, 1.1283791670955126e-08, 0.9999999887162083],
    [0.1, 0.1124629160182849, 0.8875370839817152],
    [0.5, 0.5204998778130465, 0.4795001221869535],
    [1, 0.8427007929497149, 0.15729920705028513],
    [2, 0.9953222650189527, 0.004677734981047265],
    [2.9, 0.9999589021219005, 4.109787809945886e-05],
    [3, 0.9999779095030014, 2.2090496998585438e-05],
    [3.5, 0.9999992569016276, 7.430983723414128e-07],
    [5, 0.9999999999984626, 1.5374597944280351e-12],
    [-0.7, -0.6778011938374184, 1.6778011938374184],
    [8, 1, 1.1224297172982928e-29],
  ];
  for (const [z, e, ec] of cases) {
    assert.ok(Math.abs(erf(z) - e) <= 1e-14 * Math.abs(e), `erf(${z}) = ${erf(z)}, expected ${e}`);
    assert.ok(Math.abs(erfc(z) - ec) <= 1e-13 * Math.abs(ec), `erfc(${z}) = ${erfc(z)}, expected ${ec}`);
  }
  assert.ok(Number.isNaN(erf(NaN)));
});

test('gemm: all transposes, alpha/beta, M=1, against float64 loops', () => {
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [1, 9, 5], [4, 1, 3], [7, 13, 5], [5, 6, 0], [16, 3, 21]];
  let seed = 1;
  for (const [M, N, K] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
          const A = randn(M * K, seed++);
          const B = randn(K * N, seed++);
          const C = randn(M * N, seed++);
          const want = refGemm(transA, transB, M, N, K, alpha, A, B, beta, C);
          JK.gemm(transA, transB, M, N, K, alpha, A, B, beta, C);
          assert.ok(maxRelErr(C, want) < 1e-6, `gemm ${M}x${N}x${K} tA=${transA} tB=${transB} a=${alpha} b=${beta}: ${maxRelErr(C, want)}`);
        }
      }
    }
  }
});

test('gemm with beta = 0 overwrites NaN in C; bad sizes are MugptErrors', () => {
  const A = randn(6, 3);
  const B = randn(6, 4);
  const C = new Float32Array(4).fill(NaN);
  JK.gemm(false, false, 2, 2, 3, 1, A, B, 0, C);
  assert.ok(C.every(Number.isFinite));
  const C1 = new Float32Array(2).fill(NaN);
  JK.gemm(false, false, 1, 2, 3, 1, A, B, 0, C1);
  assert.ok(C1.every(Number.isFinite));
  assert.throws(() => JK.gemm(false, false, 3, 3, 3, 1, A, B, 0, C), /gemm: A has 6 elements, needs at least 9/);
  assert.throws(() => JK.gemm(false, false, 1.5, 3, 3, 1, A, B, 0, C), MugptError);
});

test('linear = x·W + bias', () => {
  const [M, Kd, N] = [3, 5, 4];
  const x = randn(M * Kd, 7);
  const W = randn(Kd * N, 8);
  const bias = randn(N, 9);
  const out = new Float32Array(M * N).fill(NaN);
  JK.linear(out, x, W, bias, M, Kd, N);
  const want = refGemm(false, false, M, N, Kd, 1, x, W, 0, new Float32Array(M * N));
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) want[i * N + j] += bias[j];
  assert.ok(maxRelErr(out, want) < 1e-6);
  JK.linear(out, x, W, null, M, Kd, N);
  assert.ok(maxRelErr(out, refGemm(false, false, M, N, Kd, 1, x, W, 0, new Float32Array(M * N))) < 1e-6);
});

test('layerNorm with mean/rstd outputs', () => {
  const [M, D] = [4, 37];
  const x = randn(M * D, 11).map((v) => 3 + 2 * v);
  const w = randn(D, 12);
  const b = randn(D, 13);
  const out = new Float32Array(M * D);
  const mean = new Float32Array(M);
  const rstd = new Float32Array(M);
  JK.layerNorm(out, x, w, b, M, D, 1e-5, mean, rstd);
  const r = refLayerNorm(x, w, b, M, D, 1e-5);
  assert.ok(maxRelErr(out, r.out) < 1e-6);
  assert.ok(maxRelErr(mean, r.mean) < 1e-6);
  assert.ok(maxRelErr(rstd, r.rstd) < 1e-6);
});

test('gelu (erf, tanh) and swiglu, in place too', () => {
  const n = 101;
  const x = randn(n, 21).map((v) => 4 * v);
  const out = new Float32Array(n);
  JK.gelu(out, x, n, 'erf');
  for (let i = 0; i < n; i++) {
    const want = 0.5 * x[i] * (1 + erf(x[i] / Math.SQRT2));
    assert.ok(Math.abs(out[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)));
  }
  const y = x.slice();
  JK.gelu(y, y, n, 'tanh');
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const want = 0.5 * xi * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (xi + 0.044715 * xi ** 3)));
    assert.ok(Math.abs(y[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)));
  }
  // the tanh form differs from the exact one by at most ~1e-3 (a known bound), and is not identical
  assert.ok(maxRelErr(y, out) < 1e-3 && maxRelErr(y, out) > 0);
  assert.throws(() => JK.gelu(out, x, n, 'relu' as 'erf'), /gelu: kind must be 'erf' or 'tanh'/);

  const a = randn(n, 22);
  const g = randn(n, 23);
  const s = a.slice();
  JK.swiglu(s, s, g, n);
  for (let i = 0; i < n; i++) {
    const want = a[i] * g[i] / (1 + Math.exp(-g[i]));
    assert.ok(Math.abs(s[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)));
  }
});

test('attention: causal, offset queries, ALiBi, probs, strided rows', () => {
  for (const [Tq, Tk, H, d, alibi] of [[5, 5, 2, 3, false], [3, 8, 3, 4, true], [1, 6, 4, 2, true], [1, 1, 1, 1, false]] as const) {
    const qStride = H * d + 2;
    const kvStride = 3 * H * d; // as in a fused qkv buffer
    const q = randn(Tq * qStride, 31);
    const k = randn(Tk * kvStride, 32);
    const v = randn(Tk * kvStride, 33);
    const slopes = alibi ? Float32Array.from({ length: H }, (_, h) => 2 ** -(h + 1)) : null;
    const out = new Float32Array(Tq * H * d);
    const probs = new Float32Array(H * Tq * Tk).fill(NaN);
    const scale = 1 / Math.sqrt(d);
    JK.attention({ out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes, probs });
    const r = refAttention(q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes);
    assert.ok(maxRelErr(out, r.out) < 1e-6, `attention out ${Tq} ${Tk} ${H} ${d}`);
    assert.ok(maxRelErr(probs, r.probs) < 1e-6, `attention probs ${Tq} ${Tk} ${H} ${d}`);
  }
  // large scores stay finite (stable softmax)
  const q = new Float32Array([100, 100]);
  const k = new Float32Array([100, 100, -100, -100]);
  const v = new Float32Array([1, 2, 3, 4]);
  const out = new Float32Array(2);
  JK.attention({ out, q, qStride: 2, k, v, kvStride: 2, Tq: 1, Tk: 2, H: 1, d: 2, scale: 1, slopes: null });
  assert.deepEqual(Array.from(out), [1, 2]);
  assert.throws(() => JK.attention({ out, q, qStride: 2, k, v, kvStride: 2, Tq: 3, Tk: 2, H: 1, d: 2, scale: 1, slopes: null }),
    /attention: Tq \(3\) must not exceed Tk \(2\)/);
});

test('getKernels: js by argument and by MUGPT_BACKEND; unknown names are MugptErrors', () => {
  assert.equal(getKernels('js').name, 'js');
  const saved = process.env.MUGPT_BACKEND;
  try {
    process.env.MUGPT_BACKEND = 'js';
    assert.equal(getKernels().name, 'js');
    process.env.MUGPT_BACKEND = 'cuda';
    assert.throws(() => getKernels(), /MUGPT_BACKEND: expected 'js', 'native' or 'wasm', got 'cuda'/);
  } finally {
    if (saved === undefined) delete process.env.MUGPT_BACKEND;
    else process.env.MUGPT_BACKEND = saved;
  }
});
