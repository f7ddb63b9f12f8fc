// HF model → GGUF file that llama.cpp (and mugpt) run: tensors renamed and transposed to ggml's
// layout, μP multipliers folded in (name-map.ts), weights stored as F32/F16/Q8_0/Q4_0, the GPT-2
// tokenizer embedded. Tensors are produced one at a time, so memory stays near one tensor.
import { MugptError } from '../errors.js';
import { headDim, innerSize, type ModelConfig, toHfConfig } from '../model/config.js';
import { GgmlType, GgufValueType, writeGguf, type GgufTensorOut, type GgufValue } from './file.js';
import { quantize, QK } from '../quant/blocks.js';
import { floatToHalf } from '../quant/half.js';
import { bytesToTokenString } from '../tokenizer/bytes.js';
import type { BpeSpec } from '../tokenizer/bpe.js';
import { planGguf, transpose, type GgufPlan } from './name-map.js';

export type GgufWeightType = 'f32' | 'f16' | 'q8_0' | 'q4_0';

export interface GgufExportOptions {
  type: GgufWeightType;
  /** Type of token_embd and output.weight; default q8_0 for quantized files, else `type`. */
  embedType?: GgufWeightType;
  name?: string;
}

const GGML: Record<GgufWeightType, GgmlType> = { f32: GgmlType.F32, f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 };
const FILE_TYPE: Record<GgufWeightType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

/** Encodes x[rows, K] (row-major) as a ggml type; block types fall back to F16 when K % 32 ≠ 0. */
export function encodeMatrix(x: Float32Array, rows: number, K: number, type: GgufWeightType): { type: GgmlType; data: Uint8Array } {
  if ((type === 'q8_0' || type === 'q4_0') && K % QK === 0) return { type: GGML[type], data: quantize(type, x, rows, K) };
  if (type === 'f32') return { type: GgmlType.F32, data: new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)) };
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = floatToHalf(x[i]);
  return { type: GgmlType.F16, data: new Uint8Array(h.buffer) };
}

function scaled(x: Float32Array, s: number): Float32Array {
  return s === 1 ? x : x.map((v) => v * s);
}

/** GGUF tokenizer metadata for a byte-level BPE (llama.cpp's "gpt2" tokenizer model). */
export function tokenizerMetadata(spec: BpeSpec, vocabSize: number): Record<string, GgufValue> {
  const special = new Map(spec.added.map((a) => [a.id, a]));
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const added = special.get(id);
    if (added) { tokens.push(added.content); types.push(added.special ? 3 : 4); continue; }
    if (id >= spec.tokenBytes.length) { tokens.push(`[PAD${id}]`); types.push(5); continue; }
    tokens.push(bytesToTokenString(spec.tokenBytes[id]));
    types.push(1);
  }
  const merges: string[] = [];
  for (let r = 0; r < spec.mergeResults.length; r++) {
    merges.push(`${tokens[spec.mergePairs[2 * r]]} ${tokens[spec.mergePairs[2 * r + 1]]}`);
  }
  const meta: Record<string, GgufValue> = {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'gpt-2',
    'tokenizer.ggml.tokens': { type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: tokens },
    'tokenizer.ggml.token_type': { type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: types },
    'tokenizer.ggml.merges': { type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: merges },
  };
  if (spec.eosTokenId !== null) {
    meta['tokenizer.ggml.bos_token_id'] = { type: GgufValueType.UINT32, value: spec.eosTokenId };
    meta['tokenizer.ggml.eos_token_id'] = { type: GgufValueType.UINT32, value: spec.eosTokenId };
  }
  return meta;
}

/**
 * Writes cfg + weights (HF names, read through `get`) as a GGUF file at path. Returns the plan, whose
 * notes say where llama.cpp will compute something other than the model.
 */
export function exportGguf(
  path: string, cfg: ModelConfig, get: (hfName: string) => Float32Array, tokenizer: BpeSpec, opts: GgufExportOptions,
): GgufPlan {
  const D = cfg.n_embd;
  const I = innerSize(cfg);
  const V = cfg.vocab_size;
  const slopes = cfg.position_embedding_type === 'alibi' ? tryGet(get, 'transformer.relative_pe.slopes') : null;
  const plan = planGguf(cfg, slopes, path);
  const a = plan.arch;
  const embedType = opts.embedType ?? (opts.type === 'q8_0' || opts.type === 'q4_0' ? 'q8_0' : opts.type);
  const tensors: GgufTensorOut[] = [];
  const f32 = (name: string, hf: string): void => {
    tensors.push({ name, dims: [D], type: GgmlType.F32, data: () => asBytes(get(hf)) });
  };
  /** A 2-D tensor given as rows × K in ggml layout, produced lazily. */
  const mat = (name: string, rows: number, K: number, type: GgufWeightType, make: () => Float32Array): void => {
    const ggType = (type === 'q8_0' || type === 'q4_0') && K % QK !== 0 ? GgmlType.F16 : GGML[type];
    tensors.push({ name, dims: [K, rows], type: ggType, data: () => encodeMatrix(make(), rows, K, type).data });
  };
  const vec = (name: string, n: number, make: () => Float32Array): void => {
    tensors.push({ name, dims: [n], type: GgmlType.F32, data: () => asBytes(make()) });
  };

  mat('token_embd.weight', V, D, embedType, () => scaled(get('transformer.wte.weight'), plan.embeddingScale));
  if (a === 'gpt2') {
    mat('position_embd.weight', cfg.n_positions, D, 'f32', () => scaled(get('transformer.wpe.weight'), plan.embeddingScale));
  }
  for (let l = 0; l < cfg.n_layer; l++) {
    const hf = `transformer.h.${l}.`;
    const blk = `blk.${l}.`;
    f32(`${blk}attn_norm.weight`, `${hf}ln_1.weight`);
    f32(`${blk}attn_norm.bias`, `${hf}ln_1.bias`);
    const qs = plan.qScale[l];
    mat(`${blk}attn_qkv.weight`, 3 * D, D, opts.type, () => {
      const t = transpose(get(`${hf}attn.c_attn.weight`), D, 3 * D); // [3D, D]: rows 0..D−1 are Q
      if (qs !== 1) for (let i = 0; i < D * D; i++) t[i] *= qs;
      return t;
    });
    vec(`${blk}attn_qkv.bias`, 3 * D, () => {
      const b = Float32Array.from(get(`${hf}attn.c_attn.bias`));
      if (qs !== 1) for (let i = 0; i < D; i++) b[i] *= qs;
      return b;
    });
    mat(`${blk}attn_output.weight`, D, D, opts.type, () => transpose(get(`${hf}attn.c_proj.weight`), D, D));
    f32(`${blk}attn_output.bias`, `${hf}attn.c_proj.bias`);
    f32(`${blk}ffn_norm.weight`, `${hf}ln_2.weight`);
    f32(`${blk}ffn_norm.bias`, `${hf}ln_2.bias`);
    mat(`${blk}ffn_up.weight`, I, D, opts.type, () => transpose(get(`${hf}mlp.c_fc.weight`), D, I));
    vec(`${blk}ffn_up.bias`, I, () => get(`${hf}mlp.c_fc.bias`));
    if (a === 'jais') {
      mat(`${blk}ffn_gate.weight`, I, D, opts.type, () => transpose(get(`${hf}mlp.c_fc2.weight`), D, I));
      vec(`${blk}ffn_gate.bias`, I, () => get(`${hf}mlp.c_fc2.bias`));
    }
    mat(`${blk}ffn_down.weight`, D, I, opts.type, () => transpose(get(`${hf}mlp.c_proj.weight`), I, D));
    f32(`${blk}ffn_down.bias`, `${hf}mlp.c_proj.bias`);
  }
  f32('output_norm.weight', 'transformer.ln_f.weight');
  f32('output_norm.bias', 'transformer.ln_f.bias');
  if (plan.explicitOutput) {
    const head = cfg.tie_word_embeddings ? 'transformer.wte.weight' : 'lm_head.weight';
    mat('output.weight', V, D, embedType, () => scaled(get(head), plan.logitScale));
  }

  const meta: Record<string, GgufValue> = {
    'general.architecture': a,
    'general.name': opts.name ?? 'mugpt',
    'general.file_type': { type: GgufValueType.UINT32, value: FILE_TYPE[opts.type] },
    'general.quantization_version': { type: GgufValueType.UINT32, value: 2 },
    [`${a}.context_length`]: { type: GgufValueType.UINT32, value: cfg.n_positions },
    [`${a}.embedding_length`]: { type: GgufValueType.UINT32, value: D },
    [`${a}.feed_forward_length`]: { type: GgufValueType.UINT32, value: I },
    [`${a}.block_count`]: { type: GgufValueType.UINT32, value: cfg.n_layer },
    [`${a}.attention.head_count`]: { type: GgufValueType.UINT32, value: cfg.n_head },
    [`${a}.attention.layer_norm_epsilon`]: { type: GgufValueType.FLOAT32, value: cfg.layer_norm_epsilon },
    // The HF config, so mugpt can reload the file as the model it came from (llama.cpp ignores it).
    'mugpt.hf_config': JSON.stringify(toHfConfig(cfg)),
    'mugpt.head_dim': { type: GgufValueType.UINT32, value: headDim(cfg) },
    ...tokenizerMetadata(tokenizer, V),
  };
  if (plan.maxAlibiBias !== null) meta['jais.attention.max_alibi_bias'] = { type: GgufValueType.FLOAT32, value: plan.maxAlibiBias };
  writeGguf(path, meta, tensors);
  return plan;
}

function asBytes(x: Float32Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

function tryGet(get: (n: string) => Float32Array, name: string): Float32Array | null {
  try {
    return get(name);
  } catch (e) {
    if (e instanceof MugptError) return null;
    throw e;
  }
}
