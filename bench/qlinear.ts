// The quantized matrix kernel (qlinear) alone, against the machine's read bandwidth:
//   node dist/bench/qlinear.js [--budget 1]
// One-row products (decode) in GB/s of weight blocks streamed per call, the weights rotated over
// copies filling ≥ 1 GiB so each call reads from memory; 512-row products (prefill) in GOP/s
// (2·M·N·K). Both layouts: GGUF's rows, and x16 (native/quant.h; what loading makes where the CPU has
// AVX-512 VNNI), for each instruction set the addon runs here (x16 outside AVX-512 VNNI takes the
// scalar fallback, so only rows is timed there).
import { getKernels } from '../src/kernels/index.js';
import { loadNativeAddon, nativeLoadError } from '../src/native/addon.js';
import type { QuantMatrix } from '../src/kernels/kernels.js';
import { quantize, type BlockType } from '../src/quant/blocks.js';
import { fmt, machineLine, printTable, randUniform, timeBest, benchArgs, numberFlag } from './common.js';
import { measureMachine } from './machine.js';

const { values: opt } = benchArgs({ options: { budget: { type: 'string', default: '1' } } });
const budget = numberFlag('budget', opt.budget, 0, false);

const SHAPES = [
  { name: '111M c_fc 768→3072', K: 768, N: 3072 },
  { name: 'BTLM c_fc 2560→6826', K: 2560, N: 6826 },
];

const addon = loadNativeAddon();
if (!addon) {
  console.log(`the native addon did not load (${nativeLoadError()}): nothing to measure`);
  process.exit(0);
}
console.log(machineLine());
const machine = measureMachine();
const bw = machine?.bandwidthGBs ?? NaN;
console.log(`read bandwidth ${fmt(bw)} GB/s, ${machine?.threads ?? '?'} threads`);

const initial = addon.info().simd;
const rows: string[][] = [];
for (const simd of ['avx512', 'avx2']) {
  if (!addon.setSimd(simd)) continue;
  const k = getKernels('native');
  for (const type of ['q4_0', 'q8_0'] as BlockType[]) {
    for (const s of SHAPES) {
      const blocks = quantize(type, randUniform(s.N * s.K, 7), s.N, s.K);
      for (const layout of simd === 'avx512' ? (['rows', 'x16'] as const) : (['rows'] as const)) {
        const copies = Math.max(1, Math.ceil(2 ** 30 / blocks.length));
        const Ws: QuantMatrix[] = Array.from({ length: copies }, () => {
          const W: QuantMatrix = { type, data: blocks.slice(), N: s.N, K: s.K };
          if (layout === 'x16') {
            addon.qpack(W.data, type === 'q8_0' ? 8 : 2, s.N, s.K, true);
            W.layout = 'x16';
          }
          return W;
        });
        const x1 = randUniform(s.K, 3), out1 = new Float32Array(s.N);
        // a pass over every copy (the mean call: the fastest single one may find its copy in L3)
        const t1 = timeBest(() => { for (const W of Ws) k.qlinear(out1, x1, W, null, 1, 1, false); }, budget) / copies;
        const M = 512, xM = randUniform(M * s.K, 5), outM = new Float32Array(M * s.N);
        const tM = timeBest(() => k.qlinear(outM, xM, Ws[0], null, M, 1, false), budget);
        const gbs = blocks.length / t1 / 1e9;
        rows.push([simd, type.toUpperCase(), s.name, layout, `${fmt(t1 * 1e3, 3)} ms`, fmt(gbs), `${((100 * gbs) / bw).toFixed(0)}%`,
          fmt((2 * M * s.N * s.K) / tM / 1e9, 0)]);
      }
    }
  }
}
addon.setSimd(initial);
printTable(['kernels', 'type', 'matrix', 'layout', 'M = 1, per call', 'M = 1, GB/s', '÷ read bandwidth', 'M = 512, GOP/s'], rows);
