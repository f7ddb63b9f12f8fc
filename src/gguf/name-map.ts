// How an HF gpt2/btlm model maps onto llama.cpp's GGUF architectures (docs/quantization.md; llama.cpp's
// convert_hf_to_gguf.py, GPT2Model and JaisModel, and its gpt2 and jais graphs in src/llama-model.cpp):
//   learned positions (Cerebras-GPT, Cerebras-GPT-μP) → `gpt2`: kq scale 1/√d, tanh GELU, tied head allowed;
//   ALiBi + SwiGLU (BTLM)                            → `jais`: kq scale 1/d, slopes from max_alibi_bias,
//                                                      an explicit output.weight required.
// llama.cpp applies no μP multipliers, so they are folded into the weights: the embedding multiplier
// into token_embd (and position_embd: it scales their sum), the logit scale into output.weight, and
// any attention-scale difference into the Q columns (weight and bias) of attn_qkv.
import { MugptError } from '../errors.js';
import { headDim, innerSize, type ModelConfig } from '../model/config.js';
import { attentionScale } from '../model/gpt.js';

export type GgufArch = 'gpt2' | 'jais';

export interface GgufPlan {
  arch: GgufArch;
  /** × token_embd and position_embd. */
  embeddingScale: number;
  /** × output.weight (the tied head); 1 with no explicit output.weight needed for gpt2. */
  logitScale: number;
  /** Per layer: × the Q columns of attn_qkv so that llama.cpp's fixed kq scale gives the model's scores. */
  qScale: number[];
  /** jais only: llama.cpp's ALiBi maximum bias (slope of head h = 2^(−bias·(h+1)/H) for H a power of 2). */
  maxAlibiBias: number | null;
  /** Whether output.weight must be written (jais requires it; gpt2 needs it only when the logits are scaled). */
  explicitOutput: boolean;
  /** Where llama.cpp computes something else than the model, said plainly (e.g. its tanh GELU). */
  notes: string[];
}

/**
 * x[rows, cols] row-major → [cols, rows]: HF Conv1D [in, out] ↔ ggml's [out, in] (ne0 = in), both ways.
 */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

/**
 * llama.cpp's (ggml's) ALiBi slopes for H heads: with c = 2^⌊log2 H⌋, m0 = 2^(−b/c), m1 = 2^(−b/2c),
 * head h < c gets m0^(h+1), the others m1^(2(h−c)+1). With b = 8 these are Press et al.'s slopes.
 */
export function llamaAlibiSlopes(H: number, maxBias = 8): Float32Array {
  const c = 2 ** Math.floor(Math.log2(H));
  const m0 = 2 ** (-maxBias / c);
  const m1 = 2 ** (-maxBias / 2 / c);
  return Float32Array.from({ length: H }, (_, h) => (h < c ? m0 ** (h + 1) : m1 ** (2 * (h - c) + 1)));
}

/**
 * The max_alibi_bias that reproduces the given slopes in llama.cpp, or an error when none does
 * (llama.cpp derives every slope from this one number).
 */
export function maxAlibiBiasFor(slopes: Float32Array, file: string): number {
  const H = slopes.length;
  const n2 = 2 ** Math.floor(Math.log2(H));
  const bias = -Math.log2(slopes[0]) * n2;
  const expect = llamaAlibiSlopes(H, bias);
  for (let h = 0; h < H; h++) {
    // stored slopes may be bf16-rounded (relative error ≤ 2^-8)
    if (Math.abs(expect[h] - slopes[h]) > 2 ** -8 * Math.abs(expect[h])) {
      throw new MugptError(
        `${file}: ALiBi slope of head ${h} is ${slopes[h]}, but llama.cpp derives every slope from one maximum bias ` +
        `(${bias.toFixed(4)} gives ${expect[h]}): these slopes cannot be exported to GGUF`,
      );
    }
  }
  return Math.round(bias * 1e4) / 1e4;
}

/** Decides the GGUF architecture and the foldings for a model; explains what cannot be exported. */
export function planGguf(cfg: ModelConfig, slopes: Float32Array | null, file = 'config.json'): GgufPlan {
  const notes: string[] = [];
  const isBtlm = cfg.model_type === 'btlm';
  const embeddingScale = isBtlm ? cfg.mup_embeddings_scale : 1;
  const logitScale = isBtlm ? cfg.mup_output_alpha * cfg.mup_width_scale : 1;
  const d = headDim(cfg);
  if (cfg.position_embedding_type === 'alibi') {
    if (cfg.activation_function !== 'swiglu') {
      throw new MugptError(`${file}: activation_function "${cfg.activation_function}" with ALiBi has no llama.cpp architecture (jais needs "swiglu")`);
    }
    if (cfg.alibi_scaling) {
      throw new MugptError(`${file}: alibi_scaling ${JSON.stringify(cfg.alibi_scaling)} cannot be represented in llama.cpp's jais architecture; remove it to export the unscaled model`);
    }
    const s = slopes ?? llamaAlibiSlopes(cfg.n_head);
    return {
      arch: 'jais', embeddingScale, logitScale,
      qScale: Array.from({ length: cfg.n_layer }, (_, l) => attentionScale(cfg, l) * d),
      maxAlibiBias: maxAlibiBiasFor(s, file), explicitOutput: true, notes,
    };
  }
  if (cfg.activation_function === 'swiglu') {
    throw new MugptError(`${file}: SwiGLU with learned positions has no llama.cpp architecture (gpt2 uses GELU, jais uses ALiBi)`);
  }
  if (cfg.activation_function === 'gelu') {
    notes.push('llama.cpp\'s gpt2 graph uses the tanh GELU (through an fp16 table); this model uses the exact erf GELU');
  }
  if (innerSize(cfg) !== 4 * cfg.n_embd) {
    notes.push(`feed_forward_length is written as ${innerSize(cfg)} (n_inner), not 4·n_embd`);
  }
  return {
    arch: 'gpt2', embeddingScale, logitScale,
    qScale: Array.from({ length: cfg.n_layer }, (_, l) => attentionScale(cfg, l) * Math.sqrt(d)),
    maxAlibiBias: null, explicitOutput: logitScale !== 1 || !cfg.tie_word_embeddings, notes,
  };
}
