// The HTTP server of `mugpt serve` (fastify): OpenAI's /v1/models, /v1/completions and
// /v1/chat/completions (JSON or server-sent events), /health and /metrics, over one Scheduler that
// batches the sequences of all requests. Every request is logged in one line; every error has
// OpenAI's body; a client that goes away cancels its sequences at once.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { check } from '../errors.js';
import type { Model } from '../model/model.js';
import { MAX_SEED } from '../rng.js';
import { loadChatTemplate, type ChatTemplate } from './chat.js';
import { ApiError, invalid } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { parseChat, parseCompletion, type ChatParams, type CommonParams, type CompletionParams } from './requests.js';
import { Scheduler, type EndReason, type SequenceHandle, type SequenceParams, type TokenEvent } from './scheduler.js';

export interface ServeOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Requests to /v1/* must carry `Authorization: Bearer KEY`. Default: none needed. */
  apiKey?: string | null;
  /** Sequences decoded together (each holds a KV cache). Default 8. */
  maxConcurrency?: number;
  /** Sequences that may wait for a slot; more get 503. Default 64. */
  maxQueue?: number;
  /** Positions a sequence may hold, prompt + max_tokens. Default min(n_positions, 2048). */
  ctxSize?: number;
  /** Prompt tokens fed per batched step (a long prompt is prefilled in chunks between decode steps). Default 64. */
  prefillChunk?: number;
  /** Largest request body. Default 1 MiB. */
  bodyLimit?: number;
  /** The model's id in the API. */
  modelId: string;
  /** The model's file or folder (for its chat template); default: none, the plain template. */
  modelPath?: string | null;
  /** One line per request; default: to stderr. */
  log?: (line: string) => void;
}

export const DEFAULT_CTX = 2048;

interface RequestInfo { t0: number; promptTokens: number; completionTokens: number; logged: boolean; firstToken: boolean }

/** One choice of a request: its prompt, its sequence parameters, and what it produced. */
interface Choice {
  index: number;
  prompt: number[];
  params: SequenceParams;
  text: string;
  tokens: TokenEvent[];
  finish: EndReason | null;
  handle: SequenceHandle | null;
}

/** What an endpoint's responses look like; MugptServer.respond sends them. */
interface ResponseShape {
  /** The fields of every stream chunk before its choices (id, object, created, model, …). */
  chunk: Record<string, unknown>;
  /** The fields of the whole (non-stream) response before its choices. */
  whole: Record<string, unknown>;
  /** The chunks sent as the stream opens. */
  opening(): Array<Record<string, unknown>>;
  /** A token's chunk, or null for none. */
  token(ch: Choice, ev: TokenEvent): Record<string, unknown> | null;
  /** The chunk that ends a choice that finished ('stop' or 'length'). */
  end(ch: Choice, reason: string): Record<string, unknown>;
  /** A choice of the whole response. */
  choice(ch: Choice, reason: string | null): Record<string, unknown>;
}

export class MugptServer {
  readonly app: FastifyInstance;
  readonly scheduler: Scheduler;
  readonly metrics: ServerMetrics;
  readonly ctxSize: number;
  private readonly chat: ChatTemplate;
  private readonly info = new WeakMap<FastifyRequest, RequestInfo>();
  private readonly log: (line: string) => void;
  private readonly eos: number | null;
  private stopping = false;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(readonly model: Model, readonly opts: ServeOptions) {
    const maxConcurrency = opts.maxConcurrency ?? 8, maxQueue = opts.maxQueue ?? 64, prefillChunk = opts.prefillChunk ?? 64;
    const positive = (v: number, what: string): void => check(Number.isSafeInteger(v) && v >= 1, () => `${what} must be an integer ≥ 1, got ${v}`);
    positive(maxConcurrency, '--max-concurrency');
    check(Number.isSafeInteger(maxQueue) && maxQueue >= 0, () => `max queue must be an integer ≥ 0, got ${maxQueue}`);
    positive(prefillChunk, 'prefill chunk');
    this.ctxSize = opts.ctxSize ?? Math.min(model.config.n_positions, DEFAULT_CTX);
    positive(this.ctxSize, '--ctx-size');
    check(this.ctxSize <= model.maxContext, () => `--ctx-size ${this.ctxSize} is more than the model's context of ${model.maxContext} positions (n_positions, learned position embeddings)`);
    this.eos = model.eosTokenId ?? model.tokenizer.eosTokenId;
    const tok = model.tokenizer;
    this.scheduler = new Scheduler(model, this.eos, (ids) => tok.decodeBytes(ids), { maxConcurrency, maxQueue, ctxSize: this.ctxSize, prefillChunk });
    this.metrics = new ServerMetrics(this.scheduler);
    this.scheduler.onStep = (generated, _prefilled, ms) => {
      this.metrics.generatedTokens.inc(generated);
      this.metrics.stepSeconds.observe(ms / 1000);
    };
    this.chat = loadChatTemplate(opts.modelPath ?? '');
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 1 << 20, forceCloseConnections: 'idle' });
    this.routes();
  }

  /** The chat template in use: the model's own, or the plain one. */
  get chatTemplateSource(): 'model' | 'plain' { return this.chat.source; }

  /** Starts listening; returns the base URL. */
  async listen(): Promise<string> {
    await this.app.listen({ host: this.opts.host ?? '127.0.0.1', port: this.opts.port ?? 8080 });
    const a = this.app.server.address();
    if (a === null || typeof a === 'string') return String(a);
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /**
   * Graceful stop: no new connections or sequences (queued ones get 503), running streams get graceMs
   * to finish, then are cancelled; resolves when the server is closed.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const closing = this.app.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.scheduler.close(), new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
    this.scheduler.cancelAll();
    await closing;
  }

  // ---- routes ------------------------------------------------------------------------------------

  private routes(): void {
    const app = this.app;
    app.addHook('onRequest', async (req) => {
      this.info.set(req, { t0: performance.now(), promptTokens: 0, completionTokens: 0, logged: false, firstToken: false });
      const key = this.opts.apiKey;
      if (key && req.url.startsWith('/v1/')) {
        const got = Buffer.from(req.headers.authorization ?? ''), want = Buffer.from(`Bearer ${key}`);
        if (got.length !== want.length || !timingSafeEqual(got, want)) {
          throw new ApiError(401, 'Incorrect or missing API key: send the header "Authorization: Bearer KEY" with the key given to --api-key', 'authentication_error', null, 'invalid_api_key');
        }
      }
    });
    app.addHook('onResponse', async (req, reply) => this.logRequest(req, reply.statusCode));
    app.setErrorHandler((err, req, reply) => {
      const e = toApiError(err);
      if (e.status >= 500 && !(err instanceof ApiError)) this.log(`mugpt serve: ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (e.retryAfter !== null) void reply.header('retry-after', String(e.retryAfter));
      return reply.status(e.status).send(e.body());
    });
    app.setNotFoundHandler((req, reply) => reply.status(404).send(
      new ApiError(404, `Unknown request URL: ${req.method} ${req.url.split('?')[0]}`, 'invalid_request_error', null, 'unknown_url').body()));

    app.get('/health', async (_req, reply) => {
      const s = this.scheduler.stats();
      return reply.status(this.stopping ? 503 : 200).send({ status: this.stopping ? 'shutting down' : 'ok', active: s.active, queued: s.queued });
    });
    app.get('/metrics', async (_req, reply) => reply.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics()));
    app.get('/v1/models', async () => ({ object: 'list', data: [this.modelCard()] }));
    app.get<{ Params: { id: string } }>('/v1/models/*', async (req) => {
      const id = (req.params as Record<string, string>)['*'];
      if (id !== this.opts.modelId) throw this.unknownModel(id);
      return this.modelCard();
    });
    app.post('/v1/completions', async (req, reply) => this.completions(req, reply, parseCompletion(req.body)));
    app.post('/v1/chat/completions', async (req, reply) => this.chatCompletions(req, reply, parseChat(req.body)));
  }

  private modelCard(): Record<string, unknown> {
    return { id: this.opts.modelId, object: 'model', created: this.created, owned_by: 'mugpt' };
  }

  private unknownModel(id: string): ApiError {
    return new ApiError(404, `The model '${id}' does not exist; this server serves '${this.opts.modelId}'`, 'invalid_request_error', 'model', 'model_not_found');
  }

  private logRequest(req: FastifyRequest, status: number): void {
    const i = this.info.get(req);
    if (!i || i.logged) return;
    i.logged = true;
    const route = req.routeOptions.url ?? 'unknown';
    const ms = performance.now() - i.t0;
    this.metrics.requests.inc({ route, status: String(status) });
    if (req.routeOptions.url) this.metrics.requestSeconds.observe({ route }, ms / 1000);
    this.log(`${new Date().toISOString()} ${req.method} ${req.url.split('?')[0]} ${status} tokens=${i.promptTokens}+${i.completionTokens} ${ms.toFixed(0)}ms`);
  }

  // ---- generation ------------------------------------------------------------------------------

  /** Token ids of a prompt (text with special tokens, or ids), checked against the vocabulary; empty → the end-of-text token. */
  private promptIds(p: string | number[], param: string): number[] {
    const V = this.model.vocabSize;
    const ids = typeof p === 'string' ? this.model.tokenizer.encode(p, { allowSpecial: true }) : p;
    const bad = ids.findIndex((t) => t >= V);
    if (bad >= 0) throw invalid(param, `token ${ids[bad]} at position ${bad} of '${param}' is outside the vocabulary [0, ${V})`, 'invalid_value');
    if (ids.length > 0) return ids;
    if (this.eos === null) throw invalid(param, `'${param}' is empty and the model has no end-of-text token to start from`);
    return [this.eos];
  }

  private seqParams(c: CommonParams, maxTokens: number, stop: string[], logprobs: number | null, seed: number): SequenceParams {
    return {
      temperature: c.temperature, topP: c.topP, seed, presencePenalty: c.presencePenalty, frequencyPenalty: c.frequencyPenalty,
      maxTokens, stop, logprobs,
    };
  }

  /** 400 unless prompt + max_tokens fits the context (naming both). */
  private checkFits(promptLen: number, maxTokens: number, param: string): void {
    if (promptLen + maxTokens > this.ctxSize) {
      throw invalid(param, `This model's maximum context length is ${this.ctxSize} tokens (--ctx-size); however, you requested `
        + `${promptLen + maxTokens} tokens (${promptLen} in the prompt, ${maxTokens} for the completion). `
        + 'Shorten the prompt or lower max_tokens.', 'context_length_exceeded');
    }
  }

  private checkModel(c: CommonParams): void {
    if (c.model !== this.opts.modelId) throw this.unknownModel(c.model);
  }

  private choices(prompts: number[][], c: CommonParams, make: (prompt: number[], seed: number) => SequenceParams): Choice[] {
    const base = c.seed ?? Math.floor(Math.random() * 2 ** 32);
    const out: Choice[] = [];
    prompts.forEach((prompt, p) => {
      for (let j = 0; j < c.n; j++) {
        const index = p * c.n + j;
        out.push({ index, prompt, params: make(prompt, (base + index) % MAX_SEED), text: '', tokens: [], finish: null, handle: null });
      }
    });
    return out;
  }

  /**
   * Submits the choices to the scheduler: onToken per token; the promise resolves when every choice has
   * ended. Throws at once (before any response is written) when the server is stopping or the queue
   * has no room for all of them (503). A closed connection cancels them all.
   */
  private run(req: FastifyRequest, reply: FastifyReply, choices: Choice[], onToken: (c: Choice, ev: TokenEvent) => void, onEnd: (c: Choice) => void): Promise<void> {
    if (this.stopping) throw new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down', 1);
    if (this.scheduler.room() < choices.length) {
      throw new ApiError(503, `the queue is full (${this.scheduler.stats().queued} sequences waiting for ${this.scheduler.opts.maxConcurrency} slots); try again shortly`,
        'server_error', null, 'queue_full', 1);
    }
    const info = this.info.get(req)!;
    info.promptTokens = [...new Set(choices.map((c) => c.prompt))].reduce((a, p) => a + p.length, 0);
    this.metrics.promptTokens.inc(info.promptTokens);
    let resolve!: () => void;
    const done = new Promise<void>((r) => { resolve = r; });
    let left = choices.length;
    const cancel = (): void => { for (const c of choices) c.handle?.cancel(); };
    reply.raw.on('close', () => { if (!reply.raw.writableFinished) cancel(); });
    for (const c of choices) {
      c.handle = this.scheduler.submit(c.prompt, c.params, {
        onToken: (ev) => {
          if (!info.firstToken) {
            info.firstToken = true;
            this.metrics.timeToFirstToken.observe((performance.now() - info.t0) / 1000);
          }
          info.completionTokens++;
          c.text += ev.text;
          c.tokens.push(ev);
          onToken(c, ev);
        },
        onEnd: (reason) => {
          c.finish = reason;
          onEnd(c);
          if (--left === 0) resolve();
        },
      });
    }
    return done;
  }

  /** The error a choice that did not finish stands for (null when all finished or the client left). */
  private static failure(choices: Choice[]): ApiError | null {
    const bad = choices.find((c) => c.finish === 'shutdown' || c.finish === 'error');
    if (!bad) return null;
    return bad.finish === 'shutdown' ? new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down', 1)
      : new ApiError(500, 'the model failed while generating (see the server log)', 'server_error');
  }

  private usage(req: FastifyRequest): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
    const i = this.info.get(req)!;
    return { prompt_tokens: i.promptTokens, completion_tokens: i.completionTokens, total_tokens: i.promptTokens + i.completionTokens };
  }

  private tokenText(id: number): string {
    return new TextDecoder().decode(this.model.tokenizer.decodeBytes([id]));
  }

  private async completions(req: FastifyRequest, reply: FastifyReply, c: CompletionParams): Promise<unknown> {
    this.checkModel(c);
    const prompts = c.prompts.map((p) => this.promptIds(p, 'prompt'));
    for (const p of prompts) this.checkFits(p.length, c.maxTokens, 'max_tokens');
    const choices = this.choices(prompts, c, (_p, seed) => this.seqParams(c, c.maxTokens, c.stop, c.logprobs, seed));
    const id = `cmpl-${randomUUID()}`, created = Math.floor(Date.now() / 1000);
    const echoText = (ch: Choice): string => (c.echo ? (typeof c.prompts[Math.floor(ch.index / c.n)] === 'string'
      ? c.prompts[Math.floor(ch.index / c.n)] as string : this.model.tokenizer.decode(ch.prompt)) : '');
    const offsets = new Map<Choice, number>();
    const logprobsOf = (ch: Choice, evs: TokenEvent[]): Record<string, unknown> | null => {
      if (c.logprobs === null) return null;
      const lp = { tokens: [] as string[], token_logprobs: [] as number[], top_logprobs: [] as Array<Record<string, number>>, text_offset: [] as number[] };
      let off = offsets.get(ch) ?? echoText(ch).length;
      for (const ev of evs) {
        if (ev.id === this.eos || !ev.logprob) continue;
        const t = this.tokenText(ev.id);
        lp.tokens.push(t);
        lp.token_logprobs.push(ev.logprob.logprob);
        lp.top_logprobs.push(Object.fromEntries(ev.logprob.top.map((x) => [this.tokenText(x.id), x.logprob])));
        lp.text_offset.push(off);
        off += t.length;
      }
      offsets.set(ch, off);
      return lp;
    };
    return this.respond(req, reply, choices, c, {
      chunk: { id, object: 'text_completion', created, model: c.model },
      whole: { id, object: 'text_completion', created, model: c.model, system_fingerprint: null },
      opening: () => (c.echo ? choices.map((ch) => ({ index: ch.index, text: echoText(ch), logprobs: null, finish_reason: null })) : []),
      token: (ch, ev) => (ev.text || c.logprobs !== null ? { index: ch.index, text: ev.text, logprobs: logprobsOf(ch, [ev]), finish_reason: null } : null),
      end: (ch, reason) => ({ index: ch.index, text: '', logprobs: null, finish_reason: reason }),
      choice: (ch, reason) => ({ index: ch.index, text: echoText(ch) + ch.text, logprobs: logprobsOf(ch, ch.tokens), finish_reason: reason }),
    });
  }

  private async chatCompletions(req: FastifyRequest, reply: FastifyReply, c: ChatParams): Promise<unknown> {
    this.checkModel(c);
    const prompt = this.promptIds(this.chat.render(c.messages), 'messages');
    const maxTokens = c.maxTokens ?? this.ctxSize - prompt.length;
    if (c.maxTokens === null && maxTokens < 1) this.checkFits(prompt.length, 1, 'messages');
    this.checkFits(prompt.length, maxTokens, c.maxTokens === null ? 'messages' : 'max_tokens');
    const stop = [...c.stop, ...this.chat.stop];
    const choices = this.choices([prompt], c, (_p, seed) => this.seqParams(c, maxTokens, stop, c.logprobs, seed));
    const id = `chatcmpl-${randomUUID()}`, created = Math.floor(Date.now() / 1000);
    const bytes = (s: string): number[] => [...Buffer.from(s, 'utf8')];
    const entry = (tid: number, logprob: number): Record<string, unknown> => {
      const token = this.tokenText(tid);
      return { token, logprob, bytes: [...this.model.tokenizer.decodeBytes([tid])].length ? [...this.model.tokenizer.decodeBytes([tid])] : bytes(token) };
    };
    const logprobsOf = (evs: TokenEvent[]): Record<string, unknown> | null => c.logprobs === null ? null : {
      content: evs.filter((ev) => ev.id !== this.eos && ev.logprob).map((ev) => ({
        ...entry(ev.id, ev.logprob!.logprob), top_logprobs: ev.logprob!.top.map((x) => entry(x.id, x.logprob)),
      })),
    };
    return this.respond(req, reply, choices, c, {
      chunk: { id, object: 'chat.completion.chunk', created, model: c.model, system_fingerprint: null },
      whole: { id, object: 'chat.completion', created, model: c.model, system_fingerprint: null },
      opening: () => choices.map((ch) => ({ index: ch.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })),
      token: (ch, ev) => (ev.text || c.logprobs !== null ? { index: ch.index, delta: { content: ev.text }, logprobs: logprobsOf([ev]), finish_reason: null } : null),
      end: (ch, reason) => ({ index: ch.index, delta: {}, logprobs: null, finish_reason: reason }),
      choice: (ch, reason) => ({
        index: ch.index, message: { role: 'assistant', content: ch.text, refusal: null }, logprobs: logprobsOf(ch.tokens), finish_reason: reason,
      }),
    });
  }

  /**
   * Runs a request's choices and answers it, streamed (server-sent chunks, then the usage when asked
   * for) or whole: the one ending of both endpoints, which differ only in their `shape`.
   */
  private async respond(req: FastifyRequest, reply: FastifyReply, choices: Choice[], c: { stream: boolean; includeUsage: boolean },
    shape: ResponseShape): Promise<unknown> {
    const finishReason = (ch: Choice): string | null => (ch.finish === 'stop' || ch.finish === 'length' ? ch.finish : null);
    if (c.stream) {
      const chunk = (choice: Record<string, unknown>): void => sse.send({ ...shape.chunk, choices: [choice], ...(c.includeUsage ? { usage: null } : {}) });
      // submitted before the response starts, so a refusal is still an HTTP error; tokens come after this turn of the event loop
      const done = this.run(req, reply, choices,
        (ch, ev) => { const x = shape.token(ch, ev); if (x) chunk(x); },
        (ch) => { const reason = finishReason(ch); if (reason) chunk(shape.end(ch, reason)); });
      const sse = this.openStream(req, reply);
      for (const x of shape.opening()) chunk(x);
      await done;
      const fail = MugptServer.failure(choices);
      if (fail) sse.error(fail);
      else if (c.includeUsage) sse.send({ ...shape.chunk, choices: [], usage: this.usage(req) });
      sse.end();
      return reply;
    }
    await this.run(req, reply, choices, () => {}, () => {});
    const fail = MugptServer.failure(choices);
    if (fail) throw fail;
    return { ...shape.whole, choices: choices.map((ch) => shape.choice(ch, finishReason(ch))), usage: this.usage(req) };
  }

  /** Takes over the response for server-sent events: `data: JSON` lines, `data: [DONE]` at the end. */
  private openStream(req: FastifyRequest, reply: FastifyReply): { send(o: unknown): void; error(e: ApiError): void; end(): void } {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const write = (s: string): void => { if (!res.writableEnded && !res.destroyed) res.write(s); };
    return {
      send: (o) => write(`data: ${JSON.stringify(o)}\n\n`),
      error: (e) => write(`data: ${JSON.stringify(e.body())}\n\n`),
      end: () => {
        write('data: [DONE]\n\n');
        if (!res.writableEnded) res.end();
        this.logRequest(req, 200);
      },
    };
  }
}

/** Any error as an OpenAI-style one: ours as they are, fastify's by status (body too large, bad JSON, …), else 500. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, `${e.message ?? 'request body too large'}`, 'invalid_request_error', null, 'request_too_large');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.message ?? 'bad request', 'invalid_request_error', null, e.code ?? null);
  }
  return new ApiError(500, 'internal server error (see the server log)', 'server_error');
}

/** Loads nothing: wraps a loaded model in a server (not yet listening). */
export function createServer(model: Model, opts: ServeOptions): MugptServer {
  return new MugptServer(model, opts);
}
