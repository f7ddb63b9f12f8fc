// Prints the machine's FMA peak and memory bandwidth: `node dist/bench/bandwidth.js`.
// The bandwidth twice: the best of five passes (the machine at its fastest) and the median of fifteen
// single passes, each in a fresh process (probe-bandwidth.ts; what the decode bounds use). Then the CPU
// time a shared machine takes from busy threads (stalls.ts).
import { measureMachine } from './machine.js';
import { bandwidthLine, sampleBandwidth } from './probe-bandwidth.js';
import { measureStalls, stallsLine } from './stalls.js';

const m = measureMachine();
if (m) {
  console.log(`simd ${m.simd}, ${m.threads} threads`);
  console.log(`FMA peak (${m.simd}): ${m.peakGflops.toFixed(1)} GFLOP/s (${(m.peakGflops / m.threads).toFixed(1)} per thread)`);
  if (m.peakGflopsAvx2 !== null && m.simd !== 'avx2') console.log(`FMA peak (avx2): ${m.peakGflopsAvx2.toFixed(1)} GFLOP/s`);
  console.log(`read bandwidth: ${m.bandwidthGBs.toFixed(1)} GB/s (best of 5 passes)`);
  const samples = Array.from({ length: 5 }, () => sampleBandwidth(3)).flat();
  if (samples.length) console.log(`read bandwidth: ${bandwidthLine(samples)}`);
  const stalls = measureStalls();
  if (stalls) console.log(`time taken from busy threads: ${stallsLine(stalls)}`);
}
