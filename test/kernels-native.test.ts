// The native backend (C++ addon, both instruction sets it has) and the WebAssembly backend (the same
// drivers over WebAssembly SIMD) against the JS reference on random and odd shapes, subarray views at
// odd offsets, and NaN-filled outputs with beta = 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { getKernels, nativeAvailable } from '../src/kernels/index.js';
import { POPULATE_MIN } from '../src/kernels/native.js';
import { loadNativeAddon, nativeLoadError } from '../src/native/addon.js';
import { jsKernels as JS } from '../src/kernels/js.js';
import type { Kernels } from '../src/kernels/kernels.js';
import { randn, maxRelErr } from './kernels-ref.js';
import { repoRoot } from './helpers.js';

const TOL = 1e-5; // relative to the largest reference value

const available = nativeAvailable();
const skip = available ? false : `native addon did not build or load (${nativeLoadError()})`;

test('in CI the native addon is built and loads', { skip: !process.env.CI && 'not in CI' }, () => {
  assert.ok(available, `native addon failed to load: ${nativeLoadError()}`);
});

/** Runs fn once per instruction set the addon offers (avx2 where the CPU has it, portable always), then on wasm. */
function eachSimd(fn: (K: Kernels, simd: string) => void): void {
  const addon = loadNativeAddon()!;
  const initial = addon.info().simd;
  try {
    for (const simd of ['avx512', 'avx2', 'portable']) {
      if (!addon.setSimd(simd)) continue;
      fn(getKernels('native'), simd);
    }
  } finally {
    addon.setSimd(initial);
  }
  fn(getKernels('wasm'), 'wasm');
}

/** A random array of n floats living at an odd element offset inside a larger buffer. */
function view(n: number, seed: number, offset = 3): Float32Array {
  return randn(n + offset + 2, seed).subarray(offset, offset + n);
}

function close(got: Float32Array, want: Float32Array, what: string): void {
  const e = maxRelErr(got, want);
  assert.ok(e <= TOL, `${what}: max relative error ${e}`);
}

test('gemm matches JS on odd shapes, all transposes, alpha/beta, views', { skip }, () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [7, 13, 5], [33, 65, 17], [1, 768, 2304], [3, 2560, 6826], [5, 17, 800], [9, 600, 7], [4, 33, 9],
    [12, 70, 130], [13, 70, 130],
  ];
  // Inputs and the JS result once per case; every instruction set is compared against them.
  const cases: Array<{ what: string; run: (K: Kernels) => Float32Array; want: Float32Array }> = [];
  let seed = 100;
  for (const [M, N, Kd] of shapes) {
    const big = M * N * Kd > 1e6;
    for (const tA of big ? [false] : [false, true]) {
      for (const tB of [false, true]) {
        for (const [alpha, beta] of big ? [[1, 0]] : [[1, 0], [1, 1], [-0.75, 0.5]]) {
          const A = view(M * Kd, seed++);
          const B = view(Kd * N, seed++, 5);
          const C0 = view(M * N, seed++, 1);
          const want = C0.slice();
          JS.gemm(tA, tB, M, N, Kd, alpha, A, B, beta, want);
          const run = (K: Kernels): Float32Array => {
            const got = C0.slice();
            K.gemm(tA, tB, M, N, Kd, alpha, A, B, beta, got);
            return got;
          };
          cases.push({ what: `gemm ${M}x${N}x${Kd} tA=${tA} tB=${tB} alpha=${alpha} beta=${beta}`, run, want });
        }
      }
    }
  }
  eachSimd((K, simd) => {
    for (const c of cases) close(c.run(K), c.want, `${simd} ${c.what}`);
  });
});

// Decode batches: a product of M ≤ 12 rows (one per sequence) reads each weight tile once for all rows,
// and must give every row exactly what it gets alone (batched greedy decoding equals solo decoding).
test('gemm of 1 to 12 rows: each row bit for bit as alone, and the JS reference; N, K off the tiles', { skip }, () => {
  // [K, N]: several tasks with k tails (203 = 4·50 + 3), column tails past the 16-wide tiles, one task
  const shapes: Array<[number, number]> = [[203, 181], [768, 50], [37, 300], [130, 147], [9, 16]];
  let seed = 500;
  const cases = shapes.flatMap(([Kd, N]) => [false, true].flatMap((tB) => [[1, 0], [-0.75, 0.5]].map(([alpha, beta]) => {
    const A = view(12 * Kd, seed++), B = view(Kd * N, seed++, 5), C0 = view(12 * N, seed++, 1);
    return { Kd, N, tB, alpha, beta, A, B, C0 };
  })));
  eachSimd((K, simd) => {
    for (const { Kd, N, tB, alpha, beta, A, B, C0 } of cases) {
      const alone = Array.from({ length: 12 }, (_, m) => {
        const c = C0.slice(m * N, (m + 1) * N);
        K.gemm(false, tB, 1, N, Kd, alpha, A.subarray(m * Kd, (m + 1) * Kd), B, beta, c);
        return c;
      });
      for (let M = 1; M <= 12; M++) {
        const what = `${simd} gemm ${M}x${N}x${Kd} tB=${tB} alpha=${alpha} beta=${beta}`;
        const got = C0.slice(0, M * N);
        K.gemm(false, tB, M, N, Kd, alpha, A.subarray(0, M * Kd), B, beta, got);
        const want = C0.slice(0, M * N);
        JS.gemm(false, tB, M, N, Kd, alpha, A.subarray(0, M * Kd), B, beta, want);
        close(got, want, what);
        for (let m = 0; m < M; m++) assert.deepEqual(got.subarray(m * N, (m + 1) * N), alone[m], `${what}: row ${m} differs from the row alone`);
      }
    }
  });
});

test('gemm into a subarray view of C leaves the rest of the buffer alone', { skip }, () => {
  eachSimd((K, simd) => {
    for (const [M, N, Kd] of [[1, 19, 7], [11, 19, 7]]) {
      const buf = new Float32Array(M * N + 10).fill(7);
      const C = buf.subarray(3, 3 + M * N);
      K.gemm(false, false, M, N, Kd, 1, view(M * Kd, 1), view(Kd * N, 2), 0, C);
      assert.deepEqual([...buf.subarray(0, 3), ...buf.subarray(3 + M * N)], new Array(10).fill(7), `${simd} ${M}`);
      const want = new Float32Array(M * N);
      JS.gemm(false, false, M, N, Kd, 1, view(M * Kd, 1), view(Kd * N, 2), 0, want);
      close(C, want, `${simd} view C ${M}`);
    }
  });
});

test('gemm with beta = 0 ignores NaN in C; alpha = 0 and K = 0 scale C by beta', { skip }, () => {
  eachSimd((K, simd) => {
    for (const [M, N, Kd] of [[1, 40, 9], [3, 40, 9], [20, 40, 800]]) {
      const C = new Float32Array(M * N).fill(NaN);
      K.gemm(false, true, M, N, Kd, 1, view(M * Kd, 1), view(Kd * N, 2), 0, C);
      assert.ok(C.every(Number.isFinite), `${simd} beta=0 ${M}x${N}x${Kd}`);
    }
    const C = new Float32Array(6).fill(2);
    K.gemm(false, false, 2, 3, 0, 1, new Float32Array(0), new Float32Array(0), 0.5, C);
    assert.deepEqual([...C], [1, 1, 1, 1, 1, 1]);
    const D = new Float32Array(6).fill(NaN);
    K.gemm(false, false, 2, 3, 4, 0, view(8, 1), view(12, 2), 0, D);
    assert.deepEqual([...D], [0, 0, 0, 0, 0, 0]);
  });
});

test('linear with and without bias, one row and many', { skip }, () => {
  eachSimd((K, simd) => {
    for (const [M, Kd, N] of [[1, 64, 200], [9, 70, 45], [2, 3, 5]]) {
      for (const withBias of [true, false]) {
        const x = view(M * Kd, 1);
        const W = view(Kd * N, 2);
        const bias = withBias ? view(N, 3) : null;
        const got = new Float32Array(M * N).fill(NaN);
        const want = new Float32Array(M * N);
        K.linear(got, x, W, bias, M, Kd, N);
        JS.linear(want, x, W, bias, M, Kd, N);
        close(got, want, `${simd} linear ${M}x${Kd}x${N} bias=${withBias}`);
      }
    }
  });
});

test('layerNorm, gelu (erf, tanh), swiglu match JS, extremes included', { skip }, () => {
  eachSimd((K, simd) => {
    for (const [M, D] of [[1, 1], [3, 13], [17, 768]]) {
      const x = view(M * D, 5).map((v) => 2 + 3 * v);
      const w = view(D, 6);
      const b = view(D, 7);
      const got = new Float32Array(M * D);
      const want = new Float32Array(M * D);
      const [m1, r1, m2, r2] = [new Float32Array(M), new Float32Array(M), new Float32Array(M), new Float32Array(M)];
      K.layerNorm(got, x, w, b, M, D, 1e-5, m1, r1);
      JS.layerNorm(want, x, w, b, M, D, 1e-5, m2, r2);
      close(got, want, `${simd} layerNorm ${M}x${D}`);
      close(m1, m2, `${simd} layerNorm mean`);
      close(r1, r2, `${simd} layerNorm rstd`);
    }
    const extremes = [0, -0, 1e-30, -1e-30, 10, -10, 50, -50, 100, -100, 3.5, -3.5];
    for (const n of [1, 7, 8, 37, 40000]) {
      const x = view(n, 9).map((v) => 4 * v);
      x.set(extremes.slice(0, Math.min(n, extremes.length)));
      for (const kind of ['erf', 'tanh'] as const) {
        const got = new Float32Array(n);
        const want = new Float32Array(n);
        K.gelu(got, x, n, kind);
        JS.gelu(want, x, n, kind);
        close(got, want, `${simd} gelu ${kind} n=${n}`);
        const inPlace = x.slice();
        K.gelu(inPlace, inPlace, n, kind);
        assert.deepEqual(inPlace, got, `${simd} gelu ${kind} in place`);
      }
      const a = view(n, 10);
      const g = view(n, 11).map((v) => 5 * v);
      g.set(extremes.slice(0, Math.min(n, extremes.length)));
      const got = new Float32Array(n);
      const want = new Float32Array(n);
      K.swiglu(got, a, g, n);
      JS.swiglu(want, a, g, n);
      close(got, want, `${simd} swiglu n=${n}`);
    }
  });
});

test('attention matches JS: prefill, decode, ALiBi, probs, fused-qkv strides, odd head sizes', { skip }, () => {
  const cases: Array<[number, number, number, number, boolean]> = [
    [1, 1, 1, 1, false], [5, 5, 2, 3, true], [13, 13, 3, 8, false], [4, 21, 2, 5, true], [1, 300, 4, 80, true], [1, 301, 2, 16, false], [1, 1027, 3, 8, true],
    [37, 37, 2, 64, true],
  ];
  eachSimd((K, simd) => {
    for (const [Tq, Tk, H, d, alibi] of cases) {
      const D = H * d;
      const qkv = view(Tk * 3 * D, 21, 1); // [Tk, 3D] as c_attn produces it
      const q = qkv.subarray((Tk - Tq) * 3 * D);
      const k = qkv.subarray(D);
      const v = qkv.subarray(2 * D);
      const slopes = alibi ? Float32Array.from({ length: H }, (_, h) => 2 ** (-8 * (h + 1) / H)) : null;
      const args = { q, qStride: 3 * D, k, v, kvStride: 3 * D, Tq, Tk, H, d, scale: 1 / Math.sqrt(d), slopes };
      const got = new Float32Array(Tq * D);
      const want = new Float32Array(Tq * D);
      const pGot = new Float32Array(H * Tq * Tk).fill(NaN);
      const pWant = new Float32Array(H * Tq * Tk);
      K.attention({ ...args, out: got, probs: pGot });
      JS.attention({ ...args, out: want, probs: pWant });
      close(got, want, `${simd} attention out Tq=${Tq} Tk=${Tk} H=${H} d=${d}`);
      close(pGot, pWant, `${simd} attention probs Tq=${Tq} Tk=${Tk} H=${H} d=${d}`);
      const noProbs = new Float32Array(Tq * D);
      K.attention({ ...args, out: noProbs });
      assert.deepEqual(noProbs, got);
    }
  });
});

test('attention with new rows (kNew, a float32 cache) stores them at Tk − Tq … and attends as after a store of its own', { skip }, () => {
  eachSimd((K, simd) => {
    for (const [Tq, Tk, H, d, alibi] of [[1, 1, 1, 8, false], [1, 37, 2, 16, true], [3, 40, 3, 8, false], [1, 530, 4, 64, true]] as const) {
      const D = H * d;
      const qkv = view(Tq * 3 * D, 31, 1); // the new rows: q | k | v
      const cache = (seed: number): Float32Array => { const c = view((Tk + 2) * D, seed, 1); c.fill(NaN, (Tk - Tq) * D); return c; };
      const [k, v] = [cache(32), cache(33)];
      const slopes = alibi ? Float32Array.from({ length: H }, (_, h) => 2 ** (-8 * (h + 1) / H)) : null;
      const base = { q: qkv, qStride: 3 * D, kvStride: D, Tq, Tk, H, d, scale: 1 / Math.sqrt(d), slopes };
      const got = new Float32Array(Tq * D), [kg, vg] = [k.slice(), v.slice()];
      K.attention({ ...base, out: got, k: kg, v: vg, kNew: qkv.subarray(D), vNew: qkv.subarray(2 * D), newStride: 3 * D });
      const want = new Float32Array(Tq * D), [kw, vw] = [k.slice(), v.slice()];
      for (let t = 0; t < Tq; t++) {
        kw.set(qkv.subarray(t * 3 * D + D, t * 3 * D + 2 * D), (Tk - Tq + t) * D);
        vw.set(qkv.subarray(t * 3 * D + 2 * D, t * 3 * D + 3 * D), (Tk - Tq + t) * D);
      }
      JS.attention({ ...base, out: want, k: kw, v: vw });
      assert.deepEqual(kg, kw, `${simd} Tq=${Tq} Tk=${Tk}: keys stored`);
      assert.deepEqual(vg, vw, `${simd} Tq=${Tq} Tk=${Tk}: values stored`);
      close(got, want, `${simd} attention with new rows Tq=${Tq} Tk=${Tk} H=${H} d=${d}`);
    }
    assert.throws(() => K.attention({ out: new Float32Array(8), q: new Float32Array(24), qStride: 24, k: new Float32Array(8), v: new Float32Array(8),
      kvStride: 8, Tq: 1, Tk: 1, H: 1, d: 8, scale: 1, slopes: null, kNew: new Float32Array(8) }), /kNew, vNew and newStride come together/);
  });
});

test('bias sets or adds a row to each of M rows, as the JS reference', { skip }, () => {
  eachSimd((K, simd) => {
    for (const [M, N] of [[1, 1], [1, 768], [3, 37]]) {
      const b = view(N, 41), x = view(M * N, 42);
      for (const add of [false, true]) {
        const got = x.slice(), want = x.slice();
        K.bias(got, b, M, N, add);
        JS.bias(want, b, M, N, add);
        assert.deepEqual(got, want, `${simd} bias ${M}x${N} add=${add}`);
        for (let r = 0; r < M; r++) for (let j = 0; j < N; j++) assert.equal(want[r * N + j], add ? Math.fround(x[r * N + j] + b[j]) : b[j]);
      }
    }
    assert.throws(() => K.bias(new Float32Array(4), new Float32Array(2), 2, 3, true), /bias: out has 4 elements, needs at least 6/);
  });
});

test('backward kernels match JS: gelu (erf, tanh), swiglu, layerNorm, softmax cross-entropy, attention', { skip }, () => {
  eachSimd((K, simd) => {
    for (const n of [1, 13, 40000]) {
      const x = view(n, 41).map((v) => 3 * v);
      const dout = view(n, 42);
      for (const kind of ['erf', 'tanh'] as const) {
        const got = new Float32Array(n);
        const want = new Float32Array(n);
        K.geluBackward(got, x, dout, n, kind);
        JS.geluBackward(want, x, dout, n, kind);
        close(got, want, `${simd} geluBackward ${kind} n=${n}`);
      }
      const a = view(n, 43);
      const g = view(n, 44).map((v) => 4 * v);
      const [da, dg, da2, dg2] = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
      K.swigluBackward(da, dg, a, g, dout, n);
      JS.swigluBackward(da2, dg2, a, g, dout, n);
      close(da, da2, `${simd} swigluBackward da n=${n}`);
      close(dg, dg2, `${simd} swigluBackward dg n=${n}`);
    }
    for (const [M, D] of [[1, 1], [3, 13], [37, 768]]) {
      const x = view(M * D, 51).map((v) => 2 + 3 * v);
      const w = view(D, 52);
      const dy = view(M * D, 53);
      const mean = new Float32Array(M);
      const rstd = new Float32Array(M);
      JS.layerNorm(new Float32Array(M * D), x, w, view(D, 54), M, D, 1e-5, mean, rstd);
      const start = (seed: number, n: number): Float32Array => view(n, seed); // accumulated into
      const [dx1, dw1, db1] = [start(55, M * D), start(56, D), start(57, D)];
      const [dx2, dw2, db2] = [start(55, M * D), start(56, D), start(57, D)];
      K.layerNormBackward(dx1, dw1, db1, dy, x, mean, rstd, w, M, D);
      JS.layerNormBackward(dx2, dw2, db2, dy, x, mean, rstd, w, M, D);
      close(dx1, dx2, `${simd} layerNormBackward dx ${M}x${D}`);
      close(dw1, dw2, `${simd} layerNormBackward dw ${M}x${D}`);
      close(db1, db2, `${simd} layerNormBackward db ${M}x${D}`);
    }
    for (const [M, V] of [[1, 1], [3, 7], [5, 50257]]) {
      const logits = view(M * V, 45).map((v) => 5 * v);
      const targets = Array.from({ length: M }, (_, i) => (i === 1 ? -1 : (i * 7919) % V));
      const got = logits.slice();
      const want = logits.slice();
      const lossGot = K.softmaxCrossEntropy(got, targets, M, V, 1 / M);
      const lossWant = JS.softmaxCrossEntropy(want, targets, M, V, 1 / M);
      assert.ok(Math.abs(lossGot - lossWant) <= 1e-6 * Math.max(1, Math.abs(lossWant)), `${simd} xent loss ${lossGot} vs ${lossWant}`);
      close(got, want, `${simd} xent grad ${M}x${V}`);
    }
    for (const [T, H, d] of [[1, 1, 1], [7, 2, 5], [33, 3, 16]]) {
      const D = H * d;
      const qkv = view(T * 3 * D, 46, 1);
      const q = qkv, k = qkv.subarray(D), v = qkv.subarray(2 * D);
      const probs = new Float32Array(H * T * T);
      const slopes = Float32Array.from({ length: H }, (_, h) => 2 ** -(h + 1));
      JS.attention({ out: new Float32Array(T * D), q, qStride: 3 * D, k, v, kvStride: 3 * D, Tq: T, Tk: T, H, d, scale: 1 / Math.sqrt(d), slopes, probs });
      const dout = view(T * D, 47);
      const grads = (): Float32Array => view(T * 3 * D, 48, 2); // accumulated into: start from the same values
      const [g1, g2] = [grads(), grads()];
      const args = (g: Float32Array) => ({ dq: g, dk: g.subarray(D), dv: g.subarray(2 * D), dout, q, k, v, qStride: 3 * D, kvStride: 3 * D, probs, T, H, d, scale: 1 / Math.sqrt(d) });
      K.attentionBackward(args(g1));
      JS.attentionBackward(args(g2));
      close(g1, g2, `${simd} attentionBackward T=${T} H=${H} d=${d}`);
    }
  });
  const K = getKernels('native');
  assert.throws(() => K.softmaxCrossEntropy(new Float32Array(6), [0, 3], 2, 3, 1), /target 3 of row 1 is not an id in \[0, 3\)/);
  assert.throws(() => K.attentionBackward({ dq: new Float32Array(3), dk: new Float32Array(4), dv: new Float32Array(4), dout: new Float32Array(4),
    q: new Float32Array(4), k: new Float32Array(4), v: new Float32Array(4), qStride: 2, kvStride: 2, probs: new Float32Array(4), T: 2, H: 1, d: 2, scale: 1 }),
  /attentionBackward: dq has 3 elements, needs at least 4/);
});

test('native kernels leave JavaScript denormal arithmetic intact (flush-to-zero is scoped to the call)', { skip }, () => {
  const K = getKernels('native');
  const x = view(64, 3);
  K.gelu(x, x, 64, 'erf');
  K.attention({ out: new Float32Array(8), q: x, qStride: 4, k: x, v: x, kvStride: 4, Tq: 2, Tk: 3, H: 1, d: 4, scale: 1, slopes: null });
  const tiny = Number(String(Number.MIN_VALUE)); // a denormal double, computed at run time
  assert.ok(tiny * 3 > 0 && tiny * 3 === 3 * Number.MIN_VALUE);
  assert.ok(new Float32Array([1e-40])[0] > 0);
});

test('native wrapper rejects bad sizes and non-Float32 arrays with clear errors', { skip }, () => {
  const K = getKernels('native');
  assert.throws(() => K.gemm(false, false, 4, 4, 4, 1, new Float32Array(15), new Float32Array(16), 0, new Float32Array(16)),
    /gemm: A has 15 elements, needs at least 16/);
  assert.throws(() => K.layerNorm(new Float32Array(4), new Float32Array(4), new Float32Array(3), new Float32Array(4), 1, 4, 1e-5),
    /layerNorm: w has 3 elements, needs at least 4/);
  assert.throws(() => K.gelu(new Float32Array(4), new Float64Array(4) as unknown as Float32Array, 4, 'erf'), /must be a Float32Array/);
});

test('populate leaves every array\'s contents as they were, views at odd offsets included; a non-array is a clear error', { skip }, () => {
  const K = getKernels('native');
  for (const n of [0, 100, POPULATE_MIN, 5 * POPULATE_MIN + 12]) {
    const buf = new Float32Array(n + 7);
    for (let i = 0; i < buf.length; i++) buf[i] = i % 13;
    const x = buf.subarray(3, 3 + n);
    K.populate!(x);
    K.populate!(new Uint16Array(n)); // fresh, untouched pages
    assert.ok(buf.every((v, i) => v === i % 13), `${n} floats: contents unchanged`);
    x.fill(2);
    assert.ok(buf.every((v, i) => v === (i >= 3 && i < 3 + n ? 2 : i % 13)), `${n} floats: writable`);
  }
  assert.throws(() => K.populate!([1, 2, 3] as unknown as Float32Array), /populate: x must be a typed array/);
});

test('MUGPT_BACKEND=native without a loadable addon is a MugptError; the default falls back to JS', () => {
  const script = `
    const { getKernels } = await import(${JSON.stringify(new URL('../src/kernels/index.js', import.meta.url).href)});
    console.log('default=' + getKernels().name);
    try { getKernels('native'); console.log('no error'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repoRoot, encoding: 'utf8',
    env: { ...process.env, MUGPT_NATIVE_ADDON: '/nonexistent/mugpt_native.node', MUGPT_BACKEND: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /default=js/);
  assert.match(r.stdout, /MugptError: backend argument: the native kernels are not available \(Cannot find module/);
});
