// Parameter counting and compute-optimal (Chinchilla) sizing: training compute C ≈ 6·N·D FLOPs,
// and D ≈ 20 tokens per parameter, as every Cerebras-GPT model was trained.
import { check } from '../errors.js';
import { innerSize, type ModelConfig } from '../model/config.js';

export const CHINCHILLA_TOKENS_PER_PARAM = 20;

/**
 * Trainable parameters of a gpt2/btlm config: wte [V,D] (and lm_head [V,D] if untied), wpe [P,D] when positions are learned,
 * per layer ln_1, c_attn [D,3D]+[3D], c_proj [D,D]+[D], ln_2, c_fc [D,I]+[I] (and c_fc2 for SwiGLU),
 * mlp.c_proj [I,D]+[D]; ln_f. The stored ALiBi slopes are not trainable and not counted.
 */
export function countParameters(cfg: ModelConfig, opts: { embeddings?: boolean } = {}): number {
  const D = cfg.n_embd, I = innerSize(cfg);
  const learnedPos = cfg.model_type === 'gpt2' || cfg.position_embedding_type === 'learned';
  // an untied head (lm_head.weight [V, D], as GGUF imports have) counts with the embeddings
  const embeddings = cfg.vocab_size * D * (cfg.tie_word_embeddings ? 1 : 2) + (learnedPos ? cfg.n_positions * D : 0);
  const ffnIn = (cfg.activation_function === 'swiglu' ? 2 : 1) * (D * I + I);
  const perLayer = 2 * D + (D * 3 * D + 3 * D) + (D * D + D) + 2 * D + ffnIn + (I * D + D);
  const body = cfg.n_layer * perLayer + 2 * D;
  return (opts.embeddings ?? true) ? embeddings + body : body;
}

/** Compute-optimal tokens for N parameters: tokensPerParam · N. */
export function chinchillaTokens(nParams: number, tokensPerParam = CHINCHILLA_TOKENS_PER_PARAM): number {
  check(nParams > 0, `chinchillaTokens: parameter count must be > 0, got ${nParams}`);
  return Math.round(tokensPerParam * nParams);
}

/** Training FLOPs of N parameters on D tokens: 6·N·D (forward 2ND, backward 4ND). */
export function trainingFlops(nParams: number, tokens: number): number {
  return 6 * nParams * tokens;
}

/**
 * The compute-optimal split of a FLOP budget C: with D = k·N and C = 6·N·D, N = √(C / 6k), D = k·N.
 */
export function chinchillaFromFlops(flops: number, tokensPerParam = CHINCHILLA_TOKENS_PER_PARAM): { params: number; tokens: number } {
  check(flops > 0, `chinchillaFromFlops: FLOP budget must be > 0, got ${flops}`);
  const params = Math.sqrt(flops / (6 * tokensPerParam));
  return { params, tokens: tokensPerParam * params };
}

/** Optimizer steps to consume `tokens` at batchSize sequences of seqLen tokens per step (rounded up). */
export function stepsForTokens(tokens: number, batchSize: number, seqLen: number): number {
  check(batchSize > 0 && seqLen > 0, `stepsForTokens: batch size and sequence length must be > 0`);
  return Math.ceil(tokens / (batchSize * seqLen));
}
