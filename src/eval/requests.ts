// The request rules of lm-evaluation-harness's HF backend (lm_eval/models/huggingface.py,
// lm_eval/utils.py), as token arithmetic: how a (context, continuation) pair becomes token ids, how
// a document is cut into rolling windows, and which model input scores which continuation tokens.
import { MugptError } from '../errors.js';
import { pyRstrip } from './text.js';

/** A loglikelihood request in tokens: log P(continuation | context), summed over the continuation. */
export interface TokenRequest {
  context: number[];
  continuation: number[];
}

export interface LoglikelihoodResult {
  /** Σ log p(continuation token) in nats. */
  logprob: number;
  /** Every continuation token is the argmax of its position's logits. */
  isGreedy: boolean;
}

export interface Encoder {
  encode(text: string): number[];
}

/**
 * lm-eval's pair encoding: trailing whitespace of the context moves to the start of the
 * continuation; ctxIds = encode(context), contIds = encode(context + continuation) past ctxIds'
 * length (so a merge across the boundary stays in the continuation). An empty context is [eot]
 * with the continuation encoded alone; so is a context of whitespace only (lm-eval cannot score
 * that one: it would be left with no context token).
 */
export function encodePair(tok: Encoder, eot: number, context: string, continuation: string): TokenRequest {
  if (context === '') return { context: [eot], continuation: tok.encode(continuation) };
  const stripped = pyRstrip(context);
  const cont = context.slice(stripped.length) + continuation;
  if (stripped === '') return { context: [eot], continuation: tok.encode(cont) };
  const whole = tok.encode(stripped + cont);
  const ctx = tok.encode(stripped);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/**
 * lm-eval's get_rolling_token_windows(ids, prefix, maxLength, context_len=1), each window made
 * disjoint (make_disjoint_window): the first window predicts ids[0 … min(L, n)) after [prefix];
 * each next one predicts up to L further tokens after the tokens before them (the scorer keeps the
 * last L + 1 of context + continuation). Every token is predicted exactly once.
 */
export function rollingWindows(ids: number[], prefix: number, maxLength: number): TokenRequest[] {
  const L = maxLength;
  if (ids.length === 0) return [];
  const out: TokenRequest[] = [];
  const disjoint = (a: number[], b: number[]): TokenRequest => ({ context: a.slice(0, a.length - (b.length - 1)), continuation: b });
  const first = Math.min(L, ids.length);
  out.push(disjoint([prefix, ...ids.slice(0, first - 1)], ids.slice(0, first)));
  let predicted = first;
  while (predicted < ids.length) {
    const predLen = Math.min(ids.length - predicted, L); // pred_len = L − context_len + 1
    const end = predicted + predLen; // ≥ L + 1 here, so the window's start is ≥ 0
    out.push(disjoint(ids.slice(end - L - 1, end - 1), ids.slice(end - predLen, end)));
    predicted += predLen;
  }
  return out;
}

/**
 * The model input of a request: (context + continuation)[−(L+1):][:−1] (left truncation); the
 * logits of its last continuation.length positions score the continuation. `prefix` is the part
 * before them (requests with equal prefixes share its forward pass), `suffix` the scored part.
 */
export function modelInput(req: TokenRequest, maxLength: number): { prefix: number[]; suffix: number[] } {
  const k = req.continuation.length;
  if (req.context.length === 0) throw new MugptError('loglikelihood: the context has no tokens (an empty context is [EOT])');
  if (k === 0) throw new MugptError('loglikelihood: the continuation encodes to no tokens (lm-eval requires at least one)');
  if (k > maxLength) {
    throw new MugptError(`loglikelihood: the continuation has ${k} tokens, more than the maximum length ${maxLength} `
      + '(--max-length): it cannot be scored in one window');
  }
  const full = req.context.concat(req.continuation);
  const input = full.slice(Math.max(0, full.length - (maxLength + 1)), full.length - 1);
  return { prefix: input.slice(0, input.length - k), suffix: input.slice(input.length - k) };
}
