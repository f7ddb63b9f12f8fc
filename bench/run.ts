// The benchmark suite, one benchmark after another (never two at once: they share 2 cores):
//   npm run bench                      every benchmark with its default (few-minute) settings
//   npm run bench -- inference gemm    only those
// Each benchmark is its own process and prints its own tables; see BENCHMARKS.md for the figures.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { benchModule } from './common.js';

const SUITE = ['gemm', 'bandwidth', 'inference', 'quantized', 'train-step', 'eval', 'tokenizer', 'dedup', 'data-build'];

const asked = process.argv.slice(2);
for (const name of asked) {
  if (!SUITE.includes(name)) {
    console.error(`bench: unknown benchmark '${name}'; expected some of: ${SUITE.join(', ')}`);
    process.exit(2);
  }
}
let failed = 0;
for (const name of asked.length ? asked : SUITE) {
  console.log(`\n=== ${name} (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}) ===`);
  const r = spawnSync(process.execPath, [benchModule(`${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`=== ${name} failed (${r.signal ?? `exit ${String(r.status)}`}) ===`);
  }
}
process.exit(failed ? 1 : 0);
