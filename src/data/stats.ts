// `mugpt data stats OUT/`: what a corpus build produced and removed, per source — documents, bytes
// and tokens, duplicate rates, removal per step — as a table and as SVG bar charts (report/plot.ts).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { barChartSvg } from '../report/plot.js';
import type { CorpusStats, SourceStats } from './build.js';
import { readShardIndex, type ShardIndex } from './shards.js';

export interface SourceSummary {
  name: string;
  documentsRead: number;
  bytesRead: number;
  badInput: number;
  /** Fractions of the documents (and bytes) read that each step removed. */
  shortRate: number;
  duplicateRate: number;
  duplicateByteRate: number;
  keptDocuments: number;
  keptBytes: number;
  multiplier: number;
  trainDocuments: number;
  valDocuments: number;
  decontaminated: number;
  trainTokens: number;
  valTokens: number;
}

export interface CorpusSummary {
  sources: SourceSummary[];
  totals: Omit<SourceSummary, 'name' | 'multiplier'>;
  index: ShardIndex;
  stats: CorpusStats;
}

/** Reads stats.json and index.json of a build's output folder. */
export function readCorpusStats(dir: string): CorpusSummary {
  const path = join(dir, 'stats.json');
  if (!existsSync(path)) throw new MugptError(`${path}: not found; run 'mugpt data build' to produce ${dir} first`);
  let stats: CorpusStats;
  try { stats = JSON.parse(readFileSync(path, 'utf8')) as CorpusStats; } catch (err) {
    throw new MugptError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (stats.format !== 'mugpt-corpus-stats' || !Array.isArray(stats.sources)) throw new MugptError(`${path}: not a mugpt corpus stats file ('format' must be 'mugpt-corpus-stats')`);
  const index = readShardIndex(dir);
  const rate = (n: number, d: number): number => (d > 0 ? n / d : 0);
  const summarize = (s: SourceStats): SourceSummary => {
    const afterShort = s.read.documents - s.removed.short.documents;
    return {
      name: s.name,
      documentsRead: s.read.documents,
      bytesRead: s.read.bytes,
      badInput: Object.values(s.issues).reduce((a, n) => a + n, 0),
      shortRate: rate(s.removed.short.documents, s.read.documents),
      duplicateRate: rate(s.removed.duplicate.documents, afterShort),
      duplicateByteRate: rate(s.removed.duplicate.bytes, s.read.bytes - s.removed.short.bytes),
      keptDocuments: s.kept.documents,
      keptBytes: s.kept.bytes,
      multiplier: s.mix.multiplier,
      trainDocuments: s.split.train.documents - s.removed.decontaminated.documents,
      valDocuments: s.split.val.documents,
      decontaminated: s.removed.decontaminated.documents,
      trainTokens: s.tokens.train,
      valTokens: s.tokens.val,
    };
  };
  const sources = stats.sources.map(summarize);
  const sum = (k: keyof SourceSummary): number => sources.reduce((a, s) => a + (s[k] as number), 0);
  const all = stats.sources;
  const totRead = all.reduce((a, s) => a + s.read.documents, 0);
  const totShort = all.reduce((a, s) => a + s.removed.short.documents, 0);
  const totDup = all.reduce((a, s) => a + s.removed.duplicate.documents, 0);
  const totDupBytes = all.reduce((a, s) => a + s.removed.duplicate.bytes, 0);
  const totShortBytes = all.reduce((a, s) => a + s.removed.short.bytes, 0);
  const totals = {
    documentsRead: totRead, bytesRead: sum('bytesRead'), badInput: sum('badInput'),
    shortRate: rate(totShort, totRead), duplicateRate: rate(totDup, totRead - totShort),
    duplicateByteRate: rate(totDupBytes, sum('bytesRead') - totShortBytes),
    keptDocuments: sum('keptDocuments'), keptBytes: sum('keptBytes'),
    trainDocuments: sum('trainDocuments'), valDocuments: sum('valDocuments'), decontaminated: sum('decontaminated'),
    trainTokens: sum('trainTokens'), valTokens: sum('valTokens'),
  };
  return { sources, totals, index, stats };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const mb = (b: number): string => (b / 1024 / 1024).toFixed(2);

/** The summary as an aligned text table. */
export function formatCorpusStats(s: CorpusSummary): string {
  const head = ['source', 'docs read', 'MB read', 'bad input', 'short', 'dup docs', 'dup bytes', 'kept docs', 'mix ×', 'train docs', 'val docs', 'decontam.', 'train tokens', 'val tokens'];
  const row = (name: string, r: Omit<SourceSummary, 'name' | 'multiplier'>, m: string): string[] => [
    name, String(r.documentsRead), mb(r.bytesRead), String(r.badInput), pct(r.shortRate), pct(r.duplicateRate), pct(r.duplicateByteRate),
    String(r.keptDocuments), m, String(r.trainDocuments), String(r.valDocuments), String(r.decontaminated), String(r.trainTokens), String(r.valTokens),
  ];
  const rows = [head, ...s.sources.map((x) => row(x.name, x, x.multiplier.toFixed(3))), row('total', s.totals, '')];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  const p = s.stats.packing;
  const shards = `${s.index.splits.train.length} train + ${s.index.splits.val.length} val shards, ${s.index.dtype}, seq_len ${s.index.seq_len}, ` +
    `${p.train.sequences} + ${p.val.sequences} sequences (${p.train.tokens} + ${p.val.tokens} tokens packed, ${p.train.droppedTailTokens} + ${p.val.droppedTailTokens} tail tokens dropped), tokenizer ${s.index.tokenizer}`;
  return `${lines.join('\n')}\n${shards}\n`;
}

/** Writes the SVG plots of a build into dir/plots/ and returns their paths. */
export async function writeCorpusPlots(dir: string, s: CorpusSummary = readCorpusStats(dir)): Promise<string[]> {
  const out = join(dir, 'plots');
  mkdirSync(out, { recursive: true });
  const charts: Array<[string, Promise<string>]> = [
    ['bytes-per-step.svg', barChartSvg({
      title: 'Bytes per source after each step', xLabel: 'source', yLabel: 'MB',
      bars: s.stats.sources.flatMap((x) => [
        { label: x.name, group: '1 read', value: x.read.bytes / 2 ** 20 },
        { label: x.name, group: '2 after short filter', value: (x.read.bytes - x.removed.short.bytes) / 2 ** 20 },
        { label: x.name, group: '3 after dedup', value: x.kept.bytes / 2 ** 20 },
        { label: x.name, group: '4 mixed', value: x.mix.bytes / 2 ** 20 },
      ]),
    })],
    ['removal-rates.svg', barChartSvg({
      title: 'Documents removed per step (% of the step input)', xLabel: 'source', yLabel: '%',
      bars: s.sources.flatMap((x) => [
        { label: x.name, group: 'short filter', value: 100 * x.shortRate },
        { label: x.name, group: 'duplicates', value: 100 * x.duplicateRate },
        { label: x.name, group: 'decontamination', value: x.trainDocuments + x.decontaminated > 0 ? (100 * x.decontaminated) / (x.trainDocuments + x.decontaminated) : 0 },
      ]),
    })],
    ['tokens.svg', barChartSvg({
      title: 'Tokens per source and split', xLabel: 'source', yLabel: 'tokens',
      bars: s.sources.flatMap((x) => [
        { label: x.name, group: 'train', value: x.trainTokens },
        { label: x.name, group: 'val', value: x.valTokens },
      ]),
    })],
  ];
  const paths: string[] = [];
  for (const [name, svg] of charts) {
    const p = join(out, name);
    writeFileAtomic(p, await svg);
    paths.push(p);
  }
  return paths;
}
