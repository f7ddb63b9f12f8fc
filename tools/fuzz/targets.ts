// The fuzz targets: for each input format, a generator of valid inputs (structure-aware, fast-check
// where a random structure is drawn), the mutations applied to them, and the mugpt readers run on the
// result. A case passes when the readers succeed (and, for an unmutated valid input, must succeed and
// give the right answer) or throw a MugptError naming the file.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { getEncoding, type Tiktoken } from 'js-tiktoken';
import { stringify as toYaml } from 'yaml';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { openCheckpoint, readConfigJson, writeCheckpoint, INDEX_FILE } from '../../src/io/hf.js';
import { readGguf, readGgufTensorBytes, ggufGet } from '../../src/gguf/file.js';
import { makeConfig, parseConfig, toHfConfig } from '../../src/model/config.js';
import { initModel } from '../../src/model/init.js';
import { Model } from '../../src/model/model.js';
import { quantizeModel } from '../../src/gguf/quantize-model.js';
import { expectedTensors } from '../../src/model/params.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { byteToChar } from '../../src/tokenizer/bytes.js';
import { loadRunConfig } from '../../src/train/runconfig.js';
import { loadCorpusConfig } from '../../src/data/corpus-config.js';
import { readSource, type ReaderSpec } from '../../src/data/readers.js';
import { encodeShard, readShard, readShardIndex, sha256Bytes, shardFileName, verifyShards, type ShardDType } from '../../src/data/shards.js';
import { openShards } from '../../src/train/loader.js';
import { EXTREME_U64, Mutator } from './mutate.js';
import { extremeField, genGguf } from './gguf-gen.js';

/** A generated input: files to write into a fresh folder (or a string for encode). */
export interface FuzzCase {
  files: Record<string, Uint8Array | string>;
  /** An unmutated valid input: the readers must accept it. */
  valid: boolean;
  text?: string;
}

/** A result the readers got wrong without throwing (a refused valid input, a round trip that differs). */
export class WrongResult extends Error {}

/** Runs fn; a MugptError is accepted (the runner checks it names a file), anything else propagates. */
export type Attempt = (fn: () => void) => void;

export interface Target {
  name: string;
  /** Work done once a process before its cases (outside their time limit): building seed inputs. */
  prepare?(): void;
  generate(m: Mutator, seed: number): FuzzCase;
  run(dir: string, c: FuzzCase, attempt: Attempt): void | Promise<void>;
}

const repoRoot = new URL('../../../', import.meta.url);
const fixtureDir = (...p: string[]): string => join(new URL('test/fixtures/', repoRoot).pathname, ...p);

/** fast-check draws one value of arb for this case (deterministic in seed). */
const draw = <T>(arb: fc.Arbitrary<T>, seed: number): T => fc.sample(arb, { seed, numRuns: 1 })[0];

// ---- safetensors ----------------------------------------------------------------------------

const ST_DTYPES: Record<string, number> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
};
const FLOAT = ['F32', 'F16', 'BF16', 'F64'];

interface StGen { header: Record<string, unknown>; data: Buffer }

function genSafetensors(m: Mutator, names: string[]): StGen {
  const header: Record<string, unknown> = {};
  if (m.chance(0.7)) header.__metadata__ = m.chance(0.8) ? { format: 'pt', note: m.pick(['', 'é', 'x y']) } : null;
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const dtype = m.chance(0.6) ? m.pick(FLOAT) : m.pick(Object.keys(ST_DTYPES));
    const shape = Array.from({ length: m.int(4) }, () => m.int(5));
    let n = shape.reduce((a, b) => a * b, 1);
    if ((n * ST_DTYPES[dtype]) % 8 !== 0) { shape.push(8); n *= 8; }
    const bytes = (n * ST_DTYPES[dtype]) / 8;
    parts.push(Buffer.from(Array.from({ length: bytes }, () => m.int(256))));
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // reordered entries: the header's key order need not follow the offsets
  const keys = Object.keys(header);
  if (m.chance(0.3)) keys.reverse();
  return { header: Object.fromEntries(keys.map((k) => [k, header[k]])), data: Buffer.concat(parts) };
}

function frameSafetensors(headerJson: string, data: Uint8Array, pad: boolean): Buffer {
  let json = Buffer.from(headerJson, 'utf8');
  if (pad && json.length % 8 !== 0) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

/** A valid safetensors file, or one mutated in its header tree, its bytes or its length field. */
function safetensorsBytes(m: Mutator, names: string[]): { bytes: Uint8Array; valid: boolean } {
  const g = genSafetensors(m, names);
  const valid = frameSafetensors(JSON.stringify(g.header), g.data, m.chance(0.5));
  const r = m.int(10);
  if (r < 2) return { bytes: valid, valid: true };
  if (r < 6) return { bytes: frameSafetensors(m.json(g.header), g.data, m.chance(0.5)), valid: false };
  if (r < 9) {
    const other = frameSafetensors(JSON.stringify(genSafetensors(m, names).header), g.data, false);
    return { bytes: m.bytes(valid, other), valid: false };
  }
  const b = Buffer.from(valid);
  b.writeBigUInt64LE(m.pick(EXTREME_U64), 0);
  return { bytes: b, valid: false };
}

function readAllSafetensors(path: string, attempt: Attempt, expect?: Uint8Array): void {
  const f = new SafetensorsFile(path);
  try {
    for (const name of f.names()) {
      const e = f.entry(name);
      const raw = f.readRaw(name);
      if (expect && !Buffer.from(raw).equals(Buffer.from(expect.subarray(e.begin, e.end)))) throw new WrongResult(`${name}: readRaw differs from the bytes written`);
      if (FLOAT.includes(e.dtype)) attempt(() => { f.readFloat32(name); });
    }
  } finally { f.close(); }
}

const safetensors: Target = {
  name: 'safetensors',
  generate(m) {
    const names = Array.from({ length: m.int(5) }, (_, i) => m.pick([`t${i}`, `transformer.h.${i}.attn.c_attn.weight`, `é${i}`, `w${i}`]));
    const unique = [...new Set(names)];
    const { bytes, valid } = safetensorsBytes(m, unique);
    return { files: { 'model.safetensors': bytes }, valid };
  },
  run(dir, c, attempt) {
    readAllSafetensors(join(dir, 'model.safetensors'), attempt, c.valid ? c.files['model.safetensors'] as Uint8Array : undefined);
  },
};

const safetensorsSharded: Target = {
  name: 'safetensors-sharded',
  generate(m) {
    const nShards = 1 + m.int(3);
    const files: Record<string, Uint8Array | string> = {};
    const weightMap: Record<string, string> = {};
    let valid = true;
    const shardNames: string[] = [];
    for (let s = 0; s < nShards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(nShards).padStart(5, '0')}.safetensors`;
      shardNames.push(file);
      const names = Array.from({ length: 1 + m.int(3) }, (_, j) => `transformer.h.${s}.t${j}`);
      let st: { bytes: Uint8Array; valid: boolean };
      if (m.chance(0.3)) st = safetensorsBytes(m, names);
      else { const g = genSafetensors(m, names); st = { bytes: frameSafetensors(JSON.stringify(g.header), g.data, true), valid: true }; }
      if (!st.valid) valid = false;
      files[file] = st.bytes;
      for (const n of names) weightMap[n] = file;
    }
    const index = { metadata: { total_size: 0 }, weight_map: weightMap };
    if (m.chance(0.4)) { files[INDEX_FILE] = m.chance(0.7) ? m.json(index) : m.bytes(Buffer.from(JSON.stringify(index))); valid = false; }
    else files[INDEX_FILE] = JSON.stringify(index);
    if (m.chance(0.05)) { delete files[m.pick(shardNames)]; valid = false; }
    return { files, valid };
  },
  run(dir, c, attempt) {
    const r = openCheckpoint(dir);
    try {
      for (const name of r.names()) attempt(() => { r.info(name); r.read(name); });
    } finally { r.close(); }
  },
};

// ---- GGUF -----------------------------------------------------------------------------------

const gguf: Target = {
  name: 'gguf',
  generate(m) {
    const g = genGguf(m);
    const r = m.int(10);
    if (r < 2) return { files: { 'model.gguf': g.bytes }, valid: g.valid };
    if (r < 6) return { files: { 'model.gguf': extremeField(g, m, EXTREME_U64) }, valid: false };
    return { files: { 'model.gguf': m.bytes(g.bytes, genGguf(m).bytes) }, valid: false };
  },
  run(dir, _c, attempt) {
    const file = readGguf(join(dir, 'model.gguf'));
    for (const name of file.tensors.keys()) {
      const t = file.tensors.get(name)!;
      const bytes = readGgufTensorBytes(file, name, true);
      if (bytes.length !== t.bytes) throw new WrongResult(`tensor ${name}: ${bytes.length} bytes read, ${t.bytes} declared`);
    }
    for (const key of file.metadata.keys()) {
      attempt(() => { ggufGet(file, key, 'number'); });
      attempt(() => { ggufGet(file, key, 'string'); });
      attempt(() => { ggufGet(file, key, 'string[]'); });
    }
  },
};

let modelSeeds: Buffer[] | null = null;
/**
 * GGUF models mugpt writes (quantize) from small random models with the eval fixtures' 317-token
 * byte-level BPE (tokenizer.json beside the weights), so the GGUF tokenizer loads too and a case costs
 * milliseconds rather than the seconds GPT-2's 50,257 tokens and 50,000 merges take: a GPT-2 in F16 and
 * Q8_0, a BTLM (ALiBi, SwiGLU; llama.cpp's jais) in Q4_0.
 */
function ggufModels(): Buffer[] {
  if (modelSeeds) return modelSeeds;
  const dir = mkdtempSync(join(tmpdir(), 'mugpt-fuzz-seeds-'));
  const gpt2 = makeConfig({ model_type: 'gpt2', vocab_size: 317, n_positions: 16, n_embd: 32, n_layer: 1, n_head: 2 });
  const btlm = makeConfig({ model_type: 'btlm', vocab_size: 317, n_positions: 16, n_embd: 32, n_layer: 1, n_head: 2, n_inner: 64,
    activation_function: 'swiglu', position_embedding_type: 'alibi' });
  modelSeeds = ([[gpt2, 'f16'], [gpt2, 'q8_0'], [btlm, 'q4_0']] as const).map(([cfg, type], i) => {
    const hf = join(dir, `hf${i}`);
    writeCheckpoint(hf, initModel(cfg, { seed: i }));
    writeFileSync(join(hf, 'config.json'), JSON.stringify(toHfConfig(cfg)));
    copyFileSync(fixtureDir('eval', 'gpt2', 'tokenizer.json'), join(hf, 'tokenizer.json'));
    const out = join(dir, `${i}.gguf`);
    quantizeModel(hf, out, { type });
    return readFileSync(out);
  });
  rmSync(dir, { recursive: true, force: true });
  return modelSeeds;
}

const ggufModel: Target = {
  name: 'gguf-model',
  prepare() { ggufModels(); },
  generate(m) {
    const seed = m.pick(ggufModels());
    const r = m.int(10);
    if (r < 2) return { files: { 'model.gguf': seed }, valid: true };
    // most edits go to the header (metadata and tensor index), where the model's fields are
    const cut = r < 8 ? Math.min(seed.length, 4096) : seed.length;
    return { files: { 'model.gguf': Buffer.concat([m.bytes(seed.subarray(0, cut), m.pick(ggufModels()).subarray(0, cut)), seed.subarray(cut)]) }, valid: false };
  },
  run(dir) {
    const model = Model.loadGguf(join(dir, 'model.gguf'), { mmap: false });
    model.forward([[0, 1]]);
  },
};

// ---- config.json ----------------------------------------------------------------------------

let configSeeds: Array<Record<string, unknown>> | null = null;
function fixtureConfigs(): Array<Record<string, unknown>> {
  configSeeds ??= readdirSync(fixtureDir('model')).map((d) => JSON.parse(readFileSync(fixtureDir('model', d, 'config.json'), 'utf8')) as Record<string, unknown>);
  return configSeeds;
}

const configJson: Target = {
  name: 'config',
  generate(m) {
    const base = structuredClone(m.pick(fixtureConfigs()));
    const r = m.int(10);
    if (r < 2) return { files: { 'config.json': JSON.stringify(base) }, valid: true };
    if (r < 8) return { files: { 'config.json': m.json(base) }, valid: false };
    return { files: { 'config.json': m.bytes(Buffer.from(JSON.stringify(base, null, 2))) }, valid: false };
  },
  run(dir) {
    const cfg = parseConfig(readConfigJson(dir), join(dir, 'config.json'));
    expectedTensors(cfg);
  },
};

// ---- tokenizers -----------------------------------------------------------------------------

interface BpeGen { vocab: Record<string, number>; merges: Array<[string, string]>; eos: number }

function genBpe(m: Mutator): BpeGen {
  const order = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 255; i > 0; i--) { const j = m.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  const tokens = order.map((b) => byteToChar[b]);
  const merges: Array<[string, string]> = [];
  const have = new Set(tokens);
  const nMerges = m.int(40);
  for (let k = 0; k < nMerges; k++) {
    const a = m.pick(tokens), b = m.pick(tokens);
    if (have.has(a + b) || (a + b).length > 12) continue;
    tokens.push(a + b); have.add(a + b); merges.push([a, b]);
  }
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  vocab['<|endoftext|>'] = tokens.length;
  return { vocab, merges, eos: tokens.length };
}

function tokenizerJsonOf(g: BpeGen, m: Mutator): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: [{ id: g.eos, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: m.chance(0.2), trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
      byte_fallback: false, ignore_merges: m.chance(0.2), vocab: g.vocab,
      merges: m.chance(0.5) ? g.merges.map(([a, b]) => `${a} ${b}`) : g.merges },
  };
}

const SAMPLE_TEXT = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'b', ' ', '\n', 'é', '🤖', '\u0000', '\ud800', "'s", '<|endoftext|>', '12'), fc.string({ unit: 'binary', maxLength: 3 })), maxLength: 40 });

/** s with every lone surrogate replaced by U+FFFD (what a UTF-8 encoder does with it). */
const toWellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** decode(encode(s)) must give s back (lone surrogates as U+FFFD; prefix spaces may be added). */
function checkRoundTrip(tok: ReturnType<typeof loadTokenizer>, texts: string[]): void {
  for (const s of texts) {
    for (const allowSpecial of [false, true]) {
      const ids = tok.encode(s, { allowSpecial });
      for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < tok.vocabSize)) throw new WrongResult(`encode gave id ${id} outside 0…${tok.vocabSize - 1}`);
      const back = tok.decode(ids), want = toWellFormed(s);
      // add_prefix_space puts a space before every stretch of text between added tokens (as HF does)
      if (back !== want && back.replaceAll(' ', '') !== want.replaceAll(' ', '')) throw new WrongResult(`decode(encode(${JSON.stringify(s)})) = ${JSON.stringify(back)}`);
    }
  }
}

const tokenizerJson: Target = {
  name: 'tokenizer-json',
  generate(m, seed) {
    const tj = tokenizerJsonOf(genBpe(m), m);
    const r = m.int(10);
    const text = JSON.stringify(draw(fc.array(SAMPLE_TEXT, { maxLength: 3 }), seed));
    if (r < 2) return { files: { 'tokenizer.json': JSON.stringify(tj) }, valid: true, text };
    if (r < 8) return { files: { 'tokenizer.json': m.json(tj) }, valid: false, text };
    return { files: { 'tokenizer.json': m.bytes(Buffer.from(JSON.stringify(tj))) }, valid: false, text };
  },
  run(dir, c) {
    checkRoundTrip(loadTokenizer(join(dir, 'tokenizer.json')), JSON.parse(c.text!) as string[]);
  },
};

const vocabMerges: Target = {
  name: 'vocab-merges',
  generate(m, seed) {
    const g = genBpe(m);
    const merges = `#version: 0.2\n${g.merges.map(([a, b]) => `${a} ${b}\n`).join('')}`;
    const files: Record<string, Uint8Array | string> = { 'vocab.json': JSON.stringify(g.vocab), 'merges.txt': merges };
    if (m.chance(0.3)) files['special_tokens_map.json'] = JSON.stringify({ eos_token: { content: '<|endoftext|>' } });
    const text = JSON.stringify(draw(fc.array(SAMPLE_TEXT, { maxLength: 3 }), seed));
    const r = m.int(10);
    if (r < 2) return { files, valid: true, text };
    const target = m.pick(Object.keys(files));
    const content = files[target] as string;
    files[target] = target.endsWith('.json') && r < 6 ? m.json(JSON.parse(content)) : m.bytes(Buffer.from(content));
    return { files, valid: false, text };
  },
  run(dir, c) {
    checkRoundTrip(loadTokenizer(dir), JSON.parse(c.text!) as string[]);
  },
};

// ---- GPT-2 encode on arbitrary strings ------------------------------------------------------

let tiktoken: Tiktoken | null = null;

const ENCODE_TEXT = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', '\u0000', '\ud800', '\udc00', "'s", "'LL", '<|endoftext|>', '123', 'Hello', ' world', '🤖', 'e\u0301', '\u3000')), maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 2000 }) },
);

const encode: Target = {
  name: 'encode',
  generate(m, seed) {
    const r = m.int(400);
    // 1 MB without spaces (one piece), or a long run of spaces: the slow paths of a BPE
    if (r === 0) return { files: {}, valid: true, text: m.pick(['a', 'ab', 'é', '🤖', '1']).repeat(1 << 20 >> 1) };
    if (r === 1) return { files: {}, valid: true, text: ' '.repeat(1 << 18) + 'x' };
    return { files: {}, valid: true, text: draw(ENCODE_TEXT, seed) };
  },
  run(_dir, c) {
    const tok = loadTokenizer('gpt2');
    const s = c.text!;
    checkRoundTrip(tok, [s]);
    if (s.length <= 5000) {
      tiktoken ??= getEncoding('gpt2');
      const ours = tok.encode(s), ref = tiktoken.encode(s, [], []);
      if (ours.length !== ref.length || ours.some((id, i) => id !== ref[i])) throw new WrongResult(`encode(${JSON.stringify(s)}) = [${ours}] but tiktoken gives [${ref}]`);
    }
  },
};

// ---- run and corpus YAML --------------------------------------------------------------------

/** YAML-specific attacks: an alias bomb, unknown tags, merge keys, deep flow nesting. */
function yamlAttack(m: Mutator, text: string): string {
  switch (m.int(5)) {
    case 0: return `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n${text}`;
    case 1: return text.replace(/: (\S+)/, ': !!js/function "x" $1');
    case 2: return `base: &base { seed: 1 }\n<<: *base\n${text}`;
    case 3: { const d = m.pick([500, 20_000]); return `${text}\nextra: ${'['.repeat(d)}${']'.repeat(d)}\n`; }
    default: return text.replace(/: (\S+)/, ': !!binary "AAAA"');
  }
}

function configTarget(name: string, file: string, base: () => Record<string, unknown>, load: (path: string) => void): Target {
  return {
    name,
    generate(m) {
      const obj = base();
      const r = m.int(10);
      if (r < 2) return { files: { [file]: toYaml(obj) }, valid: true };
      if (r < 6) { let v: unknown = obj; for (let k = 1 + m.int(3); k > 0; k--) v = m.treeEdit(v); return { files: { [file]: toYaml(v) }, valid: false }; }
      if (r < 8) return { files: { [file]: m.bytes(Buffer.from(toYaml(obj))) }, valid: false };
      return { files: { [file]: yamlAttack(m, toYaml(obj)) }, valid: false };
    },
    run(dir) { load(join(dir, file)); },
  };
}

const runYaml = configTarget('run-yaml', 'run.yaml', () => ({
  model: { preset: 'btlm-tiny', n_layer: 1 }, parameterization: 'mup', mup: { base_width: 4, embeddings_scale: 10, output_alpha: 1 },
  data: { shards: 'shards' }, batch_size: 4, grad_accum: 2, seq_len: [{ seq_len: 16, fraction: 0.5 }, { seq_len: 32, fraction: 0.5 }],
  steps: 12, optimizer: { lr: 0.01, betas: [0.9, 0.95], weight_decay: 0.1 }, schedule: { warmup_steps: 2, decay: 'cosine', end_ratio: 0.1 },
  clip_grad_norm: 1.0, eval: { interval: 4, batches: 2 }, checkpoint: { interval: 4 }, seed: 11, out_dir: 'out',
}), (p) => { loadRunConfig(p); });

const corpusYaml = configTarget('corpus-yaml', 'corpus.yaml', () => ({
  output: 'out', on_error: 'skip', seed: 3, workers: 1, tokenizer: 'gpt2', seq_len: 64, shard_sequences: 16,
  sources: [{ name: 'web', paths: ['web.jsonl'], proportion: 0.6, text_field: 'text' }, { name: 'books', paths: ['books'], format: 'text', text_unit: 'paragraph', proportion: 0.4 }],
  split: { heldout_fraction: 0.1, seed: 7 }, steps: { normalize: { form: 'NFC' }, short_filter: { min_chars: 10 }, dedup: { threshold: 0.8, ngram: 5, bands: 8, rows: 4 }, decontaminate: true },
}), (p) => { loadCorpusConfig(p); });

// ---- corpora --------------------------------------------------------------------------------

async function readAll(spec: ReaderSpec, attempt: Attempt): Promise<void> {
  for (const onError of ['skip', 'stop'] as const) {
    try {
      for await (const d of readSource(spec, { onError })) {
        if (typeof d.text !== 'string' || !Number.isInteger(d.line) || d.line < 1) throw new WrongResult(`a document with text ${typeof d.text} at line ${d.line}`);
      }
    } catch (e) {
      attempt(() => { throw e; });
    }
  }
}

const DOC_TEXT = fc.string({ unit: fc.oneof(fc.constantFrom('a', ' ', '\n', '\r', 'é', '🤖', '"', '\\', '\u2028', '\u0000'), fc.string({ unit: 'grapheme', maxLength: 2 })), maxLength: 60 });

const jsonl: Target = {
  name: 'jsonl',
  generate(m, seed): FuzzCase {
    const zst = m.chance(0.15);
    if (zst) {
      const seedBytes = readFileSync(fixtureDir('data', 'docs.jsonl.zst'));
      return { files: { 'docs.jsonl.zst': m.chance(0.2) ? seedBytes : m.bytes(seedBytes) }, valid: false };
    }
    const texts = draw(fc.array(DOC_TEXT, { maxLength: 8 }), seed);
    const lines = texts.map((t, i) => (m.chance(0.1) ? '' : JSON.stringify(m.chance(0.5) ? { text: t, meta: { id: i, set: 'x' } } : { meta: { body: t }, text: t })));
    const body = lines.join(m.chance(0.2) ? '\r\n' : '\n') + (m.chance(0.5) ? '\n' : '');
    const r = m.int(10);
    if (r < 3) return { files: { 'docs.jsonl': body }, valid: false };
    return { files: { 'docs.jsonl': m.bytes(Buffer.from(body)) }, valid: false };
  },
  async run(dir, c, attempt) {
    const file = Object.keys(c.files)[0];
    await readAll({ name: 's', paths: [join(dir, file)], textField: file.endsWith('.zst') ? 'text' : 'meta.body', sourceField: 'meta.set', metaField: 'meta' }, attempt);
    await readAll({ name: 's', paths: [join(dir, file)] }, attempt);
  },
};

const text: Target = {
  name: 'text',
  generate(m, seed) {
    const paras = draw(fc.array(DOC_TEXT, { maxLength: 6 }), seed);
    const body = paras.join(m.pick(['\n\n', '\n', '\r\n\r\n', '\n \n']));
    return { files: { 'a.txt': m.chance(0.3) ? body : m.bytes(Buffer.from(body)) }, valid: false };
  },
  async run(dir, _c, attempt) {
    for (const textUnit of ['file', 'paragraph'] as const) await readAll({ name: 's', paths: [join(dir, 'a.txt')], format: 'text', textUnit }, attempt);
  },
};

// ---- token shards ---------------------------------------------------------------------------

const shards: Target = {
  name: 'shards',
  generate(m) {
    const dtype: ShardDType = m.chance(0.7) ? 'uint16' : 'uint32';
    const vocab = dtype === 'uint16' ? 2 + m.int(65535) : 65537 + m.int(100000);
    const seqLen = 2 + m.int(8);
    const files: Record<string, Uint8Array | string> = {};
    const splits: Record<string, Array<{ file: string; sequences: number; sha256: string }>> = { train: [], val: [] };
    for (const split of ['train', 'val'] as const) {
      for (let s = 0, n = m.int(3); s < n; s++) {
        const sequences = 1 + m.int(4);
        const ids = Array.from({ length: sequences * seqLen }, () => m.int(vocab));
        const toks = dtype === 'uint16' ? Uint16Array.from(ids) : Uint32Array.from(ids);
        const bytes = encodeShard(toks, dtype);
        const file = shardFileName(split, s);
        files[file] = Uint8Array.prototype.slice.call(bytes);
        splits[split].push({ file, sequences, sha256: sha256Bytes(bytes) });
      }
    }
    const index = { format: 'mugpt-shards', version: 1, dtype, seq_len: seqLen, vocab_size: vocab, eos_token_id: m.int(vocab), tokenizer: 'gpt2', splits };
    const r = m.int(10);
    const shardFiles = Object.keys(files);
    files['index.json'] = JSON.stringify(index);
    if (r < 2) return { files, valid: true };
    if (r < 6) files['index.json'] = m.chance(0.8) ? m.json(index) : m.bytes(Buffer.from(JSON.stringify(index)));
    else if (shardFiles.length > 0 && r < 9) { const f = m.pick(shardFiles); files[f] = m.bytes(files[f] as Uint8Array); }
    else if (shardFiles.length > 0) delete files[m.pick(shardFiles)];
    return { files, valid: false };
  },
  run(dir, c, attempt) {
    const index = readShardIndex(dir);
    const problems = verifyShards(dir);
    if (c.valid && problems.length > 0) throw new WrongResult(`verifyShards of a valid folder: ${problems.join('; ')}`);
    for (const split of ['train', 'val'] as const) for (const e of index.splits[split]) attempt(() => { readShard(dir, index, e); });
    attempt(() => {
      const { train, val } = openShards(dir, index.vocab_size);
      try {
        for (const s of [train, val]) {
          const out = new Uint32Array(Math.min(s.length, 1 << 16));
          for (let pos = 0; pos < s.length; pos += out.length) s.read(pos, out.subarray(0, Math.min(out.length, s.length - pos)));
        }
      } finally { train.close(); val.close(); }
    });
  },
};

export const TARGETS: Target[] = [safetensors, safetensorsSharded, gguf, configJson, tokenizerJson, vocabMerges, encode, runYaml, corpusYaml, jsonl, text, shards, ggufModel];

/** The files a case names: a MugptError must mention one of them (or the folder). */
export function caseNames(dir: string, c: FuzzCase): string[] {
  return [basename(dir), ...Object.keys(c.files)];
}
