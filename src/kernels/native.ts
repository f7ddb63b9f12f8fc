// The native backend: the C++ N-API addon built from native/ by `npm ci` (node-gyp, binding.gyp at
// the repository root). This module loads build/Release/mugpt_native.node (or the file named by
// MUGPT_NATIVE_ADDON) and adapts it to the Kernels interface; argument sizes are checked here, in
// front of the native call, so a bad call is a MugptError, never a read past an array.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { checkAttention, checkGemm, checkLayerNorm, checkLinear } from './js.js';
import { check } from '../errors.js';
import { checkQlinear, checkQuantMatrix } from './qlinear-js.js';
import { checkAttentionF16, checkToHalf } from './attention-f16-js.js';
import type { AttentionArgs, AttentionBackwardArgs, AttentionF16Args, AttentionQ8Args, GeluKind, Kernels } from './kernels.js';
import { checkAttentionQ8, checkQuantizeHeads } from './attention-q8-js.js';

/** What the addon exports (native/addon.cc). Typed arrays may be subarray views. */
export interface NativeAddon {
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array): void;
  linear(out: Float32Array, x: Float32Array, W: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): void;
  layerNorm(out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, M: number, D: number, eps: number,
    mean: Float32Array | null, rstd: Float32Array | null): void;
  /** kind: 0 = erf, 1 = tanh */
  gelu(out: Float32Array, x: Float32Array, n: number, kind: number): void;
  swiglu(out: Float32Array, a: Float32Array, g: Float32Array, n: number): void;
  attention(out: Float32Array, q: Float32Array, qStride: number, k: Float32Array, v: Float32Array, kvStride: number,
    Tq: number, Tk: number, H: number, d: number, scale: number, slopes: Float32Array | null, probs: Float32Array | null): void;
  layerNormBackward(dx: Float32Array, dw: Float32Array, db: Float32Array, dout: Float32Array, x: Float32Array,
    mean: Float32Array, rstd: Float32Array, w: Float32Array, M: number, D: number): void;
  geluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number, kind: number): void;
  swigluBackward(da: Float32Array, dg: Float32Array, a: Float32Array, g: Float32Array, dout: Float32Array, n: number): void;
  softmaxCrossEntropy(logits: Float32Array, targets: Int32Array, M: number, V: number, gradScale: number): number;
  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array,
    k: Float32Array, v: Float32Array, qStride: number, kvStride: number, probs: Float32Array, T: number, H: number,
    d: number, scale: number): void;
  /** out[M,N] (+)= alpha·x[M,K]·Wᵀ + bias, W [N, K/32] ggml blocks of `type` (8 = Q8_0, 2 = Q4_0), rows or x16 layout. */
  qlinear(out: Float32Array, x: Float32Array, W: Uint8Array, type: number, N: number, K: number,
    bias: Float32Array | null, M: number, alpha: number, accumulate: boolean, x16: boolean): void;
  /** out[K] = row r of W [N, K] dequantized. */
  qrow(out: Float32Array, W: Uint8Array, type: number, N: number, K: number, r: number, x16: boolean): void;
  /** Whether the selected kernels read the x16 layout faster (qpack then packs). */
  x16Fast(): boolean;
  /** Rearranges W [N, K] into the x16 layout in place and returns true, where the selected kernels read it faster (always with force). */
  qpack(W: Uint8Array, type: number, N: number, K: number, force: boolean): boolean;
  /** attention over an int8 cache with per-position, per-head scales [Tk, H]. */
  attentionQ8(out: Float32Array, q: Float32Array, qStride: number, k: Int8Array, v: Int8Array, kScale: Float32Array,
    vScale: Float32Array, kvStride: number, Tq: number, Tk: number, H: number, d: number, scale: number, slopes: Float32Array | null): void;
  /** Kernels.quantizeHeads. */
  quantizeHeads(q: Int8Array, scale: Float32Array, x: Float32Array, H: number, d: number): void;
  /** out[i] = x[i] as half bits (nearest even), n values. */
  toHalf(out: Uint16Array, x: Float32Array, n: number): void;
  /** attention over an f16 cache: k, v hold half bits. */
  attentionF16(out: Float32Array, q: Float32Array, qStride: number, k: Uint16Array, v: Uint16Array, kvStride: number,
    Tq: number, Tk: number, H: number, d: number, scale: number, slopes: Float32Array | null): void;
  /** src [rows, K] (srcType 0: F32, 1: F16 bytes) → [rows, Kp/32] blocks of `type`, rows zero-padded to Kp (quantize()'s arithmetic). */
  quantizeRows(out: Uint8Array, src: Uint8Array, srcType: number, rows: number, K: number, Kp: number, type: number): void;
  /** The whole file as an external ArrayBuffer, memory-mapped copy-on-write; undefined where mmap is unavailable. */
  mapFile(path: string): ArrayBuffer | undefined;
  /** The instruction set chosen at load time ('avx512', 'avx2' or 'portable') and the thread-pool size. */
  info(): { simd: string; threads: number };
  /** Selects 'avx512', 'avx2' or 'portable' kernels; false when the CPU lacks that instruction set. */
  setSimd(name: string): boolean;
  /** FMA-throughput microbenchmark on all pool threads: GFLOP/s over about `seconds`. */
  peakGflops(seconds: number): number;
  /** Streaming-read microbenchmark over `bytes` bytes, all pool threads: GB/s (best of `reps`). */
  readBandwidth(bytes: number, reps: number): number;
}

/** build/Release/mugpt_native.node of this package, or the file named by MUGPT_NATIVE_ADDON. */
function addonPath(): string {
  return process.env.MUGPT_NATIVE_ADDON ||
    fileURLToPath(new URL('../../../build/Release/mugpt_native.node', import.meta.url));
}

let loaded: { addon: NativeAddon | null; error: string } | null = null;

/** Loads the addon once; returns it, or null with the reason in nativeLoadError(). */
export function loadNativeAddon(): NativeAddon | null {
  if (!loaded) {
    try {
      const require = createRequire(import.meta.url);
      loaded = { addon: require(addonPath()) as NativeAddon, error: '' };
    } catch (e) {
      loaded = { addon: null, error: (e as Error).message.split('\n')[0] };
    }
  }
  return loaded.addon;
}

/** Why the addon did not load ('' when it did or was not tried). */
export function nativeLoadError(): string {
  return loaded?.error ?? '';
}

const GELU_KIND: Record<GeluKind, number> = { erf: 0, tanh: 1 };

function need(arr: Float32Array, n: number, what: string, kernel: string): void {
  check(arr.length >= n, () => `${kernel}: ${what} has ${arr.length} elements, needs at least ${n}`);
}

function checkCount(n: number, kernel: string): void {
  check(Number.isInteger(n) && n >= 0, `${kernel}: n must be a non-negative integer, got ${n}`);
}

function checkAttentionBackward(a: AttentionBackwardArgs): void {
  const { T, H, d, qStride, kvStride } = a;
  for (const [name, v] of [['T', T], ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride]] as const) {
    check(Number.isInteger(v) && v >= 0, `attentionBackward: ${name} must be a non-negative integer, got ${v}`);
  }
  check(qStride >= H * d && kvStride >= H * d, () => `attentionBackward: qStride (${qStride}) and kvStride (${kvStride}) must be at least H·d = ${H * d}`);
  if (T === 0) return;
  const rows = (stride: number): number => (T - 1) * stride + H * d;
  for (const [name, arr, n] of [['dq', a.dq, rows(qStride)], ['q', a.q, rows(qStride)], ['dk', a.dk, rows(kvStride)],
    ['dv', a.dv, rows(kvStride)], ['k', a.k, rows(kvStride)], ['v', a.v, rows(kvStride)], ['dout', a.dout, T * H * d],
    ['probs', a.probs, H * T * T]] as const) {
    need(arr, n, name, 'attentionBackward');
  }
}

const GGML_TYPE = { q8_0: 8, q4_0: 2 } as const;

/** Wraps a loaded addon as Kernels. */
export function nativeKernels(addon: NativeAddon): Kernels {
  return {
    name: 'native',
    qlinear(out, x, W, bias, M, alpha, accumulate) {
      checkQlinear(out, x, W, bias, M);
      addon.qlinear(out, x, W.data, GGML_TYPE[W.type], W.N, W.K, bias, M, alpha, accumulate, W.layout === 'x16');
    },
    get qlayout() {
      return addon.x16Fast() ? 'x16' : 'rows';
    },
    qprepare(W) {
      if (W.layout === 'x16') return;
      checkQuantMatrix(W, 'qprepare');
      if (addon.qpack(W.data, GGML_TYPE[W.type], W.N, W.K, false)) W.layout = 'x16';
    },
    qrow(out, W, r) {
      check(W.type === 'q8_0' || W.type === 'q4_0', () => `qrow: unknown block type '${String(W.type)}'`);
      check(Number.isInteger(W.K) && W.K > 0 && W.K % 32 === 0, () => `qrow: bad row length ${W.K} (a multiple of 32)`);
      check(Number.isInteger(r) && r >= 0 && r < W.N && out.length >= W.K, () => `qrow: row ${r} of [${W.N}, ${W.K}]`);
      const rows = W.layout === 'x16' ? W.N : r + 1; // an x16 row is spread over its group of 16
      check(W.data.length >= rows * (W.K / 32) * (W.type === 'q8_0' ? 34 : 18), () => `qrow: ${W.type} data too short for row ${r}`);
      addon.qrow(out, W.data, GGML_TYPE[W.type], W.N, W.K, r, W.layout === 'x16');
    },
    attentionQ8(args: AttentionQ8Args) {
      checkAttentionQ8(args);
      const { out, q, qStride, k, v, kScale, vScale, kvStride, Tq, Tk, H, d, scale, slopes } = args;
      addon.attentionQ8(out, q, qStride, k, v, kScale, vScale, kvStride, Tq, Tk, H, d, scale, slopes);
    },
    quantizeHeads(q, scale, x, H, d) {
      checkQuantizeHeads(q, scale, x, H, d);
      addon.quantizeHeads(q, scale, x, H, d);
    },
    toHalf(out, x) {
      checkToHalf(out, x);
      addon.toHalf(out, x, x.length);
    },
    attentionF16(args: AttentionF16Args) {
      checkAttentionF16(args);
      const { out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes } = args;
      addon.attentionF16(out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes);
    },
    layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D) {
      check(Number.isInteger(M) && M >= 0 && Number.isInteger(D) && D >= 0,
        `layerNormBackward: M and D must be non-negative integers, got M=${M}, D=${D}`);
      for (const [name, arr, n] of [['dx', dx, M * D], ['dout', dout, M * D], ['x', x, M * D], ['dw', dw, D], ['db', db, D],
        ['w', w, D], ['mean', mean, M], ['rstd', rstd, M]] as const) {
        need(arr, n, name, 'layerNormBackward');
      }
      addon.layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D);
    },
    geluBackward(dx, x, dout, n, kind) {
      check(kind === 'erf' || kind === 'tanh', `geluBackward: kind must be 'erf' or 'tanh', got '${String(kind)}'`);
      checkCount(n, 'geluBackward');
      need(dx, n, 'dx', 'geluBackward');
      need(x, n, 'x', 'geluBackward');
      need(dout, n, 'dout', 'geluBackward');
      addon.geluBackward(dx, x, dout, n, GELU_KIND[kind]);
    },
    swigluBackward(da, dg, a, g, dout, n) {
      checkCount(n, 'swigluBackward');
      for (const [name, arr] of [['da', da], ['dg', dg], ['a', a], ['g', g], ['dout', dout]] as const) need(arr, n, name, 'swigluBackward');
      addon.swigluBackward(da, dg, a, g, dout, n);
    },
    softmaxCrossEntropy(logits, targets, M, V, gradScale) {
      check(Number.isInteger(M) && M >= 0 && Number.isInteger(V) && V > 0,
        `softmaxCrossEntropy: M must be a non-negative and V a positive integer, got M=${M}, V=${V}`);
      need(logits, M * V, 'logits', 'softmaxCrossEntropy');
      check(targets.length >= M, () => `softmaxCrossEntropy: targets has ${targets.length} entries, needs at least ${M}`);
      for (let i = 0; i < M; i++) {
        const ti = targets[i];
        check(Number.isInteger(ti) && ti < V, () => `softmaxCrossEntropy: target ${ti} of row ${i} is not an id in [0, ${V}) nor negative (ignored)`);
      }
      const t = targets instanceof Int32Array ? targets : Int32Array.from({ length: M }, (_, i) => targets[i]);
      return addon.softmaxCrossEntropy(logits, t, M, V, gradScale);
    },
    attentionBackward(args: AttentionBackwardArgs) {
      checkAttentionBackward(args);
      const { dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale } = args;
      addon.attentionBackward(dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale);
    },
    gemm(transA, transB, M, N, K, alpha, A, B, beta, C) {
      checkGemm(M, N, K, A, B, C);
      addon.gemm(transA, transB, M, N, K, alpha, A, B, beta, C);
    },
    linear(out, x, W, bias, M, K, N) {
      checkLinear(out, x, W, bias, M, K, N);
      addon.linear(out, x, W, bias, M, K, N);
    },
    layerNorm(out, x, w, b, M, D, eps, mean, rstd) {
      checkLayerNorm(out, x, w, b, M, D, mean, rstd);
      addon.layerNorm(out, x, w, b, M, D, eps, mean ?? null, rstd ?? null);
    },
    gelu(out, x, n, kind) {
      check(kind === 'erf' || kind === 'tanh', `gelu: kind must be 'erf' or 'tanh', got '${String(kind)}'`);
      check(Number.isInteger(n) && n >= 0, `gelu: n must be a non-negative integer, got ${n}`);
      need(out, n, 'out', 'gelu');
      need(x, n, 'x', 'gelu');
      addon.gelu(out, x, n, GELU_KIND[kind]);
    },
    swiglu(out, a, g, n) {
      check(Number.isInteger(n) && n >= 0, `swiglu: n must be a non-negative integer, got ${n}`);
      need(out, n, 'out', 'swiglu');
      need(a, n, 'a', 'swiglu');
      need(g, n, 'g', 'swiglu');
      addon.swiglu(out, a, g, n);
    },
    attention(args: AttentionArgs) {
      checkAttention(args);
      const { out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes, probs } = args;
      addon.attention(out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes, probs ?? null);
    },
  };
}
