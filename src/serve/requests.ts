// Request bodies of /v1/completions and /v1/chat/completions: type and range checks with errors that
// name the field (OpenAI's `param`), and the defaults OpenAI documents. Fields this server does not
// know are ignored; known ones it cannot honour (logit_bias, tools, a JSON response format, images)
// are refused rather than silently dropped.
import { MAX_SEED } from '../rng.js';
import { invalid } from './errors.js';

type Body = Record<string, unknown>;

export interface CommonParams {
  model: string;
  /** null: not given (chat then allows the rest of the context). */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  seed: number | null;
  stop: string[];
  n: number;
  presencePenalty: number;
  frequencyPenalty: number;
  stream: boolean;
  includeUsage: boolean;
  user: string | null;
}

export interface CompletionParams extends CommonParams {
  /** Default 16, as OpenAI's. */
  maxTokens: number;
  /** One prompt or several (each gets n choices): text, or token ids. */
  prompts: Array<string | number[]>;
  echo: boolean;
  /** Alternatives per token (0 … 5), or null: no log-probabilities. */
  logprobs: number | null;
}

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatParams extends CommonParams {
  messages: ChatMessage[];
  /** Alternatives per token (0 … 20) when logprobs is true, else null. */
  logprobs: number | null;
}

/** Most choices a request may ask for (n × prompts). */
export const MAX_CHOICES = 16;

function obj(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('body', 'the request body must be a JSON object (Content-Type: application/json)');
  }
  return body as Body;
}

const present = (b: Body, k: string): boolean => b[k] !== undefined && b[k] !== null;

function num(b: Body, k: string, dflt: number, lo: number, hi: number, integer = false): number {
  if (!present(b, k)) return dflt;
  const v = b[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw invalid(k, `'${k}' must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`, 'invalid_type');
  }
  if (v < lo || v > hi) throw invalid(k, `'${k}' must be in [${lo}, ${hi}], got ${v}`, 'invalid_value');
  return v;
}

function bool(b: Body, k: string, dflt: boolean): boolean {
  if (!present(b, k)) return dflt;
  if (typeof b[k] !== 'boolean') throw invalid(k, `'${k}' must be true or false, got ${JSON.stringify(b[k])}`, 'invalid_type');
  return b[k] as boolean;
}

function unsupported(b: Body, keys: string[]): void {
  for (const k of keys) {
    const v = b[k];
    if (v === undefined || v === null) continue;
    if (typeof v === 'object' && Object.keys(v as object).length === 0) continue; // {} or []
    throw invalid(k, `'${k}' is not supported by this server`, 'unsupported_parameter');
  }
}

function common(b: Body, maxTokensKey: string): CommonParams {
  if (typeof b.model !== 'string' || b.model === '') throw invalid('model', "'model' must be the model's id (a string); GET /v1/models lists it", 'invalid_type');
  unsupported(b, ['logit_bias', 'tools', 'functions', 'tool_choice', 'function_call', 'suffix', 'best_of']);
  if (present(b, 'response_format')) {
    const rf = b.response_format as { type?: unknown };
    if (typeof rf !== 'object' || rf.type !== 'text') throw invalid('response_format', "only response_format {\"type\": \"text\"} is supported", 'unsupported_parameter');
  }
  let stop: string[] = [];
  if (present(b, 'stop')) {
    const s = b.stop;
    stop = typeof s === 'string' ? [s] : (s as string[]);
    if (!Array.isArray(stop) || stop.length > 4 || stop.some((x) => typeof x !== 'string' || x === '')) {
      throw invalid('stop', "'stop' must be a non-empty string or an array of up to 4 of them", 'invalid_type');
    }
  }
  const stream = bool(b, 'stream', false);
  let includeUsage = false;
  if (present(b, 'stream_options')) {
    const so = b.stream_options;
    if (!stream) throw invalid('stream_options', "'stream_options' is only allowed with 'stream': true");
    if (typeof so !== 'object' || Array.isArray(so)) throw invalid('stream_options', "'stream_options' must be an object", 'invalid_type');
    includeUsage = bool(so as Body, 'include_usage', false);
  }
  if (present(b, 'user') && typeof b.user !== 'string') throw invalid('user', "'user' must be a string", 'invalid_type');
  return {
    model: b.model,
    maxTokens: present(b, maxTokensKey) ? num(b, maxTokensKey, 0, 0, Number.MAX_SAFE_INTEGER, true) : null,
    temperature: num(b, 'temperature', 1, 0, 2),
    topP: num(b, 'top_p', 1, 0, 1) || Number.MIN_VALUE, // top_p 0 keeps the most likely token alone
    seed: present(b, 'seed') ? num(b, 'seed', 0, 0, MAX_SEED, true) : null,
    stop,
    n: num(b, 'n', 1, 1, MAX_CHOICES, true),
    presencePenalty: num(b, 'presence_penalty', 0, -2, 2),
    frequencyPenalty: num(b, 'frequency_penalty', 0, -2, 2),
    stream,
    includeUsage,
    user: (b.user as string | undefined) ?? null,
  };
}

const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'number');

export function parseCompletion(body: unknown): CompletionParams {
  const b = obj(body);
  const c = common(b, 'max_tokens');
  const p = b.prompt;
  let prompts: Array<string | number[]>;
  if (typeof p === 'string') prompts = [p];
  else if (isIds(p)) prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string')) prompts = p as string[];
  else if (Array.isArray(p) && p.length > 0 && p.every(isIds)) prompts = p as number[][];
  else throw invalid('prompt', "'prompt' must be a string, an array of strings, an array of token ids or an array of such arrays (none empty)", 'invalid_type');
  for (const ids of prompts) {
    if (typeof ids !== 'string' && ids.some((t) => !Number.isInteger(t) || t < 0)) throw invalid('prompt', "token ids in 'prompt' must be integers ≥ 0", 'invalid_value');
  }
  if (prompts.length * c.n > MAX_CHOICES) throw invalid('n', `${prompts.length} prompts × n = ${c.n} is more than ${MAX_CHOICES} choices in one request`, 'invalid_value');
  const echo = bool(b, 'echo', false);
  const logprobs = present(b, 'logprobs') ? num(b, 'logprobs', 0, 0, 5, true) : null;
  if (echo && logprobs !== null) throw invalid('echo', "'echo' with 'logprobs' (log-probabilities of the prompt) is not supported", 'unsupported_parameter');
  return { ...c, maxTokens: c.maxTokens ?? 16, prompts, echo, logprobs };
}

export function parseChat(body: unknown): ChatParams {
  const b = obj(body);
  const c = common(b, present(b, 'max_completion_tokens') ? 'max_completion_tokens' : 'max_tokens');
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw invalid('messages', "'messages' must be a non-empty array of {role, content}", 'invalid_type');
  const messages = (b.messages as unknown[]).map((m, i): ChatMessage => {
    const msg = m as { role?: unknown; content?: unknown };
    if (typeof msg !== 'object' || msg === null || typeof msg.role !== 'string') throw invalid(`messages[${i}].role`, `messages[${i}] must be an object with a string 'role'`, 'invalid_type');
    const content = msg.content ?? '';
    if (typeof content === 'string') return { role: msg.role, content };
    if (Array.isArray(content)) {
      return {
        role: msg.role,
        content: content.map((part: { type?: unknown; text?: unknown }, j) => {
          if (part?.type !== 'text' || typeof part.text !== 'string') throw invalid(`messages[${i}].content[${j}]`, 'only text content parts ({"type": "text", "text": ...}) are supported', 'unsupported_parameter');
          return part.text;
        }).join(''),
      };
    }
    throw invalid(`messages[${i}].content`, `messages[${i}].content must be a string or an array of text parts`, 'invalid_type');
  });
  const logprobs = bool(b, 'logprobs', false);
  const top = num(b, 'top_logprobs', 0, 0, 20, true);
  if (!logprobs && present(b, 'top_logprobs')) throw invalid('top_logprobs', "'top_logprobs' needs 'logprobs': true");
  return { ...c, messages, logprobs: logprobs ? top : null };
}
