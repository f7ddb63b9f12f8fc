// Turning logits into the next token, with Hugging Face's logits processors and their order:
// repetition penalty → temperature → top-k → top-p → sample from the softmax (or argmax when greedy).
//
// Each processor works in place on a float32 copy of the logits [V], as HF's do on float32 tensors;
// the softmax sums of top-p and sampling are taken in float64. Removed tokens become −Infinity.

import { check, MugptError } from '../errors.js';
import { Rng } from '../rng.js';

export interface SamplingParams {
  /** 0: greedy argmax (after the repetition penalty, as HF's greedy search). */
  temperature: number;
  /** 0: off. */
  topK: number;
  /** 1: off. */
  topP: number;
  /** 1: off. */
  repetitionPenalty: number;
}

/**
 * HF RepetitionPenaltyLogitsProcessor: for every id in `uniqueIds` (each listed once), a negative logit is
 * multiplied by the penalty and any other divided by it, so penalty > 1 makes seen tokens less likely.
 */
export function applyRepetitionPenalty(scores: Float32Array, uniqueIds: ArrayLike<number>, penalty: number): void {
  const p = Math.fround(penalty);
  for (let i = 0; i < uniqueIds.length; i++) {
    const id = uniqueIds[i];
    const s = scores[id];
    scores[id] = s < 0 ? s * p : s / p;
  }
}

/** HF TemperatureLogitsWarper: scores / temperature (temperature > 0). */
export function applyTemperature(scores: Float32Array, temperature: number): void {
  const t = Math.fround(temperature);
  for (let i = 0; i < scores.length; i++) {
    const x = scores[i];
    scores[i] = x / t;
    // A positive logit overflowing to +Infinity would turn the softmax into NaN.
    if (scores[i] === Infinity && x !== Infinity) {
      throw new MugptError(`temperature ${temperature} is too small: logit ${x} / temperature overflows float32`);
    }
  }
}

/**
 * HF TopKLogitsWarper: removes every token whose score is below the k-th largest score, so tokens tied
 * with the k-th are all kept. k ≥ V (or 0, "off") changes nothing. `scratch` is a buffer of at least V floats.
 */
export function applyTopK(scores: Float32Array, k: number, scratch: Float32Array = new Float32Array(scores.length)): void {
  const V = scores.length;
  if (k <= 0 || k >= V) return;
  const a = scratch.subarray(0, V);
  a.set(scores);
  const threshold = selectAscending(a, V - k);
  for (let i = 0; i < V; i++) if (scores[i] < threshold) scores[i] = -Infinity;
}

/** Largest vocabulary the sort keys of applyTopP can index (2^21 ids beside a 32-bit value key). */
export const MAX_SORT_VOCAB = 2 ** 21;

/**
 * HF TopPLogitsWarper: sort the scores ascending, take the cumulative softmax, remove the tokens whose
 * cumulative probability is ≤ 1 − topP, and always keep the most probable one. Tied scores sort by id
 * (a stable ascending sort), so of tokens tied at the cut the lower ids go first. topP ≥ 1 changes nothing.
 * `keys` and `weights` are scratch of at least V doubles.
 */
export function applyTopP(
  scores: Float32Array, topP: number,
  keys: Float64Array = new Float64Array(scores.length), weights: Float64Array = new Float64Array(scores.length),
): void {
  const V = scores.length;
  if (topP >= 1) return;
  check(V <= MAX_SORT_VOCAB, `top-p supports vocabularies up to ${MAX_SORT_VOCAB} tokens, got ${V}`);
  // Tokens already at −Infinity have probability 0: they sort first, add 0 to the sum and stay removed.
  let max = -Infinity;
  let n = 0;
  for (let i = 0; i < V; i++) {
    if (scores[i] > max) max = scores[i];
    if (scores[i] !== -Infinity) n++;
  }
  if (n <= 1) return;
  let sum = 0;
  for (let i = 0; i < V; i++) sum += weights[i] = Math.exp(scores[i] - max);
  // Only the head needs sorting: the tokens with weight < cut sort before all others and together hold
  // less than n·cut = (1 − topP)/2 of the mass, so their cumulative probability is ≤ 1 − topP: removed.
  const cut = (0.5 * (1 - topP) / n) * sum;
  // Each head token becomes one double: its score's order-preserving 32-bit key · 2^21 + its id, so one
  // native numeric sort orders by (score, id).
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, V);
  let below = 0;
  let m = 0;
  for (let i = 0; i < V; i++) {
    const w = weights[i];
    if (w === 0) continue;
    if (w < cut) {
      below += w;
      scores[i] = -Infinity;
      continue;
    }
    const b = bits[i];
    const key = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[m++] = key * MAX_SORT_VOCAB + i;
  }
  const sorted = keys.subarray(0, m).sort();
  // Cumulative probability from the smallest up; the last (largest) token is always kept.
  let cum = below / sum;
  for (let j = 0; j < m - 1; j++) {
    const id = sorted[j] % MAX_SORT_VOCAB;
    cum += weights[id] / sum;
    if (cum > 1 - topP) break;
    scores[id] = -Infinity;
  }
}

/** The index of the largest score, the lowest index among ties (torch.argmax). */
export function argmax(scores: Float32Array): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

/**
 * Draws an index with probability softmax(scores)[i], from one uniform number of rng.
 * `weights` is scratch of at least V doubles.
 */
export function sampleSoftmax(scores: Float32Array, rng: Rng, weights: Float64Array = new Float64Array(scores.length)): number {
  const V = scores.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (scores[i] > max) max = scores[i];
  if (max === -Infinity) throw new MugptError('sampling: every token was removed (all scores are −Infinity)');
  let total = 0;
  for (let i = 0; i < V; i++) total += weights[i] = Math.exp(scores[i] - max);
  const u = rng.nextFloat() * total;
  let acc = 0;
  let last = 0;
  for (let i = 0; i < V; i++) {
    const w = weights[i];
    if (w === 0) continue;
    acc += w;
    last = i;
    if (u < acc) return i;
  }
  return last; // rounding left u ≥ acc: the last token with weight
}

/**
 * Quickselect (Hoare partition, median-of-three pivot): the value that would be at `target` in the
 * ascending sort of `a`, in O(n) on average. Reorders `a`.
 */
function selectAscending(a: Float32Array, target: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const x = a[lo], y = a[(lo + hi) >> 1], z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/**
 * The per-sequence sampler: remembers the ids seen (prompt and generated, for the repetition penalty),
 * owns the scratch buffers, and picks each next token.
 */
export class Sampler {
  private readonly scores: Float32Array;   // [V] processed copy of the logits
  private readonly scratch: Float32Array;  // [V] top-k selection
  private readonly keys: Float64Array;     // [V] top-p sort keys
  private readonly weights: Float64Array;  // [V] softmax weights of top-p and sampling
  private readonly seenMask: Uint8Array;   // [V] 1 where the id occurred
  private readonly seenIds: number[] = []; // unique ids in order of first occurrence

  constructor(readonly vocabSize: number, readonly params: SamplingParams, readonly rng: Rng) {
    this.scores = new Float32Array(vocabSize);
    this.scratch = params.topK > 0 ? new Float32Array(vocabSize) : new Float32Array(0);
    this.keys = params.temperature > 0 && params.topP < 1 ? new Float64Array(vocabSize) : new Float64Array(0);
    this.weights = params.temperature > 0 ? new Float64Array(vocabSize) : new Float64Array(0);
    this.seenMask = new Uint8Array(vocabSize);
  }

  /** Records ids of the context (the prompt, then each generated token). */
  observe(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!this.seenMask[id]) {
        this.seenMask[id] = 1;
        this.seenIds.push(id);
      }
    }
  }

  /** The next token for `logits` [V]; does not record it (call observe). */
  next(logits: Float32Array): number {
    const { temperature, topK, topP, repetitionPenalty } = this.params;
    check(logits.length === this.vocabSize,
      () => `sampling: the model returned ${logits.length} logits, expected its vocabulary size ${this.vocabSize}`);
    const s = this.scores;
    for (let i = 0; i < s.length; i++) {
      const x = logits[i];
      if (!(x < Infinity)) throw new MugptError(`sampling: the model returned a non-finite logit (${x}) for token ${i}`);
      s[i] = x;
    }
    if (repetitionPenalty !== 1) applyRepetitionPenalty(s, this.seenIds, repetitionPenalty);
    if (temperature === 0) return argmax(s);
    if (temperature !== 1) applyTemperature(s, temperature);
    if (topK > 0) applyTopK(s, topK, this.scratch);
    if (topP < 1) applyTopP(s, topP, this.keys, this.weights);
    return sampleSoftmax(s, this.rng, this.weights);
  }
}
