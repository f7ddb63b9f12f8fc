// npm run fuzz -- [--format F] [--cases N] [--seed S] [--case I --save DIR]
// Fuzzes every input parser (docs/reliability.md): prints accepted / refused / failed counts per
// format and each failure with the command that reproduces it; exits 1 when any case failed.
import { mkdirSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { generateCase, writeCase } from './case.js';
import { runFuzz, type FuzzSummary } from './runner.js';
import { TARGETS } from './targets.js';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
};

const program: Command = new Command('fuzz')
  .description('mutation and structure-aware fuzzing of every mugpt input format')
  .option('--format <name>', `one format (${TARGETS.map((t) => t.name).join(', ')}); default all`)
  .option('--cases <n>', 'cases per format', int, 10_000)
  .option('--seed <s>', 'seed of the case generator', int, 1)
  .option('--from <i>', 'first case number', int, 0)
  .option('--timeout <ms>', 'time limit of one case', int, 60_000)
  .option('--case <i>', 'only write case I of --format into --save (to reproduce a failure)', int)
  .option('--save <dir>', 'folder for the files of --case')
  .parse();
const o = program.opts<{ format?: string; cases: number; seed: number; from: number; timeout: number; case?: number; save?: string }>();

const formats = o.format ? o.format.split(',') : TARGETS.map((t) => t.name);
for (const f of formats) if (!TARGETS.some((t) => t.name === f)) program.error(`--format: unknown format '${f}'`);

if (o.case !== undefined) {
  const save = o.save;
  if (!save || formats.length !== 1) program.error('--case needs one --format and --save');
  const c = generateCase(TARGETS.find((t) => t.name === formats[0])!, o.seed, o.case);
  mkdirSync(save, { recursive: true });
  writeCase(c, save);
  process.stdout.write(`${save}: case ${o.case} of ${formats[0]} (seed ${o.seed}), valid=${c.valid}${c.text !== undefined ? `, text ${JSON.stringify(c.text.slice(0, 200))}` : ''}\n`);
  process.exit(0);
}

const results: FuzzSummary[] = [];

function report(s: FuzzSummary, seconds: number, note = ''): void {
  process.stdout.write(`${s.format}: ${s.cases} cases, ${s.accepted} accepted, ${s.refused} refused with a MugptError, ${s.failures.length} failed (${seconds.toFixed(0)} s)${note}\n`);
  for (const f of s.failures.slice(0, 20)) {
    process.stdout.write(`  case ${f.case}: ${f.why}\n    reproduce: npm run fuzz -- --format ${s.format} --seed ${f.seed} --case ${f.case} --save fuzz-case\n`);
  }
}

// Stopped early (SIGINT, SIGTERM): report the cases of the current format that ended, then exit.
let current: { s: FuzzSummary; t0: number } | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (current) report(current.s, (Date.now() - current.t0) / 1000, ` — stopped by ${sig} before case ${o.from + o.cases}`);
    process.exit(results.some((r) => r.failures.length > 0) || (current?.s.failures.length ?? 0) > 0 ? 1 : 2);
  });
}

for (const format of formats) {
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: `${format.padEnd(20)} |{bar}| {value}/{total} cases | {speed} cases/s | ETA {eta_formatted}`, fps: 2 }, cliProgress.Presets.shades_classic) : null;
  const t0 = Date.now();
  bar?.start(o.cases, 0, { speed: '0' });
  current = { s: { format, seed: o.seed, cases: 0, accepted: 0, refused: 0, failures: [] }, t0 };
  const s = await runFuzz({ format, cases: o.cases, seed: o.seed, from: o.from, timeoutMs: o.timeout, summary: current.s,
    onCase: (n) => bar?.update(n, { speed: (n / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(0) }) });
  current = null;
  bar?.stop();
  results.push(s);
  report(s, (Date.now() - t0) / 1000);
}
process.exit(results.some((r) => r.failures.length > 0) ? 1 : 0);
