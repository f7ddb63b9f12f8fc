// The native addon (native/*.cc, a C++ N-API module): where it is found and how it loads. Kernels
// (src/kernels/native.ts) and file readers (GGUF memory mapping in src/gguf/) both use it, so it lives
// in neither folder.
//
// Order: the file MUGPT_NATIVE_ADDON names; else node-gyp-build's search in the package root, which
// takes build/Release/*.node (built from source by `npm install`) before prebuilds/PLATFORM-ARCH/*.node
// (made by prebuildify when the package is packed). When neither loads, the JS kernels are used.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A plan of recorded kernel calls (an External owned by the addon). */
export type NativePlan = { readonly __nativePlan: unique symbol };

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
    Tq: number, Tk: number, H: number, d: number, scale: number, slopes: Float32Array | null, probs: Float32Array | null,
    kNew: Float32Array | null, vNew: Float32Array | null, newStride: number): void;
  /** out's M rows of N set to b, or increased by it (add). */
  bias(out: Float32Array, b: Float32Array, M: number, N: number, add: boolean): void;
  /** Kernels.record: the recordable bindings append their calls to a plan between planBegin and planEnd. */
  planBegin(): void;
  planEnd(): NativePlan;
  planAbort(): void;
  /** Replays a plan; attention calls with Tk + tkShift keys. */
  planRun(plan: NativePlan, tkShift: number): void;
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
  /** qlinear of x by WA and by WB, two [N, K] matrices (alpha 1, no accumulation), in one parallel job. */
  qlinearPair(outA: Float32Array, outB: Float32Array, x: Float32Array, WA: Uint8Array, typeA: number, x16A: boolean,
    biasA: Float32Array | null, WB: Uint8Array, typeB: number, x16B: boolean, biasB: Float32Array | null, N: number, K: number, M: number): void;
  /** out[K] = row r of W [N, K] dequantized. */
  qrow(out: Float32Array, W: Uint8Array, type: number, N: number, K: number, r: number, x16: boolean): void;
  /**
   * W [N, K] in the x16 layout where the selected kernels read it faster (always with force), else null:
   * W itself rearranged in place, or, for a view of a mapped file (mapFile), a packed copy in new
   * memory (allocWeights), the file's pages it came from released (the file is never written).
   */
  qpack(W: Uint8Array, type: number, N: number, K: number, force: boolean): Uint8Array | null;
  /** n zeroed bytes for weights, in memory of their own (an anonymous mapping, freed when collected). */
  allocWeights(n: number): Uint8Array;
  /** Maps now the whole pages under x's bytes, about to be written (native/weights_memory.h populate). */
  populate(x: ArrayBufferView): void;
  /** attention over an int8 cache with per-position, per-head scales [Tk, H]. */
  attentionQ8(out: Float32Array, q: Float32Array, qStride: number, k: Int8Array, v: Int8Array, kScale: Float32Array,
    vScale: Float32Array, kvStride: number, Tq: number, Tk: number, H: number, d: number, scale: number, slopes: Float32Array | null): void;
  /** Kernels.quantizeHeads. */
  quantizeHeads(q: Int8Array, scale: Float32Array, x: Float32Array, H: number, d: number): void;
  /** attention over an f16 cache (k, v hold half bits) after storing kNew, vNew's Tq rows at Tk − Tq … as halves. */
  attentionF16(out: Float32Array, q: Float32Array, qStride: number, k: Uint16Array, v: Uint16Array, kvStride: number,
    kNew: Float32Array, vNew: Float32Array, newStride: number, Tq: number, Tk: number, H: number, d: number, scale: number,
    slopes: Float32Array | null): void;
  /** attentionF16 with Tq = 1 for S = Tk.length sequences, caches k[s], v[s]; rows s of q, kNew, vNew, out; slopes [S, H]. */
  attentionF16Batch(out: Float32Array, q: Float32Array, qStride: number, k: readonly Uint16Array[], v: readonly Uint16Array[],
    kvStride: number, kNew: Float32Array, vNew: Float32Array, newStride: number, Tk: Int32Array, H: number, d: number,
    scale: number, slopes: Float32Array | null): void;
  /**
   * src [rows, K] (srcType 0: F32, 1: F16 bytes) → [rows, Kp/32] blocks of `type`, rows zero-padded to Kp
   * (quantize()'s arithmetic); when src is a view of a mapped file, its pages are released afterwards.
   */
  quantizeRows(out: Uint8Array, src: Uint8Array, srcType: number, rows: number, K: number, Kp: number, type: number): void;
  /**
   * The whole file as an external ArrayBuffer, memory-mapped copy-on-write; undefined where mmap is unavailable.
   * hugePages: mapped as 2 MiB pages where the page cache holds the file in such folios (native/weights_memory.h).
   */
  mapFile(path: string, hugePages?: boolean): ArrayBuffer | undefined;
  /** Starts computing a 64-bit checksum of each array's bytes (native/checksum.h) on threads of its own; returns at once. */
  checksumsStart(arrays: Uint8Array[]): ChecksumJob;
  /** Waits for a job of checksumsStart (once): 16 hex digits for each of its arrays; cancel stops it (null). */
  checksumsWait(job: ChecksumJob): string[];
  checksumsWait(job: ChecksumJob, cancel: true): null;
  /** The instruction set chosen at load time ('avx512', 'avx2' or 'portable'), the thread-pool size, and whether qpack packs (x16). */
  info(): { simd: string; threads: number; x16: boolean };
  /** Selects 'avx512', 'avx2' or 'portable' kernels; false when the CPU lacks that instruction set. */
  setSimd(name: string): boolean;
  /** FMA-throughput microbenchmark on all pool threads: GFLOP/s over about `seconds`. */
  peakGflops(seconds: number): number;
  /** Streaming-read microbenchmark over `bytes` bytes, all pool threads: GB/s (best of `reps`). */
  readBandwidth(bytes: number, reps: number): number;
  /** Every one of reps passes over one buffer, in GB/s. */
  readBandwidth(bytes: number, reps: number, each: true): number[];
  /** Each pool thread spins on the clock for `seconds`: its gaps of ≥ 5 µs (µs), one array a thread. */
  stalls(seconds: number): number[][];
}

declare const checksumJob: unique symbol;
/** A job of NativeAddon.checksumsStart (an opaque native handle). */
export interface ChecksumJob { readonly [checksumJob]: true }

/** The package root (dist/src/native/ → ../../..), where build/ and prebuilds/ are. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const require = createRequire(import.meta.url);

/** node-gyp-build's resolver: the path of the addon that fits this platform, or an Error. */
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

/** The addon file to load: MUGPT_NATIVE_ADDON, else what node-gyp-build finds (throws when none fits). */
export function nativeAddonPath(): string {
  return process.env.MUGPT_NATIVE_ADDON || nodeGypBuild.resolve(PACKAGE_ROOT);
}

let loaded: { addon: NativeAddon | null; error: string } | null = null;

/** Loads the addon once; returns it, or null with the reason in nativeLoadError(). */
export function loadNativeAddon(): NativeAddon | null {
  if (!loaded) {
    try {
      loaded = { addon: require(nativeAddonPath()) as NativeAddon, error: '' };
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
