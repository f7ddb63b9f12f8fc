// Native quantized kernels (qlinear, qrow) and f16-cache attention against the JS references, on
// random and odd shapes, for every instruction set the addon runs on this CPU, and the WebAssembly
// backend's (which reads the rows layout only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getKernels, nativeAvailable } from '../src/kernels/index.js';
import { loadNativeAddon, nativeLoadError } from '../src/native/addon.js';
import { jsKernels as JS } from '../src/kernels/js.js';
import type { Kernels, QuantMatrix } from '../src/kernels/kernels.js';
import { quantize, quantizedBytes, type BlockType } from '../src/quant/blocks.js';
import { HALF_TABLE, floatToHalf } from '../src/quant/half.js';
import { MugptError } from '../src/errors.js';
import { maxRelErr, randn } from './kernels-ref.js';
import { scratch } from './helpers.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const skip = nativeAvailable() ? false : `native addon did not build or load (${nativeLoadError()})`;

function eachSimd(fn: (K: Kernels, simd: string) => void): void {
  const addon = loadNativeAddon()!;
  const initial = addon.info().simd;
  try {
    for (const simd of ['avx512', 'avx2', 'portable']) if (addon.setSimd(simd)) fn(getKernels('native'), simd);
  } finally {
    addon.setSimd(initial);
  }
  fn(getKernels('wasm'), 'wasm');
}

/** The layouts a backend reads: the wasm kernels read the rows layout only. */
const layouts = (simd: string, rows: QuantMatrix, x16: QuantMatrix): QuantMatrix[] => (simd === 'wasm' ? [rows] : [rows, x16]);

/**
 * Both sides compute the same integer block sums; they differ only in how the per-block terms
 * d_w·d_x·Σq are added (f32 in native code, f64 in JS), so the error is bounded by a few float
 * ulps of Σ|terms| (measured against the sum of absolute products, not the possibly cancelled result).
 */
function closeQ(got: Float32Array, want: Float32Array, absScale: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = 2e-6 * (absScale[i] + Math.abs(want[i])) + 1e-30;
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}: [${i}] ${got[i]} vs ${want[i]} (tol ${tol})`);
  }
}

const abs = (x: Float32Array): Float32Array => x.map(Math.abs);

/** A copy of W rearranged into the x16 layout, whatever this CPU has (every instruction set reads it). */
function packedX16(W: QuantMatrix): QuantMatrix {
  const Wx: QuantMatrix = { ...W, data: W.data.slice() };
  assert.equal(loadNativeAddon()!.qpack(Wx.data, W.type === 'q8_0' ? 8 : 2, W.N, W.K, true), Wx.data, 'packed in place');
  Wx.layout = 'x16';
  if (W.N >= 16) assert.notDeepEqual(Wx.data, W.data, 'x16 rearranges the groups of 16 rows');
  return Wx;
}

test('qprepare: x16 where the kernels read it faster (AVX2, AVX-512), once; the JS kernels refuse an x16 matrix by name', { skip }, () => {
  const N = 40, K = 64;
  const W: QuantMatrix = { type: 'q4_0', data: quantize('q4_0', randn(N * K, 5), N, K), N, K };
  const before = W.data.slice();
  const Kn = getKernels('native');
  Kn.qprepare(W);
  if (W.layout === 'x16') {
    assert.deepEqual(W.data, packedX16({ ...W, data: before, layout: undefined }).data);
    const once = W.data.slice();
    Kn.qprepare(W);
    assert.deepEqual(W.data, once, 'a second qprepare leaves an x16 matrix as it is');
    assert.throws(() => JS.qlinear(new Float32Array(N), new Float32Array(K), W, null, 1, 1, false), /x16 layout/);
    assert.throws(() => JS.qrow(new Float32Array(K), W, 0), /x16 layout/);
  } else {
    assert.deepEqual(W.data, before, 'the portable kernels keep the rows layout');
  }
  JS.qprepare(W);
});

test('qprepare on AVX2: Q4_0 and Q8_0 matrices become x16; the portable kernels keep rows', { skip }, () => {
  const addon = loadNativeAddon()!;
  const initial = addon.info().simd;
  try {
    for (const simd of ['avx2', 'portable']) {
      if (!addon.setSimd(simd)) continue;
      for (const type of ['q4_0', 'q8_0'] as BlockType[]) {
        const W: QuantMatrix = { type, data: quantize(type, randn(32 * 64, 9), 32, 64), N: 32, K: 64 };
        getKernels('native').qprepare(W);
        assert.equal(W.layout ?? 'rows', simd === 'avx2' ? 'x16' : 'rows', `${simd} ${type}`);
      }
    }
  } finally {
    addon.setSimd(initial);
  }
});

for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
  test(`native qlinear ${type} matches the JS reference: odd shapes, alpha, bias, accumulate`, { skip }, () => {
    let seed = 7;
    for (const [M, K, N] of [[1, 32, 1], [1, 96, 5], [3, 96, 7], [17, 96, 33], [1, 2560, 301], [3, 2560, 67], [17, 2560, 19], [5, 64, 129], [2, 8192, 15]]) {
      const Wf = randn(N * K, seed++);
      const W: QuantMatrix = { type, data: quantize(type, Wf, N, K), N, K };
      const Wabs: QuantMatrix = { type, data: quantize(type, abs(Wf), N, K), N, K };
      const Wx = packedX16(W);
      const x = randn(M * K, seed++).map((v, i) => (i % 37 === 0 ? 0 : v * 3));
      const bias = randn(N, seed++);
      for (const [alpha, useBias, acc] of [[1, false, false], [0.37, true, false], [-1.5, true, true]] as const) {
        const init = randn(M * N, seed++);
        const want = init.slice();
        JS.qlinear(want, x, W, useBias ? bias : null, M, alpha, acc);
        // Σ|d_w·d_x·q_w·q_x|·|alpha| bounds the accumulated rounding
        const scale = new Float32Array(M * N);
        JS.qlinear(scale, abs(x), Wabs, null, M, Math.abs(alpha), false);
        for (let i = 0; i < scale.length; i++) scale[i] += (acc ? Math.abs(init[i]) : 0) + (useBias ? Math.abs(bias[i % N]) : 0);
        eachSimd((Kn, simd) => {
          for (const w of layouts(simd, W, Wx)) {
            const got = init.slice();
            Kn.qlinear(got, x, w, useBias ? bias : null, M, alpha, acc);
            closeQ(got, want, scale, `${simd} ${type} ${w.layout ?? 'rows'} M=${M} K=${K} N=${N} alpha=${alpha} acc=${acc}`);
          }
        });
      }
    }
  });

  test(`native qrow ${type} dequantizes exactly like the JS reference, from either layout`, { skip }, () => {
    const N = 37, K = 96;
    const W: QuantMatrix = { type, data: quantize(type, randn(N * K, 3), N, K), N, K };
    const Wx = packedX16(W);
    for (let r = 0; r < N; r++) {
      const want = new Float32Array(K);
      JS.qrow(want, W, r);
      eachSimd((Kn, simd) => {
        for (const w of layouts(simd, W, Wx)) {
          const got = new Float32Array(K).fill(NaN);
          Kn.qrow(got, w, r);
          assert.deepEqual(got, want, `${w.layout ?? 'rows'} row ${r}`);
        }
      });
    }
  });
}

// From 4 MiB up a decode splits the groups in shrinking tasks (streaming_split in native/kernels.inc): every
// group and the rows after the last whole group must still be computed once, as the JS reference does.
test('native qlinear decode over a matrix of 4 MiB or more (shrinking tasks) matches the JS reference; N off the groups of 16', { skip }, () => {
  let seed = 500;
  for (const [type, K, N] of [['q4_0', 4096, 2003], ['q8_0', 2048, 2003]] as Array<[BlockType, number, number]>) {
    const Wf = randn(N * K, seed++);
    const W: QuantMatrix = { type, data: quantize(type, Wf, N, K), N, K };
    assert.ok(W.data.byteLength >= 4 * 2 ** 20, `${type}: ${W.data.byteLength} bytes, the test needs at least 4 MiB`);
    const Wabs: QuantMatrix = { type, data: quantize(type, abs(Wf), N, K), N, K };
    const Wx = packedX16(W);
    const x = randn(K, seed++).map((v) => v * 3);
    const want = new Float32Array(N), scale = new Float32Array(N);
    JS.qlinear(want, x, W, null, 1, 1, false);
    JS.qlinear(scale, abs(x), Wabs, null, 1, 1, false);
    eachSimd((Kn, simd) => {
      for (const w of layouts(simd, W, Wx)) {
        const got = new Float32Array(N).fill(NaN);
        Kn.qlinear(got, x, w, null, 1, 1, false);
        closeQ(got, want, scale, `${simd} ${type} ${w.layout ?? 'rows'} K=${K} N=${N}`);
      }
    });
  }
});

// Decode batches: M ≤ 12 activation rows (one per sequence) through one pass over the blocks must give
// every row exactly what it gets alone, in both layouts (batched greedy decoding equals solo decoding).
test('native qlinear of 1 to 12 rows: each row bit for bit as alone, and the JS reference; N off the groups of 16', { skip }, () => {
  let seed = 900;
  for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
    for (const [K, N] of [[96, 37], [2560, 67], [64, 129]]) {
      const Wf = randn(N * K, seed++);
      const W: QuantMatrix = { type, data: quantize(type, Wf, N, K), N, K };
      const Wabs: QuantMatrix = { type, data: quantize(type, abs(Wf), N, K), N, K };
      const Wx = packedX16(W);
      const x = randn(12 * K, seed++).map((v) => v * 3);
      const bias = randn(N, seed++);
      eachSimd((Kn, simd) => {
        for (const w of layouts(simd, W, Wx)) {
          const alone = Array.from({ length: 12 }, (_, m) => {
            const o = new Float32Array(N);
            Kn.qlinear(o, x.subarray(m * K, (m + 1) * K), w, bias, 1, 0.37, false);
            return o;
          });
          for (let M = 1; M <= 12; M++) {
            const what = `${simd} ${type} ${w.layout ?? 'rows'} M=${M} K=${K} N=${N}`;
            const got = new Float32Array(M * N).fill(NaN);
            Kn.qlinear(got, x.subarray(0, M * K), w, bias, M, 0.37, false);
            const want = new Float32Array(M * N), scale = new Float32Array(M * N);
            JS.qlinear(want, x.subarray(0, M * K), W, bias, M, 0.37, false);
            JS.qlinear(scale, abs(x.subarray(0, M * K)), Wabs, null, M, 0.37, false);
            for (let i = 0; i < scale.length; i++) scale[i] += Math.abs(bias[i % N]);
            closeQ(got, want, scale, what);
            for (let m = 0; m < M; m++) assert.deepEqual(got.subarray(m * N, (m + 1) * N), alone[m], `${what}: row ${m} differs from the row alone`);
          }
        }
      });
    }
  }
});

// SwiGLU's up and gate projections in one call: each output must be what its own qlinear gives it, whatever
// the two matrices' types and layouts (a decode's shrinking tasks of two matrices interleaved, a prefill's
// equal ones, the rows after the groups of 16).
test('qlinearPair: each output bit for bit as its own qlinear, every instruction set and wasm, mixed types and layouts; shapes checked', { skip }, () => {
  let seed = 1300;
  for (const [K, N, Ms] of [[4096, 2003, [1]], [96, 37, [1, 5]]] as Array<[number, number, number[]]>) {
    const A: QuantMatrix = { type: 'q4_0', data: quantize('q4_0', randn(N * K, seed++), N, K), N, K };
    const B: QuantMatrix = { type: 'q8_0', data: quantize('q8_0', randn(N * K, seed++), N, K), N, K };
    const Ax = packedX16(A), Bx = packedX16(B);
    const x = randn(5 * K, seed++).map((v) => v * 3);
    const biasA = randn(N, seed++), biasB = randn(N, seed++);
    const check = (Kn: Kernels, what: string, wa: QuantMatrix, wb: QuantMatrix, M: number, bias: boolean): void => {
      const [ba, bb] = bias ? [biasA, biasB] : [null, null];
      const wantA = new Float32Array(M * N), wantB = new Float32Array(M * N);
      Kn.qlinear(wantA, x, wa, ba, M, 1, false);
      Kn.qlinear(wantB, x, wb, bb, M, 1, false);
      const gotA = new Float32Array(M * N).fill(NaN), gotB = new Float32Array(M * N).fill(NaN);
      Kn.qlinearPair(gotA, gotB, x, wa, wb, ba, bb, M);
      const name = `${what} ${wa.layout ?? 'rows'}+${wb.layout ?? 'rows'} M=${M} K=${K} N=${N} bias=${bias}`;
      assert.deepEqual(gotA, wantA, `${name}: the first product`);
      assert.deepEqual(gotB, wantB, `${name}: the second product`);
    };
    eachSimd((Kn, simd) => {
      for (const wa of layouts(simd, A, Ax)) for (const wb of layouts(simd, B, Bx)) for (const M of Ms) check(Kn, simd, wa, wb, M, M > 1);
    });
    if (K < 1000) check(JS, 'js', A, B, 5, true);
  }
  const W: QuantMatrix = { type: 'q8_0', data: quantize('q8_0', randn(64 * 3, 1), 3, 64), N: 3, K: 64 };
  const W2: QuantMatrix = { type: 'q8_0', data: quantize('q8_0', randn(64 * 2, 2), 2, 64), N: 2, K: 64 };
  for (const Kn of [getKernels('native'), JS]) {
    assert.throws(() => Kn.qlinearPair(new Float32Array(3), new Float32Array(3), new Float32Array(64), W, W2, null, null, 1),
      (e: unknown) => e instanceof MugptError && /qlinearPair: the matrices differ in shape \(\[3, 64\] and \[2, 64\]\)/.test(e.message));
  }
});

test('native qlinear on subarray views and bad sizes', { skip }, () => {
  const N = 9, K = 64, M = 2;
  const buf = new Uint8Array(quantize('q4_0', randn(N * K, 11), N, K).length + 7);
  buf.set(quantize('q4_0', randn(N * K, 11), N, K), 5);
  const W: QuantMatrix = { type: 'q4_0', data: buf.subarray(5, 5 + (N * K / 32) * 18), N, K };
  const x = randn(M * K + 3, 12).subarray(3);
  const want = new Float32Array(M * N);
  JS.qlinear(want, x, W, null, M, 1, false);
  const Kn = getKernels('native');
  const got = new Float32Array(M * N + 1).subarray(1);
  Kn.qlinear(got, x, W, null, M, 1, false);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])));
  assert.throws(() => Kn.qlinear(new Float32Array(M * N - 1), x, W, null, M, 1, false), MugptError);
  assert.throws(() => Kn.qlinear(got, x.subarray(1), W, null, M, 1, false), MugptError);
  assert.throws(() => Kn.qlinear(got, x, { ...W, data: W.data.subarray(1) }, null, M, 1, false), MugptError);
  assert.throws(() => Kn.qlinear(got, x, { ...W, K: 48 }, null, M, 1, false), MugptError);
  assert.throws(() => Kn.qrow(new Float32Array(K), W, N), MugptError);
});

/**
 * An f16-cache attention call: a cache [Tk, kvStride] with random halves in positions 0 … Tk−Tq−1 (and in the
 * stride's padding), and the Tq new positions' q | k | v rows in one buffer [Tq, 3D] (kNew, vNew: views
 * 3D apart, as the model passes its qkv rows).
 */
function f16Call(Tq: number, Tk: number, H: number, d: number, extra: number, seed: number) {
  const D = H * d, kvStride = D + extra, qkv = randn(Tq * 3 * D, seed);
  const half = (n: number): Uint16Array => Uint16Array.from(randn(n, seed + 1 + n), (x) => floatToHalf(x));
  return {
    q: qkv, qStride: 3 * D, k: half(Tk * kvStride), v: half(Tk * kvStride + 1).subarray(1), kvStride,
    kNew: qkv.subarray(D), vNew: qkv.subarray(2 * D), newStride: 3 * D, Tq, Tk, H, d, scale: 1 / Math.sqrt(d),
  };
}

test('f16-cache attention stores its new rows as floatToHalf does and attends as the JS reference (decode, prefill, odd shapes, ALiBi or not)', { skip }, () => {
  let seed = 50;
  // d = 12, 20: head slices that are not whole 8-lane vectors; Tq 70 and 130: query blocks of 64 whose new
  // rows other blocks read before storing them; extra: padding in the cache's rows the kernel must not touch
  // Hmany: four heads a thread, where a prefill task is a whole head rather than one query block of one
  const Hmany = 4 * (loadNativeAddon()?.info().threads ?? 2);
  for (const [Tq, Tk, H, d, extra] of [[1, 1, 1, 8, 0], [1, 37, 3, 16, 5], [1, 300, 4, 80, 0], [5, 9, 2, 12, 3], [70, 70, 3, 20, 0], [7, 130, 2, 64, 0], [130, 135, 2, 12, 1],
    [130, 135, Hmany, 12, 1], [70, 70, Hmany, 8, 0]]) {
    const base = f16Call(Tq, Tk, H, d, extra, seed);
    seed += 10;
    for (const slopes of [null, Float32Array.from({ length: H }, (_, h) => 0.5 / (h + 1))]) {
      const want = { ...base, k: base.k.slice(), v: base.v.slice(), out: new Float32Array(Tq * H * d), slopes };
      JS.attentionF16(want);
      eachSimd((Kn, simd) => {
        const got = { ...base, k: base.k.slice(), v: base.v.slice(), out: new Float32Array(Tq * H * d).fill(NaN), slopes };
        Kn.attentionF16(got);
        assert.deepEqual(got.k, want.k, `${simd} Tq=${Tq} Tk=${Tk} H=${H} d=${d}: keys stored`);
        assert.deepEqual(got.v, want.v, `${simd} Tq=${Tq} Tk=${Tk} H=${H} d=${d}: values stored`);
        let e = 0;
        for (let i = 0; i < want.out.length; i++) e = Math.max(e, Math.abs(got.out[i] - want.out[i]));
        assert.ok(e <= 2e-5, `${simd} Tq=${Tq} Tk=${Tk} H=${H} d=${d}: max error ${e}`);
      });
    }
  }
  assert.throws(() => getKernels('native').attentionF16({
    ...f16Call(1, 1, 1, 8, 0, 1), out: new Float32Array(8), k: new Uint16Array(7), slopes: null,
  }), MugptError);
});

test('f16-cache attention of several sequences in one call: each row and cache bit for bit as its own attentionF16 (one or several chunks, ALiBi or not)', { skip }, () => {
  // Tk: one position, 37 and 64 (one chunk of keys), 65 and 300 (several); d = 20: head slices off the 8-lane
  // vectors (dot4, axpy4); d = 32: whole ones (dot8, axpy8)
  const H = 3, d = 20, D = H * d, kvStride = D + 2, Tks = [37, 1, 300, 64, 65];
  const S = Tks.length, rows = randn(S * 3 * D, 91);
  const half = (n: number, seed: number): Uint16Array => Uint16Array.from(randn(n, seed), (x) => floatToHalf(x));
  const caches = Tks.map((Tk, s) => ({ k: half(Tk * kvStride, 100 + s), v: half(Tk * kvStride, 200 + s) }));
  for (const [alibi, d] of [[false, 20], [true, 20], [false, 32], [true, 32]] as const) {
    const D = H * d, kvStride = D + 2, rows = randn(S * 3 * D, 91);
    const caches = Tks.map((Tk, s) => ({ k: half(Tk * kvStride, 100 + s), v: half(Tk * kvStride, 200 + s) }));
    const slopes = alibi ? Float32Array.from({ length: S * H }, (_, i) => 0.25 / (1 + i)) : null;
    const each = (K: Kernels, simd: string) => {
      const k = caches.map((c) => c.k.slice()), v = caches.map((c) => c.v.slice()), out = new Float32Array(S * D).fill(NaN);
      const args = { out, q: rows, qStride: 3 * D, k, v, kvStride, kNew: rows.subarray(D), vNew: rows.subarray(2 * D), newStride: 3 * D, H, d, scale: 0.3, slopes };
      const batch = { ...args, k: k.map((c) => c.slice()), v: v.map((c) => c.slice()), out: out.slice() };
      K.attentionF16Batch({ ...batch, Tk: Int32Array.from(Tks) });
      Tks.forEach((Tk, s) => {
        const one = new Float32Array(D);
        K.attentionF16({
          out: one, q: rows.subarray(s * 3 * D), qStride: 3 * D, k: k[s], v: v[s], kvStride,
          kNew: rows.subarray(s * 3 * D + D), vNew: rows.subarray(s * 3 * D + 2 * D), newStride: 3 * D,
          Tq: 1, Tk, H, d, scale: 0.3, slopes: slopes ? slopes.subarray(s * H, (s + 1) * H) : null,
        });
        const what = `${simd}${alibi ? ', ALiBi' : ''}, d ${d}, sequence ${s} (Tk ${Tk})`;
        assert.deepEqual(batch.out.subarray(s * D, (s + 1) * D), one, `${what}: output`);
        assert.deepEqual(batch.k[s], k[s], `${what}: keys stored`);
        assert.deepEqual(batch.v[s], v[s], `${what}: values stored`);
      });
    };
    each(JS, 'js');
    eachSimd(each);
  }
  const ok = {
    out: new Float32Array(2 * D), q: rows, qStride: 3 * D, k: caches.slice(0, 2).map((c) => c.k.slice()), v: caches.slice(0, 2).map((c) => c.v.slice()),
    kvStride, kNew: rows.subarray(D), vNew: rows.subarray(2 * D), newStride: 3 * D, Tk: Int32Array.from(Tks.slice(0, 2)), H, d, scale: 1, slopes: null,
  };
  for (const K of [JS, getKernels('native')]) {
    assert.throws(() => K.attentionF16Batch({ ...ok, k: ok.k.slice(0, 1) }), /attentionF16Batch: k and v must be arrays of one Uint16Array a sequence/);
    assert.throws(() => K.attentionF16Batch({ ...ok, Tk: Int32Array.of(38, 1) }), /attentionF16Batch: k\[0\] has 2294 elements, needs at least 2354/);
    assert.throws(() => K.attentionF16Batch({ ...ok, Tk: Int32Array.of(37, 0) }), /attentionF16Batch: Tk\[1\] is 0/);
    assert.throws(() => K.attentionF16Batch({ ...ok, out: new Float32Array(D) }), MugptError);
  }
});

test('f16-cache attention rounds the rows it stores as floatToHalf, bit for bit (ties, half subnormals, overflow, ±0, Inf, NaN)', { skip }, () => {
  const specials = [0, -0, 1, -1, 65504, 65520, 1e6, -1e6, Infinity, -Infinity, NaN, 6e-8, 3e-8, -5.96e-8, 1e-45, 6.1e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
  // decode (one row) and prefill over two query blocks, with 20-wide heads (vector tails) and padded cache rows
  for (const [Tq, Tk, H, d, extra] of [[1, 4, 3, 20, 2], [67, 70, 3, 20, 2]]) {
    const call = f16Call(Tq, Tk, H, d, extra, 7);
    const D = H * d;
    for (let t = 0; t < Tq; t++) {
      for (let i = 0; i < D; i++) {
        // specials at every column of some row, else magnitudes 2^-30 … 2^17 (half subnormals, normals, overflow)
        const x = (t * D + i) % 7 === 0 ? specials[(t + i) % specials.length] : call.kNew[t * call.newStride + i] * 2 ** (((t + i) % 48) - 30);
        call.kNew[t * call.newStride + i] = x;
        call.vNew[t * call.newStride + i] = -x / 3;
      }
    }
    const stored = (kNew: Float32Array, cache: Uint16Array): void => {
      for (let t = 0; t < Tq; t++) {
        for (let i = 0; i < D; i++) {
          const want = floatToHalf(kNew[t * call.newStride + i]), got = cache[(Tk - Tq + t) * call.kvStride + i];
          if (got !== want) assert.fail(`row ${t} column ${i}: ${kNew[t * call.newStride + i]} stored as 0x${got.toString(16)}, floatToHalf 0x${want.toString(16)}`);
        }
      }
    };
    eachSimd((Kn, simd) => {
      const got = { ...call, k: call.k.slice(), v: call.v.slice(), out: new Float32Array(Tq * D), slopes: null };
      const before = { k: got.k.slice(), v: got.v.slice() };
      Kn.attentionF16(got);
      stored(call.kNew, got.k);
      stored(call.vNew, got.v);
      // everything else in the cache (earlier positions, the rows' padding) is untouched
      const past = (Tk - Tq) * call.kvStride;
      assert.deepEqual(got.k.subarray(0, past), before.k.subarray(0, past), `${simd}: earlier keys`);
      assert.deepEqual(got.v.subarray(0, past), before.v.subarray(0, past), `${simd}: earlier values`);
      for (let t = Tk - Tq; t < Tk; t++) {
        const pad = (c: Uint16Array): number[] => [...c.subarray(t * call.kvStride + D, (t + 1) * call.kvStride)];
        assert.deepEqual(pad(got.k), pad(before.k), `${simd}: padding of row ${t}`);
        assert.deepEqual(pad(got.v), pad(before.v), `${simd}: padding of row ${t}`);
      }
    });
  }
  assert.deepEqual([0, -0, 1, -1].map(floatToHalf), [0, 0x8000, 0x3c00, 0xbc00]);
});

test('native quantizeRows (padding GGUF matrices at load) is bit-exact with quantize() from F32 and F16 bytes, on every instruction set', { skip }, () => {
  const addon = loadNativeAddon()!;
  const rows = 7, K = 200, Kp = 224;
  // random values, exact ties (multiples of max/8 and max/127 hit the rounding boundaries), a zero row,
  // and a block with an infinity (row 5's first)
  const x = randn(rows * K, 77).map((v, i) => (i % 5 === 0 ? Math.round(v * 16) / 16 : v));
  x.fill(0, 3 * K, 4 * K);
  x[5 * K + 3] = -Infinity;
  const padded = new Float32Array(rows * Kp);
  for (let r = 0; r < rows; r++) padded.set(x.subarray(r * K, (r + 1) * K), r * Kp);
  const halves = Uint16Array.from(x, (v) => floatToHalf(v));
  const fromHalves = new Float32Array(rows * Kp);
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) fromHalves[r * Kp + k] = HALF_TABLE[halves[r * K + k]];
  const initial = addon.info().simd;
  try {
    for (const simd of ['avx512', 'avx2', 'portable']) {
      if (!addon.setSimd(simd)) continue;
      for (const [type, id] of [['q8_0', 8], ['q4_0', 2]] as const) {
        const got32 = new Uint8Array(quantize(type, padded, rows, Kp).length);
        addon.quantizeRows(got32, new Uint8Array(x.buffer, x.byteOffset, x.byteLength), 0, rows, K, Kp, id);
        assert.deepEqual(got32, quantize(type, padded, rows, Kp), `${type} from F32 (${simd})`);
        const got16 = new Uint8Array(got32.length);
        addon.quantizeRows(got16, new Uint8Array(halves.buffer), 1, rows, K, Kp, id);
        assert.deepEqual(got16, quantize(type, fromHalves, rows, Kp), `${type} from F16 (${simd})`);
      }
    }
  } finally {
    addon.setSimd(initial);
  }
});

test('a mapped file is never written: qpack packs a view of it into new memory, quantizeRows reads it, and the view still reads the file after its pages are released', { skip }, () => {
  const addon = loadNativeAddon()!;
  const N = 160, K = 256; // several whole pages each, which are released
  const q4 = quantize('q4_0', randn(N * K, 21), N, K);
  const f16 = Uint16Array.from(randn(N * 70, 22), (v) => floatToHalf(v));
  // a page of something else first, so the tensors start inside the file as in a GGUF file
  const path = join(scratch(), 'blocks.bin');
  writeFileSync(path, Buffer.concat([Buffer.alloc(4096, 7), Buffer.from(q4), Buffer.from(f16.buffer)]));
  const file = new Uint8Array(addon.mapFile(path)!);
  const view = file.subarray(4096, 4096 + q4.length);
  const packed = addon.qpack(view, 2, N, K, true)!;
  assert.notEqual(packed.buffer, file.buffer, 'packed into new memory');
  assert.deepEqual(packed, packedX16({ type: 'q4_0', data: q4, N, K }).data);
  assert.deepEqual(view, q4, 'the mapping still reads the file');
  const halvesView = file.subarray(4096 + q4.length);
  const fromMap = new Uint8Array(quantizedBytes('q8_0', N, 96));
  addon.quantizeRows(fromMap, halvesView, 1, N, 70, 96, 8);
  const fromCopy = new Uint8Array(fromMap.length);
  addon.quantizeRows(fromCopy, new Uint8Array(f16.buffer), 1, N, 70, 96, 8);
  assert.deepEqual(fromMap, fromCopy);
  assert.deepEqual(new Uint16Array(halvesView.slice().buffer), f16, 'the mapping still reads the file');
  assert.deepEqual(new Uint8Array(readFileSync(path)).subarray(4096, 4096 + q4.length), q4, 'the file is unchanged');
  const fresh = addon.allocWeights(5000);
  assert.equal(fresh.length, 5000);
  assert.ok(fresh.every((b) => b === 0), 'allocWeights gives zeroed memory');
});

test('native activation quantization rounds halves away from zero as ggml and the JS reference do', { skip }, () => {
  // amax 127 gives the scale 1, so every x.5 below is an exact tie after scaling
  const K = 64, N = 16;
  const x = Float32Array.from({ length: K }, (_, i) => (i === 0 ? 127 : i === 32 ? -127 : ((i % 2 ? 1 : -1) * ((i % 31) + 0.5))));
  for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
    const W: QuantMatrix = { type, data: quantize(type, randn(N * K, 91), N, K), N, K };
    const want = new Float32Array(N);
    JS.qlinear(want, x, W, null, 1, 1, false);
    eachSimd((Kn, simd) => {
      for (const w of layouts(simd, W, packedX16(W))) {
        const got = new Float32Array(N);
        Kn.qlinear(got, x, w, null, 1, 1, false);
        for (let n = 0; n < N; n++) assert.ok(Math.abs(got[n] - want[n]) <= 1e-5 * (1 + Math.abs(want[n])), `${simd} ${type} ${w.layout ?? 'rows'} [${n}] ${got[n]} vs ${want[n]}`);
      }
    });
  }
});

test('q8-cache attention: native equals the JS reference (decode and prefill, ALiBi or not, odd lengths)', { skip }, () => {
  let seed = 300;
  for (const [Tq, Tk, H, d, extra] of [[1, 1, 1, 8, 0], [1, 37, 3, 16, 5], [1, 301, 4, 80, 0], [1, 1027, 2, 24, 0], [5, 9, 2, 12, 3], [70, 70, 3, 20, 0]]) {
    const D = H * d, kvStride = D + extra, qStride = 3 * D;
    const int8 = (n: number): Int8Array => Int8Array.from(randn(n, seed++), (x) => Math.max(-127, Math.min(127, Math.round(x * 40))));
    const k = int8(Tk * kvStride), v = int8(Tk * kvStride);
    const kScale = randn(Tk * H, seed++).map((x) => 0.01 + Math.abs(x) * 0.02), vScale = randn(Tk * H, seed++).map((x) => 0.01 + Math.abs(x) * 0.02);
    const q = randn(Tq * qStride, seed++);
    for (const slopes of [null, Float32Array.from({ length: H }, (_, h) => 0.5 / (h + 1))]) {
      const args = { q, qStride, k, v, kScale, vScale, kvStride, Tq, Tk, H, d, scale: 1 / Math.sqrt(d), slopes };
      const want = new Float32Array(Tq * D);
      JS.attentionQ8({ ...args, out: want });
      eachSimd((Kn, simd) => {
        const got = new Float32Array(Tq * D).fill(NaN);
        Kn.attentionQ8({ ...args, out: got });
        assert.ok(maxRelErr(got, want) < 1e-5, `${simd} Tq=${Tq} Tk=${Tk} H=${H} d=${d}: ${maxRelErr(got, want)}`);
      });
    }
  }
  assert.throws(() => getKernels('native').attentionQ8({ out: new Float32Array(8), q: new Float32Array(24), qStride: 24, k: new Int8Array(8), v: new Int8Array(8),
    kScale: new Float32Array(0), vScale: new Float32Array(1), kvStride: 8, Tq: 1, Tk: 1, H: 1, d: 8, scale: 1, slopes: null }),
  (e: unknown) => e instanceof MugptError && /attentionQ8: kScale has 0 elements/.test(e.message));
});

test('quantizeHeads: native equals the JS reference bit for bit (per-head scales, halves away from zero); sizes are checked', { skip }, () => {
  const H = 5, d = 24;
  const x = randn(H * d, 404).map((v, i) => (i % 7 === 0 ? 0 : v * 3));
  // head 1: amax 127 makes the scale 1, so these are exact halves; head 2 is all zeros (scale 0)
  for (let i = 0; i < d; i++) { x[d + i] = i === 0 ? 127 : (i % 2 ? 1 : -1) * (i + 0.5); x[2 * d + i] = 0; }
  const wantQ = new Int8Array(H * d), wantS = new Float32Array(H);
  JS.quantizeHeads(wantQ, wantS, x, H, d);
  assert.equal(wantS[1], 1);
  assert.equal(wantQ[d + 2], -3, 'roundf(-2.5) = -3');
  assert.equal(wantS[2], 0);
  eachSimd((Kn, simd) => {
    const q = new Int8Array(H * d), s = new Float32Array(H);
    Kn.quantizeHeads(q, s, x, H, d);
    assert.deepEqual(q, wantQ, simd);
    assert.deepEqual(s, wantS, simd);
  });
  assert.throws(() => getKernels('native').quantizeHeads(new Int8Array(10), new Float32Array(H), x, H, d), (e: unknown) => e instanceof MugptError && /quantizeHeads/.test(e.message));
});
