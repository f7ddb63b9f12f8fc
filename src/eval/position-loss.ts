// Loss by token position, as BTLM-3B-8K reports long-context quality (its loss-vs-position figure):
// windows of L tokens are cut from a token stream; in each, the token at position p (1 ≤ p < L) is
// predicted from the p tokens before it, and its cross-entropy −log softmax(logits)[x_p] (nats) is
// added to the bucket of p. A model that extrapolates (ALiBi) keeps its loss flat or falling past its
// training length; learned position embeddings have no rows past n_positions, so L cannot exceed it.
// A window goes through the KV cache in chunks of positions, and the LM head takes a few rows at a
// time (Model.stepLogits), so the [L, V] logits never exist at once.
import { check } from '../errors.js';
import type { Model } from '../model/model.js';
import type { TokenStream } from '../train/loader.js';
import { lineChartSvg, type LineSeries } from '../report/plot.js';

export interface PositionLossOptions {
  /** Tokens per window, L ≥ 2 (positions 1 … L−1 are scored). */
  maxLength: number;
  /** Positions per bucket (the last bucket may be shorter). */
  bucketSize: number;
  /** Score at most this many windows; default every whole window of the stream. */
  maxWindows?: number;
  /** Tokens per forward through the cache; default 256. */
  chunk?: number;
  onProgress?: (tokensDone: number, tokensTotal: number) => void;
}

export interface PositionBucket {
  /** First predicted position of the bucket (inclusive). */
  start: number;
  /** One past its last position. */
  end: number;
  /** Mean cross-entropy of its predictions, nats per token. */
  loss: number;
  /** Predictions averaged: windows × (end − start). */
  count: number;
}

export interface PositionLossResult {
  maxLength: number;
  bucketSize: number;
  windows: number;
  /** Mean over every prediction, nats per token. */
  loss: number;
  buckets: PositionBucket[];
}

/** −log softmax(row)[target] in float64: logsumexp(row) − row[target]. */
export function crossEntropy(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) if (row[j] > max) max = row[j];
  let z = 0;
  for (let j = 0; j < row.length; j++) z += Math.exp(row[j] - max);
  return max + Math.log(z) - row[target];
}

/** Checks L against the model: learned positions stop at n_positions. */
export function checkMaxLength(model: Model, maxLength: number, flag = '--max-length'): void {
  check(Number.isInteger(maxLength) && maxLength >= 2, `${flag}: expected an integer ≥ 2, got ${maxLength}`);
  check(maxLength <= model.maxContext, () => `${flag}: ${maxLength} tokens is past this model's context: it has learned position `
    + `embeddings for ${model.maxContext} positions (n_positions) and no way to go beyond them (only ALiBi models extrapolate); `
    + `give ${flag} ${model.maxContext} or less`);
}

/** Mean loss per position bucket over the stream's windows of maxLength tokens; see the header. */
export function positionLoss(model: Model, stream: TokenStream, opts: PositionLossOptions): PositionLossResult {
  const L = opts.maxLength, S = opts.bucketSize, C = opts.chunk ?? 256;
  checkMaxLength(model, L);
  check(Number.isInteger(S) && S >= 1 && S < L, `--bucket-size: expected an integer in [1, ${L - 1}], got ${S}`);
  check(Number.isInteger(C) && C >= 1, `chunk: expected an integer ≥ 1, got ${C}`);
  let windows = Math.floor(stream.length / L);
  check(windows >= 1, () => `${stream.describe}: ${stream.length} tokens, fewer than one window of ${L} (--max-length)`);
  if (opts.maxWindows !== undefined) {
    check(Number.isInteger(opts.maxWindows) && opts.maxWindows >= 1, `--max-windows: expected an integer ≥ 1, got ${opts.maxWindows}`);
    windows = Math.min(windows, opts.maxWindows);
  }
  const V = model.vocabSize;
  const scaling = model.config.alibi_scaling, dynamic = scaling !== null && !('factor' in scaling);
  const nBuckets = Math.ceil((L - 1) / S);
  const sums = new Float64Array(nBuckets); // Σ loss of bucket b over windows
  const buf = new Uint32Array(L);
  for (let w = 0; w < windows; w++) {
    stream.read(w * L, buf);
    const ids = Array.from(buf); // [L]
    const cache = model.newCache(L);
    // input i predicts token i + 1 (position p = i + 1): inputs 0 … L−2 in chunks; dynamic ALiBi
    // scaling depends on the keys seen, so those models take the whole window at once (as a full forward)
    const inputs = dynamic ? L : L - 1, step = dynamic ? L : C;
    for (let c0 = 0; c0 < inputs; c0 += step) {
      const c1 = Math.min(c0 + step, inputs);
      model.stepLogits(cache, ids.slice(c0, c1), (t0, logits, m) => { // logits [m, V] of inputs c0+t0 …
        for (let k = 0; k < m; k++) {
          const p = c0 + t0 + k + 1;
          if (p < L) sums[Math.floor((p - 1) / S)] += crossEntropy(logits.subarray(k * V, (k + 1) * V), ids[p]);
        }
      });
      opts.onProgress?.(w * (L - 1) + Math.min(c1, L - 1), windows * (L - 1));
    }
  }
  const buckets: PositionBucket[] = [];
  let total = 0;
  for (let b = 0; b < nBuckets; b++) {
    const start = 1 + b * S, end = Math.min(start + S, L);
    const count = windows * (end - start);
    buckets.push({ start, end, loss: sums[b] / count, count });
    total += sums[b];
  }
  return { maxLength: L, bucketSize: S, windows, loss: total / (windows * (L - 1)), buckets };
}

/**
 * The loss-vs-position figure: mean loss of each bucket at its middle position, and a vertical line
 * at the training length when it is known (past it, only extrapolation is measured).
 */
export function positionLossSvg(r: PositionLossResult, o: { model: string; trainingLength?: number }): Promise<string> {
  const series: LineSeries[] = [{ name: o.model, points: r.buckets.map((b) => [(b.start + b.end - 1) / 2, b.loss]) }];
  if (o.trainingLength !== undefined && o.trainingLength < r.maxLength) {
    const ys = r.buckets.map((b) => b.loss).filter(Number.isFinite);
    series.push({ name: `training length (${o.trainingLength})`, points: [[o.trainingLength, Math.min(...ys)], [o.trainingLength, Math.max(...ys)]] });
  }
  return lineChartSvg({
    title: `Loss by position, windows of ${r.maxLength} tokens (${r.windows} windows, buckets of ${r.bucketSize})`,
    xLabel: 'token position', yLabel: 'mean loss (nats/token)', series,
  });
}
