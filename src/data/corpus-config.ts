// corpus.yaml: what a corpus build reads, which steps it runs with which parameters, how it mixes,
// splits and tokenizes, and where it writes. Validation names the offending field (`sources[1].proportion`)
// and what was expected. Relative paths are resolved against the config file's folder.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseYamlText } from '../io/yaml-text.js';
import { MugptError, shown } from '../errors.js';
import type { OnError, ReaderFormat, ReaderSpec } from './readers.js';

export interface SourceConfig extends ReaderSpec {
  /** Target share of the mixed corpus, by bytes (all sources give one, summing to 1). */
  proportion?: number;
  /** Sampling multiplier: 1 = once, 2 = twice, 0.5 = half (used when no source gives a proportion). */
  weight?: number;
}

export interface DedupConfig {
  enabled: boolean;
  threshold: number;
  ngram: number;
  permutations: number;
  bands?: number;
  rows?: number;
  seed: number;
  /** Which document of a duplicate component survives: the first read (SlimPajama) or the longest. */
  keep: 'first' | 'longest';
}

export interface CorpusConfig {
  /** Folder the config was read from ('' for an in-memory config: paths resolve against cwd). */
  baseDir: string;
  output: string;
  onError: OnError;
  sources: SourceConfig[];
  steps: {
    normalize: { enabled: boolean; form: 'NFC' | 'NFKC' | 'NFD' | 'NFKD' };
    shortFilter: { enabled: boolean; minChars: number };
    dedup: DedupConfig;
    decontaminate: { enabled: boolean };
  };
  mix: { seed: number };
  split: { heldoutFraction: number; seed: number };
  tokenizer: string;
  seqLen: number;
  /** Sequences per shard file. */
  shardSequences: number;
  workers: number;
}

type Obj = Record<string, unknown>;

function fail(field: string, expected: string, got?: unknown): never {
  const gotText = got === undefined ? '' : `, got ${shown(got)}`;
  throw new MugptError(`corpus config: '${field}' must be ${expected}${gotText}`);
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function onlyKeys(o: Obj, field: string, keys: string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new MugptError(`corpus config: unknown field '${field ? `${field}.` : ''}${k}' (known: ${keys.join(', ')})`);
  }
}

function num(o: Obj, key: string, field: string, dflt: number | undefined, test: (n: number) => boolean, expected: string): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) fail(field, expected);
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) fail(field, expected, v);
  return v;
}

function str(o: Obj, key: string, field: string, dflt?: string): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) fail(field, 'a string');
    return dflt;
  }
  if (typeof v !== 'string' || v === '') fail(field, 'a non-empty string', v);
  return v;
}

function optStr(o: Obj, key: string, field: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o, key, field);
}

function bool(o: Obj, key: string, field: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(field, 'true or false', v);
  return v;
}

/** A step may be written `step: false`, `step: true` or `step: { enabled?, ...params }`. */
function step(o: Obj, key: string, field: string, keys: string[]): Obj & { enabled: boolean } {
  const v = o[key];
  if (v === undefined || v === null || v === true) return { enabled: true };
  if (v === false) return { enabled: false };
  if (!isObj(v)) fail(field, 'true, false or a mapping', v);
  onlyKeys(v, field, ['enabled', ...keys]);
  return { ...v, enabled: bool(v, 'enabled', `${field}.enabled`, true) };
}

const int = (n: number): boolean => Number.isInteger(n);

/** Parses a size: a number of bytes or a string like '64MB', '512 KiB', '1GB'. */
export function parseSize(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$/i.exec(v);
    if (m) {
      const unit = (m[2] ?? 'B').toLowerCase();
      const mult = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : 1024 ** 3;
      const bytes = Math.floor(Number(m[1]) * mult);
      if (bytes > 0) return bytes;
    }
  }
  return fail(field, "a positive size such as 67108864 or '64MB'", v);
}

const FORMATS: Array<ReaderFormat | 'auto'> = ['auto', 'jsonl', 'jsonl.zst', 'text'];

function parseSource(v: unknown, i: number, baseDir: string): SourceConfig {
  const f = `sources[${i}]`;
  if (!isObj(v)) fail(f, 'a mapping with name and paths', v);
  onlyKeys(v, f, ['name', 'paths', 'format', 'text_field', 'source_field', 'meta_field', 'text_unit', 'proportion', 'weight']);
  const name = str(v, 'name', `${f}.name`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) fail(`${f}.name`, 'letters, digits, _ . - only (it names files)', name);
  const rawPaths = typeof v.paths === 'string' ? [v.paths] : v.paths;
  if (!Array.isArray(rawPaths) || rawPaths.length === 0 || !rawPaths.every((p) => typeof p === 'string' && p !== '')) {
    fail(`${f}.paths`, 'a path or a non-empty list of paths (files, folders or globs)', v.paths);
  }
  const format = str(v, 'format', `${f}.format`, 'auto') as ReaderFormat | 'auto';
  if (!FORMATS.includes(format)) fail(`${f}.format`, `one of ${FORMATS.join(', ')}`, format);
  const textUnit = str(v, 'text_unit', `${f}.text_unit`, 'file');
  if (textUnit !== 'file' && textUnit !== 'paragraph') fail(`${f}.text_unit`, "'file' or 'paragraph'", textUnit);
  if (v.proportion !== undefined && v.weight !== undefined) fail(f, 'given either proportion or weight, not both');
  const src: SourceConfig = {
    name,
    paths: (rawPaths as string[]).map((p) => (isAbsolute(p) || !baseDir ? p : resolve(baseDir, p))),
    format,
    textField: str(v, 'text_field', `${f}.text_field`, 'text'),
    sourceField: optStr(v, 'source_field', `${f}.source_field`),
    metaField: optStr(v, 'meta_field', `${f}.meta_field`),
    textUnit,
  };
  if (v.proportion !== undefined) src.proportion = num(v, 'proportion', `${f}.proportion`, undefined, (n) => n >= 0 && n <= 1, 'a number between 0 and 1');
  if (v.weight !== undefined) src.weight = num(v, 'weight', `${f}.weight`, undefined, (n) => n >= 0, 'a number ≥ 0 (a sampling multiplier)');
  return src;
}

/** Proportions must be given for all sources or none, and sum to 1 within 1% (see docs/data.md). */
function checkMix(sources: SourceConfig[]): void {
  const withP = sources.filter((s) => s.proportion !== undefined);
  if (withP.length > 0 && withP.length < sources.length) {
    const missing = sources.find((s) => s.proportion === undefined)!;
    throw new MugptError(`corpus config: sources '${withP[0].name}' has a proportion but '${missing.name}' does not; give every source a proportion, or use weight everywhere`);
  }
  if (withP.length > 0) {
    const sum = withP.reduce((a, s) => a + s.proportion!, 0);
    if (sum === 0) throw new MugptError('corpus config: sources[*].proportion are all 0; at least one source needs a positive proportion');
    if (Math.abs(sum - 1) > 0.01) {
      throw new MugptError(`corpus config: sources[*].proportion sum to ${+sum.toFixed(6)}, expected 1 (±0.01): ${withP.map((s) => `${s.name}=${s.proportion}`).join(', ')}`);
    }
  } else if (sources.every((s) => s.weight === 0)) {
    throw new MugptError('corpus config: sources[*].weight are all 0; at least one source needs a positive weight');
  }
}

/** Validates a parsed corpus.yaml (an object) into a CorpusConfig. baseDir resolves relative paths. */
export function parseCorpusConfig(raw: unknown, baseDir = ''): CorpusConfig {
  if (!isObj(raw)) throw new MugptError('corpus config: expected a mapping at the top level');
  onlyKeys(raw, '', ['output', 'on_error', 'seed', 'workers', 'sources', 'steps', 'split', 'tokenizer', 'seq_len', 'shard_size', 'shard_sequences']);
  const output = str(raw, 'output', 'output');
  const onError = str(raw, 'on_error', 'on_error', 'skip');
  if (onError !== 'skip' && onError !== 'stop') fail('on_error', "'skip' or 'stop'", onError);
  const seed = num(raw, 'seed', 'seed', 42, int, 'an integer');

  if (!Array.isArray(raw.sources) || raw.sources.length === 0) fail('sources', 'a non-empty list of sources', raw.sources);
  const sources = raw.sources.map((s, i) => parseSource(s, i, baseDir));
  const names = new Set<string>();
  sources.forEach((s, i) => {
    if (names.has(s.name)) fail(`sources[${i}].name`, 'unique', s.name);
    names.add(s.name);
  });
  checkMix(sources);

  const steps = raw.steps === undefined || raw.steps === null ? {} : raw.steps;
  if (!isObj(steps)) fail('steps', 'a mapping', steps);
  onlyKeys(steps, 'steps', ['normalize', 'short_filter', 'dedup', 'decontaminate']);
  const norm = step(steps, 'normalize', 'steps.normalize', ['form']);
  const form = str(norm, 'form', 'steps.normalize.form', 'NFC');
  if (!['NFC', 'NFKC', 'NFD', 'NFKD'].includes(form)) fail('steps.normalize.form', 'NFC, NFKC, NFD or NFKD', form);
  const short = step(steps, 'short_filter', 'steps.short_filter', ['min_chars']);
  const dd = step(steps, 'dedup', 'steps.dedup', ['threshold', 'ngram', 'permutations', 'bands', 'rows', 'seed', 'keep']);
  const dedup: DedupConfig = {
    enabled: dd.enabled,
    threshold: num(dd, 'threshold', 'steps.dedup.threshold', 0.8, (n) => n > 0 && n < 1, 'a number in (0, 1)'),
    ngram: num(dd, 'ngram', 'steps.dedup.ngram', 13, (n) => int(n) && n >= 1, 'an integer ≥ 1'),
    permutations: num(dd, 'permutations', 'steps.dedup.permutations', 128, (n) => int(n) && n >= 2, 'an integer ≥ 2'),
    seed: num(dd, 'seed', 'steps.dedup.seed', 1, int, 'an integer'),
    keep: str(dd, 'keep', 'steps.dedup.keep', 'first') as DedupConfig['keep'],
  };
  if (dedup.keep !== 'first' && dedup.keep !== 'longest') fail('steps.dedup.keep', "'first' or 'longest'", dedup.keep);
  if (dd.bands !== undefined || dd.rows !== undefined) {
    dedup.bands = num(dd, 'bands', 'steps.dedup.bands', undefined, (n) => int(n) && n >= 1, 'an integer ≥ 1 (given together with rows)');
    dedup.rows = num(dd, 'rows', 'steps.dedup.rows', undefined, (n) => int(n) && n >= 1, 'an integer ≥ 1 (given together with bands)');
    if (dedup.bands * dedup.rows > dedup.permutations) fail('steps.dedup.bands', `bands × rows ≤ permutations (${dedup.permutations})`, dedup.bands * dedup.rows);
  }
  const decon = step(steps, 'decontaminate', 'steps.decontaminate', []);

  const split = raw.split === undefined || raw.split === null ? {} : raw.split;
  if (!isObj(split)) fail('split', 'a mapping', split);
  onlyKeys(split, 'split', ['heldout_fraction', 'seed']);

  const tokenizer = str(raw, 'tokenizer', 'tokenizer', 'gpt2');
  const seqLen = num(raw, 'seq_len', 'seq_len', 1024, (n) => int(n) && n >= 2, 'an integer ≥ 2');
  if (raw.shard_size !== undefined && raw.shard_sequences !== undefined) fail('shard_size', 'given without shard_sequences (one or the other)');
  let shardSequences: number;
  if (raw.shard_sequences !== undefined) shardSequences = num(raw, 'shard_sequences', 'shard_sequences', undefined, (n) => int(n) && n >= 1, 'an integer ≥ 1');
  else {
    // Converted with 2 bytes per token; a uint32 vocabulary doubles the file size, not the count.
    const bytes = raw.shard_size === undefined ? 64 * 1024 ** 2 : parseSize(raw.shard_size, 'shard_size');
    shardSequences = Math.max(1, Math.floor(bytes / (2 * seqLen)));
  }
  return {
    baseDir,
    output: isAbsolute(output) || !baseDir ? output : resolve(baseDir, output),
    onError,
    sources,
    steps: {
      normalize: { enabled: norm.enabled, form: form as CorpusConfig['steps']['normalize']['form'] },
      shortFilter: { enabled: short.enabled, minChars: num(short, 'min_chars', 'steps.short_filter.min_chars', 200, (n) => int(n) && n >= 0, 'an integer ≥ 0') },
      dedup,
      decontaminate: { enabled: decon.enabled },
    },
    mix: { seed },
    split: {
      heldoutFraction: num(split, 'heldout_fraction', 'split.heldout_fraction', 0.0017, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
      seed: num(split, 'seed', 'split.seed', seed, int, 'an integer'),
    },
    tokenizer: tokenizer === 'gpt2' || isAbsolute(tokenizer) || !baseDir ? tokenizer : resolve(baseDir, tokenizer),
    seqLen,
    shardSequences,
    workers: num(raw, 'workers', 'workers', Math.max(1, availableParallelism()), (n) => int(n) && n >= 1, 'an integer ≥ 1'),
  };
}

/** Reads and validates a corpus.yaml file. */
export function loadCorpusConfig(path: string): CorpusConfig {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (err) {
    throw new MugptError(`corpus config ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const raw = parseYamlText(text, `corpus config ${path}`);
  try { return parseCorpusConfig(raw, dirname(resolve(path))); } catch (err) {
    if (err instanceof MugptError) throw new MugptError(err.message.replace(/^corpus config/, `corpus config ${path}`));
    throw err;
  }
}
