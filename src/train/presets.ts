// Model presets: the published Cerebras-GPT and BTLM-3B-8K shapes (the config.json files of the Hub
// repositories cerebras/Cerebras-GPT-111M … 13B and cerebras/btlm-3b-8k-base; arXiv:2304.03208, 2309.11568),
// and tiny models of both architectures for this machine. Values are HF config.json fields.
import type { ModelConfig } from '../model/config.js';

export type ModelFields = Partial<Omit<ModelConfig, 'extra'>> & { model_type: 'gpt2' | 'btlm' };

const cerebras = (n_layer: number, n_embd: number, n_head: number): ModelFields => ({
  model_type: 'gpt2', n_layer, n_embd, n_head, n_inner: 4 * n_embd, n_positions: 2048, vocab_size: 50257,
  activation_function: 'gelu', layer_norm_epsilon: 1e-5, initializer_range: 0.02,
  attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
});

export const MODEL_PRESETS: Record<string, ModelFields> = {
  'cerebras-gpt-111m': cerebras(10, 768, 12),
  'cerebras-gpt-256m': cerebras(14, 1088, 17),
  'cerebras-gpt-590m': cerebras(18, 1536, 12),
  'cerebras-gpt-1.3b': cerebras(24, 2048, 16),
  'cerebras-gpt-2.7b': cerebras(32, 2560, 32),
  'cerebras-gpt-6.7b': cerebras(32, 4096, 32),
  'cerebras-gpt-13b': cerebras(40, 5120, 40),
  'btlm-3b-8k': {
    model_type: 'btlm', n_layer: 32, n_embd: 2560, n_head: 32, n_inner: 6826, n_positions: 8192, vocab_size: 50257,
    activation_function: 'swiglu', position_embedding_type: 'alibi', layer_norm_epsilon: 1e-5, initializer_range: 0.073,
    attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
  },
  /** A 4-layer GPT-2 (learned positions, GELU) small enough for tests and quick runs. */
  'gpt2-tiny': {
    model_type: 'gpt2', n_layer: 4, n_embd: 128, n_head: 4, n_inner: 512, n_positions: 512, vocab_size: 50257,
    activation_function: 'gelu', initializer_range: 0.02, attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
  },
  /** BTLM's architecture (ALiBi, SwiGLU with n_inner ≈ 8/3·n_embd) at 4 layers × 128 wide. */
  'btlm-tiny': {
    model_type: 'btlm', n_layer: 4, n_embd: 128, n_head: 4, n_inner: 341, n_positions: 1024, vocab_size: 50257,
    activation_function: 'swiglu', position_embedding_type: 'alibi', initializer_range: 0.073,
    attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
  },
};
