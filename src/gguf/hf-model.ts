// GGUF (llama.cpp `gpt2` / `jais`, written by mugpt or by llama.cpp) → an HF-equivalent model, from a
// parsed file (gguf/parse.ts) with no Node API (browsers load GGUF files too; gguf/import.ts
// reads them from disk):
// a ModelConfig and weights under HF names. What llama.cpp folded into the weights stays folded:
// the config gets unit μP multipliers, an untied head when output.weight is present, and the
// attention scale llama.cpp uses (1/√d for gpt2, 1/d for jais). Quantized matrices stay quantized,
// in ggml's [out, in] layout, so a Q4_0 model is held in memory at 4.5 bits per weight.
import { MugptError } from '../errors.js';
import { innerSize, makeConfig, parseConfig, type ModelConfig } from '../model/config.js';
import { GgmlType, ggufGet, readGgufTensorBytes, type GgufFile } from './parse.js';
import { QK, dequantize, quantize, type BlockType } from '../quant/blocks.js';
import { HALF_TABLE } from '../quant/half.js';
import type { QuantMatrix } from '../kernels/qlinear-js.js';
import { llamaAlibiSlopes, transpose } from './name-map.js';
import { parseTokenizerJson } from '../tokenizer/tokenizer-json.js';
import type { BpeSpec } from '../tokenizer/bpe.js';

/** A weight as imported: floats in HF layout, or ggml blocks in [out, in] layout. */
export type ImportedTensor = { kind: 'f32'; shape: number[]; data: Float32Array } | { kind: 'quant'; matrix: QuantMatrix };

export interface ImportedModel {
  config: ModelConfig;
  tensors: Map<string, ImportedTensor>;
  /** The file's byte-level BPE tokenizer (tokenizer.ggml.*), or null when it has none. */
  tokenizer: BpeSpec | null;
}

/**
 * tokenizer.ggml.{tokens, token_type, merges} → a BPE spec, through the tokenizer.json parser
 * (so a GGUF vocabulary is validated exactly like an HF one). Token type 3 (control) and 4
 * (user-defined) become added tokens.
 */
function ggufTokenizer(file: GgufFile, eos: number | null): BpeSpec | null {
  if (!file.metadata.has('tokenizer.ggml.tokens')) return null;
  const model = file.metadata.get('tokenizer.ggml.model');
  if (model !== 'gpt2') throw new MugptError(`${file.path}: tokenizer.ggml.model "${String(model)}" is not supported (mugpt reads "gpt2" byte-level BPE)`);
  const tokens = ggufGet(file, 'tokenizer.ggml.tokens', 'string[]');
  const merges = ggufGet(file, 'tokenizer.ggml.merges', 'string[]');
  const types = (file.metadata.get('tokenizer.ggml.token_type') ?? []) as number[];
  const vocab: Record<string, number> = {};
  const added: Array<{ id: number; content: string; special: boolean }> = [];
  tokens.forEach((t, id) => {
    if (types[id] === 3 || types[id] === 4) added.push({ id, content: t, special: types[id] === 3 });
    else if (!(t in vocab)) vocab[t] = id;
  });
  const spec = parseTokenizerJson({
    model: { type: 'BPE', vocab, merges },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
    added_tokens: added,
  }, `${file.path} (tokenizer.ggml.*)`);
  return eos === null ? spec : { ...spec, eosTokenId: eos };
}

function floats(file: GgufFile, name: string): Float32Array {
  const t = file.tensors.get(name);
  if (!t) throw new MugptError(`${file.path}: tensor '${name}' is missing`);
  const raw = readGgufTensorBytes(file, name, t.type !== GgmlType.F32); // F32 is used in place; the rest converted
  const n = t.dims.reduce((a, b) => a * b, 1);
  switch (t.type) {
    case GgmlType.F32: return new Float32Array(raw.buffer, raw.byteOffset, n);
    case GgmlType.F16: {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = HALF_TABLE[raw[2 * i] | (raw[2 * i + 1] << 8)];
      return out;
    }
    case GgmlType.BF16: {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = (raw[2 * i] | (raw[2 * i + 1] << 8)) << 16;
      return out;
    }
    case GgmlType.Q8_0: return dequantize('q8_0', raw, n / t.dims[0], t.dims[0]);
    case GgmlType.Q4_0: return dequantize('q4_0', raw, n / t.dims[0], t.dims[0]);
  }
}

export interface ImportOptions {
  /** Turn every matrix into floats (for export back to HF). */
  dequantizeAll?: boolean;
  /**
   * Memory-map the file (native addon; default true where it loads): quantized matrices and F32
   * tensors are then views of the mapping, not copies. false reads each tensor into memory.
   */
  mmap?: boolean;
  /**
   * Float Conv1D matrices whose input length is not a multiple of 32 (BTLM's mlp.c_proj: 6,826 inputs,
   * kept F16 in llama.cpp's files since GGUF blocks cannot hold such rows) are zero-padded to whole
   * blocks (6,848) and quantized to this type, so they cost 8.5 (Q8_0) or 4.5 (Q4_0) bits a weight
   * instead of 32. The padded weights meet padded zero inputs, so the padding itself changes nothing;
   * the quantization rounds as any Q4_0/Q8_0 matrix does. Default: 'q8_0' in a file with quantized
   * Conv1D matrices (Q8_0's rounding of the F16 weights keeps mugpt's logits within the noise that
   * separates the two engines anyway: docs/quantization.md), none in a float file; false keeps the
   * floats (llama.cpp's arithmetic exactly), 'q4_0' the least memory (and a 4× larger difference).
   */
  padToBlocks?: BlockType | false;
  /**
   * Float Conv1D matrices stay in GGUF's [out, in] layout (shape [out, in]) instead of HF's [in, out]:
   * what Model.loadGguf runs inference on (Params.conv1dOutIn), with no transposition at load.
   */
  conv1dOutIn?: boolean;
}

/** x[rows, K] → [rows, Kp] with zeros in columns K … Kp−1. */
function padColumns(x: Float32Array, rows: number, K: number, Kp: number): Float32Array {
  const p = new Float32Array(rows * Kp);
  for (let r = 0; r < rows; r++) p.set(x.subarray(r * K, (r + 1) * K), r * Kp);
  return p;
}

/**
 * The native addon's quantizeRows into fresh memory: src [rows, K] (srcType 0: F32, 1: F16 bytes) →
 * [rows, Kp/32] blocks of ggml type `type` (8 = Q8_0, 2 = Q4_0), rows zero-padded to Kp, with quantize()'s arithmetic.
 */
export type QuantizeRows = (src: Uint8Array, srcType: number, rows: number, K: number, Kp: number, type: number) => Uint8Array;

/** A float GGUF matrix [rows, K] as blocks [rows, Kp] zero-padded (quantizeRows from F32/F16 bytes where given, else JS). */
function padToBlocks(file: GgufFile, name: string, type: BlockType, rows: number, K: number, quantizeRows?: QuantizeRows): QuantMatrix {
  const Kp = Math.ceil(K / QK) * QK;
  const t = file.tensors.get(name)!;
  if (quantizeRows && (t.type === GgmlType.F32 || t.type === GgmlType.F16)) {
    // a view of the mapping where mapped: no 1 GB copy
    const data = quantizeRows(readGgufTensorBytes(file, name), t.type === GgmlType.F16 ? 1 : 0, rows, K, Kp, type === 'q8_0' ? 8 : 2);
    return { type, data, N: rows, K: Kp };
  }
  return { type, data: quantize(type, padColumns(floats(file, name), rows, K, Kp), rows, Kp), N: rows, K: Kp };
}

/** Where each config field comes from in a GGUF file, named when the config is refused. */
const SOURCE_OF_FIELD: Record<string, (arch: string) => string> = {
  vocab_size: () => "the rows of tensor 'token_embd.weight'",
  n_embd: (a) => `metadata key '${a}.embedding_length'`,
  n_layer: (a) => `metadata key '${a}.block_count'`,
  n_head: (a) => `metadata key '${a}.attention.head_count'`,
  n_inner: (a) => `metadata key '${a}.feed_forward_length'`,
  n_positions: (a) => `metadata key '${a}.context_length'`,
  layer_norm_epsilon: (a) => `metadata key '${a}.attention.layer_norm_epsilon'`,
  bos_token_id: () => "metadata key 'tokenizer.ggml.eos_token_id'",
  eos_token_id: () => "metadata key 'tokenizer.ggml.eos_token_id'",
};

/** makeConfig of the fields a GGUF file's metadata gives; a refusal names the file and the metadata key. */
function metadataConfig(fields: Parameters<typeof makeConfig>[0], path: string, arch: string): ModelConfig {
  try {
    return makeConfig(fields, path);
  } catch (e) {
    if (!(e instanceof MugptError)) throw e;
    throw new MugptError(e.message.replace(/"(\w+)"/g, (quoted, field: string) => SOURCE_OF_FIELD[field]?.(arch) ?? quoted));
  }
}

/**
 * The config a GGUF file's metadata gives (and the shape of its token embedding: the vocabulary).
 * mugpt's own files carry the HF config too (mugpt.hf_config), which keeps the exact-vs-tanh GELU.
 */
function ggufConfig(file: GgufFile, arch: 'gpt2' | 'jais', eos: number | null): ModelConfig {
  const path = file.path;
  const num = (k: string): number => ggufGet(file, `${arch}.${k}`, 'number');
  const D = num('embedding_length');
  const L = num('block_count');
  const H = num('attention.head_count');
  const I = num('feed_forward_length');
  const eps = num('attention.layer_norm_epsilon');
  const tokEmb = file.tensors.get('token_embd.weight');
  if (!tokEmb) throw new MugptError(`${path}: tensor 'token_embd.weight' is missing`);
  if (tokEmb.dims[0] !== D) throw new MugptError(`${path}: token_embd.weight has row length ${tokEmb.dims[0]}, but ${arch}.embedding_length is ${D}`);
  const V = tokEmb.dims[1];
  const hasOutput = file.tensors.has('output.weight');

  // The model's own config, if mugpt wrote the file: keeps the activation (exact vs tanh GELU) and context.
  let hf: ModelConfig | null = null;
  if (file.metadata.has('mugpt.hf_config')) {
    try {
      hf = parseConfig(JSON.parse(ggufGet(file, 'mugpt.hf_config', 'string')) as Record<string, unknown>, `${path} (mugpt.hf_config)`);
    } catch (e) {
      if (e instanceof SyntaxError) throw new MugptError(`${path}: metadata key 'mugpt.hf_config' is not valid JSON`);
      throw e;
    }
  }
  if (arch === 'gpt2') {
    return metadataConfig({
      model_type: 'gpt2', vocab_size: V, n_embd: D, n_layer: L, n_head: H, n_inner: I,
      n_positions: num('context_length'), layer_norm_epsilon: eps,
      activation_function: hf && hf.activation_function !== 'swiglu' ? hf.activation_function : 'gelu_new',
      tie_word_embeddings: !hasOutput, bos_token_id: eos, eos_token_id: eos,
      resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0,
    }, path, arch);
  }
  if (!hasOutput) throw new MugptError(`${path}: jais models need tensor 'output.weight' (llama.cpp requires it too)`);
  if (!file.metadata.has('jais.attention.max_alibi_bias')) {
    throw new MugptError(`${path}: metadata key 'jais.attention.max_alibi_bias' is missing: without it llama.cpp runs the model with no position information`);
  }
  return metadataConfig({
    model_type: 'btlm', vocab_size: V, n_embd: D, n_layer: L, n_head: H, n_inner: I,
    n_positions: num('context_length'), layer_norm_epsilon: eps, activation_function: 'swiglu',
    position_embedding_type: 'alibi', mup_scale_qk_dot_by_d: true, tie_word_embeddings: false,
    bos_token_id: eos, eos_token_id: eos, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0,
  }, path, arch);
}

/** The block type float matrices with unaligned inputs are padded to (opts.padToBlocks, checked), or false. */
export function padTypeOf(file: GgufFile, opts: ImportOptions): BlockType | false {
  if (opts.padToBlocks !== undefined && opts.padToBlocks !== false && opts.padToBlocks !== 'q4_0' && opts.padToBlocks !== 'q8_0') {
    throw new MugptError(`padToBlocks: expected 'q4_0', 'q8_0' or false, got '${String(opts.padToBlocks)}'`);
  }
  // the default: Q8_0 when the Conv1D matrices are blocks (attn_qkv of block 0 tells), floats otherwise
  const qkv = file.tensors.get('blk.0.attn_qkv.weight');
  const quantizedFile = qkv?.type === GgmlType.Q4_0 || qkv?.type === GgmlType.Q8_0;
  return opts.padToBlocks ?? (quantizedFile ? 'q8_0' : false);
}

/**
 * The model of a parsed GGUF file (see ImportOptions; mmap is the caller's business). cached: block
 * matrices by HF name already converted for the kernels (gguf/layout-cache.ts), used in place of the
 * file's where their type and shape are what the file's would become.
 */
export function ggufModel(file: GgufFile, opts: ImportOptions = {}, quantizeRows?: QuantizeRows, cached?: Map<string, QuantMatrix>): ImportedModel {
  const path = file.path;
  const padType = padTypeOf(file, opts);
  const arch = ggufGet(file, 'general.architecture', 'string');
  if (arch !== 'gpt2' && arch !== 'jais') {
    throw new MugptError(`${path}: general.architecture "${arch}" is not supported (mugpt runs "gpt2" and "jais")`);
  }
  const eos = file.metadata.has('tokenizer.ggml.eos_token_id') ? ggufGet(file, 'tokenizer.ggml.eos_token_id', 'number') : null;
  const config = ggufConfig(file, arch, eos);
  const D = config.n_embd, L = config.n_layer, H = config.n_head, I = innerSize(config), V = config.vocab_size;
  const hasOutput = file.tensors.has('output.weight');

  const tensors = new Map<string, ImportedTensor>();
  const vec = (hfName: string, ggName: string, n: number): void => {
    const data = floats(file, ggName);
    if (data.length !== n) throw new MugptError(`${path}: tensor '${ggName}' has ${data.length} elements, expected ${n}`);
    tensors.set(hfName, { kind: 'f32', shape: [n], data });
  };
  /** A matrix stored [out, in] in GGUF; HF wants [in, out] (Conv1D) or [out, in] for embeddings. */
  const mat = (hfName: string, ggName: string, out: number, inp: number, conv1d: boolean): void => {
    const t = file.tensors.get(ggName);
    if (!t) throw new MugptError(`${path}: tensor '${ggName}' is missing`);
    if (t.dims.length !== 2 || t.dims[0] !== inp || t.dims[1] !== out) {
      throw new MugptError(`${path}: tensor '${ggName}' has dims [${t.dims}], expected [${inp}, ${out}]`);
    }
    const quant = t.type === GgmlType.Q8_0 || t.type === GgmlType.Q4_0;
    const padded = !quant && conv1d && padType && inp % QK !== 0;
    const c = cached?.get(hfName);
    if (c && !opts.dequantizeAll && c.N === out && (quant
      ? c.type === (t.type === GgmlType.Q8_0 ? 'q8_0' : 'q4_0') && c.K === inp
      : padded && c.type === padType && c.K === Math.ceil(inp / QK) * QK)) {
      tensors.set(hfName, { kind: 'quant', matrix: c });
      return;
    }
    if (quant && !opts.dequantizeAll) {  // the embedding and head too: [V, D] blocks (qrow lookups, qlinear head)
      const type = t.type === GgmlType.Q8_0 ? 'q8_0' : 'q4_0';
      tensors.set(hfName, { kind: 'quant', matrix: { type, data: readGgufTensorBytes(file, ggName), N: out, K: inp } });
      return;
    }
    if (padded && padType && !opts.dequantizeAll) {
      tensors.set(hfName, { kind: 'quant', matrix: padToBlocks(file, ggName, padType, out, inp, quantizeRows) });
      return;
    }
    const x = floats(file, ggName);
    const inOut = conv1d && !opts.conv1dOutIn;
    tensors.set(hfName, { kind: 'f32', shape: inOut ? [inp, out] : [out, inp], data: inOut ? transpose(x, out, inp) : x });
  };

  mat('transformer.wte.weight', 'token_embd.weight', V, D, false);
  if (arch === 'gpt2') mat('transformer.wpe.weight', 'position_embd.weight', config.n_positions, D, false);
  else tensors.set('transformer.relative_pe.slopes', {
    kind: 'f32', shape: [H, 1], data: llamaAlibiSlopes(H, ggufGet(file, 'jais.attention.max_alibi_bias', 'number')),
  });
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}.`;
    const b = `blk.${l}.`;
    vec(`${h}ln_1.weight`, `${b}attn_norm.weight`, D);
    vec(`${h}ln_1.bias`, `${b}attn_norm.bias`, D);
    mat(`${h}attn.c_attn.weight`, `${b}attn_qkv.weight`, 3 * D, D, true);
    vec(`${h}attn.c_attn.bias`, `${b}attn_qkv.bias`, 3 * D);
    mat(`${h}attn.c_proj.weight`, `${b}attn_output.weight`, D, D, true);
    vec(`${h}attn.c_proj.bias`, `${b}attn_output.bias`, D);
    vec(`${h}ln_2.weight`, `${b}ffn_norm.weight`, D);
    vec(`${h}ln_2.bias`, `${b}ffn_norm.bias`, D);
    mat(`${h}mlp.c_fc.weight`, `${b}ffn_up.weight`, I, D, true);
    vec(`${h}mlp.c_fc.bias`, `${b}ffn_up.bias`, I);
    if (arch === 'jais') {
      mat(`${h}mlp.c_fc2.weight`, `${b}ffn_gate.weight`, I, D, true);
      vec(`${h}mlp.c_fc2.bias`, `${b}ffn_gate.bias`, I);
    }
    mat(`${h}mlp.c_proj.weight`, `${b}ffn_down.weight`, D, I, true);
    vec(`${h}mlp.c_proj.bias`, `${b}ffn_down.bias`, D);
  }
  vec('transformer.ln_f.weight', 'output_norm.weight', D);
  vec('transformer.ln_f.bias', 'output_norm.bias', D);
  if (hasOutput) mat('lm_head.weight', 'output.weight', V, D, false);

  return { config, tensors, tokenizer: ggufTokenizer(file, eos) };
}
