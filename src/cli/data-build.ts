// `mugpt data build corpus.yaml`: read → NFC → short filter → dedup → mix → split → decontaminate →
// tokenize → pack into shards (src/data/build.ts). A rerun resumes an interrupted build.
import type { Command } from 'commander';
import { buildCorpus } from '../data/build.js';
import { loadCorpusConfig } from '../data/corpus-config.js';
import { sotuCorpusConfig } from '../data/presets.js';
import { MugptError } from '../errors.js';
import { parseIntFlag } from './flags.js';
import { parseThreads, threadsOption } from './threads.js';
import { formatCorpusStats, readCorpusStats } from '../data/stats.js';

export function registerBuild(data: Command): void {
  threadsOption(data.command('build'), "worker threads of dedup and tokenization (default: the config's workers, else all cores)")
    .description('build token shards from the sources of a corpus.yaml (resumes an interrupted build)')
    .argument('[config]', 'corpus.yaml (see examples/corpus.yaml)')
    .option('--preset <name>', "a built-in corpus instead of a config: 'sotu' (State of the Union addresses)")
    .option('--output <dir>', "output folder (overrides the config's output; --preset default: runs-out/sotu)")
    .option('--seq-len <n>', 'tokens per sequence (overrides seq_len)')
    .option('--workers <n>', 'the same as --threads (the older name)')
    .option('--no-progress', 'no progress bars')
    .action(async (config: string | undefined, o: { preset?: string; output?: string; seqLen?: string; workers?: string; threads?: string; progress: boolean }) => {
      if (!config && !o.preset) throw new MugptError('data build: give a corpus.yaml or --preset sotu');
      if (config && o.preset) throw new MugptError('data build: give either a corpus.yaml or --preset, not both');
      let cfg;
      if (o.preset) {
        if (o.preset !== 'sotu') throw new MugptError(`--preset: unknown preset '${o.preset}' (known: sotu)`);
        cfg = sotuCorpusConfig({ output: o.output ?? 'runs-out/sotu' });
      } else cfg = loadCorpusConfig(config!);
      if (o.output) cfg.output = o.output;
      if (o.seqLen !== undefined) cfg.seqLen = parseIntFlag('--seq-len', o.seqLen, 2);
      if (o.threads !== undefined) cfg.workers = parseThreads(o.threads);
      else if (o.workers !== undefined) cfg.workers = parseIntFlag('--workers', o.workers, 1);
      const r = await buildCorpus(cfg, { progress: o.progress && Boolean(process.stderr.isTTY) });
      if (r.skipped.length > 0 || r.reusedShards > 0) {
        process.stderr.write(`resumed: stages reused: ${r.skipped.join(', ') || 'none'}; shards reused: ${r.reusedShards}\n`);
      }
      process.stdout.write(formatCorpusStats(readCorpusStats(r.output)));
      process.stdout.write(`wrote ${r.output}/index.json and stats.json\n`);
    });
}
