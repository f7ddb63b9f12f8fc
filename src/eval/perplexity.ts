// Held-out loss and perplexity, as the papers report them (Cerebras-GPT: Pile test cross-entropy;
// BTLM: SlimPajama test loss): mean next-token cross-entropy in nats over non-overlapping windows of
// a token stream, each window scored on its T − 1 next-token predictions; and a whole text scored
// with lm-eval's rolling windows (textPerplexity). Runs on any loaded model, quantized ones included.
import { check } from '../errors.js';
import type { Model } from '../model/model.js';
import type { TokenStream } from '../train/loader.js';
import type { EvalLM, ProgressFn } from './lm.js';
import { bitsPerByte, rollingWeights, weightedPerplexity } from './metrics.js';

export interface PerplexityOptions {
  /** Tokens per window (each window is one forward). */
  seqLen: number;
  /** Score at most this many tokens (whole windows); default all. */
  maxTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  /** Mean next-token cross-entropy, nats per token. */
  loss: number;
  perplexity: number;
  /** Predictions scored: windows × (seqLen − 1). */
  predictions: number;
  windows: number;
}

/** Held-out loss of model on stream; see the header. */
export function heldOutLoss(model: Model, stream: TokenStream, opts: PerplexityOptions): PerplexityResult {
  const T = opts.seqLen;
  check(Number.isInteger(T) && T >= 2, `seq-len: expected an integer ≥ 2, got ${T}`);
  check(T <= model.maxContext, () => `seq-len: ${T} is more than the model's context ${model.maxContext}`);
  let windows = Math.floor(stream.length / T);
  if (opts.maxTokens !== undefined) windows = Math.min(windows, Math.floor(opts.maxTokens / T));
  check(windows >= 1, () => `${stream.describe}: ${stream.length} tokens, fewer than one window of ${T}`);
  const V = model.vocabSize;
  const buf = new Uint32Array(T);
  let sum = 0;
  for (let w = 0; w < windows; w++) {
    stream.read(w * T, buf);
    const ids = Array.from(buf);
    const { logits } = model.forward([ids]);
    for (let t = 0; t + 1 < T; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      let max = -Infinity;
      for (let j = 0; j < V; j++) if (row[j] > max) max = row[j];
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(row[j] - max);
      sum += max + Math.log(z) - row[ids[t + 1]];
    }
    opts.onProgress?.(w + 1, windows);
  }
  const predictions = windows * (T - 1);
  const loss = sum / predictions;
  return { loss, perplexity: Math.exp(loss), predictions, windows };
}

export interface TextPerplexity {
  /** Tokens of the text (each predicted once). */
  tokens: number;
  /** Rolling windows of at most maxLength tokens. */
  windows: number;
  maxLength: number;
  /** Σ log p(token) over the whole text, nats. */
  logprob: number;
  /** −logprob / tokens: nats per token. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  word_perplexity: number;
  byte_perplexity: number;
  bits_per_byte: number;
}

/**
 * A whole text scored as one rolling document (lm-eval's loglikelihood_rolling: windows of at most
 * lm.maxLength tokens, the first after [EOT], every token predicted once), with per-token, per-word
 * and per-byte perplexities.
 */
export function textPerplexity(lm: EvalLM, text: string, onProgress?: ProgressFn): TextPerplexity {
  const windows = lm.windows(text);
  check(windows.length > 0, 'the text has no tokens (an empty file)');
  const tokens = windows.reduce((s, w) => s + w.continuation.length, 0);
  const logprob = lm.scoreTokens(windows, onProgress).reduce((s, r) => s + r.logprob, 0);
  const { words, bytes } = rollingWeights(text);
  const loss = -logprob / tokens;
  return {
    tokens, windows: windows.length, maxLength: lm.maxLength, logprob, loss, perplexity: Math.exp(loss),
    word_perplexity: weightedPerplexity([logprob], [words]).value, byte_perplexity: weightedPerplexity([logprob], [bytes]).value,
    bits_per_byte: bitsPerByte([logprob], [bytes]).value,
  };
}
