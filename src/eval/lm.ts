// The language-model side of evaluation: lm-eval's three request types on a mugpt model, scored as
// lm-eval's HF backend scores them (src/eval/requests.ts has the rules), but faster on a CPU:
//  - requests whose model inputs share everything before the scored positions (the choices of one
//    multiple-choice document) run that prefix once into a KV cache, then only the continuations,
//    batchSize of them through the weights together, each on its own copy of the prefix's cache;
//  - the others run as batches of up to batchSize rows, right-padded (exact under the causal mask).
// Each log-probability is the kernels' fused softmax cross-entropy of a float32 logits row; sums are float64.
import { check } from '../errors.js';
import { alibiScale } from '../model/alibi.js';
import { usesAlibi } from '../model/config.js';
import type { Model } from '../model/model.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import { encodePair, modelInput, rollingWindows, type LoglikelihoodResult, type TokenRequest } from './requests.js';

export interface EvalLMOptions {
  /** Tokens a request may see (lm-eval's max_length); default the config's n_positions. */
  maxLength?: number;
  /** Rows per forward for requests that share no prefix (default 1). */
  batchSize?: number;
}

export type ProgressFn = (done: number, total: number) => void;

export interface GenerateUntilOptions {
  /** Stop strings; the text is cut before the first of them. The end-of-text token always stops. */
  until?: string[];
  /** Default 256 (lm-eval's max_gen_toks). */
  maxNewTokens?: number;
}

/** The index of the largest logit, the first on ties (torch.argmax). */
function argmaxRow(row: Float32Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

export class EvalLM {
  readonly maxLength: number;
  readonly batchSize: number;
  /** The end-of-text id: an empty context, and the prefix of rolling windows. */
  readonly eot: number;

  constructor(readonly model: Model, readonly tokenizer: Tokenizer, opts: EvalLMOptions = {}) {
    const cfg = model.config;
    const L = opts.maxLength ?? cfg.n_positions;
    check(Number.isInteger(L) && L >= 1, () => `--max-length: expected an integer ≥ 1, got ${String(opts.maxLength)}`);
    check(L <= model.maxContext, () => `--max-length: ${L} is more than the model's context of ${model.maxContext} `
      + '(n_positions; learned position embeddings cannot go past it)');
    this.maxLength = L;
    const B = opts.batchSize ?? 1;
    check(Number.isInteger(B) && B >= 1, () => `--batch-size: expected an integer ≥ 1, got ${String(opts.batchSize)}`);
    this.batchSize = B;
    const eot = tokenizer.eosTokenId ?? model.eosTokenId;
    check(eot !== null, 'evaluation needs an end-of-text token (the empty context and rolling windows start with it); '
      + 'the tokenizer and config.json define none');
    check(eot < model.vocabSize, () => `the end-of-text id ${eot} is outside the model's vocabulary of ${model.vocabSize}`);
    this.eot = eot;
  }

  /** log P(continuation | context) and whether greedy decoding would produce the continuation. */
  loglikelihood(context: string, continuation: string): LoglikelihoodResult {
    return this.loglikelihoodBatch([[context, continuation]])[0];
  }

  /** Many (context, continuation) pairs, sorted and batched; results in the order given. */
  loglikelihoodBatch(requests: ReadonlyArray<readonly [string, string]>, onProgress?: ProgressFn): LoglikelihoodResult[] {
    return this.scoreTokens(requests.map(([c, x]) => this.encodePair(c, x)), onProgress);
  }

  /** lm-eval's pair encoding with this model's tokenizer and end-of-text token. */
  encodePair(context: string, continuation: string): TokenRequest {
    return encodePair(this.tokenizer, this.eot, context, continuation);
  }

  /** The rolling windows of a text (lm-eval's loglikelihood_rolling). */
  windows(text: string): TokenRequest[] {
    return rollingWindows(this.tokenizer.encode(text), this.eot, this.maxLength);
  }

  /** log P(text) in nats: the sum over its rolling windows, each predicted token counted once. */
  loglikelihoodRolling(text: string): number {
    return this.loglikelihoodRollingBatch([text])[0];
  }

  /** Many texts' rolling log-likelihoods, all windows sorted and batched together. */
  loglikelihoodRollingBatch(texts: readonly string[], onProgress?: ProgressFn): number[] {
    const owner: number[] = [], all: TokenRequest[] = [];
    texts.forEach((t, i) => { for (const w of this.windows(t)) { all.push(w); owner.push(i); } });
    const out = new Array<number>(texts.length).fill(0);
    this.scoreTokens(all, onProgress).forEach((r, j) => { out[owner[j]] += r.logprob; });
    return out;
  }

  /**
   * Greedy continuation of context, as lm-eval's generate_until: the context keeps its last
   * maxLength − maxNewTokens tokens, decoding stops at the end-of-text token, a stop string or
   * maxNewTokens, and the text is cut before the first stop string.
   */
  generateUntil(context: string, opts: GenerateUntilOptions = {}): string {
    const until = opts.until ?? [];
    const n = opts.maxNewTokens ?? 256;
    check(Number.isInteger(n) && n >= 1, () => `generateUntil: maxNewTokens must be an integer ≥ 1, got ${String(n)}`);
    check(n < this.maxLength, () => `generateUntil: maxNewTokens ${n} leaves no room for the context within the maximum length ${this.maxLength}`);
    check(Array.isArray(until) && until.every((u) => typeof u === 'string'), 'generateUntil: until must be an array of strings');
    let ids = context === '' ? [this.eot] : this.tokenizer.encode(context);
    ids = ids.slice(Math.max(0, ids.length - (this.maxLength - n)));
    const cache = this.model.newCache(ids.length + n);
    const out: number[] = [];
    const stops = until.filter((u) => u !== '');
    const cut = (s: string): string => stops.reduce((t, u) => t.split(u)[0], s);
    const logits = this.model.step(cache, ids);  // each step's logits in one array, read before the next
    while (out.length < n) {
      const id = argmaxRow(logits);
      if (id === this.eot) break;
      out.push(id);
      const text = this.tokenizer.decode(out);
      if (stops.some((u) => text.includes(u))) return cut(text);
      if (out.length === n) break;
      this.model.step(cache, [id], logits);
    }
    return cut(this.tokenizer.decode(out));
  }

  /**
   * Scores token requests (lm-eval's _loglikelihood_tokens): each continuation token's log-softmax
   * at the position before it, summed; greedy when each is its position's argmax.
   */
  scoreTokens(requests: readonly TokenRequest[], onProgress?: ProgressFn): LoglikelihoodResult[] {
    const inputs = requests.map((r) => modelInput(r, this.maxLength));
    const results = new Array<LoglikelihoodResult>(requests.length);
    let done = 0;
    const finish = (i: number, r: LoglikelihoodResult): void => {
      results[i] = r;
      onProgress?.(++done, requests.length);
    };
    // Requests with the same prefix share its forward pass when the prefix alone sees the same
    // ALiBi slopes as the whole input (BTLM's dynamic scaling changes them with the length).
    const groups = new Map<string, number[]>();
    inputs.forEach((inp, i) => {
      const key = inp.prefix.join(',');
      const g = groups.get(key);
      if (g) g.push(i); else groups.set(key, [i]);
    });
    const singles: number[] = [];
    const shared: number[][] = [];
    for (const g of groups.values()) {
      const p = inputs[g[0]].prefix.length;
      const sameSlopes = g.every((i) => this.slopeScale(p) === this.slopeScale(p + inputs[i].suffix.length));
      if (g.length > 1 && p > 0 && sameSlopes) shared.push(g); else singles.push(...g);
    }
    // Longest first (lm-eval's order): the slowest work and any memory failure come early.
    const len = (i: number): number => inputs[i].prefix.length + inputs[i].suffix.length;
    shared.sort((a, b) => len(b[0]) - len(a[0]));
    for (const g of shared) this.scoreShared(g, requests, inputs, finish);
    singles.sort((a, b) => len(b) - len(a));
    for (let s = 0; s < singles.length;) {
      const batch = [singles[s]];
      const T = len(singles[s]);
      // Padding is exact under the causal mask unless the ALiBi slopes depend on the padded length.
      while (batch.length < this.batchSize && s + batch.length < singles.length) {
        const next = singles[s + batch.length];
        if (len(next) !== T && this.slopeScale(len(next)) !== this.slopeScale(T)) break;
        batch.push(next);
      }
      this.scoreBatch(batch, T, requests, inputs, finish);
      s += batch.length;
    }
    return results;
  }

  private readonly target1 = new Int32Array(1);

  /**
   * log softmax(row)[target] and whether target is the argmax, for a logits row [V]. The log-softmax
   * is the kernels' fused softmax cross-entropy (vectorized exp), which then overwrites the row.
   */
  private scoreRow(row: Float32Array, target: number): { logprob: number; greedy: boolean } {
    const greedy = argmaxRow(row) === target;
    this.target1[0] = target;
    return { logprob: -this.model.kernels.softmaxCrossEntropy(row, this.target1, 1, row.length, 0), greedy };
  }

  private slopeScale(keys: number): number {
    return usesAlibi(this.model.config) ? alibiScale(this.model.config, keys) : 1;
  }

  /**
   * One prefix into the cache, then the requests' scored parts after it, batchSize at a time: each
   * on its own copy of the prefix's cache, their rows through the weights together (stepBatchLogits).
   */
  private scoreShared(
    g: number[], requests: readonly TokenRequest[], inputs: Array<{ prefix: number[]; suffix: number[] }>,
    finish: (i: number, r: LoglikelihoodResult) => void,
  ): void {
    const prefix = inputs[g[0]].prefix;
    const longest = Math.max(...g.map((i) => inputs[i].suffix.length));
    const base = this.model.newCache(prefix.length);
    this.model.step(base, prefix);
    const V = this.model.vocabSize;
    for (let s = 0; s < g.length; s += this.batchSize) {
      const batch = g.slice(s, s + this.batchSize);
      // the flat rows of the batch: request b's continuation token j is row start[b] + j
      const owner: number[] = [], target: number[] = [];
      batch.forEach((i, b) => requests[i].continuation.forEach((tok) => { owner.push(b); target.push(tok); }));
      const lp = new Float64Array(batch.length);
      const greedy = batch.map(() => true);
      const entries = batch.map((i) => ({ cache: base.fork(longest), ids: inputs[i].suffix }));
      this.model.stepBatchLogits(entries, (r0, logits, m) => {
        for (let r = 0; r < m; r++) {
          const b = owner[r0 + r], row = this.scoreRow(logits.subarray(r * V, (r + 1) * V), target[r0 + r]);
          lp[b] += row.logprob;
          if (!row.greedy) greedy[b] = false;
        }
      });
      batch.forEach((i, b) => finish(i, { logprob: lp[b], isGreedy: greedy[b] }));
    }
  }

  /** Requests as rows of one forward, right-padded to T tokens. */
  private scoreBatch(
    batch: number[], T: number, requests: readonly TokenRequest[], inputs: Array<{ prefix: number[]; suffix: number[] }>,
    finish: (i: number, r: LoglikelihoodResult) => void,
  ): void {
    const rows = batch.map((i) => {
      const row = inputs[i].prefix.concat(inputs[i].suffix);
      while (row.length < T) row.push(this.eot);
      return row;
    });
    const V = this.model.vocabSize;
    // The scored rows of [B·T] and, for each, its batch row and continuation token.
    const flat: number[] = [], rowOf: number[] = [], target: number[] = [];
    batch.forEach((i, b) => {
      const p = inputs[i].prefix.length;
      requests[i].continuation.forEach((tok, j) => { flat.push(b * T + p + j); rowOf.push(b); target.push(tok); });
    });
    const lp = new Float64Array(batch.length);
    const greedy = batch.map(() => true);
    this.model.forwardLogits(rows, flat, (k0, logits, m) => {
      for (let k = 0; k < m; k++) {
        const b = rowOf[k0 + k], row = this.scoreRow(logits.subarray(k * V, (k + 1) * V), target[k0 + k]);
        lp[b] += row.logprob;
        if (!row.greedy) greedy[b] = false;
      }
    });
    batch.forEach((i, b) => finish(i, { logprob: lp[b], isGreedy: greedy[b] }));
  }
}
