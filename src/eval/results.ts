// The outputs lm-eval users read: results.json in lm-eval's layout, lm-eval's Markdown table
// (lm_eval/utils.py make_table), and one samples_NAME.jsonl per task.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { TaskResult } from './harness.js';
import { HIGHER_IS_BETTER, type MetricName } from './tasks/task.js';

/** What results.json's "config" records about the run. */
export interface RunConfig {
  model: string;
  maxLength: number;
  batchSize: number;
  numFewshot: number;
  limit: number | null;
  fewshotSeed: number;
}

const AGGREGATION: Record<MetricName, string> = {
  acc: 'mean', acc_norm: 'mean', perplexity: 'perplexity', word_perplexity: 'weighted_perplexity',
  byte_perplexity: 'weighted_perplexity', bits_per_byte: 'bits_per_byte',
};

/** results.json: {"results": {NAME: {"acc,none": …, "acc_stderr,none": …}}, "configs", "versions", "n-shot", "higher_is_better", "n-samples", "config"}. */
export function resultsJson(results: readonly TaskResult[], cfg: RunConfig, seconds: number): Record<string, unknown> {
  const by = <T>(f: (r: TaskResult) => T): Record<string, T> => Object.fromEntries(results.map((r) => [r.task.name, f(r)]));
  return {
    results: by((r) => {
      const out: Record<string, unknown> = { alias: r.task.name };
      for (const [m, a] of Object.entries(r.metrics)) {
        out[`${m},none`] = a!.value;
        out[`${m}_stderr,none`] = a!.stderr ?? 'N/A';
      }
      return out;
    }),
    group_subtasks: by(() => []),
    configs: by((r) => ({
      task: r.task.name,
      dataset_path: r.task.files,
      output_type: r.task.outputType,
      target_delimiter: r.task.targetDelimiter,
      fewshot_delimiter: r.task.fewshotDelimiter,
      num_fewshot: r.numFewshot,
      metric_list: r.task.metrics.map((m) => ({ metric: m, aggregation: AGGREGATION[m], higher_is_better: HIGHER_IS_BETTER[m] })),
      metadata: { version: r.task.version },
    })),
    versions: by((r) => r.task.version),
    'n-shot': by((r) => r.numFewshot),
    higher_is_better: by((r) => Object.fromEntries(r.task.metrics.map((m) => [m, HIGHER_IS_BETTER[m]]))),
    'n-samples': by((r) => r.nSamples),
    config: {
      model: 'mugpt', model_args: cfg.model, batch_size: cfg.batchSize, max_length: cfg.maxLength,
      num_fewshot: cfg.numFewshot, limit: cfg.limit, fewshot_seed: cfg.fewshotSeed,
    },
    total_evaluation_time_seconds: String(seconds),
  };
}

/** lm-eval's results table: | Tasks | Version | Filter | n-shot | Metric | | Value | | Stderr |. */
export function markdownTable(results: readonly TaskResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    Object.entries(r.metrics).forEach(([m, a], i) => {
      rows.push([i === 0 ? r.task.name : '', i === 0 ? String(r.task.version) : '', 'none', String(r.numFewshot), m,
        HIGHER_IS_BETTER[m as MetricName] ? '↑' : '↓', a!.value.toFixed(4), '±', a!.stderr === null ? 'N/A' : a!.stderr.toFixed(4)]);
    });
  }
  const head = ['Tasks', 'Version', 'Filter', 'n-shot', 'Metric', '', 'Value', '', 'Stderr'];
  const right = [false, true, false, true, false, false, true, false, true];
  const width = head.map((h, c) => Math.max(3, [...h].length, ...rows.map((r) => [...r[c]].length)));
  const pad = (s: string, w: number, how: 'left' | 'right' | 'center'): string => {
    const n = w - [...s].length;
    if (how === 'right') return ' '.repeat(n) + s;
    if (how === 'left') return s + ' '.repeat(n);
    return ' '.repeat(Math.floor(n / 2)) + s + ' '.repeat(n - Math.floor(n / 2));
  };
  const line = (cells: string[]): string => `|${cells.join('|')}|`;
  return [
    line(head.map((h, c) => pad(h, width[c], 'center'))),
    line(width.map((w, c) => (right[c] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w)))),
    ...rows.map((r) => line(r.map((x, c) => pad(x, width[c], right[c] ? 'right' : 'left')))),
  ].join('\n') + '\n';
}

/**
 * Writes DIR/samples_NAME.jsonl (with logSamples) and then DIR/results.json, each atomically;
 * results.json comes last, so its presence means the run's outputs are complete.
 */
export function writeResults(dir: string, results: readonly TaskResult[], json: Record<string, unknown>, logSamples: boolean): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  if (logSamples) {
    for (const r of results) {
      const file = join(dir, `samples_${r.task.name}.jsonl`);
      writeFileAtomic(file, r.samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
      written.push(file);
    }
  }
  const file = join(dir, 'results.json');
  writeFileAtomic(file, JSON.stringify(json, null, 2) + '\n');
  written.push(file);
  return written;
}
