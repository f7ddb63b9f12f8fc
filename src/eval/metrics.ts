// Per-document metrics and their aggregates, as lm-eval computes them (lm_eval/api/metrics.py,
// lm_eval/api/task.py process_results):
//   multiple choice: acc = [argmax_i ll_i = gold], acc_norm = [argmax_i ll_i / len(choice_i) = gold]
//     (len in Unicode code points, the choice without its delimiter); mean over documents.
//   loglikelihood:   acc = mean isGreedy, perplexity = exp(−mean ll).
//   rolling:         word_perplexity = exp(−Σll / Σwords), byte_perplexity = exp(−Σll / Σbytes),
//                    bits_per_byte = −Σll / Σbytes / ln 2.
// Standard errors: of a mean, the sample standard deviation (n − 1) / √n (lm-eval's mean_stderr).
// lm-eval bootstraps the perplexity's; here it is the delta method, exp(−m)·stderr(ll), the first-order
// value the bootstrap estimates. The weighted perplexities have none (lm-eval reports N/A).
import { codePoints, pySplitWhitespace, utf8Bytes } from './text.js';

/** Index of the largest value, the first on ties (numpy.argmax). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation ÷ √n; null for fewer than two values (undefined). */
export function meanStderr(xs: readonly number[]): number | null {
  const n = xs.length;
  if (n < 2) return null;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
}

/** acc and acc_norm of one multiple-choice document: 1 or 0 each. */
export function multipleChoiceScores(lls: readonly number[], choices: readonly string[], gold: number): { acc: number; acc_norm: number } {
  const norm = lls.map((ll, i) => ll / codePoints(choices[i]));
  return { acc: argmax(lls) === gold ? 1 : 0, acc_norm: argmax(norm) === gold ? 1 : 0 };
}

/** The words and UTF-8 bytes a rolling document's perplexities divide by (lm-eval's wikitext rule). */
export function rollingWeights(text: string): { words: number; bytes: number } {
  return { words: pySplitWhitespace(text).length, bytes: utf8Bytes(text) };
}

/** One metric's aggregate over the documents, with its standard error (null when it has none). */
export interface Aggregate {
  value: number;
  stderr: number | null;
}

/** Mean of 0/1 (or any) per-document scores, with mean_stderr. */
export function aggregateMean(xs: readonly number[]): Aggregate {
  return { value: mean(xs), stderr: meanStderr(xs) };
}

/** exp(−mean ll) with the delta-method standard error. */
export function aggregatePerplexity(lls: readonly number[]): Aggregate {
  const value = Math.exp(-mean(lls));
  const se = meanStderr(lls);
  return { value, stderr: se === null ? null : value * se };
}

/** exp(−Σll / Σw): word_perplexity and byte_perplexity. */
export function weightedPerplexity(lls: readonly number[], weights: readonly number[]): Aggregate {
  return { value: Math.exp(-sum(lls) / sum(weights)), stderr: null };
}

/** −Σll / Σbytes / ln 2. */
export function bitsPerByte(lls: readonly number[], bytes: readonly number[]): Aggregate {
  return { value: -sum(lls) / sum(bytes) / Math.LN2, stderr: null };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
