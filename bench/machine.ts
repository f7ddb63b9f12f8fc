// The machine's limits, measured by microbenchmarks in the native addon: FMA throughput (the
// compute peak our AVX2 kernels can reach) and streaming-read memory bandwidth.

import { loadNativeAddon, nativeLoadError } from '../src/native/addon.js';

export interface MachineLimits {
  simd: string;
  threads: number;
  /** GFLOP/s of back-to-back FMAs on every thread, with the vectors of `simd` (the GEMM's). */
  peakGflops: number;
  /** The same with 8-wide AVX2 FMAs, when the CPU has them (the AVX2 kernels' ceiling). */
  peakGflopsAvx2: number | null;
  /** GB/s of a parallel streaming read of a buffer far larger than the caches. */
  bandwidthGBs: number;
}

/** Measures the peak and bandwidth; null (with a printed reason) when the addon is missing. */
export function measureMachine(bufferBytes = 512 * 2 ** 20): MachineLimits | null {
  const addon = loadNativeAddon();
  if (!addon) {
    console.log(`machine limits: skipped, the native addon did not load (${nativeLoadError()})`);
    return null;
  }
  const { simd, threads } = addon.info();
  const peakGflops = addon.peakGflops(0.5);
  let peakGflopsAvx2: number | null = null;
  if (simd !== 'avx2' && addon.setSimd('avx2')) {
    peakGflopsAvx2 = addon.peakGflops(0.5);
    addon.setSimd(simd);
  } else if (simd === 'avx2') {
    peakGflopsAvx2 = peakGflops;
  }
  return {
    simd,
    threads,
    peakGflops,
    peakGflopsAvx2,
    bandwidthGBs: addon.readBandwidth(bufferBytes, 5),
  };
}
