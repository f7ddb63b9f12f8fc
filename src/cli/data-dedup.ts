// `mugpt data dedup --input IN.jsonl --output OUT.jsonl [--threshold 0.8] [--ngram 13] [--permutations 128]`:
// exact + MinHash-LSH near-duplicate removal of a JSONL file (documents in a `text` field). The kept
// lines are written byte for byte, in input order, atomically. Two passes over the input: the first
// feeds the texts to dedup() and records which lines were documents, the second copies the kept lines,
// so memory does not grow with the documents' size.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { MugptError, check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { dedup, resolveDedupOptions, type DedupOptions, type DedupResult, type DedupStats } from '../data/dedup.js';
import { fileLinesSync, tooLongMessage } from '../data/readers.js';
import { Progress } from '../report/progress.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of a JSONL line, '' for a blank line, or an error message. */
export function parseDocumentLine(bytes: Uint8Array): { text: string } | { blank: true } | { error: string } {
  let s: string;
  try { s = utf8.decode(bytes); } catch { return { error: 'invalid UTF-8' }; }
  if (s.trim() === '') return { blank: true };
  let obj: unknown;
  try { obj = JSON.parse(s); } catch (err) { return { error: `malformed JSON (${(err as Error).message})` }; }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { error: 'expected a JSON object with a "text" field' };
  const text = (obj as Record<string, unknown>).text;
  if (text === undefined) return { error: 'no "text" field' };
  if (typeof text !== 'string') return { error: `field "text" is ${text === null ? 'null' : Array.isArray(text) ? 'an array' : typeof text}, expected a string` };
  return { text };
}

export interface DedupFileOptions extends DedupOptions {
  /** Stop at the first bad line instead of skipping and counting it. */
  strict?: boolean;
  /** Show progress bars (on a terminal). */
  progress?: boolean;
  /** Called for each skipped line (file:line: message). */
  onSkip?: (message: string) => void;
}

export interface DedupFileResult {
  stats: DedupStats;
  lines: number;
  skippedLines: number;
  blankLines: number;
}

/** Deduplicates a JSONL file into another (see the top of this file). Throws MugptError on bad input. */
export async function dedupJsonlFile(input: string, output: string, opts: DedupFileOptions = {}): Promise<DedupFileResult> {
  resolveDedupOptions(opts);  // validate flags before touching files
  check(existsSync(input), `--input ${input}: no such file`);
  check(statSync(input).isFile(), `--input ${input}: not a file`);
  check(resolve(input) !== resolve(output), `--output must differ from --input (${input})`);
  check(existsSync(dirname(resolve(output))), `--output ${output}: folder ${dirname(output)} does not exist`);
  const size = statSync(input).size;
  check(size > 0, `--input ${input}: the file is empty, there are no documents to deduplicate`);

  // Per line: 1 = a document, 0 = blank or skipped. Grows with the line count only.
  let isDoc = new Uint8Array(1 << 16);
  let lines = 0, skippedLines = 0, blankLines = 0;
  const progress = new Progress(opts.progress ?? false);
  const read = progress.stage('dedup', size);
  function* texts(): Generator<string> {
    for (const { bytes, line, tooLong } of fileLinesSync(input, read.tick)) {
      lines = line;
      if (line >= isDoc.length) { const g = new Uint8Array(isDoc.length * 2); g.set(isDoc); isDoc = g; }
      const r = tooLong === undefined ? parseDocumentLine(bytes) : { error: tooLongMessage(tooLong) };
      if ('blank' in r) { blankLines++; continue; }
      if ('error' in r) {
        const msg = `${input}:${line}: ${r.error}`;
        if (opts.strict) throw new MugptError(`${msg} (--strict; without it such lines are skipped and counted)`);
        skippedLines++;
        opts.onSkip?.(msg);
        continue;
      }
      isDoc[line] = 1;
      yield r.text;
    }
  }
  let result: DedupResult | undefined;
  try {
    result = await dedup(texts(), opts);
    read.done();
  } finally {
    progress.stop();
  }
  const { keep, stats } = result;
  if (stats.documents === 0) {
    throw new MugptError(skippedLines > 0
      ? `--input ${input}: no valid documents (${skippedLines} of ${lines} lines skipped as bad input)`
      : `--input ${input}: no documents (only blank lines)`);
  }

  const writing = new Progress(opts.progress ?? false);
  const write = writing.stage('write', size);
  let doc = 0;
  const newline = Buffer.from('\n');
  try {
    writeFileAtomic(output, (emit) => {
      for (const { bytes, line } of fileLinesSync(input, write.tick)) {
        if (!isDoc[line]) continue;
        if (keep[doc++]) { emit(bytes); emit(newline); }
      }
      // Thrown inside the writer, so the temp file is removed and nothing replaces --output.
      check(doc === keep.length, `--input ${input} changed while it was being deduplicated (${doc} documents on the second read, ${keep.length} on the first)`);
    });
    write.done();
  } finally {
    writing.stop();
  }
  return { stats, lines, skippedLines, blankLines };
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : '0%';
}

function parseNumberFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  check(v.trim() !== '' && Number.isFinite(n), `${flag} expects a number, got '${v}'`);
  return n;
}

/** A human summary of a dedup run (what `mugpt data dedup` prints). */
export function formatDedupSummary(input: string, output: string, r: DedupFileResult): string {
  const s = r.stats;
  const removed = s.exactDuplicates + s.nearDuplicates;
  const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
  return [
    `data dedup: ${input} → ${output}`,
    `  documents  ${s.documents} (${mb(s.bytes)})${r.skippedLines ? `; ${r.skippedLines} bad lines skipped` : ''}`,
    `  removed    ${removed} (${pct(removed, s.documents)} of documents, ${pct(s.bytes - s.keptBytes, s.bytes)} of bytes): ` +
      `${s.exactDuplicates} exact duplicates, ${s.nearDuplicates} near duplicates, in ${s.clusters} clusters`,
    `  kept       ${s.kept} (${mb(s.keptBytes)})`,
    `  MinHash    character ${s.ngram}-grams, ${s.permutations} permutations; LSH ${s.bands} bands × ${s.rows} rows ` +
      `(threshold ${s.threshold}); ${s.candidatePairs} candidate pairs; ${s.seconds.toFixed(2)} s`,
  ].join('\n');
}

/** Registers `dedup` on the `data` command. */
export function registerDedup(data: Command): void {
  data.command('dedup')
    .description('remove exact and near-duplicate documents (MinHash-LSH on character n-grams, SlimPajama settings) from a JSONL file')
    .requiredOption('--input <file>', 'JSONL input, one document per line in a "text" field')
    .requiredOption('--output <file>', 'JSONL output: the kept lines, unchanged, in input order')
    .option('--threshold <j>', 'Jaccard similarity threshold of the LSH', '0.8')
    .option('--ngram <n>', 'character n-gram width', '13')
    .option('--permutations <p>', 'MinHash permutations', '128')
    .option('--bands <b>', 'LSH bands (with --rows; default: optimal for the threshold, 9 × 13 at 0.8)')
    .option('--rows <r>', 'LSH rows per band (with --bands)')
    .option('--keep <rule>', "which document of a cluster is kept: 'first' (input order) or 'longest'", 'first')
    .option('--threads <n>', 'worker threads (default: all cores)')
    .option('--strict', 'stop at the first malformed line instead of skipping and counting it')
    .option('--no-progress', 'no progress bars')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const num = (flag: string): number | undefined => parseNumberFlag(`--${flag}`, o[flag] as string | undefined);
      const input = o.input as string;
      const output = o.output as string;
      let shown = 0;
      const r = await dedupJsonlFile(input, output, {
        threshold: num('threshold'), ngram: num('ngram'), permutations: num('permutations'),
        bands: num('bands'), rows: num('rows'), threads: num('threads'),
        keep: o.keep as 'first' | 'longest', strict: o.strict === true,
        progress: o.progress !== false && process.stderr.isTTY === true,
        onSkip: (m) => { if (shown++ < 20) process.stderr.write(`mugpt: warning: ${m}; skipped\n`); },
      });
      if (shown > 20) process.stderr.write(`mugpt: warning: ${shown - 20} more bad lines skipped\n`);
      process.stdout.write(`${formatDedupSummary(input, output, r)}\n`);
    });
}
