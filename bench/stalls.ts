// How much of each CPU the machine takes away from busy threads: every pool thread spins on the clock
// (the addon's `stalls`) and records each interval of 5 µs or more in which it did not run. On the shared
// virtual machines of BENCHMARKS.md (session 13) each vCPU lost 3–8 % of its time this way, in 1,300–1,700 gaps
// a second of mostly 10–40 µs that the guest's own interrupt counters do not show: a decode's chain of ~100–200
// parallel jobs a token meets them at its barriers, where the other thread can only wait.
import { loadNativeAddon } from '../src/native/addon.js';

export interface Stalls {
  threads: number;
  /** Gaps of ≥ 5 µs a second, per thread. */
  perSecond: number;
  /** Share of each thread's time inside those gaps, %. */
  percent: number;
  /** Median gap, µs. */
  medianUs: number;
}

/** Spins every pool thread for `seconds`; null without the native addon. */
export function measureStalls(seconds = 2): Stalls | null {
  const addon = loadNativeAddon();
  return addon ? summarizeGaps(addon.stalls(seconds), seconds) : null;
}

/** The summary of each thread's gaps (µs) over a spin of `seconds` a thread. */
export function summarizeGaps(perThread: readonly (readonly number[])[], seconds: number): Stalls {
  const threads = perThread.length;
  const gaps = perThread.flat().sort((a, b) => a - b);
  const lostUs = gaps.reduce((s, g) => s + g, 0);
  return {
    threads,
    perSecond: gaps.length / threads / seconds,
    percent: lostUs / (threads * seconds * 1e4),
    medianUs: gaps.length ? gaps[gaps.length >> 1] : 0,
  };
}

/** "1,310 gaps a second of 5 µs or more per thread (median 23 µs), 4.4 % of each thread's time (2 threads)". */
export function stallsLine(s: Stalls): string {
  return `${Math.round(s.perSecond).toLocaleString('en-US')} gaps a second of 5 µs or more per thread (median ${s.medianUs.toFixed(0)} µs), ${s.percent.toFixed(1)} % of each thread's time (${s.threads} threads)`;
}
