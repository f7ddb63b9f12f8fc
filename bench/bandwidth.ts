// Prints the machine's FMA peak and memory bandwidth: `node dist/bench/bandwidth.js`.
import { measureMachine } from './machine.js';

const m = measureMachine();
if (m) {
  console.log(`simd ${m.simd}, ${m.threads} threads`);
  console.log(`FMA peak (${m.simd}): ${m.peakGflops.toFixed(1)} GFLOP/s (${(m.peakGflops / m.threads).toFixed(1)} per thread)`);
  if (m.peakGflopsAvx2 !== null && m.simd !== 'avx2') console.log(`FMA peak (avx2): ${m.peakGflopsAvx2.toFixed(1)} GFLOP/s`);
  console.log(`read bandwidth: ${m.bandwidthGBs.toFixed(1)} GB/s`);
}
