// The forward pass of gpt2 / btlm, one function per layer (the backward of each can sit beside it).
// Activations live in preallocated buffers; the hot loops are the kernels'. Shapes: M rows (B·T
// tokens), D = n_embd, H heads of d = D/H, I = FFN width, V = vocab_size.
import type { GeluKind, Kernels } from '../kernels/kernels.js';
import { alibiScale, scaledSlopes } from './alibi.js';
import { headDim, innerSize, usesAlibi, type ModelConfig } from './config.js';
import type { LayerParams, Params } from './params.js';

/** What every layer needs: config, sizes, kernels, parameters. */
export interface GptContext {
  cfg: ModelConfig;
  k: Kernels;
  p: Params;
  D: number;
  H: number;
  d: number;
  I: number;
  V: number;
  /** null for SwiGLU. */
  gelu: GeluKind | null;
  /** Multiplier of the embedding sum (btlm mup_embeddings_scale, else 1). */
  embScale: number;
  /** Multiplier of the logits (btlm mup_output_alpha · mup_width_scale, else 1). */
  logitScale: number;
}

export function gptContext(cfg: ModelConfig, k: Kernels, p: Params): GptContext {
  const btlm = cfg.model_type === 'btlm';
  const act = cfg.activation_function;
  return {
    cfg, k, p,
    D: cfg.n_embd, H: cfg.n_head, d: headDim(cfg), I: innerSize(cfg), V: cfg.vocab_size,
    gelu: act === 'swiglu' ? null : act === 'gelu' ? 'erf' : 'tanh',
    embScale: btlm ? cfg.mup_embeddings_scale : 1,
    logitScale: btlm ? cfg.mup_output_alpha * cfg.mup_width_scale : 1,
  };
}

/** Activation buffers for up to `rows` rows, grown on demand and reused across calls. */
export class Activations {
  rows = 0;
  h = new Float32Array(0); // [rows, D] residual stream
  ln = new Float32Array(0); // [rows, D] LayerNorm output
  qkv = new Float32Array(0); // [rows, 3D]
  att = new Float32Array(0); // [rows, D] attention output, heads merged
  fc = new Float32Array(0); // [rows, I]
  fc2 = new Float32Array(0); // [rows, I] SwiGLU gate branch
  readonly slopes: Float32Array; // [H] ALiBi slopes divided by the current scale

  constructor(private readonly ctx: GptContext) {
    this.slopes = new Float32Array(ctx.H);
  }

  ensure(rows: number): void {
    if (rows <= this.rows) return;
    const { D, I, gelu } = this.ctx;
    this.rows = rows;
    this.h = new Float32Array(rows * D);
    this.ln = new Float32Array(rows * D);
    this.qkv = new Float32Array(rows * 3 * D);
    this.att = new Float32Array(rows * D);
    this.fc = new Float32Array(rows * I);
    this.fc2 = gelu === null ? new Float32Array(rows * I) : this.fc2;
  }
}

/**
 * h[M, D] = (wte[ids] + wpe[pos]) · embScale, row r at position startPos + (r mod rowLen).
 * μP multiplies the sum, so the position embedding is scaled too.
 */
export function embedForward(ctx: GptContext, h: Float32Array, ids: ArrayLike<number>, M: number, startPos: number, rowLen: number): void {
  const { D, embScale } = ctx, { wte, wpe } = ctx.p;
  for (let r = 0; r < M; r++) {
    const te = ids[r] * D, o = r * D;
    if (wpe) {
      const pe = (startPos + (r % rowLen)) * D;
      for (let i = 0; i < D; i++) h[o + i] = (wte[te + i] + wpe[pe + i]) * embScale;
    } else {
      for (let i = 0; i < D; i++) h[o + i] = wte[te + i] * embScale;
    }
  }
}

/** out[M, N] += x[M, K]·W[K, N] + b[N]: a Conv1D added into the residual stream. */
function addLinear(k: Kernels, out: Float32Array, x: Float32Array, W: Float32Array, b: Float32Array, M: number, K: number, N: number): void {
  k.gemm(false, false, M, N, K, 1, x, W, 1, out);
  for (let r = 0; r < M; r++) {
    const o = r * N;
    for (let j = 0; j < N; j++) out[o + j] += b[j];
  }
}

/** Where one layer's attention reads keys and values: [Tk, D] rows of the cache, or the fresh qkv rows. */
export interface LayerKV {
  k: Float32Array; // [capacity, D]
  v: Float32Array; // [capacity, D]
}

/**
 * h[B·T, D] += c_proj(attention(ln_1(h))) for B sequences of T new tokens after `past` cached positions.
 * With a cache (B = 1), the new keys and values are appended to it at rows past … past+T−1.
 * Scores: q·k / d^p (p = ½, or 1 under μP's scale_qk_dot_by_d) if scale_attn_weights, then / (layer+1)
 * if scale_attn_by_inverse_layer_idx; causal mask; ALiBi −(s_h/scale)·|j − i|; softmax.
 */
export function attentionForward(
  ctx: GptContext, layer: number, lp: LayerParams, a: Activations, B: number, T: number, past: number, cache: LayerKV | null,
): void {
  const { cfg, k, D, H, d } = ctx;
  const M = B * T, D3 = 3 * D;
  k.layerNorm(a.ln, a.h, lp.ln1W, lp.ln1B, M, D, cfg.layer_norm_epsilon);
  k.linear(a.qkv, a.ln, lp.attnW, lp.attnB, M, D, D3);

  let scale = 1;
  if (cfg.scale_attn_weights) scale /= cfg.mup_scale_qk_dot_by_d ? d : Math.sqrt(d);
  if (cfg.scale_attn_by_inverse_layer_idx) scale /= layer + 1;
  const Tk = past + T;
  const slopes = usesAlibi(cfg) ? scaledSlopes(a.slopes, ctx.p.slopes!, alibiScale(cfg, Tk)) : null;

  for (let b = 0; b < B; b++) {
    const q = a.qkv.subarray(b * T * D3);
    let kk: Float32Array, vv: Float32Array, kvStride: number;
    if (cache) {
      for (let t = 0; t < T; t++) {
        const src = (b * T + t) * D3, dst = (past + t) * D;
        cache.k.set(a.qkv.subarray(src + D, src + 2 * D), dst);
        cache.v.set(a.qkv.subarray(src + 2 * D, src + D3), dst);
      }
      kk = cache.k; vv = cache.v; kvStride = D;
    } else {
      kk = a.qkv.subarray(b * T * D3 + D); vv = a.qkv.subarray(b * T * D3 + 2 * D); kvStride = D3;
    }
    k.attention({ out: a.att.subarray(b * T * D, (b + 1) * T * D), q, qStride: D3, k: kk, v: vv, kvStride, Tq: T, Tk, H, d, scale, slopes });
  }
  addLinear(k, a.h, a.att, lp.attnProjW, lp.attnProjB, M, D, D);
}

/** h[M, D] += mlp(ln_2(h)): c_proj(act(c_fc(x))), or SwiGLU c_proj(c_fc(x) · silu(c_fc2(x))). */
export function mlpForward(ctx: GptContext, lp: LayerParams, a: Activations, M: number): void {
  const { cfg, k, D, I } = ctx;
  k.layerNorm(a.ln, a.h, lp.ln2W, lp.ln2B, M, D, cfg.layer_norm_epsilon);
  k.linear(a.fc, a.ln, lp.fcW, lp.fcB, M, D, I);
  if (ctx.gelu === null) {
    k.linear(a.fc2, a.ln, lp.fc2W!, lp.fc2B!, M, D, I);
    k.swiglu(a.fc, a.fc, a.fc2, M * I);
  } else {
    k.gelu(a.fc, a.fc, M * I, ctx.gelu);
  }
  addLinear(k, a.h, a.fc, lp.mlpProjW, lp.mlpProjB, M, I, D);
}

/** logits[M, V] = ln_f(h[M, D]) · headᵀ · logitScale (head = wte when tied; μP logit multiplier for btlm). */
export function lmHeadForward(ctx: GptContext, logits: Float32Array, h: Float32Array, ln: Float32Array, M: number): void {
  const { cfg, k, p, D, V } = ctx;
  k.layerNorm(ln, h, p.lnfW, p.lnfB, M, D, cfg.layer_norm_epsilon);
  k.gemm(false, true, M, V, D, ctx.logitScale, ln, p.lmHead, 0, logits);
}

/** Runs the blocks over a.h [B·T, D] (T new tokens per sequence after `past` cached positions). */
export function blocksForward(ctx: GptContext, a: Activations, B: number, T: number, past: number, cache: LayerKV[] | null): void {
  ctx.p.layers.forEach((lp, l) => {
    attentionForward(ctx, l, lp, a, B, T, past, cache ? cache[l] : null);
    mlpForward(ctx, lp, a, B * T);
  });
}
