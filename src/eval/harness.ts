// evaluate(lm, tasks): every task's documents → few-shot contexts → requests → scores → per-document
// metrics → lm-eval's aggregates. All requests of a task go to the scorer at once, so it can sort
// them, batch them and share each document's context across its choices.
import { MugptError, check } from '../errors.js';
import { Rng } from '../rng.js';
import type { EvalLM, ProgressFn } from './lm.js';
import { aggregateMean, aggregatePerplexity, bitsPerByte, multipleChoiceScores, rollingWeights, weightedPerplexity, type Aggregate } from './metrics.js';
import { modelInput, type LoglikelihoodResult, type TokenRequest } from './requests.js';
import { docRequests, fewshotPrefix, goldIndex, type Doc, type MetricName, type Task } from './tasks/task.js';

export interface EvaluateOptions {
  /** Solved examples before each document (lm-eval's num_fewshot); default 0. Rolling tasks take none. */
  numFewshot?: number;
  /** Only the first N documents of each task (N ≥ 1), or that fraction of them (0 < N < 1), as lm-eval's limit. */
  limit?: number;
  /** Seed of the few-shot draw (default 1234, lm-eval's). */
  fewshotSeed?: number;
  /** Called as token requests are scored, over all tasks. */
  onProgress?: ProgressFn;
}

/** One document's record (the samples file's line). */
export interface DocSample {
  doc_id: number;
  source: string;
  doc: unknown;
  /** The gold choice's text, or the continuation / text scored. */
  target: string;
  /** The requests: [context, continuation] (rolling: ['', text]). */
  arguments: Array<[string, string]>;
  /** One per request, natural log, summed over the continuation (rolling: the document total). */
  loglikelihoods: number[];
  is_greedy: boolean[];
  /** Where the few-shot examples came from (file:line), in prompt order. */
  fewshot: string[];
  /** Per-document metric values (acc: 0 or 1; perplexity: the log-likelihood; rolling: [ll, words or bytes]). */
  metrics: Partial<Record<MetricName, number | [number, number]>>;
}

export interface TaskResult {
  task: Task;
  numFewshot: number;
  metrics: Partial<Record<MetricName, Aggregate>>;
  samples: DocSample[];
  nSamples: { original: number; effective: number };
}

/** How many documents --limit keeps (lm-eval: ceil(n·limit) for a fraction, else the integer). */
export function limitDocs(n: number, limit: number | undefined): number {
  if (limit === undefined) return n;
  check(Number.isFinite(limit) && limit > 0 && (limit < 1 || Number.isInteger(limit)),
    () => `--limit: expected an integer ≥ 1 or a fraction in (0, 1), got ${limit}`);
  return Math.min(n, limit < 1 ? Math.ceil(n * limit) : limit);
}

/**
 * The few-shot examples of each evaluated document (lm-eval's default sampler): k drawn without
 * replacement from the training split, or k + 1 from the task's own documents with the document
 * itself then dropped; one seeded generator per task, drawing in document order.
 */
export function drawFewshot(task: Task, evaluated: number, k: number, seed: number): Doc[][] {
  if (k === 0) return Array.from({ length: evaluated }, () => []);
  const pool = task.fewshotDocs ?? task.docs;
  const same = task.fewshotDocs === null;
  const n = same ? k + 1 : k;
  check(pool.length >= n, () => `--num-fewshot ${k}: ${task.name} has ${pool.length} ${same ? 'documents and no training split (the examples come from the other documents)' : 'training documents'}, `
    + `fewer than the ${n} the draw needs`);
  const rng = new Rng(seed);
  return Array.from({ length: evaluated }, (_, i) => {
    const picked: number[] = [];
    while (picked.length < n) {
      const j = rng.int(pool.length);
      if (!picked.includes(j)) picked.push(j);
    }
    return picked.filter((j) => !(same && j === i)).slice(0, k).map((j) => pool[j]);
  });
}

/** Runs the tasks on lm; see the header. */
export function evaluate(lm: EvalLM, tasks: readonly Task[], opts: EvaluateOptions = {}): TaskResult[] {
  const k = opts.numFewshot ?? 0;
  check(Number.isInteger(k) && k >= 0, () => `--num-fewshot: expected an integer ≥ 0, got ${k}`);
  const names = new Set<string>();
  for (const t of tasks) {
    check(!names.has(t.name), () => `--task: the name ${t.name} is given twice`);
    names.add(t.name);
  }
  // Everything is encoded and checked before the first forward pass: a bad document fails fast.
  const plans = tasks.map((task) => planTask(lm, task, k, opts));
  const total = plans.reduce((s, p) => s + p.tokens.length, 0);
  let offset = 0;
  return plans.map((p) => {
    const base = offset;
    const scored = lm.scoreTokens(p.tokens, (done) => opts.onProgress?.(base + done, total));
    offset += p.tokens.length;
    return finishTask(p, scored);
  });
}

interface Plan {
  task: Task;
  numFewshot: number;
  docs: Doc[];
  fewshot: Doc[][];
  /** Per document, its requests' strings and, per request, the range of its token requests. */
  requests: Array<Array<[string, string]>>;
  ranges: Array<Array<[number, number]>>;
  tokens: TokenRequest[];
  original: number;
}

function planTask(lm: EvalLM, task: Task, k: number, opts: EvaluateOptions): Plan {
  const n = limitDocs(task.docs.length, opts.limit);
  const docs = task.docs.slice(0, n);
  const shots = task.outputType === 'loglikelihood_rolling' ? 0 : k;
  const fewshot = drawFewshot(task, n, shots, opts.fewshotSeed ?? 1234);
  const tokens: TokenRequest[] = [];
  const requests: Plan['requests'] = [], ranges: Plan['ranges'] = [];
  docs.forEach((doc, i) => {
    const reqs = docRequests(task, doc, fewshotPrefix(task, fewshot[i]));
    requests.push(reqs);
    ranges.push(reqs.map(([ctx, cont]) => {
      const start = tokens.length;
      try {
        const parts = task.outputType === 'loglikelihood_rolling' ? lm.windows(cont) : [lm.encodePair(ctx, cont)];
        for (const t of parts) {
          modelInput(t, lm.maxLength); // throws on a continuation that cannot be scored
          tokens.push(t);
        }
      } catch (err) {
        if (err instanceof MugptError) throw new MugptError(`${task.name}: ${doc.source}: ${err.message}`);
        throw err;
      }
      return [start, tokens.length];
    }));
  });
  return { task, numFewshot: shots, docs, fewshot, requests, ranges, tokens, original: task.docs.length };
}

function finishTask(p: Plan, scored: LoglikelihoodResult[]): TaskResult {
  const { task } = p;
  const samples: DocSample[] = p.docs.map((doc, i) => {
    const per = p.ranges[i].map(([a, b]) => {
      let logprob = 0, isGreedy = true;
      for (let j = a; j < b; j++) { logprob += scored[j].logprob; isGreedy &&= scored[j].isGreedy; }
      return { logprob, isGreedy };
    });
    const lls = per.map((r) => r.logprob);
    const metrics: DocSample['metrics'] = {};
    let target: string;
    if (task.outputType === 'multiple_choice') {
      const gold = goldIndex(doc);
      const s = multipleChoiceScores(lls, doc.choices, gold);
      for (const m of task.metrics) if (m === 'acc' || m === 'acc_norm') metrics[m] = s[m];
      target = typeof doc.text === 'number' ? String(doc.target) : doc.choices[gold];
    } else if (task.outputType === 'loglikelihood') {
      metrics.perplexity = lls[0];
      metrics.acc = per[0].isGreedy ? 1 : 0;
      target = String(doc.target);
    } else {
      const w = rollingWeights(doc.countText ?? String(doc.target));
      metrics.word_perplexity = [lls[0], w.words];
      metrics.byte_perplexity = [lls[0], w.bytes];
      metrics.bits_per_byte = [lls[0], w.bytes];
      target = String(doc.target);
    }
    return {
      doc_id: i, source: doc.source, doc: doc.raw, target, arguments: p.requests[i], loglikelihoods: lls,
      is_greedy: per.map((r) => r.isGreedy), fewshot: p.fewshot[i].map((d) => d.source), metrics,
    };
  });
  const col = (m: MetricName): number[] => samples.map((s) => s.metrics[m] as number);
  const pairs = (m: MetricName): Array<[number, number]> => samples.map((s) => s.metrics[m] as [number, number]);
  const metrics: TaskResult['metrics'] = {};
  for (const m of task.metrics) {
    if (m === 'acc' || m === 'acc_norm') metrics[m] = aggregateMean(col(m));
    else if (m === 'perplexity') metrics[m] = aggregatePerplexity(col(m));
    else if (m === 'bits_per_byte') metrics[m] = bitsPerByte(pairs(m).map((x) => x[0]), pairs(m).map((x) => x[1]));
    else metrics[m] = weightedPerplexity(pairs(m).map((x) => x[0]), pairs(m).map((x) => x[1]));
  }
  return { task, numFewshot: p.numFewshot, metrics, samples, nSamples: { original: p.original, effective: p.docs.length } };
}
