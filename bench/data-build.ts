// Corpus build throughput per stage and peak memory:  node dist/bench/data-build.js [workers]
// Builds examples/corpus.yaml (State of the Union + SpamAssassin, ~37 MB of text) into a temp folder
// with buildCorpus and reports, per stage, its wall time and MB/s of the stage's input text (from
// stats.json), and the process's peak RSS (worker threads included).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCorpus } from '../src/data/build.js';
import { loadCorpusConfig } from '../src/data/corpus-config.js';

const configPath = fileURLToPath(new URL('../../examples/corpus.yaml', import.meta.url));
const cfg = loadCorpusConfig(configPath);
cfg.workers = Number(process.argv[2] ?? availableParallelism());
cfg.output = mkdtempSync(join(tmpdir(), 'mugpt-bench-corpus-'));
const load0 = loadavg()[0];
const t0 = performance.now();
try {
  const { stats } = await buildCorpus(cfg, { progress: false, log: () => {} });
  const wall = (performance.now() - t0) / 1000;
  const MB = 1e6;
  const sum = (f: (s: (typeof stats.sources)[number]) => number): number => stats.sources.reduce((a, s) => a + f(s), 0);
  const read = sum((s) => s.read.bytes);
  const clean = sum((s) => s.read.bytes - s.removed.short.bytes);
  const kept = sum((s) => s.kept.bytes);
  const mixed = sum((s) => s.mix.bytes);
  const train = sum((s) => s.split.train.bytes);
  const rows: Array<[string, number, number]> = [
    ['read + NFC + short filter', stats.seconds.clean, read],
    ['dedup (exact + MinHash-LSH)', stats.seconds.dedup, clean],
    ['mix + 2-pass shuffle + split', stats.seconds.mix, kept + mixed],
    ['decontaminate', stats.seconds.decontaminate, train],
    [`tokenize (GPT-2, ${cfg.workers} workers) + pack`, stats.seconds.tokenize, mixed],
  ];
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
  console.log(`corpus: ${(read / MB).toFixed(1)} MB read, ${stats.packing.train.tokens + stats.packing.val.tokens} tokens packed`);
  console.log('| stage | seconds | MB/s of its input |\n|---|---|---|');
  for (const [name, s, bytes] of rows) console.log(`| ${name} | ${s.toFixed(2)} | ${(bytes / MB / s).toFixed(1)} |`);
  console.log(`| whole build (wall) | ${wall.toFixed(2)} | ${(read / MB / wall).toFixed(1)} |`);
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  rmSync(cfg.output, { recursive: true, force: true });
}
