// BTLM's two context findings in miniature (docs/findings.md), one command:
//   node dist/tools/context-findings.js [--threads N] [--windows 128] [-o docs/context]
// Trains runs/context-{alibi,learned,schedule}.yaml where their final checkpoint is missing (each a
// resumable `mugpt train`), then scores each final model's held-out loss per position on its run's
// held-out split, up to 4 × 128 = 512 tokens (the learned-position model only to its n_positions, 128),
// and writes OUT/results.json, OUT/results.md and OUT/position-loss.svg (the three curves).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { writeFileAtomic } from '../src/io/atomic.js';
import { loadModel } from '../src/model/model.js';
import { positionLoss } from '../src/eval/position-loss.js';
import { lineChartSvg, type LineSeries } from '../src/report/plot.js';
import { latestCheckpoint } from '../src/train/checkpoint.js';
import { openRunData } from '../src/train/loader.js';
import { loadRunConfig } from '../src/train/runconfig.js';

const RUNS = [
  { name: 'alibi', label: 'ALiBi, 100% at 128' },
  { name: 'schedule', label: 'ALiBi, 75% at 128 then 25% at 512' },
  { name: 'learned', label: 'learned positions, 100% at 128' },
] as const;
const L = 128, MAX = 4 * L, BUCKET = 32;

const o = new Command('context-findings')
  .option('--threads <n>', 'kernel threads of the training runs', '1')
  .option('--windows <n>', 'held-out windows scored per model', '128')
  .option('-o, --out <dir>', 'output folder', 'docs/context')
  .parse().opts<{ threads: string; windows: string; out: string }>();
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

const results = [];
for (const r of RUNS) {
  const runFile = join(root, 'runs', `context-${r.name}.yaml`);
  const run = loadRunConfig(runFile);
  const steps = run.stages.reduce((a, s) => a + s.steps, 0);
  const done = (): string | null => {
    const ck = latestCheckpoint(run.outDir);
    return ck !== null && ck.endsWith(`step-${String(steps).padStart(8, '0')}`) ? ck : null;
  };
  if (done() === null) {
    const t = spawnSync(process.execPath, [cli, 'train', runFile, '--threads', o.threads, ...(latestCheckpoint(run.outDir) ? ['--resume'] : [])], { stdio: 'inherit' });
    if (t.status !== 0) process.exit(t.status ?? 1);
  }
  const ck = done()!;
  const model = loadModel(ck);
  const data = openRunData(run.data, model.vocabSize, run.seed);
  const maxLength = Math.min(MAX, model.maxContext);
  const p = positionLoss(model, data.val, { maxLength, bucketSize: BUCKET, maxWindows: Number(o.windows) });
  data.close();
  const mean = (a: number, b: number): number => {
    const bs = p.buckets.filter((x) => x.start >= a && x.end <= b + 1);
    return bs.length ? bs.reduce((s, x) => s + x.loss * x.count, 0) / bs.reduce((s, x) => s + x.count, 0) : NaN;
  };
  results.push({
    run: `runs/context-${r.name}.yaml`, label: r.label, checkpoint: ck.slice(root.length), tokens: run.stages.reduce((a, s) => a + s.steps * s.seqLen * s.batchSize, 0),
    maxLength, windows: p.windows, loss_1_128: mean(1, L), loss_129_512: mean(L + 1, MAX), loss_385_512: mean(3 * L + 1, MAX), buckets: p.buckets,
  });
  process.stdout.write(`${r.label}: loss 1–128 ${mean(1, L).toFixed(4)}, 129–512 ${mean(L + 1, MAX).toFixed(4)}\n`);
}

mkdirSync(o.out, { recursive: true });
writeFileAtomic(join(o.out, 'results.json'), `${JSON.stringify({ trainingLength: L, maxLength: MAX, bucketSize: BUCKET, runs: results }, null, 1)}\n`);
const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a (no positions past 128)');
writeFileAtomic(join(o.out, 'results.md'), [
  '| run | tokens | held-out loss, positions 1–128 | 129–512 | 385–512 |', '|---|---:|---:|---:|---:|',
  ...results.map((r) => `| ${r.label} (\`${r.run}\`) | ${r.tokens.toLocaleString('en')} | ${f(r.loss_1_128)} | ${f(r.loss_129_512)} | ${f(r.loss_385_512)} |`), '',
].join('\n'));
const series: LineSeries[] = results.map((r) => ({ name: r.label, points: r.buckets.map((b) => [(b.start + b.end - 1) / 2, b.loss] as [number, number]) }));
const ys = results.flatMap((r) => r.buckets.map((b) => b.loss));
series.push({ name: `training length (${L})`, points: [[L, Math.min(...ys)], [L, Math.max(...ys)]] });
writeFileAtomic(join(o.out, 'position-loss.svg'), await lineChartSvg({
  title: `Held-out loss by position, ${results[0].windows} windows of ${MAX} tokens, buckets of ${BUCKET}`,
  xLabel: 'token position', yLabel: 'mean loss (nats/token)', series,
}));
process.stdout.write(`wrote ${join(o.out, 'results.json')}, results.md, position-loss.svg\n`);
