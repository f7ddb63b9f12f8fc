// μP as Cerebras implemented it (Cerebras modelzoo's gpt2_model.py; Cerebras-GPT, arXiv:2304.03208; BTLM,
// arXiv:2309.11568; docs/mup.md). With width
// multiplier m = n_embd / base width and FFN multiplier m_f = n_inner / base FFN width:
//   init      embeddings σ_base; attention and FFN-input matrices σ_base/√m; attention output
//             σ_base/√m/√(2L); FFN output σ_base/√m_f/√(2L)                       (see init.ts)
//   lr        attention (c_attn, c_proj) and FFN-input (c_fc, c_fc2) matrices η/m; FFN output
//             (mlp.c_proj) η/m_f; embeddings, biases and LayerNorms η
//   forward   embeddings × mup_embeddings_scale; logits × mup_output_alpha · mup_width_scale (= α/m);
//             attention scores 1/d_head (mup_scale_qk_dot_by_d)
// The forward multipliers live in the HF btlm config, so a checkpoint loads as μP in HF too.
import { check } from '../errors.js';
import { innerSize, makeConfig, type ModelConfig } from './config.js';

export interface MupBase {
  /** The proxy model's width (Cerebras: 256). */
  width: number;
  /** The proxy model's FFN width (Cerebras-GPT μP: 1024; BTLM: 682.67 = 256·8/3). Default: width·n_inner/n_embd. */
  ffnWidth?: number;
}

export interface MupMultipliers {
  /** m = n_embd / base width. */
  width: number;
  /** m_f = n_inner / base FFN width. */
  ffn: number;
}

/** The width multipliers of a config against a μP base; without a base, m = 1/mup_width_scale and m_f = m. */
export function mupMultipliers(cfg: ModelConfig, base?: MupBase): MupMultipliers {
  if (!base) {
    const m = 1 / cfg.mup_width_scale;
    return { width: m, ffn: m };
  }
  check(base.width > 0, `μP base width must be > 0, got ${base.width}`);
  check(base.ffnWidth === undefined || base.ffnWidth > 0, `μP base FFN width must be > 0, got ${base.ffnWidth}`);
  const m = cfg.n_embd / base.width;
  const ffnBase = base.ffnWidth ?? (base.width * innerSize(cfg)) / cfg.n_embd;
  return { width: m, ffn: innerSize(cfg) / ffnBase };
}

/** Which μP group an HF tensor belongs to. */
export type MupGroup = 'embedding' | 'hidden' | 'ffn_output' | 'vector' | 'frozen';

export function mupGroup(name: string): MupGroup {
  if (/(^|\.)relative_pe\.slopes$/.test(name)) return 'frozen';
  if (/\.bias$/.test(name) || /(^|\.)ln_(1|2|f)\.weight$/.test(name)) return 'vector';
  if (/(^|\.)(wte|wpe)\.weight$/.test(name) || /(^|\.)lm_head\.weight$/.test(name)) return 'embedding';
  if (/\.mlp\.c_proj\.weight$/.test(name)) return 'ffn_output';
  if (/\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_fc2)\.weight$/.test(name)) return 'hidden';
  throw new Error(`mupGroup: unexpected tensor name '${name}'`);
}

/** Per-tensor learning-rate multipliers for AdamW: hidden matrices 1/m, FFN output 1/m_f, the rest 1. */
export function mupLrMultipliers(names: string[], mult: MupMultipliers): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const g = mupGroup(name);
    if (g === 'frozen') continue;
    out[name] = g === 'hidden' ? 1 / mult.width : g === 'ffn_output' ? 1 / mult.ffn : 1;
  }
  return out;
}

export interface MupFields {
  base: MupBase;
  /** Embedding output multiplier m_emb (BTLM 14.6, Cerebras-GPT μP 10). */
  embeddingsScale: number;
  /** Output logit multiplier α (BTLM 2.22, Cerebras-GPT μP 1.0); logits × α/m. */
  outputAlpha: number;
}

/**
 * A btlm config carrying the μP fields (mup_width_scale = 1/m, mup_embeddings_scale, mup_output_alpha,
 * mup_scale_qk_dot_by_d). A gpt2 config becomes the HF form of Cerebras-GPT-μP: btlm with learned
 * positions and its activation.
 */
export function withMup(cfg: ModelConfig, f: MupFields): ModelConfig {
  check(f.embeddingsScale > 0, `μP embeddings scale must be > 0, got ${f.embeddingsScale}`);
  check(f.outputAlpha > 0, `μP output alpha must be > 0, got ${f.outputAlpha}`);
  const m = mupMultipliers(cfg, f.base);
  const { extra: _extra, ...fields } = cfg;
  return makeConfig({
    ...fields,
    model_type: 'btlm',
    position_embedding_type: cfg.model_type === 'btlm' ? cfg.position_embedding_type : 'learned',
    mup_width_scale: 1 / m.width,
    mup_embeddings_scale: f.embeddingsScale,
    mup_output_alpha: f.outputAlpha,
    mup_scale_qk_dot_by_d: true,
  });
}
