// The native backend: the C++ N-API addon built from native/ by `npm ci` (node-gyp, binding.gyp at
// the repository root). This module loads build/Release/mugpt_native.node (or the file named by
// MUGPT_NATIVE_ADDON) and adapts it to the Kernels interface; argument sizes are checked here, in
// front of the native call, so a bad call is a MugptError, never a read past an array.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { checkAttention, checkGemm, checkLayerNorm, checkLinear, jsKernels } from './js.js';
import { check } from '../errors.js';
import type { AttentionArgs, GeluKind, Kernels } from './kernels.js';

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
  /** The instruction set chosen at load time ('avx2' or 'portable') and the thread-pool size. */
  info(): { simd: string; threads: number };
  /** Selects 'avx2' or 'portable' kernels; false when that instruction set is not available. */
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

/** Wraps a loaded addon as Kernels; the backward kernels are the JS reference's until ported. */
export function nativeKernels(addon: NativeAddon): Kernels {
  const { layerNormBackward, geluBackward, swigluBackward, attentionBackward, softmaxCrossEntropy } = jsKernels;
  return {
    name: 'native',
    layerNormBackward, geluBackward, swigluBackward, attentionBackward, softmaxCrossEntropy,
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
