// A loaded gpt2 / btlm model: load from and save to a Hugging Face folder, full forward, training
// passes, and (from Decoder) incremental decoding over a KV cache (the DecodeModel generation runs on).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../errors.js';
import { generate, type Generation } from '../generate/generate.js';
import type { GenerateOptions } from '../generate/options.js';
import { writeHfFolderFiles } from './hf-files.js';
import { openCheckpoint, readConfigJson, writeCheckpoint } from '../io/hf.js';
import { getKernels } from '../kernels/index.js';
import type { BackendName, Kernels } from '../kernels/kernels.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import { parseConfig, type ModelConfig } from './config.js';
import type { BatchDecodeModel, BatchEntry, KVCache } from '../generate/decode-model.js';
import { Decoder } from './decoder.js';
import { batchBlocksForward, blocksForward, embedForward, lmHeadForward, type GptContext, type SequenceRows } from './gpt.js';
import { LayerKVCache, type KVCacheType } from './kvcache.js';
import { TrainPass } from './train-pass.js';
import { conv1dToInOut, namedTensors, paramsFromTensors, readParams, validateCheckpoint, type Params, type Weight } from './params.js';

export interface ModelOptions {
  /** Kernels: 'js', 'native' or 'wasm'; default MUGPT_BACKEND, else native where it built. */
  backend?: BackendName;
  /** Element type of the KV cache of incremental decoding: 'f32' (default), 'f16' (half the memory) or 'q8' (int8 with a scale per position and head, ~a quarter). */
  kvCache?: KVCacheType;
  /** GGUF files: memory-map the file (default true, where the native addon loads); see ImportOptions. */
  mmap?: boolean;
  /** GGUF files: float matrices with unaligned inputs (BTLM's mlp.c_proj) as zero-padded blocks of this type (default q8_0 in quantized files), false: floats as llama.cpp computes; see ImportOptions. */
  padToBlocks?: 'q4_0' | 'q8_0' | false;
  /**
   * GGUF files on the native kernels: save the matrices as the kernels read them (repacked, padded) in
   * FILE.gguf.mugpt-x16 next to the file the first time, and map that at later loads instead of
   * converting again (default false; the CLI turns it on): docs/quantization.md, "Loading: the layout cache".
   */
  layoutCache?: boolean;
  /** Where loading says what it did with the layout cache when it could not use or save it (default: nowhere). */
  onLog?: (line: string) => void;
}

export interface ForwardResult {
  /** [B, T, V] row-major. */
  logits: Float32Array;
  shape: [number, number, number];
}

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/**
 * A GGUF file read into a config, weights by HF name and the file's tokenizer (src/gguf/import.ts);
 * conv1dOutIn: its float Conv1D matrices are in GGUF's [out, in] layout (see Params.conv1dOutIn).
 */
export interface GgufWeights { config: ModelConfig; weights: Map<string, Weight>; tokenizer: Tokenizer | null; conv1dOutIn: boolean }
export type GgufReader = (path: string, opts: {
  mmap: boolean; padToBlocks: ModelOptions['padToBlocks'];
  /** Use the layout cache for these kernels (ModelOptions.layoutCache), saying what happened through log. */
  layoutCache?: { kernels: Kernels; log: (line: string) => void };
}) => GgufWeights;

// The GGUF folder depends on the model, never the reverse: src/gguf/import.ts registers its reader
// here when it loads (src/index.ts and the CLI import it).
let ggufReader: GgufReader | null = null;

/** Sets the reader Model.loadGguf uses (src/gguf/import.ts calls it once). */
export function registerGgufReader(read: GgufReader): void {
  ggufReader = read;
}

export class Model extends Decoder implements BatchDecodeModel {
  /** The folder the model was loaded from (its tokenizer files are used by generate), or null. */
  readonly dir: string | null;
  private tokenizerCache: Tokenizer | null = null;
  private trainPass: TrainPass | null = null;
  private headLogits = new Float32Array(0); // [chunk, V] logits of the eval head
  private headIn = new Float32Array(0); // [chunk, D] gathered rows of the residual stream

  private constructor(config: ModelConfig, params: Params<Weight>, opts: ModelOptions, dir: string | null, tokenizer: Tokenizer | null = null) {
    super(config, params, getKernels(opts.backend), opts.kvCache);
    this.dir = dir;
    this.tokenizerCache = tokenizer;
  }

  /**
   * A model from a config and tensors by HF name (`transformer.`-prefixed; Conv1D weights [in, out]),
   * used as they are (not copied; the wasm backend copies them into its memory, see Kernels.adopt). Missing ALiBi slopes come from the formula.
   */
  static fromTensors(config: ModelConfig, tensors: Map<string, Float32Array> | Record<string, Float32Array>, opts: ModelOptions = {}): Model {
    const named = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
    return new Model(config, paramsFromTensors(config, named, 'Model.fromTensors'), opts, null);
  }

  /**
   * Loads a GGUF file (llama.cpp `gpt2` or `jais`, written by mugpt or by llama.cpp): Q8_0 / Q4_0
   * matrices stay quantized in memory; the file's tokenizer becomes the model's.
   */
  static loadGguf(path: string, opts: ModelOptions = {}): Model {
    check(ggufReader !== null, 'Model.loadGguf: no GGUF reader is registered; import mugpt (or src/gguf/import.js), which registers it');
    const layoutCache = opts.layoutCache ? { kernels: getKernels(opts.backend), log: opts.onLog ?? ((): void => {}) } : undefined;
    const m = ggufReader(path, { mmap: opts.mmap ?? true, padToBlocks: opts.padToBlocks, layoutCache });
    return new Model(m.config, paramsFromTensors(m.config, m.weights, path, m.conv1dOutIn), opts, null, m.tokenizer);
  }

  /** Loads a HF folder (config.json + model.safetensors or a sharded index), tensor by tensor. */
  static load(dir: string, opts: ModelOptions = {}): Model {
    const configPath = join(dir, 'config.json');
    const config = parseConfig(readConfigJson(dir), configPath);
    const reader = openCheckpoint(dir);
    try {
      validateCheckpoint(reader, config, configPath);
      return new Model(config, readParams(reader, config), opts, dir);
    } finally {
      reader.close();
    }
  }

  /** Checks a batch: B ≥ 1 rows of equal length T ≥ minLen, ids in the vocabulary, within the context. */
  private checkBatch(ids: number[][], what: string, minLen: number): void {
    check(Array.isArray(ids) && ids.length > 0 && ids.every((r) => Array.isArray(r)),
      `${what}: ids must be a non-empty array of rows of token ids (number[][])`);
    const T = ids[0].length;
    check(T > 0, `${what}: rows must not be empty`);
    check(T >= minLen, `${what}: rows must have at least ${minLen} tokens (the loss predicts each next token)`);
    ids.forEach((row, b) => {
      check(row.length === T, () => `${what}: all rows must have the same length; row 0 has ${T} tokens, row ${b} has ${row.length}`);
      this.checkIds(row, (t) => `${what}: ids[${b}][${t}]`);
    });
    this.checkContext(T, `${what}: each row`);
  }

  /** Full forward of B rows of equal length T: logits [B, T, V]. */
  forward(ids: number[][]): ForwardResult {
    this.checkBatch(ids, 'forward', 1);
    const B = ids.length, T = ids[0].length;
    const M = B * T, V = this.config.vocab_size, a = this.acts;
    a.ensure(M);
    embedForward(this.ctx, a.h, ids.flat(), M, 0, T);
    blocksForward(this.ctx, a, B, T, 0, null);
    const logits = new Float32Array(M * V);
    lmHeadForward(this.ctx, logits, a.h, a.ln, M);
    return { logits, shape: [B, T, V] };
  }

  /** The live parameter arrays by HF name (ALiBi slopes included; they are not trained). AdamW updates them in place. */
  parameters(): Record<string, Float32Array> {
    this.floatContext('parameters');
    return Object.fromEntries(this.params.tensors);
  }

  /** True when every matrix is float (a model from a quantized GGUF file holds blocks). */
  get isQuantized(): boolean {
    const p = this.params;
    return !(p.wte instanceof Float32Array && p.lmHead instanceof Float32Array && p.layers.every((l) =>
      [l.attnW, l.attnProjW, l.fcW, l.fc2W ?? l.fcW, l.mlpProjW].every((w) => w instanceof Float32Array)));
  }

  /**
   * The context with float parameters in HF's layout, which training and saving need: float Conv1D
   * matrices kept [out, in] from a GGUF file are transposed once, in place (so arrays handed out before
   * stay the parameters), and inference then reads them [in, out].
   */
  private floatContext(what: string): GptContext<Float32Array> {
    check(!this.isQuantized, `${what}: this model holds Q8_0/Q4_0 matrices (loaded from a quantized GGUF file); `
      + 'training and saving need float weights: convert it with `mugpt quantize FILE --type f32 -o OUT.gguf` and load that');
    conv1dToInOut(this.config, this.params);
    return this.ctx as GptContext<Float32Array>;
  }

  /**
   * Mean next-token cross-entropy over B rows of T ≥ 2 ids (HF's shift: logits[:, :-1] against
   * ids[:, 1:]) and its gradient for every trainable tensor, by HF name. The gradient arrays are
   * reused: they are valid until the next call. With opts.dropoutSeed the pass is in train mode: the
   * config's attn_pdrop / resid_pdrop / embd_pdrop apply where HF applies them, with masks drawn from
   * that seed (the trainer passes one per micro-batch); without it, no dropout (eval mode).
   */
  lossAndGrad(ids: number[][], opts: { dropoutSeed?: number } = {}): { loss: number; grads: Record<string, Float32Array> } {
    this.checkBatch(ids, 'lossAndGrad', 2);
    const seed = opts.dropoutSeed;
    check(seed === undefined || (Number.isSafeInteger(seed) && seed >= 0), () => `lossAndGrad: dropoutSeed must be an integer ≥ 0, got ${String(seed)}`);
    this.trainPass ??= new TrainPass(this.floatContext('lossAndGrad'));
    const loss = this.trainPass.run(ids, true, seed ?? null);
    return { loss, grads: Object.fromEntries(this.trainPass.grads) };
  }

  /** The mean next-token cross-entropy alone (validation), without materialising [B, T, V] logits. */
  loss(ids: number[][]): number {
    this.checkBatch(ids, 'loss', 2);
    this.trainPass ??= new TrainPass(this.floatContext('loss'));
    return this.trainPass.run(ids, false);
  }

  /**
   * Appends ids to the cache like step, and hands the logits of every new position to consume,
   * at most `chunk` rows at a time: consume(t0, logits [m, V], m) for new positions t0 … t0+m−1.
   * Scoring a continuation needs them all; the chunks keep [T, V] from existing at once.
   */
  stepLogits(cache: KVCache, ids: number[], consume: (t0: number, logits: Float32Array, m: number) => void, chunk = 64): void {
    check(cache instanceof LayerKVCache && cache.owner === this, 'stepLogits: the cache must come from this model\'s newCache()');
    check(Array.isArray(ids) && ids.length > 0, 'stepLogits: ids must be a non-empty array of token ids');
    this.checkIds(ids, (i) => `stepLogits: ids[${i}]`);
    const past = cache.length, T = ids.length;
    this.checkContext(past + T, 'stepLogits: the sequence');
    cache.prepare(past + T);
    const a = this.acts;
    a.ensure(T);
    embedForward(this.ctx, a.h, ids, T, past, T);
    blocksForward(this.ctx, a, 1, T, past, cache.layers());
    cache.length = past + T;
    this.headRows(T, consume, chunk);
  }

  /**
   * Full forward of B rows of equal length T (no cache), handing the logits of the flat rows
   * `rows` of [B·T] (ascending; null: all) to consume, at most `chunk` at a time:
   * consume(k0, logits [m, V], m) for rows[k0 … k0+m−1]. Only those rows go through the LM head.
   */
  forwardLogits(ids: number[][], rows: readonly number[] | null, consume: (k0: number, logits: Float32Array, m: number) => void, chunk = 64): void {
    this.checkBatch(ids, 'forwardLogits', 1);
    const B = ids.length, T = ids[0].length, M = B * T, a = this.acts;
    if (rows !== null) {
      rows.forEach((r, k) => check(Number.isInteger(r) && r >= 0 && r < M && (k === 0 || r > rows[k - 1]),
        () => `forwardLogits: rows[${k}] = ${r}: expected ascending row indices in [0, ${M})`));
    }
    a.ensure(M);
    embedForward(this.ctx, a.h, ids.flat(), M, 0, T);
    blocksForward(this.ctx, a, B, T, 0, null);
    this.headRows(rows ?? M, consume, chunk);
  }

  /**
   * The LM head over rows of the residual stream (the first `rows` of them, or the listed ones),
   * `chunk` rows at a time, into a reused [chunk, V] buffer.
   */
  private headRows(rows: number | readonly number[], consume: (k0: number, logits: Float32Array, m: number) => void, chunk: number): void {
    check(Number.isInteger(chunk) && chunk >= 1, () => `chunk: expected an integer ≥ 1, got ${chunk}`);
    const a = this.acts, D = this.config.n_embd, V = this.config.vocab_size;
    const n = typeof rows === 'number' ? rows : rows.length;
    const c = Math.max(1, Math.min(chunk, n));
    if (this.headLogits.length < c * V) this.headLogits = new Float32Array(c * V);
    if (typeof rows !== 'number' && this.headIn.length < c * D) this.headIn = new Float32Array(c * D);
    for (let k0 = 0; k0 < n; k0 += c) {
      const m = Math.min(c, n - k0);
      let h: Float32Array; // [m, D]
      if (typeof rows === 'number') h = a.h.subarray(k0 * D, (k0 + m) * D);
      else {
        for (let k = 0; k < m; k++) this.headIn.set(a.h.subarray(rows[k0 + k] * D, (rows[k0 + k] + 1) * D), k * D);
        h = this.headIn.subarray(0, m * D);
      }
      lmHeadForward(this.ctx, this.headLogits, h, a.ln, m); // a.ln [M, D]: the blocks' scratch, free now
      consume(k0, this.headLogits.subarray(0, m * V), m);
    }
  }

  /**
   * step() for several sequences at once, rows one after another: the weight matrices run once over
   * all ΣT new rows, attention per sequence over its own cache. Returns each entry's logits [V] at its
   * last new position (views of one [entries, V] array).
   */
  stepBatch(entries: readonly BatchEntry[]): Float32Array[] {
    if (Array.isArray(entries) && entries.length === 1 && Array.isArray(entries[0]?.ids) && entries[0].ids.length === 1) {
      // one sequence, one token (a server with one stream): a plain step, which replays its decode plan (docs/model.md)
      this.checkEntries(entries, 'stepBatch');
      return [this.step(entries[0].cache, entries[0].ids)];
    }
    const seqs = this.batchRows(entries, 'stepBatch');
    const a = this.acts, D = this.config.n_embd, V = this.config.vocab_size, S = entries.length;
    // the last new row of each sequence, gathered into rows 0 … S−1 (in order, so a row never overwrites one still to come)
    let r0 = 0;
    seqs.forEach((q, e) => {
      const last = r0 + q.T - 1;
      if (last !== e) a.h.copyWithin(e * D, last * D, (last + 1) * D);
      r0 += q.T;
    });
    const logits = new Float32Array(S * V); // [S, V]
    lmHeadForward(this.ctx, logits, a.h, a.ln, S);
    return entries.map((_, e) => logits.subarray(e * V, (e + 1) * V));
  }

  /**
   * stepBatch handing the logits of every new row to consume, at most `chunk` rows at a time:
   * consume(r0, logits [m, V], m) for rows r0 … r0+m−1 of the entries' new rows, in entry order.
   */
  stepBatchLogits(entries: readonly BatchEntry[], consume: (r0: number, logits: Float32Array, m: number) => void, chunk = 64): void {
    const seqs = this.batchRows(entries, 'stepBatchLogits');
    this.headRows(seqs.reduce((s, q) => s + q.T, 0), consume, chunk);
  }

  /** Checks a batch's entries (their caches this model's, each once; their ids; their contexts), naming `what`. */
  private checkEntries(entries: readonly BatchEntry[], what: string): void {
    check(Array.isArray(entries) && entries.length > 0, `${what}: entries must be a non-empty array of { cache, ids }`);
    const seen = new Set<KVCache>();
    entries.forEach(({ cache, ids }, e) => {
      check(cache instanceof LayerKVCache && cache.owner === this, () => `${what}: entries[${e}].cache must come from this model's newCache()`);
      check(!seen.has(cache), () => `${what}: entries[${e}] repeats the cache of an earlier entry`);
      seen.add(cache);
      check(Array.isArray(ids) && ids.length > 0, () => `${what}: entries[${e}].ids must be a non-empty array of token ids`);
      this.checkIds(ids, (i) => `${what}: entries[${e}].ids[${i}]`);
      this.checkContext(cache.length + ids.length, `${what}: entries[${e}]'s sequence`);
    });
  }

  /** The blocks over the new rows of every entry (appended to their caches): rows in entry order in acts.h. */
  private batchRows(entries: readonly BatchEntry[], what: string): SequenceRows[] {
    this.checkEntries(entries, what);
    const seqs: SequenceRows[] = entries.map(({ cache, ids }) => ({ T: ids.length, past: cache.length, cache: [] }));
    const M = seqs.reduce((s, q) => s + q.T, 0);
    const a = this.acts, D = this.config.n_embd;
    a.ensure(M);
    let r0 = 0;
    entries.forEach(({ cache, ids }, e) => {
      const c = cache as LayerKVCache, q = seqs[e];
      c.prepare(q.past + q.T);
      q.cache = c.layers();
      embedForward(this.ctx, a.h.subarray(r0 * D), ids, q.T, q.past, q.T);
      r0 += q.T;
    });
    batchBlocksForward(this.ctx, a, seqs, M);
    entries.forEach(({ cache }, e) => { (cache as LayerKVCache).length = seqs[e].past + seqs[e].T; });
    return seqs;
  }

  /** The tokenizer of the model folder when it has one, else the bundled GPT-2 tokenizer. */
  get tokenizer(): Tokenizer {
    if (this.tokenizerCache === null) {
      const d = this.dir;
      const own = d !== null && (existsSync(join(d, 'tokenizer.json')) || (existsSync(join(d, 'vocab.json')) && existsSync(join(d, 'merges.txt'))));
      this.tokenizerCache = loadTokenizer(own ? d : 'gpt2');
    }
    return this.tokenizerCache;
  }

  /** Streams a continuation of prompt (text or ids); see src/generate/generate.ts for the options. */
  generate(prompt: string | number[], opts: GenerateOptions = {}): Generation {
    return generate(this, this.tokenizer, prompt, opts);
  }

  /**
   * Writes a complete HF model folder: the checkpoint (F32 by default), config.json,
   * generation_config.json and the tokenizer files (src/model/hf-files.ts). HF loads it, and so does
   * loadModel, bit-identically for F32. The tokenizer: opts.tokenizer, or null for none; by default
   * the model's own (its folder's or GGUF file's, else GPT-2's) when it fits the vocabulary.
   */
  save(dir: string, opts: { dtype?: 'F32' | 'F16' | 'BF16'; maxShardBytes?: number; tokenizer?: Tokenizer | null } = {}): void {
    const dtype = opts.dtype ?? 'F32';
    check(dtype in TORCH_DTYPE, () => `save: dtype must be F32, F16 or BF16, got ${String(dtype)}`);
    const p = this.floatContext('save').p;
    let tokenizer = opts.tokenizer;
    if (tokenizer === undefined) tokenizer = this.tokenizer.vocabSize <= this.config.vocab_size ? this.tokenizer : null;
    mkdirSync(dir, { recursive: true });
    writeCheckpoint(dir, namedTensors(this.config, p), { dtype, maxShardBytes: opts.maxShardBytes });
    writeHfFolderFiles(dir, this.config, { torchDtype: TORCH_DTYPE[dtype], tokenizer });
  }
}

/** Loads a Hugging Face model folder (config.json + model.safetensors or a sharded index), or a .gguf file. */
export function loadModel(dirOrFile: string, opts: ModelOptions = {}): Model {
  return dirOrFile.toLowerCase().endsWith('.gguf') ? Model.loadGguf(dirOrFile, opts) : Model.load(dirOrFile, opts);
}
