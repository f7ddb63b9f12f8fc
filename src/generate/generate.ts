// Streaming generation over a DecodeModel: prefill the prompt in one step, then one token per step,
// until EOS, a stop string, maxNewTokens, or the model's context is full.
//
// What is yielded: every generated token as { id, text }, in order. `text` is the text this token
// decided: '' while a multi-byte character or a possible stop string is incomplete, more than the
// token's own text when held-back text is released. Without stop strings the texts concatenate to
// decode(ids) (ids without the end-of-text token). The end-of-text token that ends a text is yielded
// too (the ids then equal Hugging Face's generate output) with '' as its own text; with ignoreEos it is an
// ordinary token. A stop string ends the text just before it: the tokens that complete it are yielded,
// the last one carrying the text before the stop string.
//
// Context: a prompt longer than model.maxContext is an error. Generation stops (finishReason
// 'context') when the next step would feed the model more than maxContext positions; the token sampled
// from the last position is still yielded, so prompt + generated ≤ maxContext + 1.

import { MugptError } from '../errors.js';
import type { DecodeModel } from './decode-model.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from './options.js';
import { Rng } from '../rng.js';
import { Sampler } from './sampler.js';
import { TextStream } from './stop.js';

/**
 * Resolves once queued events have had their turn: setImmediate in Node; elsewhere (a browser's Web
 * Worker) a message to itself, as setTimeout(0) is clamped to 4 ms there.
 */
const yieldToEvents: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : (() => {
    const waiting: Array<() => void> = [];
    const ch = new MessageChannel();
    ch.port1.onmessage = () => waiting.shift()?.();
    return () => new Promise<void>((resolve) => { waiting.push(resolve); ch.port2.postMessage(null); });
  })();

/** What generation needs of a tokenizer (the Tokenizer of src/tokenizer has it). */
export type GenerateTokenizer = {
  readonly eosTokenId: number | null;
  encode(text: string, opts?: { allowSpecial?: boolean }): number[];
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
};

export interface GeneratedToken {
  id: number;
  text: string;
}

/** Why generation ended: end-of-text token, stop string, maxNewTokens, or the model's context was full. */
export type FinishReason = 'eos' | 'stop' | 'length' | 'context';

export interface GenerationStats {
  /** The sampling seed used (the given one, or the random one drawn). */
  seed: number;
  promptTokens: number;
  generatedTokens: number;
  /** Time of the prompt's step and the first token's sampling. */
  prefillMs: number;
  /** Tokens produced by one-token steps after the prefill (generatedTokens − 1 when any were generated). */
  decodeTokens: number;
  /** Time of those steps and their sampling (not the consumer's time between tokens). */
  decodeMs: number;
  /** null until generation has ended. */
  finishReason: FinishReason | null;
}

/** An async iterator of the generated tokens; `stats` fills in as it runs. */
export class Generation implements AsyncIterableIterator<GeneratedToken> {
  readonly stats: GenerationStats;
  /** The prompt's token ids as fed to the model. */
  readonly promptIds: readonly number[];
  private readonly it: AsyncGenerator<GeneratedToken, void, undefined>;

  constructor(model: DecodeModel, tokenizer: GenerateTokenizer, promptIds: number[], opts: ResolvedOptions) {
    this.promptIds = promptIds;
    this.stats = {
      seed: opts.seed, promptTokens: promptIds.length, generatedTokens: 0,
      prefillMs: 0, decodeTokens: 0, decodeMs: 0, finishReason: null,
    };
    this.it = run(model, tokenizer, promptIds, opts, this.stats);
  }

  next(): Promise<IteratorResult<GeneratedToken>> {
    return this.it.next();
  }

  return(): Promise<IteratorResult<GeneratedToken>> {
    return this.it.return(undefined);
  }

  throw(err?: unknown): Promise<IteratorResult<GeneratedToken>> {
    return this.it.throw(err);
  }

  [Symbol.asyncIterator](): Generation {
    return this;
  }
}

/**
 * Generates a continuation of `prompt` (text, encoded with the tokenizer with special tokens allowed,
 * or token ids) token by token. Options and prompt are checked at once: bad ones throw a MugptError
 * before any model step. An empty prompt starts from the end-of-text token, as HF does with GPT-2's
 * bos_token_id.
 */
export function generate(
  model: DecodeModel,
  tokenizer: GenerateTokenizer,
  prompt: string | number[],
  opts: GenerateOptions = {},
): Generation {
  const resolved = resolveOptions(opts);
  return new Generation(model, tokenizer, promptIds(model, tokenizer, prompt), resolved);
}

/** The prompt's ids, checked against the model's vocabulary and context. */
function promptIds(model: DecodeModel, tokenizer: GenerateTokenizer, prompt: string | number[]): number[] {
  let ids: number[];
  if (typeof prompt === 'string') {
    ids = tokenizer.encode(prompt, { allowSpecial: true });
    const bad = ids.findIndex((id) => id >= model.vocabSize);
    if (bad >= 0) {
      throw new MugptError(`prompt: the tokenizer gives token id ${ids[bad]} (token ${bad}), outside the model's vocabulary `
        + `[0, ${model.vocabSize}); the tokenizer does not match the model`);
    }
  } else if (Array.isArray(prompt)) {
    ids = [...prompt];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
        throw new MugptError(`prompt token ${i} is ${String(id)}: token ids must be integers in [0, ${model.vocabSize})`);
      }
    }
  } else {
    throw new MugptError(`prompt must be a string or an array of token ids, got ${typeof prompt}`);
  }
  if (ids.length === 0) {
    const bos = eosOf(model, tokenizer);
    if (bos === null) throw new MugptError('prompt is empty and the model has no end-of-text token to start from');
    ids = [bos];
  }
  if (ids.length > model.maxContext) {
    throw new MugptError(
      `prompt has ${ids.length} tokens, more than the model's context of ${model.maxContext} positions (n_positions)`);
  }
  return ids;
}

function eosOf(model: DecodeModel, tokenizer: GenerateTokenizer): number | null {
  return model.eosTokenId ?? tokenizer.eosTokenId;
}

async function* run(
  model: DecodeModel, tokenizer: GenerateTokenizer, prompt: number[], opts: ResolvedOptions, stats: GenerationStats,
): AsyncGenerator<GeneratedToken, void, undefined> {
  const { maxNewTokens, signal } = opts;
  if (maxNewTokens === 0) {
    stats.finishReason = 'length';
    return;
  }
  signal?.throwIfAborted();
  const eos = opts.ignoreEos ? null : eosOf(model, tokenizer);
  const sampler = new Sampler(model.vocabSize, opts, new Rng(opts.seed));
  sampler.observe(prompt);
  const text = new TextStream(opts.stop);
  const cache = model.newCache(prompt.length + maxNewTokens);

  const logits = new Float32Array(model.vocabSize);  // each step's, read by the sampler before the next
  let t = performance.now();
  let id = sampler.next(model.step(cache, prompt, logits));
  stats.prefillMs = performance.now() - t;

  for (;;) {
    sampler.observe([id]);
    stats.generatedTokens++;
    if (id === eos) {
      stats.finishReason = 'eos';
      yield { id, text: text.finish() };
      return;
    }
    let piece = text.push(tokenizer.decodeBytes([id]));
    if (text.stopped) {
      stats.finishReason = 'stop';
      yield { id, text: piece };
      return;
    }
    const end: FinishReason | null = stats.generatedTokens >= maxNewTokens ? 'length'
      : cache.length + 1 > model.maxContext ? 'context' : null;
    if (end) {
      stats.finishReason = end;
      piece += text.finish();
      yield { id, text: piece };
      return;
    }
    yield { id, text: piece };

    // Let other events (an abort, a closed connection, a worker's stop message) run between tokens.
    await yieldToEvents();
    signal?.throwIfAborted();
    t = performance.now();
    id = sampler.next(model.step(cache, [id], logits));
    stats.decodeMs += performance.now() - t;
    stats.decodeTokens++;
  }
}
