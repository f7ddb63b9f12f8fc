// Hugging Face config.json for `model_type` "gpt2" (Cerebras-GPT) and "btlm" (BTLM-3B-8K and the
// Cerebras-GPT μP checkpoints): parse with HF's defaults and aliases, validate, and write back.
// Field names stay HF's snake_case so a config round-trips through toHfConfig unchanged.
import { check, MugptError, shown } from '../errors.js';

export type ModelType = 'gpt2' | 'btlm';
/** 'gelu' is the exact erf GELU; 'gelu_new' and 'gelu_pytorch_tanh' the tanh approximation; 'swiglu' btlm only. */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'swiglu';
export type PositionEmbeddingType = 'learned' | 'alibi';

/** BTLM position interpolation: a fixed factor, or dynamic scaling past train_seq_len. */
export type AlibiScaling =
  | { type: 'linear'; factor: number }
  | { type: 'linear'; train_seq_len: number };

export interface ModelConfig {
  model_type: ModelType;
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** null means 4·n_embd; see innerSize(). */
  n_inner: number | null;
  activation_function: Activation;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
  reorder_and_upcast_attn: boolean;
  use_cache: boolean;
  bos_token_id: number | null;
  eos_token_id: number | null;
  tie_word_embeddings: boolean;
  /** Always 'learned' for gpt2. */
  position_embedding_type: PositionEmbeddingType;
  /** μP multipliers (btlm; 1 / false for gpt2). */
  mup_width_scale: number;
  mup_embeddings_scale: number;
  mup_output_alpha: number;
  mup_scale_qk_dot_by_d: boolean;
  alibi_scaling: AlibiScaling | null;
  /** Other keys of config.json (architectures, auto_map, torch_dtype, …), kept for writing back. */
  extra: Record<string, unknown>;
}

/** HF attribute_map of GPT2Config and BTLMConfig: alias → canonical key. */
const ATTRIBUTE_MAP: Record<string, string> = {
  hidden_size: 'n_embd',
  max_position_embeddings: 'n_positions',
  num_attention_heads: 'n_head',
  num_hidden_layers: 'n_layer',
};

/** Defaults shared by GPT2Config and BTLMConfig (plus PretrainedConfig's tie_word_embeddings). */
const COMMON_DEFAULTS = {
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_inner: null,
  activation_function: 'gelu_new',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  scale_attn_weights: true,
  scale_attn_by_inverse_layer_idx: false,
  reorder_and_upcast_attn: false,
  use_cache: true,
  bos_token_id: 50256,
  eos_token_id: 50256,
  tie_word_embeddings: true,
} as const;

/** BTLMConfig-only keys and their defaults (BTLMConfig in configuration_btlm.py of the Hub repository cerebras/btlm-3b-8k-base, a sibling of JAISConfig). */
const BTLM_DEFAULTS = {
  position_embedding_type: 'learned',
  mup_width_scale: 1.0,
  mup_embeddings_scale: 1.0,
  mup_output_alpha: 1.0,
  mup_scale_qk_dot_by_d: false,
  alibi_scaling: null,
} as const;

const COMMON_KEYS = Object.keys(COMMON_DEFAULTS);
const BTLM_KEYS = Object.keys(BTLM_DEFAULTS);
/** The first BTLM upload's μP names (renamed in the published config). */
const OLD_BTLM_KEYS = ['width_scale', 'embeddings_scale', 'output_logits_scale', 'scale_qk_dot_by_d'];
const ACTIVATIONS: Activation[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'swiglu'];

type Where = string;

function num(where: Where, key: string, v: unknown): number {
  check(typeof v === 'number' && Number.isFinite(v), () => `${where}: "${key}" must be a finite number, got ${shown(v)}`);
  return v;
}

/**
 * The largest sizes a config may declare: far beyond real models (GPT-3 175B has 96 layers of width
 * 12,288; the largest public vocabularies about 256k tokens), yet small enough that a hostile config
 * cannot make mugpt loop over billions of layers or size tensors past memory before anything is read.
 */
export const CONFIG_LIMITS = { vocab_size: 1 << 22, n_positions: 1 << 20, n_embd: 1 << 16, n_layer: 1024, n_head: 1 << 12, n_inner: 1 << 20 } as const;

function int(where: Where, key: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  check(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
    () => `${where}: "${key}" must be an integer ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}, got ${shown(v)}`);
  return v;
}

function positive(where: Where, key: string, v: unknown): number {
  const x = num(where, key, v);
  check(x > 0, () => `${where}: "${key}" must be > 0, got ${x}`);
  return x;
}

function prob(where: Where, key: string, v: unknown): number {
  const x = num(where, key, v);
  check(x >= 0 && x <= 1, () => `${where}: "${key}" must be in [0, 1], got ${x}`);
  return x;
}

function bool(where: Where, key: string, v: unknown): boolean {
  check(typeof v === 'boolean', () => `${where}: "${key}" must be true or false, got ${shown(v)}`);
  return v;
}

function tokenId(where: Where, key: string, v: unknown): number | null {
  if (v === null) return null;
  // HF allows a list of eos ids; the first is the one generation stops on by default.
  if (Array.isArray(v) && v.length > 0) v = v[0];
  return int(where, key, v, 0);
}

function alibiScaling(where: Where, v: unknown): AlibiScaling | null {
  if (v === null || v === undefined) return null;
  const show = shown(v);
  check(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 2,
    () => `${where}: "alibi_scaling" must be null or an object with exactly two keys ("type" and "factor" or "train_seq_len"), got ${show}`);
  const o = v as Record<string, unknown>;
  check(o.type === 'linear', () => `${where}: "alibi_scaling.type" must be "linear", got ${shown(o.type)}`);
  if ('factor' in o) {
    const f = num(where, 'alibi_scaling.factor', o.factor);
    check(f > 1, () => `${where}: "alibi_scaling.factor" must be a float > 1, got ${f}`);
    return { type: 'linear', factor: f };
  }
  if ('train_seq_len' in o) {
    const L = o.train_seq_len;
    check(typeof L === 'number' && Number.isInteger(L) && L > 1,
      () => `${where}: "alibi_scaling.train_seq_len" must be an integer > 1, got ${shown(L)}`);
    return { type: 'linear', train_seq_len: L };
  }
  throw new MugptError(`${where}: "alibi_scaling" needs "factor" or "train_seq_len" besides "type", got ${show}`);
}

/**
 * Parses a config.json object. `where` names the file in error messages.
 * Throws a MugptError naming the field and value for anything unknown or out of range.
 */
export function parseConfig(raw: Record<string, unknown>, where: Where = 'config.json'): ModelConfig {
  check(raw !== null && typeof raw === 'object' && !Array.isArray(raw), `${where}: expected a JSON object`);
  const modelType = raw.model_type;
  check(modelType === 'gpt2' || modelType === 'btlm',
    () => `${where}: unsupported "model_type" ${shown(modelType)} (expected "gpt2" or "btlm")`);
  const isBtlm = modelType === 'btlm';

  // Resolve aliases: a canonical key wins over its alias.
  const src: Record<string, unknown> = { ...raw };
  for (const [alias, key] of Object.entries(ATTRIBUTE_MAP)) {
    if (alias in src) {
      if (!(key in src)) src[key] = src[alias];
      delete src[alias];
    }
  }
  if (isBtlm) {
    // Old μP names: output_logits_scale was alpha·width_scale (0.222 = 2.22 × 0.1).
    if (!('mup_width_scale' in src) && 'width_scale' in src) src.mup_width_scale = src.width_scale;
    if (!('mup_embeddings_scale' in src) && 'embeddings_scale' in src) src.mup_embeddings_scale = src.embeddings_scale;
    if (!('mup_scale_qk_dot_by_d' in src) && 'scale_qk_dot_by_d' in src) src.mup_scale_qk_dot_by_d = src.scale_qk_dot_by_d;
    if (!('mup_output_alpha' in src) && 'output_logits_scale' in src) {
      const width = positive(where, 'width_scale', src.mup_width_scale ?? 1.0);
      src.mup_output_alpha = num(where, 'output_logits_scale', src.output_logits_scale) / width;
    }
    for (const k of OLD_BTLM_KEYS) delete src[k];
  }
  const get = (key: string, dflt: unknown): unknown => (key in src && src[key] !== undefined ? src[key] : dflt);
  const c = COMMON_DEFAULTS;

  const n_embd = int(where, 'n_embd', get('n_embd', c.n_embd), 1, CONFIG_LIMITS.n_embd);
  const n_head = int(where, 'n_head', get('n_head', c.n_head), 1, CONFIG_LIMITS.n_head);
  check(n_embd % n_head === 0, () => `${where}: "n_embd" (${n_embd}) must be divisible by "n_head" (${n_head})`);
  const nInnerRaw = get('n_inner', null);
  const n_inner = nInnerRaw === null ? null : int(where, 'n_inner', nInnerRaw, 1, CONFIG_LIMITS.n_inner);

  const act = get('activation_function', c.activation_function);
  check(typeof act === 'string' && (ACTIVATIONS as string[]).includes(act),
    () => `${where}: unsupported "activation_function" ${shown(act)} (expected one of ${ACTIVATIONS.join(', ')})`);
  check(act !== 'swiglu' || isBtlm, () => `${where}: "activation_function" "swiglu" needs "model_type" "btlm", got "gpt2"`);

  let position_embedding_type: PositionEmbeddingType = 'learned';
  if (isBtlm) {
    const pe = get('position_embedding_type', BTLM_DEFAULTS.position_embedding_type);
    check(pe === 'learned' || pe === 'alibi',
      () => `${where}: unsupported "position_embedding_type" ${shown(pe)} (expected "learned" or "alibi")`);
    position_embedding_type = pe;
  }
  // false: a separate lm_head.weight [V, D] (GGUF imports with the μP logit scale folded in).
  const tie = bool(where, 'tie_word_embeddings', get('tie_word_embeddings', c.tie_word_embeddings));

  const b = BTLM_DEFAULTS;
  const cfg: ModelConfig = {
    model_type: modelType,
    vocab_size: int(where, 'vocab_size', get('vocab_size', c.vocab_size), 1, CONFIG_LIMITS.vocab_size),
    n_positions: int(where, 'n_positions', get('n_positions', c.n_positions), 1, CONFIG_LIMITS.n_positions),
    n_embd,
    n_layer: int(where, 'n_layer', get('n_layer', c.n_layer), 1, CONFIG_LIMITS.n_layer),
    n_head,
    n_inner,
    activation_function: act as Activation,
    resid_pdrop: prob(where, 'resid_pdrop', get('resid_pdrop', c.resid_pdrop)),
    embd_pdrop: prob(where, 'embd_pdrop', get('embd_pdrop', c.embd_pdrop)),
    attn_pdrop: prob(where, 'attn_pdrop', get('attn_pdrop', c.attn_pdrop)),
    layer_norm_epsilon: positive(where, 'layer_norm_epsilon', get('layer_norm_epsilon', c.layer_norm_epsilon)),
    initializer_range: positive(where, 'initializer_range', get('initializer_range', c.initializer_range)),
    scale_attn_weights: bool(where, 'scale_attn_weights', get('scale_attn_weights', c.scale_attn_weights)),
    scale_attn_by_inverse_layer_idx: bool(where, 'scale_attn_by_inverse_layer_idx',
      get('scale_attn_by_inverse_layer_idx', c.scale_attn_by_inverse_layer_idx)),
    reorder_and_upcast_attn: bool(where, 'reorder_and_upcast_attn', get('reorder_and_upcast_attn', c.reorder_and_upcast_attn)),
    use_cache: bool(where, 'use_cache', get('use_cache', c.use_cache)),
    bos_token_id: tokenId(where, 'bos_token_id', get('bos_token_id', c.bos_token_id)),
    eos_token_id: tokenId(where, 'eos_token_id', get('eos_token_id', c.eos_token_id)),
    tie_word_embeddings: tie,
    position_embedding_type,
    mup_width_scale: isBtlm ? positive(where, 'mup_width_scale', get('mup_width_scale', b.mup_width_scale)) : 1,
    mup_embeddings_scale: isBtlm ? positive(where, 'mup_embeddings_scale', get('mup_embeddings_scale', b.mup_embeddings_scale)) : 1,
    mup_output_alpha: isBtlm ? positive(where, 'mup_output_alpha', get('mup_output_alpha', b.mup_output_alpha)) : 1,
    mup_scale_qk_dot_by_d: isBtlm ? bool(where, 'mup_scale_qk_dot_by_d', get('mup_scale_qk_dot_by_d', b.mup_scale_qk_dot_by_d)) : false,
    alibi_scaling: isBtlm ? alibiScaling(where, get('alibi_scaling', b.alibi_scaling)) : null,
    extra: {},
  };
  const known = new Set(['model_type', ...COMMON_KEYS, ...(isBtlm ? BTLM_KEYS : [])]);
  for (const [k, v] of Object.entries(src)) if (!known.has(k)) cfg.extra[k] = v;
  return cfg;
}

/**
 * The published BTLM modeling code (the `cerebras/btlm-3b-8k-base` repository), by repository-qualified
 * names, so transformers' `trust_remote_code=True` loads a btlm folder that does not carry the code
 * (as Cerebras' own μP checkpoints reference it).
 */
export const BTLM_AUTO_MAP: Readonly<Record<string, string>> = Object.fromEntries([
  ['AutoConfig', 'configuration_btlm.BTLMConfig'],
  ['AutoModel', 'modeling_btlm.BTLMModel'],
  ['AutoModelForCausalLM', 'modeling_btlm.BTLMLMHeadModel'],
  ['AutoModelForQuestionAnswering', 'modeling_btlm.BTLMForQuestionAnswering'],
  ['AutoModelForSequenceClassification', 'modeling_btlm.BTLMForSequenceClassification'],
  ['AutoModelForTokenClassification', 'modeling_btlm.BTLMForTokenClassification'],
].map(([k, v]) => [k, `cerebras/btlm-3b-8k-base--${v}`]));

/**
 * Writes a config back in HF's form (canonical key names, every field explicit). btlm gets
 * BTLM_AUTO_MAP as its auto_map (a folder-relative one read from BTLM's own folder would point at code
 * files a saved folder does not have).
 */
export function toHfConfig(cfg: ModelConfig): Record<string, unknown> {
  const arch = cfg.model_type === 'btlm' ? 'BTLMLMHeadModel' : 'GPT2LMHeadModel';
  const out: Record<string, unknown> = { architectures: [arch], ...cfg.extra, model_type: cfg.model_type };
  if (cfg.model_type === 'btlm') out.auto_map = { ...BTLM_AUTO_MAP };
  const rec = cfg as unknown as Record<string, unknown>;
  for (const k of COMMON_KEYS) out[k] = rec[k];
  if (cfg.model_type === 'btlm') for (const k of BTLM_KEYS) out[k] = rec[k];
  return out;
}

/** A config from partial fields over HF's defaults (for building models in memory). */
export function makeConfig(fields: Partial<Omit<ModelConfig, 'extra'>> & { model_type: ModelType }, where: Where = 'model config'): ModelConfig {
  return parseConfig(fields as Record<string, unknown>, where);
}

/** FFN width I: n_inner, or 4·n_embd when null. */
export function innerSize(cfg: ModelConfig): number {
  return cfg.n_inner ?? 4 * cfg.n_embd;
}

/** Head dimension d = n_embd / n_head. */
export function headDim(cfg: ModelConfig): number {
  return cfg.n_embd / cfg.n_head;
}

export function usesAlibi(cfg: ModelConfig): boolean {
  return cfg.model_type === 'btlm' && cfg.position_embedding_type === 'alibi';
}
