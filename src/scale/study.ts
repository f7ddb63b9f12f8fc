// Study files (YAML or JSON): a family of model shapes trained compute-optimally in SP and μP on one
// corpus, the data it is built from (a trained BPE vocabulary, a `mugpt data build` corpus), the
// optimizer recipe, and the μP proxy sweep whose best learning rate every μP member uses. A `quick:`
// mapping overrides fields for `--quick` (mappings merge, lists and values replace). Validation names
// the file and the field, as the run configs do (src/train/runconfig.ts).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MugptError } from '../errors.js';
import type { Parameterization } from '../model/init.js';
import type { MupArch } from '../mup/setup.js';
import { Fields, show } from '../train/runconfig.js';
import type { DecayKind } from '../train/schedule.js';

/** The downstream tasks a study may name without a path: built from its own held-out split (src/scale/downstream.ts). */
export const HELD_OUT_TASKS = ['sotu_cloze', 'sotu_next'] as const;

export interface SizeSpec { name: string; nEmbd: number; nLayer: number; nHead: number }

export interface StudyData {
  /** A built-in corpus (`sotu`) or a corpus.yaml (resolved path) read by `mugpt data build`. */
  source: { preset: 'sotu' } | { corpus: string };
  /** BPE vocabulary trained on the corpus's sources (`mugpt tokenizer train`). */
  vocabSize: number;
  seqLen: number;
  /** Held-out fraction of the preset's documents. */
  heldoutFraction: number;
}

export interface SweepSpec {
  /** Proxy widths; the smallest is the μP base width. */
  widths: number[];
  lrs: number[];
  steps: number;
  layers: number;
  heads: number;
  batch: number;
  evalBatches: number;
}

export interface Study {
  /** The study file (messages, the run directory's record). */
  file: string;
  quick: boolean;
  arch: MupArch;
  data: StudyData;
  sizes: SizeSpec[];
  parameterizations: Parameterization[];
  tokensPerParam: number;
  /** Which parameter count sets a member's tokens (tokens = tokensPerParam · count). */
  tokenParams: 'total' | 'non_embedding';
  batchSize: number;
  optimizer: { betas: [number, number]; eps: number; weightDecay: number };
  schedule: { warmupFraction: number; decay: DecayKind; endRatio: number };
  clipGradNorm: number | null;
  eval: { batches: number; points: number };
  checkpointInterval: number;
  /** SP peak lr: a number, or 'sweep' (the proxy sweep's best SP lr at the base width). */
  spLr: number | 'sweep';
  /** μP peak lr: a number, or 'sweep' (the proxy sweep's best μP lr at the base width, transferred). */
  mupLr: number | 'sweep';
  sweep: SweepSpec;
  /** Downstream tasks `NAME=PATH` as `mugpt eval --task` takes them (PATH resolved against the study file); the report plots their accuracy against compute. */
  downstreamTasks: string[];
  seed: number;
}

type Obj = Record<string, unknown>;

const TOP_KEYS = ['arch', 'data', 'sizes', 'parameterizations', 'tokens_per_param', 'token_params', 'batch_size', 'optimizer',
  'schedule', 'clip_grad_norm', 'eval', 'checkpoint', 'sp', 'mup', 'downstream_tasks', 'seed', 'quick'];

/** Reads and validates a study file; `quick` applies its `quick:` overrides. */
export function loadStudy(path: string, opts: { quick?: boolean } = {}): Study {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new MugptError(`${path}: cannot read the study file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let raw: unknown;
  try { raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text); } catch (e) {
    throw new MugptError(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseStudy(raw, path, opts);
}

/** Mappings merge key by key; anything else in `over` replaces what is in `base`. */
function merge(base: unknown, over: unknown): unknown {
  const isMap = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return over;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? merge(base[k], v) : v;
  return out;
}

/** An lr list: numbers, or "LOW..HIGH" powers of two apart (2^k allowed in both). */
function parseLrList(f: Fields, field: string, v: unknown): number[] {
  const pow = (s: string): number => {
    const m = /^2\^(-?\d+(?:\.\d+)?)$/.exec(s.trim());
    const x = m ? 2 ** Number(m[1]) : Number(s);
    if (!Number.isFinite(x) || x <= 0) f.fail(field, `must be a list of positive numbers or "LOW..HIGH" (2^k allowed), got ${show(v)}`);
    return x;
  };
  if (typeof v === 'string') {
    const g = /^(.+)\.\.(.+)$/.exec(v);
    if (!g) f.fail(field, `must be a list of positive numbers or "LOW..HIGH" (2^k allowed), got ${show(v)}`);
    const lo = Math.log2(pow(g[1])), hi = Math.log2(pow(g[2]));
    if (hi < lo || hi - lo > 32) f.fail(field, `grid ${show(v)} must run upwards over at most 32 octaves`);
    return Array.from({ length: Math.floor(hi - lo + 1e-9) + 1 }, (_, i) => 2 ** (lo + i));
  }
  if (!Array.isArray(v) || v.length === 0) f.fail(field, `must be a list of positive numbers or "LOW..HIGH" (2^k allowed), got ${show(v)}`);
  return v.map((x, i) => f.num(`${field}[${i}]`, x, 0, 10, true));
}

function lrChoice(f: Fields, field: string, v: unknown): number | 'sweep' {
  if (v === undefined || v === 'sweep') return 'sweep';
  return f.num(field, v, 0, 10, true);
}

/** Validates a parsed study object; `file` names it in messages and anchors relative paths. */
export function parseStudy(raw: unknown, file: string, opts: { quick?: boolean } = {}): Study {
  const f = new Fields(file);
  const top0 = f.obj('', raw ?? undefined, TOP_KEYS);
  const quick = opts.quick ?? false;
  if (quick && top0.quick === undefined) f.fail('quick', 'is needed for --quick (a mapping of the fields that differ in the quick variant)');
  if (top0.quick !== undefined) f.obj('quick', top0.quick, TOP_KEYS.filter((k) => k !== 'quick'));
  const { quick: quickOver, ...base } = top0;
  const top = (quick ? merge(base, quickOver) : base) as Obj;
  const at = (field: string) => (quick && field.split('.')[0] in (quickOver as Obj) ? `quick.${field}` : field);
  for (const k of ['data', 'sizes']) if (top[k] === undefined) f.fail(k, 'is required');

  const arch = top.arch === undefined ? 'btlm' : f.oneOf(at('arch'), top.arch, ['btlm', 'gpt2'] as const);

  const d = f.obj(at('data'), top.data, ['preset', 'corpus', 'vocab_size', 'seq_len', 'heldout_fraction']);
  if ((d.preset === undefined) === (d.corpus === undefined)) f.fail(at('data'), 'needs exactly one of preset (sotu) or corpus (a corpus.yaml)');
  if (d.corpus !== undefined && d.heldout_fraction !== undefined) f.fail(at('data.heldout_fraction'), 'is set in the corpus.yaml (split.heldout_fraction), not here');
  if (d.vocab_size === undefined) f.fail(at('data.vocab_size'), 'is required (the BPE vocabulary to train, e.g. 2048)');
  if (d.seq_len === undefined) f.fail(at('data.seq_len'), 'is required');
  const data: StudyData = {
    source: d.preset !== undefined ? { preset: f.oneOf(at('data.preset'), d.preset, ['sotu'] as const) }
      : { corpus: resolve(dirname(file), f.str(at('data.corpus'), d.corpus)) },
    vocabSize: f.int(at('data.vocab_size'), d.vocab_size, 258),
    seqLen: f.int(at('data.seq_len'), d.seq_len, 2),
    heldoutFraction: d.heldout_fraction === undefined ? 0.05 : f.num(at('data.heldout_fraction'), d.heldout_fraction, 0, 0.5, true),
  };
  if (data.vocabSize > 65536) f.fail(at('data.vocab_size'), `must be ≤ 65536, got ${data.vocabSize}`);

  if (!Array.isArray(top.sizes) || top.sizes.length === 0) f.fail(at('sizes'), `must be a non-empty list of { name, n_embd, n_layer, n_head }, got ${show(top.sizes)}`);
  const sizes = (top.sizes as unknown[]).map((s, i): SizeSpec => {
    const field = at(`sizes`) + `[${i}]`;
    const o = f.obj(field, s, ['name', 'n_embd', 'n_layer', 'n_head']);
    const name = f.str(`${field}.name`, o.name);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) f.fail(`${field}.name`, `must be letters, digits, '.', '_' or '-' (it names a folder), got ${show(name)}`);
    const size = { name, nEmbd: f.int(`${field}.n_embd`, o.n_embd, 1), nLayer: f.int(`${field}.n_layer`, o.n_layer, 1), nHead: f.int(`${field}.n_head`, o.n_head, 1) };
    if (size.nEmbd % size.nHead !== 0) f.fail(`${field}.n_embd`, `(${size.nEmbd}) must be a multiple of n_head (${size.nHead})`);
    return size;
  });
  const names = new Set<string>();
  sizes.forEach((s, i) => { if (names.has(s.name)) f.fail(`${at('sizes')}[${i}].name`, `repeats ${show(s.name)}`); names.add(s.name); });

  let parameterizations: Parameterization[] = ['sp', 'mup'];
  if (top.parameterizations !== undefined) {
    if (!Array.isArray(top.parameterizations) || top.parameterizations.length === 0) f.fail(at('parameterizations'), `must be a non-empty list of sp, mup, got ${show(top.parameterizations)}`);
    parameterizations = (top.parameterizations as unknown[]).map((p, i) => f.oneOf(`${at('parameterizations')}[${i}]`, p, ['sp', 'mup'] as const));
    if (new Set(parameterizations).size !== parameterizations.length) f.fail(at('parameterizations'), 'lists a parameterization twice');
  }

  const o = f.obj(at('optimizer'), top.optimizer ?? {}, ['betas', 'eps', 'weight_decay']);
  let betas: [number, number] = [0.9, 0.95];
  if (o.betas !== undefined) {
    const b = o.betas;
    if (!Array.isArray(b) || b.length !== 2) return f.fail(at('optimizer.betas'), `must be a list of two numbers, got ${show(b)}`);
    betas = [f.num(at('optimizer.betas') + '[0]', b[0], 0, 0.999999), f.num(at('optimizer.betas') + '[1]', b[1], 0, 0.999999)];
  }
  const s = f.obj(at('schedule'), top.schedule ?? {}, ['warmup_fraction', 'decay', 'end_ratio']);
  const e = f.obj(at('eval'), top.eval ?? {}, ['batches', 'points']);
  const c = f.obj(at('checkpoint'), top.checkpoint ?? {}, ['interval']);
  const sp = f.obj(at('sp'), top.sp ?? {}, ['lr']);
  const mup = f.obj(at('mup'), top.mup ?? {}, ['lr', 'sweep']);
  const sw = f.obj(at('mup.sweep'), mup.sweep ?? {}, ['widths', 'lrs', 'steps', 'layers', 'heads', 'batch', 'eval_batches']);

  const sweep: SweepSpec = {
    widths: sw.widths === undefined ? [64, 128] : (() => {
      if (!Array.isArray(sw.widths) || sw.widths.length === 0) f.fail(at('mup.sweep.widths'), `must be a non-empty list of widths, got ${show(sw.widths)}`);
      return (sw.widths as unknown[]).map((w, i) => f.int(`${at('mup.sweep.widths')}[${i}]`, w, 1)).sort((a, b) => a - b);
    })(),
    lrs: sw.lrs === undefined ? Array.from({ length: 7 }, (_, i) => 2 ** (i - 11)) : parseLrList(f, at('mup.sweep.lrs'), sw.lrs),
    steps: sw.steps === undefined ? 100 : f.int(at('mup.sweep.steps'), sw.steps, 1),
    layers: sw.layers === undefined ? 2 : f.int(at('mup.sweep.layers'), sw.layers, 1),
    heads: sw.heads === undefined ? 4 : f.int(at('mup.sweep.heads'), sw.heads, 1),
    batch: sw.batch === undefined ? 8 : f.int(at('mup.sweep.batch'), sw.batch, 1),
    evalBatches: sw.eval_batches === undefined ? 8 : f.int(at('mup.sweep.eval_batches'), sw.eval_batches, 1),
  };
  for (const w of sweep.widths) if (w % sweep.heads !== 0) f.fail(at('mup.sweep.widths'), `${w} is not a multiple of mup.sweep.heads (${sweep.heads})`);
  if (new Set(sweep.widths).size !== sweep.widths.length) f.fail(at('mup.sweep.widths'), 'repeats a width');

  let downstreamTasks: string[] = [];
  if (top.downstream_tasks !== undefined) {
    if (!Array.isArray(top.downstream_tasks)) f.fail(at('downstream_tasks'), `must be a list of task names, got ${show(top.downstream_tasks)}`);
    downstreamTasks = (top.downstream_tasks as unknown[]).map((t, i) => {
      const field = `${at('downstream_tasks')}[${i}]`;
      const spec = f.str(field, t);
      if ((HELD_OUT_TASKS as readonly string[]).includes(spec)) return spec; // built from the study's own held-out split
      const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(spec);
      if (!m) return f.fail(field, `must be NAME=PATH as \`mugpt eval --task\` takes it (NAME: letters, digits, _ . -), or ${HELD_OUT_TASKS.join(' or ')} alone (from the study's held-out split), got ${show(t)}`);
      return `${m[1]}=${resolve(dirname(file), m[2])}`;
    });
    if (new Set(downstreamTasks.map((t) => t.split('=')[0])).size !== downstreamTasks.length) f.fail(at('downstream_tasks'), 'names a task twice');
  }

  const seed = top.seed === undefined ? 0 : f.int(at('seed'), top.seed, 0);
  if (seed > 0xffffffff) f.fail(at('seed'), `must be < 2^32, got ${seed}`);
  return {
    file, quick, arch, data, sizes, parameterizations,
    tokensPerParam: top.tokens_per_param === undefined ? 20 : f.num(at('tokens_per_param'), top.tokens_per_param, 0, Infinity, true),
    tokenParams: top.token_params === undefined ? 'total' : f.oneOf(at('token_params'), top.token_params, ['total', 'non_embedding'] as const),
    batchSize: top.batch_size === undefined ? 8 : f.int(at('batch_size'), top.batch_size, 1),
    optimizer: { betas, eps: o.eps === undefined ? 1e-8 : f.num(at('optimizer.eps'), o.eps, 0, 1),
      weightDecay: o.weight_decay === undefined ? 0.1 : f.num(at('optimizer.weight_decay'), o.weight_decay, 0, 1) },
    schedule: {
      warmupFraction: s.warmup_fraction === undefined ? 0.1 : f.num(at('schedule.warmup_fraction'), s.warmup_fraction, 0, 1),
      decay: s.decay === undefined ? 'linear' : f.oneOf<DecayKind>(at('schedule.decay'), s.decay, ['linear', 'cosine', 'constant']),
      endRatio: s.end_ratio === undefined ? 0.1 : f.num(at('schedule.end_ratio'), s.end_ratio, 0, 1),
    },
    clipGradNorm: top.clip_grad_norm === undefined ? 1.0 : top.clip_grad_norm === null ? null : f.num(at('clip_grad_norm'), top.clip_grad_norm, 0, Infinity, true),
    eval: { batches: e.batches === undefined ? 16 : f.int(at('eval.batches'), e.batches, 1),
      points: e.points === undefined ? 8 : f.int(at('eval.points'), e.points, 1) },
    checkpointInterval: c.interval === undefined ? 200 : f.int(at('checkpoint.interval'), c.interval, 0),
    spLr: lrChoice(f, at('sp.lr'), sp.lr),
    mupLr: lrChoice(f, at('mup.lr'), mup.lr),
    sweep, downstreamTasks, seed,
  };
}
