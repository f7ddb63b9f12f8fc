// Continuous batching: the sequences of all requests share one decode loop. Each step feeds every
// decoding sequence its last token and the prefilling ones a chunk of their prompt, as one
// model.stepBatch (each weight matrix is read once per step, whatever the number of sequences);
// sequences join at the next step after a slot frees and leave at the token that ends them.
//
// Limits: at most maxConcurrency sequences hold a KV cache at once, each sized for its prompt and
// max_tokens (≤ ctxSize positions, so the caches never exceed ctxSize × maxConcurrency positions);
// at most maxQueue more wait for a slot, and further ones are refused (QueueFull → 503). A cancelled
// sequence (client gone) leaves the batch and drops its cache before the next step.
import { MugptError } from '../errors.js';
import { Sampler } from '../generate/sampler.js';
import { TextStream } from '../generate/stop.js';
import type { BatchDecodeModel, BatchEntry, KVCache } from '../generate/decode-model.js';
import { LayerKVCache } from '../model/kvcache.js';
import { Rng } from '../rng.js';
import { logSoftmax, topLogprobs, type TokenLogprob } from './logprobs.js';

export interface SequenceParams {
  /** 0: greedy argmax. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 is off. */
  topP: number;
  seed: number;
  /** OpenAI's penalties over the generated tokens: logit −= count·frequency + (count > 0)·presence. */
  presencePenalty: number;
  frequencyPenalty: number;
  maxTokens: number;
  stop: string[];
  /** Alternatives to report with each token's log-probability; null: no log-probabilities. */
  logprobs: number | null;
}

export interface TokenEvent {
  id: number;
  /** The text this token decided (see TextStream): '' while held back. */
  text: string;
  logprob: TokenLogprob | null;
}

/** OpenAI's finish reasons: an end-of-text token or stop string, or max_tokens / the context. */
export type FinishReason = 'stop' | 'length';
export type EndReason = FinishReason | 'cancelled' | 'shutdown' | 'error';

export interface SequenceCallbacks {
  /** Called once the sequence holds a slot (its queue wait is over). */
  onStart?(): void;
  onToken(ev: TokenEvent): void;
  /** The last call: finished, cancelled ('cancelled'), refused at shutdown ('shutdown'), or ended by a model error ('error'). */
  onEnd(reason: EndReason): void;
}

export interface SchedulerOptions {
  maxConcurrency: number;
  maxQueue: number;
  /** Positions a sequence may hold (prompt + max_tokens). */
  ctxSize: number;
  /** Prompt tokens fed per step over all prefilling sequences (long prompts are split into chunks of this). */
  prefillChunk: number;
}

/** Thrown by submit when the queue is full. */
export class QueueFull extends MugptError {}

export interface SchedulerStats {
  active: number;
  queued: number;
  kvCacheBytes: number;
  /** Tokens generated over the last few seconds, per second. */
  tokensPerSecond: number;
}

class Sequence {
  cache: KVCache | null = null;
  fed = 0;
  generated = 0;
  last = -1;
  done = false;
  readonly sampler: Sampler;
  readonly counts = new Map<number, number>();
  readonly text: TextStream;

  constructor(readonly prompt: number[], readonly p: SequenceParams, readonly cb: SequenceCallbacks, vocab: number) {
    this.sampler = new Sampler(vocab, { temperature: p.temperature, topK: 0, topP: p.topP, repetitionPenalty: 1 }, new Rng(p.seed));
    this.text = new TextStream(p.stop);
  }
}

/** A handle on a submitted sequence. */
export interface SequenceHandle {
  /** Leaves the queue or the batch at once; onEnd('cancelled') follows. No-op once ended. */
  cancel(): void;
}

const RATE_WINDOW_MS = 5000;

export class Scheduler {
  private readonly active: Sequence[] = [];
  private readonly queue: Sequence[] = [];
  private running = false;
  private closed = false;
  private readonly steps: Array<{ t: number; tokens: number }> = [];
  private idleWaiters: Array<() => void> = [];
  /** Called after every step with the tokens it generated and its duration (metrics). */
  onStep: ((generated: number, prefilled: number, ms: number) => void) | null = null;
  /** Called with an error a step threw (the running sequences then end with 'error'). */
  onError: (err: unknown) => void = (err) => { console.error(err); };

  constructor(readonly model: BatchDecodeModel, readonly eos: number | null, readonly decodeBytes: (ids: number[]) => Uint8Array, readonly opts: SchedulerOptions) {}

  /**
   * Queues a sequence: prompt (checked by the caller: ids in the vocabulary, prompt + maxTokens ≤ ctxSize).
   * Throws QueueFull when maxQueue sequences already wait, MugptError after close().
   */
  submit(prompt: number[], params: SequenceParams, cb: SequenceCallbacks): SequenceHandle {
    if (this.closed) throw new MugptError('the server is shutting down');
    if (this.room() <= 0) {
      throw new QueueFull(`the queue is full (${this.opts.maxQueue} sequences waiting for ${this.opts.maxConcurrency} slots); try again shortly`);
    }
    const seq = new Sequence(prompt, params, cb, this.model.vocabSize);
    this.queue.push(seq);
    this.kick();
    return { cancel: () => this.finish(seq, 'cancelled') };
  }

  /** Sequences that can still be submitted now (free slots and queue places). */
  room(): number {
    return this.closed ? 0 : this.opts.maxConcurrency + this.opts.maxQueue - this.active.length - this.queue.length;
  }

  stats(): SchedulerStats {
    let kv = 0;
    for (const s of this.active) if (s.cache instanceof LayerKVCache) kv += s.cache.bytes;
    const now = performance.now();
    while (this.steps.length && now - this.steps[0].t > RATE_WINDOW_MS) this.steps.shift();
    const tokens = this.steps.reduce((a, s) => a + s.tokens, 0);
    const span = this.steps.length ? Math.max(1000, now - this.steps[0].t) : RATE_WINDOW_MS;
    return { active: this.active.length, queued: this.queue.length, kvCacheBytes: kv, tokensPerSecond: (tokens * 1000) / span };
  }

  /** Refuses new and queued sequences ('shutdown'); running ones go on. Resolves when none is left. */
  close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.queue]) this.finish(s, 'shutdown');
    return this.idle();
  }

  /** Cancels every running sequence. */
  cancelAll(): void {
    for (const s of [...this.queue, ...this.active]) this.finish(s, 'cancelled');
  }

  /** Resolves when no sequence is queued or running. */
  idle(): Promise<void> {
    if (!this.active.length && !this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => this.loop());
  }

  private admit(): void {
    while (this.queue.length && this.active.length < this.opts.maxConcurrency) {
      const s = this.queue.shift()!;
      s.cache = this.model.newCache(s.prompt.length + s.p.maxTokens);
      this.active.push(s);
      s.cb.onStart?.();
    }
  }

  private loop(): void {
    try {
      this.admit();
      if (!this.active.length) {
        this.running = false;
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
        return;
      }
      this.step();
    } catch (err) {
      // a model error is a bug, not a client's fault: end the running sequences rather than hang them
      this.onError(err);
      for (const s of [...this.active]) this.finish(s, 'error');
    }
    // let the network (new requests, closed connections) in between steps
    setImmediate(() => this.loop());
  }

  private step(): void {
    const t0 = performance.now();
    const entries: BatchEntry[] = [], who: Sequence[] = [];
    let budget = this.opts.prefillChunk, prefilled = 0;
    for (const s of this.active) {
      if (s.fed < s.prompt.length) {
        if (budget <= 0) continue;
        const n = Math.min(budget, s.prompt.length - s.fed);
        entries.push({ cache: s.cache!, ids: s.prompt.slice(s.fed, s.fed + n) });
        s.fed += n;
        budget -= n;
        prefilled += n;
      } else {
        entries.push({ cache: s.cache!, ids: [s.last] });
      }
      who.push(s);
    }
    const logits = this.model.stepBatch(entries);
    let generated = 0;
    who.forEach((s, e) => {
      if (s.fed === s.prompt.length && !s.done) {
        this.emit(s, logits[e]);
        generated++;
      }
    });
    const t1 = performance.now();
    this.steps.push({ t: t1, tokens: generated });
    this.onStep?.(generated, prefilled, t1 - t0);
  }

  /** Samples the sequence's next token from logits [V] (modified in place), emits it, and ends the sequence when it should. */
  private emit(s: Sequence, logits: Float32Array): void {
    const lsm = s.p.logprobs !== null ? logSoftmax(logits) : null; // of the model's distribution, before penalties
    const { presencePenalty: pp, frequencyPenalty: fp } = s.p;
    if (pp !== 0 || fp !== 0) for (const [id, c] of s.counts) logits[id] -= c * fp + pp;
    const id = s.sampler.next(logits);
    s.counts.set(id, (s.counts.get(id) ?? 0) + 1);
    s.generated++;
    s.last = id;
    const logprob = lsm ? topLogprobs(lsm, id, s.p.logprobs!) : null;
    let end: FinishReason | null = null;
    let text: string;
    if (id === this.eos) {
      text = s.text.finish();
      end = 'stop';
    } else {
      text = s.text.push(this.decodeBytes([id]));
      if (s.text.stopped) end = 'stop';
      else if (s.generated >= s.p.maxTokens || s.cache!.length + 1 > this.opts.ctxSize) {
        text += s.text.finish();
        end = 'length';
      }
    }
    s.cb.onToken({ id, text, logprob });
    if (end) this.finish(s, end);
  }

  private finish(s: Sequence, reason: EndReason): void {
    if (s.done) return;
    s.done = true;
    const a = this.active.indexOf(s);
    if (a >= 0) this.active.splice(a, 1);
    const q = this.queue.indexOf(s);
    if (q >= 0) this.queue.splice(q, 1);
    s.cache = null; // the cache's memory goes with the last reference
    s.cb.onEnd(reason);
  }
}
