// The main job's report card: a trained model's accuracy on sotu_cloze and sotu_next (built from the
// speeches its run held out) next to chance, scored with lm-eval's rules (EvalLM) — cloze: acc = the
// word is the greedy continuation; next sentence: acc and acc_norm over four choices (chance 1/4).
import { aggregateMean, multipleChoiceScores, type Aggregate } from './metrics.js';
import type { EvalLM, ProgressFn } from './lm.js';
import { heldOutSpeeches, sotuCloze, sotuClozeChance, sotuNext, type SotuSplit } from './sotu-tasks.js';

export interface SotuReport {
  cloze: { n: number; acc: Aggregate; chance: { word: string; acc: number } };
  next: { n: number; acc: Aggregate; acc_norm: Aggregate; chance: number };
  /** Held-out speeches the documents come from. */
  speeches: number;
}

/** Scores both tasks (all their requests sorted and batched together); see the header. */
export function scoreSotu(lm: EvalLM, split: SotuSplit, onProgress?: ProgressFn): SotuReport {
  const cloze = sotuCloze(split), next = sotuNext(split);
  const requests: Array<[string, string]> = [
    ...cloze.map((d): [string, string] => [d.context, d.continuation]),
    ...next.flatMap((d) => d.choices.map((c): [string, string] => [d.context, ` ${c}`])),
  ];
  const r = lm.loglikelihoodBatch(requests, onProgress);
  const mc = next.map((d, i) => {
    const base = cloze.length + 4 * i;
    return multipleChoiceScores(r.slice(base, base + d.choices.length).map((x) => x.logprob), d.choices, d.gold);
  });
  return {
    cloze: { n: cloze.length, acc: aggregateMean(r.slice(0, cloze.length).map((x) => (x.isGreedy ? 1 : 0))), chance: sotuClozeChance(split) },
    next: { n: next.length, acc: aggregateMean(mc.map((s) => s.acc)), acc_norm: aggregateMean(mc.map((s) => s.acc_norm)), chance: 0.25 },
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
