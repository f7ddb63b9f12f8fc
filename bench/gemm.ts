// GEMM and matrix-vector throughput of mugpt's kernels against the machine's limits and PyTorch:
//   node dist/bench/gemm.js
// GEMM in GFLOP/s (2·M·N·K per call) against the FMA peak; one-row products in GB/s of weight
// streamed (4·K·N bytes per call) against the measured read bandwidth.

import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { getKernels, nativeAvailable } from '../src/kernels/index.js';
import { nativeLoadError } from '../src/native/addon.js';
import type { Kernels } from '../src/kernels/kernels.js';
import { peerScript, randUniform, timeBest } from './common.js';
import { checkTorchBlas } from './torch-peer.js';
import { measureMachine } from './machine.js';

interface Case { name: string; M: number; N: number; K: number; transB: boolean; gemv: boolean; jsRows: number }

const cases: Case[] = [
  { name: 'GEMM 512x768x3072 (111M c_fc)', M: 512, N: 3072, K: 768, transB: false, gemv: false, jsRows: 64 },
  { name: 'GEMM 512x2560x6826 (BTLM c_fc)', M: 512, N: 6826, K: 2560, transB: false, gemv: false, jsRows: 8 },
  { name: 'gemv 1x2560x6826 (BTLM c_fc)', M: 1, N: 6826, K: 2560, transB: false, gemv: true, jsRows: 1 },
  { name: 'gemv 1x768x50257 (111M lm_head, W^T)', M: 1, N: 50257, K: 768, transB: true, gemv: true, jsRows: 1 },
];

// One-row products rotate over copies of the weight filling ≥ 1 GiB, so every call streams its
// weight from memory as decode does (one 70–150 MB matrix would otherwise stay in this machine's L3).
const GEMV_BYTES = 2 ** 30;
const copiesFor = (c: Case): number => (c.gemv ? Math.ceil(GEMV_BYTES / (4 * c.K * c.N)) : 1);

function run(K: Kernels, c: Case, rows: number, budget: number): number {
  const A = randUniform(rows * c.K);
  const Bs = Array.from({ length: copiesFor(c) }, () => randUniform(c.K * c.N));
  const C = new Float32Array(rows * c.N);
  let i = 0;
  return timeBest(() => K.gemm(false, c.transB, rows, c.N, c.K, 1, A, Bs[i++ % Bs.length], 0, C), budget);
}

/** PyTorch seconds per call for each case, or null with the reason printed. */
function torchTimes(): number[] | null {
  if (!checkTorchBlas().ok) return null;
  const script = peerScript('torch_gemm.py');
  const input = JSON.stringify(cases.map((c) => ({ M: c.M, N: c.N, K: c.K, transB: c.transB, copies: copiesFor(c), seconds: 1 })));
  const r = spawnSync('/usr/bin/python3', [script], { input, encoding: 'utf8' });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? 'failed');
    console.log(`PyTorch: skipped (${why})`);
    return null;
  }
  return JSON.parse(r.stdout) as number[];
}

const fmt = (x: number, d = 1): string => x.toFixed(d).padStart(7);

function main(): void {
  const machine = measureMachine();
  if (machine) {
    const avx2 = machine.peakGflopsAvx2 !== null && machine.simd !== 'avx2'
      ? ` (avx2 FMAs: ${machine.peakGflopsAvx2.toFixed(1)})` : '';
    console.log(`machine: ${machine.threads} threads, ${machine.simd}; FMA peak ${machine.peakGflops.toFixed(1)} GFLOP/s${avx2}, ` +
      `read bandwidth ${machine.bandwidthGBs.toFixed(1)} GB/s`);
  }
  // Other processes on the machine share its cores; the figures only mean something when it is idle.
  console.log(`load average ${loadavg()[0].toFixed(2)} on ${cpus().length} cores` +
    (loadavg()[0] > 0.5 ? ' (busy: expect lower figures than on an idle machine)' : ''));
  const native = nativeAvailable() ? getKernels('native') : null;
  if (!native) console.log(`native backend: not available (${nativeLoadError()})`);
  const js = getKernels('js');
  const torch = torchTimes();

  console.log('\ncase                                    unit    native     js  torch  native/torch  native/limit');
  cases.forEach((c, i) => {
    const work = (rows: number): number => (c.gemv ? 4 * c.K * c.N : 2 * rows * c.N * c.K) / 1e9;
    const tNative = native ? run(native, c, c.M, 1) : NaN;
    const tJs = run(js, { ...c, gemv: false }, c.jsRows, 0.3); // JS is far from memory-bound: one copy
    const rNative = work(c.M) / tNative;
    const rJs = work(c.jsRows) / tJs;
    const rTorch = torch ? work(c.M) / torch[i] : NaN;
    const limit = machine ? (c.gemv ? machine.bandwidthGBs : machine.peakGflops) : NaN;
    console.log(`${c.name.padEnd(40)}${(c.gemv ? 'GB/s' : 'GFLOP/s').padEnd(7)}${fmt(rNative)}${fmt(rJs)}${fmt(rTorch)}` +
      `${fmt(rNative / rTorch, 2).padStart(14)}${fmt(rNative / limit, 2).padStart(14)}`);
  });
  console.log('\njs GEMM rates are timed on the first rows only (64 and 8 rows); its loop is the same per row.');
}

main();
