// Run configs (YAML or JSON): what to train, on what, for how long, with which optimizer and
// schedule. Parsed with the `yaml` package, then validated field by field; every error names the
// file and the field. The result is a resolved plan: a model config, the context-length stages with
// their batch sizes and step counts, and the LR schedule.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseYamlText } from '../io/yaml-text.js';
import { MugptError, check, shown } from '../errors.js';
import { parseConfig, type ModelConfig } from '../model/config.js';
import { withMup, type MupBase } from '../model/mup.js';
import type { Parameterization } from '../model/init.js';
import { chinchillaTokens, countParameters, CHINCHILLA_TOKENS_PER_PARAM } from './chinchilla.js';
import { MODEL_PRESETS } from './presets.js';
import { validateSchedule, type DecayKind, type LrSchedule } from './schedule.js';

export type DataSpec =
  | { kind: 'shards'; dir: string }
  | { kind: 'text'; path: string; tokenizer: string; valFraction: number }
  | { kind: 'corpus'; name: 'sotu'; tokenizer: string; valFraction: number };

/** A context-length stage: `steps` optimizer steps of batchSize sequences of seqLen tokens. */
export interface Stage { seqLen: number; batchSize: number; steps: number; startStep: number }

export interface RunConfig {
  /** The file it came from (for messages). */
  file: string;
  model: ModelConfig;
  parameterization: Parameterization;
  mupBase?: MupBase;
  data: DataSpec;
  gradAccum: number;
  stages: Stage[];
  totalSteps: number;
  /** Planned training tokens: Σ steps · batch · seqLen. */
  tokens: number;
  optimizer: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  schedule: LrSchedule;
  /** Global-norm clipping threshold; null: no clipping. */
  clipGradNorm: number | null;
  eval: { interval: number; batches: number };
  checkpointInterval: number;
  seed: number;
  outDir: string;
}

type Obj = Record<string, unknown>;

export class Fields {
  constructor(readonly file: string) {}
  fail(field: string, msg: string): never { throw new MugptError(`${this.file}: ${field} ${msg}`); }
  obj(field: string, v: unknown, allowed: string[]): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(field, `must be a mapping, got ${show(v)}`);
    for (const k of Object.keys(v as Obj)) {
      if (!allowed.includes(k)) this.fail(`${field ? field + '.' : ''}${k}`, `is not a known field (expected one of: ${allowed.join(', ')})`);
    }
    return v as Obj;
  }
  num(field: string, v: unknown, min: number, max = Infinity, minExclusive = false): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, `must be a number, got ${show(v)}`);
    const n = v as number;
    if (minExclusive ? n <= min : n < min) this.fail(field, `must be ${minExclusive ? '>' : '≥'} ${min}, got ${n}`);
    if (n > max) this.fail(field, `must be ≤ ${max}, got ${n}`);
    return n;
  }
  int(field: string, v: unknown, min: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, `must be an integer, got ${show(v)}`);
    return this.num(field, v, min);
  }
  str(field: string, v: unknown): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(field, `must be a non-empty string, got ${show(v)}`);
    return v as string;
  }
  oneOf<T extends string>(field: string, v: unknown, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T)) this.fail(field, `must be one of ${options.join(', ')}, got ${show(v)}`);
    return v as T;
  }
}

export function show(v: unknown): string {
  return v === undefined ? 'nothing' : shown(v);
}

const TOP_KEYS = ['model', 'parameterization', 'mup', 'data', 'batch_size', 'grad_accum', 'seq_len', 'tokens', 'tokens_per_param',
  'steps', 'optimizer', 'schedule', 'clip_grad_norm', 'eval', 'checkpoint', 'seed', 'out_dir'];
const MODEL_FIELD_KEYS = ['model_type', 'vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'activation_function',
  'resid_pdrop', 'embd_pdrop', 'attn_pdrop', 'layer_norm_epsilon', 'initializer_range', 'scale_attn_weights',
  'scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn', 'use_cache', 'bos_token_id', 'eos_token_id',
  'tie_word_embeddings', 'position_embedding_type', 'mup_width_scale', 'mup_embeddings_scale', 'mup_output_alpha',
  'mup_scale_qk_dot_by_d', 'alibi_scaling'];

/**
 * Reads and validates a run config file (.yaml, .yml or .json). Relative paths in it (data.shards,
 * data.text, data.tokenizer, out_dir) resolve against the file's folder, as in corpus configs, or
 * against `baseDir` when given (the CLI's bundled default run uses the working directory).
 */
export function loadRunConfig(path: string, opts: { baseDir?: string } = {}): RunConfig {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new MugptError(`${path}: cannot read the run config (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let raw: unknown;
  if (path.endsWith('.json')) {
    try { raw = JSON.parse(text); } catch (e) {
      throw new MugptError(`${path}: not valid JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  } else {
    raw = parseYamlText(text, path);
  }
  return parseRunConfig(raw, path, opts.baseDir ?? dirname(resolve(path)));
}

function parseModel(f: Fields, v: unknown): ModelConfig {
  let fields: Obj;
  if (typeof v === 'string') {
    check(v in MODEL_PRESETS, `${f.file}: model names an unknown preset ${show(v)} (expected one of: ${Object.keys(MODEL_PRESETS).join(', ')})`);
    fields = { ...MODEL_PRESETS[v] };
  } else {
    const o = f.obj('model', v, ['preset', ...MODEL_FIELD_KEYS]);
    let base: Obj = {};
    if (o.preset !== undefined) {
      const p = f.str('model.preset', o.preset);
      if (!(p in MODEL_PRESETS)) f.fail('model.preset', `names an unknown preset ${show(p)} (expected one of: ${Object.keys(MODEL_PRESETS).join(', ')})`);
      base = { ...MODEL_PRESETS[p] };
    }
    const { preset: _p, ...rest } = o;
    fields = { ...base, ...rest };
    if (fields.model_type === undefined) f.fail('model.model_type', 'is required ("gpt2" or "btlm") unless a preset is given');
  }
  return parseConfig(fields, `${f.file}: model`);
}

/**
 * Validates a parsed YAML/JSON object; `file` names it in messages. With baseDir, relative paths
 * resolve against it; without, they stay as written (relative to the working directory).
 */
export function parseRunConfig(raw: unknown, file: string, baseDir?: string): RunConfig {
  const f = new Fields(file);
  const at = (p: string): string => (baseDir === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const top = f.obj('', raw ?? undefined, TOP_KEYS);
  for (const k of ['model', 'data', 'batch_size', 'seq_len', 'optimizer', 'out_dir']) {
    if (top[k] === undefined) f.fail(k, 'is required');
  }
  let model = parseModel(f, top.model);
  const parameterization = top.parameterization === undefined ? 'sp' : f.oneOf('parameterization', top.parameterization, ['sp', 'mup'] as const);

  let mupBase: MupBase | undefined;
  if (parameterization === 'mup') {
    if (top.mup === undefined) f.fail('mup', 'is required when parameterization is mup (base_width, embeddings_scale, output_alpha)');
    const m = f.obj('mup', top.mup, ['base_width', 'base_ffn_width', 'embeddings_scale', 'output_alpha']);
    mupBase = { width: f.num('mup.base_width', m.base_width, 0, Infinity, true) };
    if (m.base_ffn_width !== undefined) mupBase.ffnWidth = f.num('mup.base_ffn_width', m.base_ffn_width, 0, Infinity, true);
    const mup = { base: mupBase,
      embeddingsScale: f.num('mup.embeddings_scale', m.embeddings_scale, 0, Infinity, true),
      outputAlpha: f.num('mup.output_alpha', m.output_alpha, 0, Infinity, true) };
    // the multipliers can still leave the model's range (a base width of 1e-320 gives a width scale of 0)
    try { model = withMup(model, mup); } catch (e) {
      if (e instanceof MugptError) f.fail('mup', `gives multipliers the model refuses: ${e.message}`);
      throw e;
    }
  } else if (top.mup !== undefined) f.fail('mup', 'is only allowed with parameterization: mup');

  const data = parseData(f, top.data, at);
  const batch = f.int('batch_size', top.batch_size, 1);
  const gradAccum = top.grad_accum === undefined ? 1 : f.int('grad_accum', top.grad_accum, 1);

  // Context-length stages: a number, or a list of { seq_len, fraction } (fractions of the steps).
  const stageSpecs: Array<{ seqLen: number; fraction: number }> = [];
  if (Array.isArray(top.seq_len)) {
    if (top.seq_len.length === 0) f.fail('seq_len', 'must not be an empty list');
    top.seq_len.forEach((s, i) => {
      const o = f.obj(`seq_len[${i}]`, s, ['seq_len', 'fraction']);
      stageSpecs.push({ seqLen: f.int(`seq_len[${i}].seq_len`, o.seq_len, 2), fraction: f.num(`seq_len[${i}].fraction`, o.fraction, 0, 1, true) });
    });
    const sum = stageSpecs.reduce((a, s) => a + s.fraction, 0);
    if (Math.abs(sum - 1) > 1e-9) f.fail('seq_len', `fractions must add up to 1, got ${sum}`);
  } else stageSpecs.push({ seqLen: f.int('seq_len', top.seq_len, 2), fraction: 1 });
  const tokensPerStep = batch * stageSpecs[0].seqLen;
  const longest = Math.max(...stageSpecs.map((s) => s.seqLen));
  stageSpecs.forEach((s, i) => {
    const field = stageSpecs.length > 1 ? `seq_len[${i}].seq_len` : 'seq_len';
    // the loader cuts the data into windows of the longest context and splits them for shorter ones
    if (longest % s.seqLen !== 0) f.fail(field, `(${s.seqLen}) must divide the longest seq_len (${longest})`);
    if (s.seqLen > model.n_positions) f.fail(field, `(${s.seqLen}) exceeds the model's n_positions (${model.n_positions})`);
    if (tokensPerStep % s.seqLen !== 0) f.fail(field, `(${s.seqLen}) must divide the tokens per step (${tokensPerStep} = batch_size × first seq_len)`);
    const b = tokensPerStep / s.seqLen;
    if (b % gradAccum !== 0) f.fail('grad_accum', `(${gradAccum}) must divide the batch size ${b} at seq_len ${s.seqLen}`);
  });

  // Length: steps, or tokens (a number or "chinchilla": tokens_per_param × parameters).
  if ((top.steps === undefined) === (top.tokens === undefined)) f.fail('steps', 'or tokens must be given (exactly one of them)');
  if (top.tokens_per_param !== undefined && top.tokens !== 'chinchilla') f.fail('tokens_per_param', 'is only used with tokens: chinchilla');
  let totalSteps: number;
  if (top.steps !== undefined) totalSteps = f.int('steps', top.steps, 1);
  else {
    let tokens: number;
    if (top.tokens === 'chinchilla') {
      const k = top.tokens_per_param === undefined ? CHINCHILLA_TOKENS_PER_PARAM : f.num('tokens_per_param', top.tokens_per_param, 0, Infinity, true);
      tokens = chinchillaTokens(countParameters(model), k);
    } else {
      if (typeof top.tokens === 'string') f.fail('tokens', `must be a number or "chinchilla", got ${show(top.tokens)}`);
      tokens = f.num('tokens', top.tokens, 1);
    }
    totalSteps = Math.ceil(tokens / tokensPerStep);
  }
  const stages: Stage[] = [];
  let start = 0;
  stageSpecs.forEach((s, i) => {
    const steps = i === stageSpecs.length - 1 ? totalSteps - start : Math.round(s.fraction * totalSteps);
    if (steps < 1) f.fail(stageSpecs.length > 1 ? `seq_len[${i}].fraction` : 'steps', `gives a stage of ${steps} steps (out of ${totalSteps})`);
    stages.push({ seqLen: s.seqLen, batchSize: tokensPerStep / s.seqLen, steps, startStep: start });
    start += steps;
  });

  const o = f.obj('optimizer', top.optimizer, ['lr', 'betas', 'eps', 'weight_decay']);
  let betas: [number, number] = [0.9, 0.95];
  if (o.betas !== undefined) {
    const b = o.betas;
    if (!Array.isArray(b) || b.length !== 2) return f.fail('optimizer.betas', `must be a list of two numbers, got ${show(b)}`);
    betas = [f.num('optimizer.betas[0]', b[0], 0, 0.999999), f.num('optimizer.betas[1]', b[1], 0, 0.999999)];
  }
  const optimizer = {
    lr: f.num('optimizer.lr', o.lr, 0, 10, true),
    betas,
    eps: o.eps === undefined ? 1e-8 : f.num('optimizer.eps', o.eps, 0, 1),
    weightDecay: o.weight_decay === undefined ? 0.1 : f.num('optimizer.weight_decay', o.weight_decay, 0, 1),
  };

  const s = f.obj('schedule', top.schedule ?? {}, ['warmup_steps', 'warmup_tokens', 'decay', 'end_ratio', 'total_steps']);
  if (s.warmup_steps !== undefined && s.warmup_tokens !== undefined) f.fail('schedule.warmup_steps', 'and schedule.warmup_tokens are exclusive');
  const warmupSteps = s.warmup_tokens !== undefined
    ? Math.floor(f.num('schedule.warmup_tokens', s.warmup_tokens, 0) / tokensPerStep)
    : s.warmup_steps === undefined ? 0 : f.int('schedule.warmup_steps', s.warmup_steps, 0);
  const schedule: LrSchedule = {
    peakLr: optimizer.lr,
    warmupSteps,
    totalSteps: s.total_steps === undefined ? totalSteps : f.int('schedule.total_steps', s.total_steps, 1),
    decay: s.decay === undefined ? 'linear' : f.oneOf<DecayKind>('schedule.decay', s.decay, ['linear', 'cosine', 'constant']),
    endRatio: s.end_ratio === undefined ? 0.1 : f.num('schedule.end_ratio', s.end_ratio, 0, 1),
  };
  if (schedule.warmupSteps > schedule.totalSteps) f.fail('schedule', `warmup (${schedule.warmupSteps} steps) is longer than the run (${schedule.totalSteps} steps)`);
  validateSchedule(schedule, `${file}: schedule`);

  const clip = top.clip_grad_norm === undefined ? 1.0 : top.clip_grad_norm === null ? null
    : f.num('clip_grad_norm', top.clip_grad_norm, 0, Infinity, true);
  const e = f.obj('eval', top.eval ?? {}, ['interval', 'batches']);
  const c = f.obj('checkpoint', top.checkpoint ?? {}, ['interval']);
  const seed = top.seed === undefined ? 0 : f.int('seed', top.seed, 0);
  if (seed > 0xffffffff) f.fail('seed', `must be < 2^32, got ${seed}`);

  return {
    file, model, parameterization, mupBase, data, gradAccum, stages, totalSteps,
    tokens: stages.reduce((a, st) => a + st.steps * st.batchSize * st.seqLen, 0),
    optimizer, schedule, clipGradNorm: clip,
    eval: { interval: e.interval === undefined ? 100 : f.int('eval.interval', e.interval, 0),
      batches: e.batches === undefined ? 4 : f.int('eval.batches', e.batches, 1) },
    checkpointInterval: c.interval === undefined ? 500 : f.int('checkpoint.interval', c.interval, 0),
    seed,
    outDir: at(f.str('out_dir', top.out_dir)),
  };
}

function parseData(f: Fields, v: unknown, at: (path: string) => string): DataSpec {
  const d = f.obj('data', v, ['shards', 'text', 'corpus', 'tokenizer', 'val_fraction']);
  const given = ['shards', 'text', 'corpus'].filter((k) => d[k] !== undefined);
  if (given.length !== 1) f.fail('data', `needs exactly one of shards, text, corpus; got ${given.length ? given.join(' and ') : 'none'}`);
  if (d.shards !== undefined) {
    for (const k of ['tokenizer', 'val_fraction']) if (d[k] !== undefined) f.fail(`data.${k}`, 'is not used with data.shards (the shard index says it)');
    return { kind: 'shards', dir: at(f.str('data.shards', d.shards)) };
  }
  const name = d.tokenizer === undefined ? 'gpt2' : f.str('data.tokenizer', d.tokenizer);
  const tokenizer = name === 'gpt2' ? name : at(name); // 'gpt2' is the bundled tokenizer, anything else a path
  const valFraction = d.val_fraction === undefined ? 0.05 : f.num('data.val_fraction', d.val_fraction, 0, 0.5, true);
  if (d.text !== undefined) return { kind: 'text', path: at(f.str('data.text', d.text)), tokenizer, valFraction };
  return { kind: 'corpus', name: f.oneOf('data.corpus', d.corpus, ['sotu'] as const), tokenizer, valFraction };
}
