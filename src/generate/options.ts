// The options of generate(): defaults, and validation with errors that name the option.

import { MugptError } from '../errors.js';
import { MAX_SEED } from '../rng.js';

export interface GenerateOptions {
  /** Most tokens to generate (EOS included when it ends the text). Default 64. */
  maxNewTokens?: number;
  /** 0 (the default) is greedy argmax, as HF's default greedy search; > 0 samples softmax(logits / T). */
  temperature?: number;
  /** Keep only the K most likely tokens (ties with the K-th kept); 0 (default) is off. HF's sampling default is 50. */
  topK?: number;
  /** Nucleus sampling: the most likely tokens whose probabilities reach topP; in (0, 1], 1 (default) is off. */
  topP?: number;
  /** HF's repetition penalty over prompt and generated ids; > 0, 1 (default) is off. */
  repetitionPenalty?: number;
  /** Seed of the sampling generator, an integer in [0, 2^53 − 1]; default: a random one (reported in stats). */
  seed?: number;
  /** Stop strings: generation ends when the text contains one; the stop string and what follows are not emitted. */
  stop?: string | string[];
  /** Keep going past the end-of-text token (it is then emitted as ordinary text). Default false. */
  ignoreEos?: boolean;
  /** Aborting ends the iteration by throwing the signal's reason between two tokens. */
  signal?: AbortSignal;
}

export interface ResolvedOptions {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
  stop: string[];
  ignoreEos: boolean;
  signal: AbortSignal | undefined;
}

export const DEFAULT_MAX_NEW_TOKENS = 64;

const KEYS = new Set(['maxNewTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'seed', 'stop', 'ignoreEos', 'signal']);

/**
 * Checks the options and fills in the defaults. `label` names an option in error messages
 * (the CLI passes its flag names); by default the option's own name.
 */
export function resolveOptions(
  opts: GenerateOptions = {},
  label: (key: keyof GenerateOptions) => string = (k) => k,
): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) throw new MugptError(`generate options must be an object, got ${String(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!KEYS.has(k)) throw new MugptError(`unknown generate option "${k}"; known: ${[...KEYS].join(', ')}`);
  }
  const num = (key: keyof GenerateOptions, dflt: number, ok: (x: number) => boolean, expected: string): number => {
    const v = opts[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !ok(v)) throw new MugptError(`${label(key)} must be ${expected}, got ${show(v)}`);
    return v;
  };
  const maxNewTokens = num('maxNewTokens', DEFAULT_MAX_NEW_TOKENS, (x) => Number.isSafeInteger(x) && x >= 0, 'an integer ≥ 0');
  const temperature = num('temperature', 0, (x) => Number.isFinite(x) && x >= 0, 'a finite number ≥ 0 (0 is greedy)');
  const topK = num('topK', 0, (x) => Number.isSafeInteger(x) && x >= 0, 'an integer ≥ 0 (0 is off)');
  const topP = num('topP', 1, (x) => x > 0 && x <= 1, 'a number in (0, 1] (1 is off)');
  const repetitionPenalty = num('repetitionPenalty', 1, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0 (1 is off)');
  const seed = num('seed', -1, (x) => Number.isSafeInteger(x) && x >= 0 && x <= MAX_SEED, `an integer in [0, ${MAX_SEED}]`);

  let stop: string[] = [];
  if (opts.stop !== undefined) {
    stop = typeof opts.stop === 'string' ? [opts.stop] : opts.stop;
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new MugptError(`${label('stop')} must be a non-empty string or an array of them, got ${show(opts.stop)}`);
    }
  }
  if (opts.ignoreEos !== undefined && typeof opts.ignoreEos !== 'boolean') {
    throw new MugptError(`${label('ignoreEos')} must be true or false, got ${show(opts.ignoreEos)}`);
  }
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new MugptError(`${label('signal')} must be an AbortSignal`);
  }
  return {
    maxNewTokens, temperature, topK, topP, repetitionPenalty,
    seed: seed >= 0 ? seed : randomSeed(),
    stop: [...stop], ignoreEos: opts.ignoreEos ?? false, signal,
  };
}

/** A fresh seed when none is given: 53 random bits from two 32-bit words of the OS generator. */
function randomSeed(): number {
  const w = crypto.getRandomValues(new Uint32Array(2));
  return (w[0] & 0x1fffff) * 2 ** 32 + w[1];
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
