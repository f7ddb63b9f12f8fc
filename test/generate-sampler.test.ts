import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyRepetitionPenalty, applyTemperature, applyTopK, applyTopP, argmax, sampleSoftmax, Sampler,
  type SamplingParams,
} from '../src/generate/sampler.js';
import { Rng } from '../src/rng.js';
import { MugptError } from '../src/errors.js';
import { readFileSync } from 'node:fs';
import { fixture } from './helpers.js';

// ---- Straightforward re-implementations of Hugging Face's processors (transformers, generation/logits_process.py),
// written line by line from the Python, on plain arrays.

/** TopKLogitsWarper: indices_to_remove = scores < torch.topk(scores, top_k)[0][..., -1, None]. */
function hfTopK(scores: number[], topK: number): number[] {
  const k = Math.min(Math.max(topK, 1), scores.length);
  const kth = [...scores].sort((a, b) => b - a)[k - 1];
  return scores.map((s) => (s < kth ? -Infinity : s));
}

/**
 * TopPLogitsWarper: sorted_logits, sorted_indices = torch.sort(scores, descending=False) (stable);
 * cumulative_probs = sorted_logits.softmax(-1).cumsum(-1); remove cumulative_probs <= 1 - top_p;
 * sorted_indices_to_remove[..., -1:] = 0.
 */
function hfTopP(scores: number[], topP: number): number[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const sorted = order.map((i) => scores[i]);
  const max = Math.max(...sorted);
  const exps = sorted.map((s) => Math.exp(s - max));
  const total = exps.reduce((a, b) => a + b, 0);
  const out = [...scores];
  let cum = 0;
  for (let j = 0; j < order.length; j++) {
    cum += exps[j] / total;
    if (cum <= 1 - topP && j < order.length - 1) out[order[j]] = -Infinity;
  }
  return out;
}

/** RepetitionPenaltyLogitsProcessor: gather, where(score < 0, score * penalty, score / penalty), scatter. */
function hfRepetition(scores: number[], inputIds: number[], penalty: number): number[] {
  const out = [...scores];
  for (const id of inputIds) {
    const s = scores[id];
    out[id] = Math.fround(s < 0 ? s * Math.fround(penalty) : s / Math.fround(penalty));
  }
  return out;
}

function hfProcess(logits: number[], seen: number[], p: SamplingParams): number[] {
  let s = logits.map(Math.fround);
  if (p.repetitionPenalty !== 1) s = hfRepetition(s, seen, p.repetitionPenalty);
  if (p.temperature !== 1) s = s.map((x) => Math.fround(x / Math.fround(p.temperature)));
  if (p.topK > 0) s = hfTopK(s, p.topK);
  if (p.topP < 1) s = hfTopP(s, p.topP);
  return s;
}

function softmax(s: number[]): number[] {
  const max = Math.max(...s);
  const e = s.map((x) => Math.exp(x - max));
  const t = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / t);
}

const kept = (s: ArrayLike<number>): number[] => Array.from(s).flatMap((x, i) => (x === -Infinity ? [] : [i]));

/** Random logits; with `ties`, rounded to halves so that many values coincide. */
function randomLogits(rng: Rng, V: number, ties: boolean): number[] {
  return Array.from({ length: V }, () => {
    const x = (rng.nextFloat() * 2 - 1) * 4;
    return ties ? Math.round(x * 2) / 2 : x;
  });
}

test('top-k keeps exactly the tokens HF keeps, ties with the k-th included', () => {
  assert.deepEqual(kept(withTopK([1, 3, 3, 2], 1)), [1, 2]); // both tied at the top survive k = 1
  assert.deepEqual(kept(withTopK([1, 3, 3, 2], 3)), [1, 2, 3]);
  assert.deepEqual(kept(withTopK([1, 3, 3, 2], 4)), [0, 1, 2, 3]);
  assert.deepEqual(kept(withTopK([1, 3, 3, 2], 9)), [0, 1, 2, 3]);
  const rng = new Rng(11);
  for (let trial = 0; trial < 300; trial++) {
    const V = 1 + Math.floor(rng.nextFloat() * 300);
    const logits = randomLogits(rng, V, trial % 2 === 0);
    const k = 1 + Math.floor(rng.nextFloat() * (V + 2));
    assert.deepEqual(kept(withTopK(logits, k)), kept(hfTopK(logits.map(Math.fround), k)), `trial ${trial} V ${V} k ${k}`);
  }
});

function withTopK(logits: number[], k: number): Float32Array {
  const s = Float32Array.from(logits);
  applyTopK(s, k);
  return s;
}

function withTopP(logits: number[], p: number): Float32Array {
  const s = Float32Array.from(logits);
  applyTopP(s, p);
  return s;
}

test('top-p keeps exactly the tokens HF keeps, at the edges too', () => {
  // Four equal logits: probabilities 1/4 each (exact), cumulative 0.25, 0.5, 0.75, 1 over ids 0..3.
  const flat = [0, 0, 0, 0];
  assert.deepEqual(kept(withTopP(flat, 0.5)), [2, 3]);   // cumulative ≤ 0.5 removed: the tie goes to the higher ids
  assert.deepEqual(kept(withTopP(flat, 0.25)), [3]);     // ≤ 0.75 removed
  assert.deepEqual(kept(withTopP(flat, 0.75)), [1, 2, 3]);
  assert.deepEqual(kept(withTopP(flat, 1)), [0, 1, 2, 3]);
  assert.deepEqual(kept(withTopP(flat, 1e-9)), [3]);     // always at least one
  // One dominant token: any top_p below its probability keeps it alone.
  assert.deepEqual(kept(withTopP([0, 10, 0], 0.9)), [1]);
  // Already removed tokens stay removed and do not count.
  assert.deepEqual(kept(withTopP([-Infinity, 0, 0, -Infinity], 0.5)), [2]);
  assert.deepEqual(kept(withTopP([-Infinity, 5, -Infinity], 0.1)), [1]);

  const rng = new Rng(12);
  const ps = [1e-6, 0.05, 0.3, 0.5, 0.8, 0.9, 0.95, 0.999, 1];
  for (let trial = 0; trial < 300; trial++) {
    const V = 1 + Math.floor(rng.nextFloat() * 300);
    const logits = randomLogits(rng, V, trial % 2 === 0);
    const p = ps[trial % ps.length];
    assert.deepEqual(kept(withTopP(logits, p)), kept(hfTopP(logits.map(Math.fround), p)), `trial ${trial} V ${V} p ${p}`);
  }
  // A large vocabulary with a long tail, as a language model gives: most tokens fall below the
  // early cut and are never sorted.
  for (const p of ps) {
    const logits = Array.from({ length: 5000 }, () => 3 * gaussian(rng));
    assert.deepEqual(kept(withTopP(logits, p)), kept(hfTopP(logits.map(Math.fround), p)), `long tail p ${p}`);
  }
});

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
}

test('repetition penalty divides positive and multiplies negative logits of seen ids, once each', () => {
  const s = Float32Array.from([2, -2, 1, 0, 3]);
  applyRepetitionPenalty(s, [0, 1, 3], 2);
  assert.deepEqual(Array.from(s), [1, -4, 1, 0, 3]);
  const t = Float32Array.from([2, -2]);
  applyRepetitionPenalty(t, [0, 1], 0.5); // < 1 rewards repetition
  assert.deepEqual(Array.from(t), [4, -1]);
  const u = Float32Array.from([0.3, -0.7]);
  applyRepetitionPenalty(u, [0, 1], 1.3);
  assert.deepEqual(Array.from(u), hfRepetition([Math.fround(0.3), Math.fround(-0.7)], [0, 1], 1.3));
});

test('temperature divides; argmax takes the lowest id among ties', () => {
  const s = Float32Array.from([1, -3, 0.5]);
  applyTemperature(s, 0.5);
  assert.deepEqual(Array.from(s), [2, -6, 1]);
  assert.throws(() => applyTemperature(Float32Array.from([0, 5]), 1e-39), /temperature 1e-39 is too small/);
  assert.equal(argmax(Float32Array.from([1, 5, 5, 2])), 1);
  assert.equal(argmax(Float32Array.from([-Infinity, -Infinity])), 0);
});

test('greedy (temperature 0) is the argmax after the repetition penalty, and uses no randomness', () => {
  const rng = new Rng(1);
  const sampler = new Sampler(4, { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 2 }, rng);
  const logits = Float32Array.from([1, 3, 2.5, -1]);
  assert.equal(sampler.next(logits), 1);
  sampler.observe([1]); // 3 / 2 = 1.5 < 2.5
  assert.equal(sampler.next(logits), 2);
  sampler.observe([2]); // now [1, 1.5, 1.25, -1]
  assert.equal(sampler.next(logits), 1);
  assert.equal(rng.nextUint32(), new Rng(1).nextUint32(), 'greedy must not draw from the generator');
});

test('seeded sampling is reproducible and follows the processed softmax (chi-square)', () => {
  const params: SamplingParams = { temperature: 0.7, topK: 6, topP: 0.9, repetitionPenalty: 1.3 };
  const logits = [1.2, 0.4, -0.3, 2.0, 1.9, 0.0, -1.5, 0.8, 1.2, -0.2];
  const seen = [3, 6, 7];
  const expected = softmax(hfProcess(logits, seen, params));
  const draw = (seed: number, n: number): number[] => {
    const sampler = new Sampler(logits.length, params, new Rng(seed));
    sampler.observe(seen);
    const x = Float32Array.from(logits);
    return Array.from({ length: n }, () => sampler.next(x));
  };
  assert.deepEqual(draw(5, 200), draw(5, 200));
  assert.notDeepEqual(draw(5, 200), draw(6, 200));

  const n = 40_000;
  const counts = new Array(logits.length).fill(0);
  for (const id of draw(2024, n)) counts[id]++;
  let chi2 = 0;
  let df = -1;
  for (let i = 0; i < logits.length; i++) {
    if (expected[i] === 0) {
      assert.equal(counts[i], 0, `token ${i} was removed but sampled`);
      continue;
    }
    df++;
    chi2 += (counts[i] - n * expected[i]) ** 2 / (n * expected[i]);
  }
  assert.ok(df >= 3, `the test needs several kept tokens, got ${df + 1}`);
  assert.ok(chi2 < chiSquareQuantile999(df), `chi2 ${chi2.toFixed(2)} with ${df} degrees of freedom`);
});

/** The 0.999 quantile of chi-square(df), Wilson–Hilferty approximation (z = 3.0902). */
function chiSquareQuantile999(df: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + 3.0902 * Math.sqrt(a)) ** 3;
}

test('sampling never picks a removed token and fails clearly when all are removed', () => {
  const rng = new Rng(9);
  const s = Float32Array.from([-Infinity, 0, -Infinity]);
  for (let i = 0; i < 100; i++) assert.equal(sampleSoftmax(s, rng), 1);
  assert.throws(() => sampleSoftmax(Float32Array.from([-Infinity, -Infinity]), rng), MugptError);
});

test('non-finite logits from the model are an error, not a silent token', () => {
  const sampler = new Sampler(3, { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 }, new Rng(0));
  assert.throws(() => sampler.next(Float32Array.from([0, NaN, 1])), /non-finite logit \(NaN\) for token 1/);
  assert.throws(() => sampler.next(Float32Array.from([0, Infinity, 1])), /non-finite/);
  assert.throws(() => sampler.next(Float32Array.from([0, 1])), /2 logits, expected .* 3/);
});

interface WarperCase {
  logits: Array<number | null>; seen: number[]; repetition_penalty: number; temperature: number;
  top_k: number; top_p: number; processed: Array<number | null>;
}

test('the processors give PyTorch\'s float32 results of HF\'s code, bit for bit (tools/hf_warpers_reference.py)', () => {
  const { cases } = JSON.parse(readFileSync(fixture('generate', 'warpers.json'), 'utf8')) as { cases: WarperCase[] };
  assert.ok(cases.length >= 80);
  const inf = (a: Array<number | null>): number[] => a.map((x) => (x === null ? -Infinity : x));
  cases.forEach((c, i) => {
    const s = Float32Array.from(inf(c.logits));
    if (c.repetition_penalty !== 1 && c.seen.length) applyRepetitionPenalty(s, [...new Set(c.seen)], c.repetition_penalty);
    if (c.temperature !== 1) applyTemperature(s, c.temperature);
    if (c.top_k > 0) applyTopK(s, c.top_k);
    if (c.top_p < 1) applyTopP(s, c.top_p);
    assert.deepEqual(Array.from(s), Array.from(Float32Array.from(inf(c.processed))), `case ${i}: ${JSON.stringify({ ...c, logits: undefined, processed: undefined })}`);
  });
});
