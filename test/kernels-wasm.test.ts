// What is particular to the WebAssembly backend (its kernels against the JS reference run in
// kernels-native.test.ts and quant-native.test.ts with the native ones): the quantized products equal
// the native portable kernels bit for bit in the rows layout and in the x4 layout qprepare makes, for every
// f16 block scale; rows read back from x4 are the rows; the single-thread module over a plain memory computes what
// the threaded one does; weights live in the module's memory and are read in place; a full memory and
// a wrongly typed argument are MugptErrors; the committed .wasm files are the sources' build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels, nativeAvailable } from '../src/kernels/index.js';
import { jsKernels as JS } from '../src/kernels/js.js';
import { loadNativeAddon } from '../src/native/addon.js';
import type { Kernels, QuantMatrix } from '../src/kernels/kernels.js';
import { wasmKernels } from '../src/kernels/wasm.js';
import { WasmRuntime } from '../src/kernels/wasm-runtime.js';
import { nodeWasmRuntime, wasmFile } from '../src/kernels/wasm-node.js';
import { quantize, type BlockType } from '../src/quant/blocks.js';
import { floatToHalf } from '../src/quant/half.js';
import { MugptError } from '../src/errors.js';
import { loadModel } from '../src/model/model.js';
import { fixture, repoRoot, scratch } from './helpers.js';
import { maxRelErr, randn } from './kernels-ref.js';

const wasm = getKernels('wasm');

/** The module without threads over a plain memory of `bytes` (a page without cross-origin isolation). */
function plainKernels(bytes = 2 ** 26): Kernels {
  const module = new WebAssembly.Module(readFileSync(wasmFile('simd')));
  return wasmKernels(new WasmRuntime({ module, shared: false, threads: 4, plainBytes: bytes }));
}

const qShapes: Array<[number, number, number]> = [[1, 32, 1], [1, 96, 5], [3, 96, 7], [4, 64, 9], [17, 96, 33], [1, 2560, 301], [9, 768, 70]];

/** W's product computed by the native portable kernels (rows layout), and by wasm in the rows and the x4 layouts. */
function portableAndWasm(W: QuantMatrix, x: Float32Array, bias: Float32Array | null, M: number): { want: Float32Array; rows: Float32Array; x4: Float32Array } {
  const addon = loadNativeAddon()!;
  const initial = addon.info().simd;
  addon.setSimd('portable');
  const want = new Float32Array(M * W.N), rows = new Float32Array(M * W.N), x4 = new Float32Array(M * W.N);
  try {
    getKernels('native').qlinear(want, x, W, bias, M, 0.75, false);
  } finally {
    addon.setSimd(initial);
  }
  wasm.qlinear(rows, x, W, bias, M, 0.75, false);
  const P: QuantMatrix = { ...W, data: W.data.slice() };
  wasm.qprepare(P);
  assert.equal(P.layout, 'x4');
  wasm.qlinear(x4, x, P, bias, M, 0.75, false);
  return { want, rows, x4 };
}

test('wasm qlinear equals the native portable kernels bit for bit, rows and x4 layouts (Q8_0, Q4_0; one row and many)', { skip: !nativeAvailable() && 'native addon not built' }, () => {
  let seed = 900;
  for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
    for (const [M, K, N] of qShapes) {
      const W: QuantMatrix = { type, data: quantize(type, randn(N * K, seed++), N, K), N, K };
      const { want, rows, x4 } = portableAndWasm(W, randn(M * K, seed++).map((v) => v * 4), randn(N, seed++), M);
      assert.deepEqual(rows, want, `rows ${type} M=${M} K=${K} N=${N}`);
      assert.deepEqual(x4, want, `x4 ${type} M=${M} K=${K} N=${N}`);
    }
  }
});

test('wasm qlinear converts every f16 block scale as the native kernels do (zeros, subnormals, Inf, NaN)', { skip: !nativeAvailable() && 'native addon not built' }, () => {
  // 65,536 one-block rows (N = 65,536, K = 32): row r's scale is the half with bits r, its values 1 … 32
  for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
    const [N, K, bb] = [65536, 32, type === 'q8_0' ? 34 : 18];
    const data = new Uint8Array(N * bb);
    for (let r = 0; r < N; r++) {
      data[r * bb] = r & 0xff;
      data[r * bb + 1] = r >> 8;
      for (let i = 0; i < bb - 2; i++) data[r * bb + 2 + i] = type === 'q8_0' ? 1 + i : (9 + (i % 7)) | ((10 + (i % 5)) << 4);
    }
    const x = randn(K, 77);
    const { want, rows, x4 } = portableAndWasm({ type, data, N, K }, x, null, 1);
    const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer);
    const [w, r, g] = [bits(want), bits(rows), bits(x4)];
    for (let i = 0; i < N; i++) {
      if (Number.isNaN(want[i])) assert.ok(Number.isNaN(rows[i]) && Number.isNaN(x4[i]), `${type} scale 0x${i.toString(16)}: NaN`);
      else assert.ok(r[i] === w[i] && g[i] === w[i], `${type} scale 0x${i.toString(16)}: ${want[i]}, wasm rows ${rows[i]}, x4 ${x4[i]}`);
    }
  }
});

test('qrow reads rows back from the x4 layout; other backends refuse an x4 matrix by name', () => {
  let seed = 300;
  for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
    const [N, K] = [23, 96]; // five groups of four, and three rows after them in the rows layout
    const W: QuantMatrix = { type, data: quantize(type, randn(N * K, seed++), N, K), N, K };
    const P: QuantMatrix = { ...W, data: W.data.slice() };
    wasm.qprepare(P);
    assert.equal(P.layout, 'x4');
    assert.notDeepEqual(P.data.subarray(0, 20 * (K / 32) * (type === 'q8_0' ? 34 : 18)), W.data.subarray(0, 20 * (K / 32) * (type === 'q8_0' ? 34 : 18)));
    const want = new Float32Array(K), got = new Float32Array(K);
    for (let r = 0; r < N; r++) {
      JS.qrow(want, W, r);
      wasm.qrow(got, P, r);
      assert.deepEqual(got, want, `${type} row ${r}`);
    }
    const out = new Float32Array(N), x = randn(K, seed++);
    assert.throws(() => JS.qlinear(out, x, P, null, 1, 1, false), (e: unknown) => e instanceof MugptError && /x4 layout.*the JS backend reads the rows layout only/.test(e.message));
    if (nativeAvailable()) {
      assert.throws(() => getKernels('native').qlinear(out, x, P, null, 1, 1, false),
        (e: unknown) => e instanceof MugptError && /x4 layout.*the native backend reads the rows and x16 layouts/.test(e.message));
    }
  }
});

test('the single-thread module over a plain memory computes what the threaded one does', () => {
  const plain = plainKernels();
  let seed = 40;
  for (const [M, N, K] of [[1, 700, 300], [13, 70, 130], [50, 33, 257]]) {
    const A = randn(M * K, seed++), B = randn(K * N, seed++);
    const [a, b, want] = [new Float32Array(M * N), new Float32Array(M * N), new Float32Array(M * N)];
    wasm.gemm(false, false, M, N, K, 1, A, B, 0, a);
    plain.gemm(false, false, M, N, K, 1, A, B, 0, b);
    JS.gemm(false, false, M, N, K, 1, A, B, 0, want);
    assert.ok(maxRelErr(a, want) < 1e-5 && maxRelErr(b, want) < 1e-5, `gemm ${M}x${N}x${K}`);
  }
  for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
    const [M, K, N] = [5, 256, 300];
    const W: QuantMatrix = { type, data: quantize(type, randn(N * K, seed++), N, K), N, K };
    const x = randn(M * K, seed++);
    const [a, b] = [new Float32Array(M * N), new Float32Array(M * N)];
    wasm.qlinear(a, x, W, null, M, 1, false);
    plain.qlinear(b, x, W, null, M, 1, false);
    assert.deepEqual(a, b, `${type}: each output's block sums run in the same order on any thread count`);
  }
  const [Tq, Tk, H, d] = [1, 200, 4, 32];
  const q = randn(H * d, 1), k = randn(Tk * H * d, 2), v = randn(Tk * H * d, 3);
  const args = { q, qStride: H * d, k, v, kvStride: H * d, Tq, Tk, H, d, scale: 0.2, slopes: null };
  const [a, b, want] = [new Float32Array(H * d), new Float32Array(H * d), new Float32Array(H * d)];
  wasm.attention({ ...args, out: a });
  plain.attention({ ...args, out: b });
  JS.attention({ ...args, out: want });
  assert.ok(maxRelErr(a, want) < 1e-5 && maxRelErr(b, want) < 1e-5);
});

test('f16-cache prefill attention, a task a head or a (head, query block): halves stored as floatToHalf does, outputs as the JS reference', () => {
  // the single-thread module takes a task a head from four heads up; the threaded one from four heads a thread
  for (const [kern, H] of [[plainKernels(), 6], [plainKernels(), 2], [wasm, 32]] as const) {
    const [Tq, Tk, d] = [130, 135, 8], D = H * d, qkv = randn(Tq * 3 * D, H);
    const cache = (): Uint16Array => Uint16Array.from(randn(Tk * D, H + 1), (x) => floatToHalf(x));
    const args = { q: qkv, qStride: 3 * D, kvStride: D, kNew: qkv.subarray(D), vNew: qkv.subarray(2 * D), newStride: 3 * D, Tq, Tk, H, d, scale: 0.3, slopes: null };
    const want = { ...args, k: cache(), v: cache(), out: new Float32Array(Tq * D) };
    const got = { ...args, k: cache(), v: cache(), out: new Float32Array(Tq * D).fill(NaN) };
    JS.attentionF16(want);
    kern.attentionF16(got);
    assert.deepEqual(got.k, want.k, `H=${H}: keys stored`);
    assert.deepEqual(got.v, want.v, `H=${H}: values stored`);
    assert.ok(maxRelErr(got.out, want.out) < 1e-5, `H=${H}: ${maxRelErr(got.out, want.out)}`);
  }
});

test('adopted weights and prepared quantized matrices live in the module memory and give the same results', () => {
  const rt = nodeWasmRuntime();
  const [M, K, N] = [3, 64, 40];
  const W = randn(K * N, 7), x = randn(M * K, 8);
  const Wr = wasm.adopt!(W);
  assert.ok(rt.owns(Wr) && !rt.owns(W));
  assert.deepEqual(Wr, W);
  const [a, b] = [new Float32Array(M * N), new Float32Array(M * N)];
  wasm.linear(a, x, W, null, M, K, N);
  wasm.linear(b, x, Wr, null, M, K, N);
  assert.deepEqual(a, b);
  const Q: QuantMatrix = { type: 'q4_0', data: quantize('q4_0', randn(N * K, 9), N, K), N, K };
  const before = Q.data;
  wasm.qprepare(Q);
  assert.ok(rt.owns(Q.data) && Q.layout === 'x4');
  const [a4, b4] = [new Float32Array(M * N), new Float32Array(M * N)];
  wasm.qlinear(a4, x, Q, null, M, 1, false);
  wasm.qlinear(b4, x, { type: 'q4_0', data: before, N, K }, null, M, 1, false);
  assert.deepEqual(a4, b4);
  const model = loadModel(join(fixture('model'), 'gpt2-gelu'), { backend: 'wasm' });
  assert.ok(Object.values(model.parameters()).every((t) => rt.owns(t)), 'every weight of a wasm model is in module memory');
});

test('a full module memory and a wrongly typed argument are MugptErrors', () => {
  const plain = plainKernels(2 ** 23);
  assert.throws(() => plain.adopt!(new Float32Array(2 ** 22)), (e: unknown) => e instanceof MugptError && /out of WebAssembly memory/.test(e.message));
  const [M, N, K] = [2, 3, 4];
  plain.gemm(false, false, M, N, K, 1, randn(M * K), randn(K * N), 0, new Float32Array(M * N)); // still usable
  assert.throws(() => wasm.gemm(false, false, M, N, K, 1, new Float64Array(M * K) as unknown as Float32Array, randn(K * N), 0, new Float32Array(M * N)),
    (e: unknown) => e instanceof MugptError && /must be a Float32Array, got Float64Array/.test(e.message));
  assert.throws(() => wasm.gemm(false, false, 4, 4, 4, 1, new Float32Array(15), new Float32Array(16), 0, new Float32Array(16)), /gemm: A has 15 elements/);
});

const toolchain = spawnSync('clang++', ['--version']).status === 0 && spawnSync('wasm-ld', ['--version']).status === 0;

test('the committed .wasm files are what native/wasm/build.sh makes of the sources', { skip: !toolchain && 'clang++ / wasm-ld not installed (Debian: clang lld)' }, () => {
  const out = scratch('mugpt-wasm-build-');
  const r = spawnSync('sh', [join(repoRoot, 'native', 'wasm', 'build.sh'), out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const v of ['simd-threads', 'simd'] as const) {
    assert.ok(readFileSync(join(out, `mugpt-${v}.wasm`)).equals(readFileSync(wasmFile(v))), `mugpt-${v}.wasm is stale: run 'sh native/wasm/build.sh' and commit it`);
  }
});
