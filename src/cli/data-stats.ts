// `mugpt data stats OUT/`: documents, bytes and tokens per source, duplicate rates and removal per
// step of a built corpus, as a table, plus SVG plots in OUT/plots/.
import type { Command } from 'commander';
import { formatCorpusStats, readCorpusStats, writeCorpusPlots } from '../data/stats.js';

export function registerStats(data: Command): void {
  data.command('stats')
    .description('per-source documents, bytes, tokens, duplicate rates and removal per step of a built corpus; SVG plots')
    .argument('<dir>', 'the output folder of `mugpt data build`')
    .option('--json', 'print the summary as JSON')
    .option('--no-plots', 'do not write plots')
    .action(async (dir: string, o: { json?: boolean; plots: boolean }) => {
      const s = readCorpusStats(dir);
      if (o.json) process.stdout.write(`${JSON.stringify({ sources: s.sources, totals: s.totals }, null, 2)}\n`);
      else process.stdout.write(formatCorpusStats(s));
      if (o.plots) {
        const paths = await writeCorpusPlots(dir, s);
        process.stderr.write(`plots: ${paths.join(', ')}\n`);
      }
    });
}
