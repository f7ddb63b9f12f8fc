// The main job's report card: a trained model's accuracy on sotu_cloze and sotu_next (built from the
// speeches its run held out) next to chance, through the same harness as `mugpt eval --task`
// (lm-eval's rules) — cloze: acc = the word is the greedy continuation; next sentence: acc and
// acc_norm over four choices (chance 1/4).
import { check } from '../errors.js';
import { evaluate } from './harness.js';
import type { EvalLM, ProgressFn } from './lm.js';
import type { Aggregate } from './metrics.js';
import { heldOutSpeeches, sotuClozeChance, sotuSplitOf } from './sotu-tasks.js';
import { loadTask } from './tasks/index.js';
import { loadRunConfig } from '../train/runconfig.js';

export interface SotuReport {
  cloze: { n: number; acc: Aggregate; chance: { word: string; acc: number } };
  next: { n: number; acc: Aggregate; acc_norm: Aggregate; chance: number };
  /** Held-out speeches the documents come from. */
  speeches: number;
}

/** Scores both tasks of a run config on the sotu corpus; see the header. */
export function scoreSotu(lm: EvalLM, runFile: string, onProgress?: ProgressFn): SotuReport {
  const split = sotuSplitOf(loadRunConfig(runFile));
  const [cloze, next] = evaluate(lm, [loadTask('sotu_cloze', runFile), loadTask('sotu_next', runFile)], { onProgress });
  const { acc } = cloze.metrics, { acc: nextAcc, acc_norm: nextNorm } = next.metrics;
  check(acc !== undefined && nextAcc !== undefined && nextNorm !== undefined, 'sotu tasks: the harness returned no accuracy');
  return {
    cloze: { n: cloze.samples.length, acc, chance: sotuClozeChance(split) },
    next: { n: next.samples.length, acc: nextAcc, acc_norm: nextNorm, chance: 0.25 },
    speeches: heldOutSpeeches(split).length,
  };
}

const pct = (a: Aggregate): string => `${(100 * a.value).toFixed(1)} %${a.stderr === null ? '' : ` ± ${(100 * a.stderr).toFixed(1)}`}`;

/** The report as a small Markdown table. */
export function formatSotuReport(r: SotuReport): string {
  return [
    `held-out tasks, from the ${r.speeches} State of the Union speeches this run did not train on:`,
    '| task | documents | metric | model | chance |',
    '|---|---|---|---|---|',
    `| sotu_cloze (last word, LAMBADA-style) | ${r.cloze.n} | acc | ${pct(r.cloze.acc)} | ${(100 * r.cloze.chance.acc).toFixed(1)} % (always "${r.cloze.chance.word}") |`,
    `| sotu_next (next sentence of 4, HellaSwag-style) | ${r.next.n} | acc | ${pct(r.next.acc)} | ${(100 * r.next.chance).toFixed(0)} % |`,
    `| | | acc_norm | ${pct(r.next.acc_norm)} | ${(100 * r.next.chance).toFixed(0)} % |`,
  ].join('\n');
}
