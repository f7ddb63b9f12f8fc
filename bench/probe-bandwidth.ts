// Streaming-read bandwidth samples in a process of their own, so that a bench engine can sample the
// machine between its timed segments without the probe's buffer counting in the engine's peak RSS:
//   node dist/bench/probe-bandwidth.js [passes = 3]   → {"gbs":[…]}, one figure a pass over one 512 MiB buffer
// On a shared virtual machine the bandwidth moves by a third within minutes (BENCHMARKS.md), so a
// bound taken at the start of a bench and a decode timed minutes later measure different machines.
import { spawnSync } from 'node:child_process';
import { loadNativeAddon } from '../src/native/addon.js';
import { benchModule, median } from './common.js';

const BYTES = 512 * 2 ** 20;

/** Runs the probe in a child process; the samples in GB/s, or [] when the native addon is missing. */
export function sampleBandwidth(passes = 3): number[] {
  const r = spawnSync(process.execPath, [benchModule('probe-bandwidth.js'), String(passes)], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  try {
    return (JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { gbs: number[] }).gbs;
  } catch {
    return [];
  }
}

/** "27.4 GB/s (median of 15 passes, 25.1–29.0)". */
export function bandwidthLine(samples: readonly number[]): string {
  const lo = Math.min(...samples), hi = Math.max(...samples);
  return `${median(samples).toFixed(1)} GB/s (median of ${samples.length} passes, ${lo.toFixed(1)}–${hi.toFixed(1)})`;
}

/**
 * The bandwidth a decode bound divides by: the median of the samples taken around the decode, or the
 * start-of-run figure when there are none; with the words that say which.
 */
export function boundBandwidth(samples: readonly number[], startOfRun: number): { gbs: number; line: string } {
  return samples.length
    ? { gbs: median(samples), line: `${bandwidthLine(samples)}, sampled around the decode` }
    : { gbs: startOfRun, line: `${startOfRun.toFixed(1)} GB/s (start of run)` };
}

if (process.argv[1] === benchModule('probe-bandwidth.js')) {
  const addon = loadNativeAddon();
  const passes = Number(process.argv[2] ?? 3);
  const gbs: number[] = [];
  // one pass first, untimed: the first over the freshly written buffer ran 30–45 % below the passes after it
  // (34–47 against 48–74 GB/s, five probes in one run; BENCHMARKS.md, session 11), a property of the new buffer
  if (addon) gbs.push(...addon.readBandwidth(BYTES, passes + 1, true).slice(1));
  console.log(JSON.stringify({ gbs }));
}
