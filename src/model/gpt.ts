// The forward and backward pass of gpt2 / btlm, one pair of functions per layer, side by side.
// Activations live in preallocated buffers; the hot loops are the kernels'. Shapes: M rows (B·T
// tokens), D = n_embd, H heads of d = D/H, I = FFN width, V = vocab_size.
//
// Inference shares one set of block buffers across layers (and computes activations in place);
// training keeps one set per layer, since each backward needs its layer's forward values.
import type { AttentionBackwardArgs, GeluKind, Kernels } from '../kernels/kernels.js';
import { addMasked, applyMask, attentionDropoutBackward, attentionDropoutForward } from '../kernels/dropout.js';
import { alibiScale, scaledSlopes } from './alibi.js';
import { headDim, innerSize, usesAlibi, type ModelConfig } from './config.js';
import { F16LayerKV, type LayerKV } from './kvcache.js';
import type { LayerParams, Params, Weight } from './params.js';

/**
 * What every layer needs: config, sizes, kernels, parameters. Inference runs on float or quantized
 * matrices (W = Weight); training on floats only (W = Float32Array).
 */
export interface GptContext<W extends Weight = Weight> {
  cfg: ModelConfig;
  k: Kernels;
  p: Params<W>;
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
  /** [H] scratch: ALiBi slopes divided by the current scale. */
  slopes: Float32Array;
  /** [D] scratch: one dequantized embedding row. */
  row: Float32Array;
  /**
   * [Kp] one activation row of the MLP's quantized c_proj when it is stored padded to Kp inputs (Kp > I),
   * zeros past I (never written there); null when it is not padded.
   */
  actRow: Float32Array | null;
}

export function gptContext<W extends Weight>(cfg: ModelConfig, k: Kernels, p: Params<W>): GptContext<W> {
  const btlm = cfg.model_type === 'btlm';
  const act = cfg.activation_function;
  return {
    cfg, k, p,
    D: cfg.n_embd, H: cfg.n_head, d: headDim(cfg), I: innerSize(cfg), V: cfg.vocab_size,
    gelu: act === 'swiglu' ? null : act === 'gelu' ? 'erf' : 'tanh',
    embScale: btlm ? cfg.mup_embeddings_scale : 1,
    logitScale: btlm ? cfg.mup_output_alpha * cfg.mup_width_scale : 1,
    slopes: new Float32Array(cfg.n_head),
    row: new Float32Array(cfg.n_embd),
    actRow: paddedActRow(k, p, innerSize(cfg)),
  };
}

/** GptContext.actRow: Kp zeros where every layer's c_proj is quantized and padded to Kp > I inputs, else null. */
function paddedActRow(k: Kernels, p: Params<Weight>, I: number): Float32Array | null {
  const Ks = new Set(p.layers.map((l) => (l.mlpProjW instanceof Float32Array ? 0 : l.mlpProjW.K)));
  const [Kp] = [...Ks];
  if (Ks.size !== 1 || Kp <= I) return null;
  return k.adopt ? k.adopt(new Float32Array(Kp)) : new Float32Array(Kp);
}

/** The attention scale of a layer: 1/d^p (p = ½, or 1 under μP) if scale_attn_weights, ÷(layer+1) if asked. */
export function attentionScale(cfg: ModelConfig, layer: number): number {
  let scale = 1;
  if (cfg.scale_attn_weights) scale /= cfg.mup_scale_qk_dot_by_d ? headDim(cfg) : Math.sqrt(headDim(cfg));
  if (cfg.scale_attn_by_inverse_layer_idx) scale /= layer + 1;
  return scale;
}

/** Buffers one block writes. The optional ones are kept for the backward pass only. */
export interface BlockBuffers {
  ln1: Float32Array; // [M, D] ln_1 output
  qkv: Float32Array; // [M, 3D]
  att: Float32Array; // [M, D] attention output, heads merged
  ln2: Float32Array; // [M, D] ln_2 output
  fc: Float32Array; // [M, I] c_fc output
  fc2: Float32Array | null; // [M, I] c_fc2 output (SwiGLU gate branch)
  act: Float32Array; // [M, I] activation output (aliases fc at inference)
  ln1Mean?: Float32Array; // [M]
  ln1Rstd?: Float32Array; // [M]
  ln2Mean?: Float32Array; // [M]
  ln2Rstd?: Float32Array; // [M]
  probs?: Float32Array; // [B, H, T, T] softmax probabilities
}

/**
 * One layer's dropout masks for a training pass (factors 0 or 1/(1 − p): src/kernels/dropout.ts), where
 * HF's GPT-2 and BTLM apply them; null where the rate is 0.
 */
export interface LayerDropout {
  attn: Float32Array | null; // [B, H, T, T] attn_pdrop, on the softmax probabilities
  attnResid: Float32Array | null; // [M, D] resid_pdrop, on the attention block's c_proj output
  mlpResid: Float32Array | null; // [M, D] resid_pdrop, on the MLP's c_proj output
  y: Float32Array; // [M, D] scratch: a branch's output before it is masked, or a masked gradient
}

/** Inference activations for up to `rows` rows, grown on demand and reused across calls and layers. */
export class Activations {
  rows = 0;
  h: Float32Array = new Float32Array(0); // [rows, D] residual stream
  ln: Float32Array = new Float32Array(0); // [rows, D] LayerNorm output (ln_1, ln_2 and ln_f share it)
  block!: BlockBuffers; // set by ensure()

  constructor(private readonly ctx: GptContext) {}

  ensure(rows: number): void {
    if (rows <= this.rows) return;
    const { D, I, gelu, k } = this.ctx;
    // where the kernels read them in place (Kernels.adopt: the wasm module's memory), so no call copies them;
    // their pages mapped now (Kernels.populate), not one fault at a time inside the prefill's kernels
    const buf = (n: number): Float32Array => {
      const x = k.adopt ? k.adopt(new Float32Array(n)) : new Float32Array(n);
      k.populate?.(x);
      return x;
    };
    this.rows = rows;
    this.h = buf(rows * D);
    this.ln = buf(rows * D);
    const fc = buf(rows * I);
    this.block = {
      ln1: this.ln, qkv: buf(rows * 3 * D), att: buf(rows * D), ln2: this.ln,
      fc, fc2: gelu === null ? buf(rows * I) : null, act: fc,
    };
  }
}

// ---- embeddings -------------------------------------------------------------------------------

/**
 * h[M, D] = (wte[ids] + wpe[pos]) · embScale, row r at position startPos + (r mod rowLen).
 * μP multiplies the sum, so the position embedding is scaled too.
 */
export function embedForward(ctx: GptContext, h: Float32Array, ids: ArrayLike<number>, M: number, startPos: number, rowLen: number): void {
  const { D, embScale } = ctx, { wte, wpe } = ctx.p;
  for (let r = 0; r < M; r++) {
    let e: Float32Array, te: number;
    if (wte instanceof Float32Array) { e = wte; te = ids[r] * D; } else { ctx.k.qrow(ctx.row, wte, ids[r]); e = ctx.row; te = 0; }
    const o = r * D;
    if (wpe) {
      const pe = (startPos + (r % rowLen)) * D;
      for (let i = 0; i < D; i++) h[o + i] = (e[te + i] + wpe[pe + i]) * embScale;
    } else {
      for (let i = 0; i < D; i++) h[o + i] = e[te + i] * embScale;
    }
  }
}

/** gwte[ids[r]] += embScale·dh[r], gwpe[pos(r)] += embScale·dh[r] (positions from 0). */
export function embedBackward(ctx: GptContext<Float32Array>, g: Params, dh: Float32Array, ids: ArrayLike<number>, M: number, rowLen: number): void {
  const { D, embScale } = ctx;
  for (let r = 0; r < M; r++) {
    const te = ids[r] * D, o = r * D;
    for (let i = 0; i < D; i++) g.wte[te + i] += embScale * dh[o + i];
    if (g.wpe) {
      const pe = (r % rowLen) * D;
      for (let i = 0; i < D; i++) g.wpe[pe + i] += embScale * dh[o + i];
    }
  }
}

// ---- Conv1D ----------------------------------------------------------------------------------

let padded = new Float32Array(0);

/**
 * x[M, K] as the input of a quantized W [N, Kp]: x itself when Kp = K, else its rows zero-padded
 * to Kp (a matrix stored padded to whole blocks; the padding weights meet zeros).
 */
function blockInput(x: Float32Array, W: Exclude<Weight, Float32Array>, M: number, K: number): Float32Array {
  if (W.K === K) return x;
  if (padded.length < M * W.K) padded = new Float32Array(M * W.K);
  for (let r = 0; r < M; r++) {
    padded.set(x.subarray(r * K, (r + 1) * K), r * W.K);
    padded.fill(0, r * W.K + K, (r + 1) * W.K);
  }
  return padded;
}

/**
 * out[M, N] = x[M, K]·W + b[N]: a Conv1D, W float [K, N] (or [N, K] when ctx.p.conv1dOutIn: x·Wᵀ) or
 * quantized [N, K].
 */
function linear(ctx: GptContext, out: Float32Array, x: Float32Array, W: Weight, b: Float32Array, M: number, K: number, N: number): void {
  const k = ctx.k;
  if (!(W instanceof Float32Array)) k.qlinear(out, blockInput(x, W, M, K), W, b, M, 1, false);
  else if (!ctx.p.conv1dOutIn) k.linear(out, x, W, b, M, K, N);
  else {
    k.bias(out, b, M, N, false);
    k.gemm(false, true, M, N, K, 1, x, W, 1, out);
  }
}

/** out[M, N] += x[M, K]·W + b[N]: a Conv1D added into the residual stream. */
function addLinear(ctx: GptContext, out: Float32Array, x: Float32Array, W: Weight, b: Float32Array, M: number, K: number, N: number): void {
  const k = ctx.k;
  if (!(W instanceof Float32Array)) { k.qlinear(out, blockInput(x, W, M, K), W, b, M, 1, true); return; }
  k.gemm(false, ctx.p.conv1dOutIn, M, N, K, 1, x, W, 1, out);
  k.bias(out, b, M, N, true);
}

/**
 * Backward of y[M, N] = x[M, K]·W[K, N] + b: gW += xᵀ·dy, gb += Σ_rows dy, and
 * dx = dy·Wᵀ (overwritten, or accumulated when accumulateDx).
 */
function linearBackward(
  k: Kernels, dx: Float32Array, gW: Float32Array, gb: Float32Array, dy: Float32Array, x: Float32Array, W: Float32Array,
  M: number, K: number, N: number, accumulateDx = false,
): void {
  k.gemm(false, true, M, K, N, 1, dy, W, accumulateDx ? 1 : 0, dx);
  k.gemm(true, false, K, N, M, 1, x, dy, 1, gW);
  for (let r = 0; r < M; r++) {
    const o = r * N;
    for (let j = 0; j < N; j++) gb[j] += dy[o + j];
  }
}

// ---- attention ---------------------------------------------------------------------------------

/**
 * h[B·T, D] += c_proj(attention(ln_1(h))) for B sequences of T new tokens after `past` cached positions.
 * With a cache (B = 1), the new keys and values are appended to it at rows past … past+T−1.
 * Scores: q·k / d^p (p = ½, or 1 under μP's scale_qk_dot_by_d) if scale_attn_weights, then / (layer+1)
 * if scale_attn_by_inverse_layer_idx; causal mask; ALiBi −(s_h/scale)·|j − i|; softmax.
 */
export function attentionForward(
  ctx: GptContext, layer: number, lp: LayerParams<Weight>, h: Float32Array, s: BlockBuffers, B: number, T: number, past: number, cache: LayerKV | null,
  drop: LayerDropout | null = null,
): void {
  const { cfg, k, D, H, d } = ctx;
  const M = B * T, D3 = 3 * D;
  k.layerNorm(s.ln1, h, lp.ln1W, lp.ln1B, M, D, cfg.layer_norm_epsilon, s.ln1Mean, s.ln1Rstd);
  linear(ctx, s.qkv, s.ln1, lp.attnW, lp.attnB, M, D, D3);
  const slopes = sequenceSlopes(ctx, past + T);
  for (let b = 0; b < B; b++) {
    attendSequence(ctx, layer, s, b * T, T, past, cache, slopes, b);
    // training (no cache, so the keys are the rows): out = (P ⊙ R)·V
    if (drop?.attn) {
      attentionDropoutForward(k, {
        out: s.att.subarray(b * T * D, (b + 1) * T * D), v: s.qkv.subarray(b * T * D3 + 2 * D), kvStride: D3,
        probs: s.probs!.subarray(b * H * T * T), mask: drop.attn.subarray(b * H * T * T), T, H, d,
      });
    }
  }
  if (drop?.attnResid) {
    linear(ctx, drop.y, s.att, lp.attnProjW, lp.attnProjB, M, D, D);
    addMasked(h, drop.y, drop.attnResid, M * D);
  } else {
    addLinear(ctx, h, s.att, lp.attnProjW, lp.attnProjB, M, D, D);
  }
}

/**
 * One sequence's rows of a decode batch: T new tokens (T = 1 decoding, more for a prompt chunk) after
 * `past` positions already in its own cache (one LayerKV per layer), where the new keys and values go.
 */
export interface SequenceRows {
  T: number;
  past: number;
  cache: readonly LayerKV[];
}

/**
 * attentionForward for a batch of independent sequences, rows one after another in h [ΣT, D]: the
 * projections run once over all ΣT rows (one M-row product per weight matrix), attention per
 * sequence against its own cache and positions.
 */
export function batchAttentionForward(
  ctx: GptContext, layer: number, lp: LayerParams<Weight>, h: Float32Array, s: BlockBuffers, seqs: readonly SequenceRows[], M: number,
): void {
  const { cfg, k, D } = ctx;
  k.layerNorm(s.ln1, h, lp.ln1W, lp.ln1B, M, D, cfg.layer_norm_epsilon);
  linear(ctx, s.qkv, s.ln1, lp.attnW, lp.attnB, M, D, 3 * D);
  if (!attendDecodeBatch(ctx, layer, s, seqs)) {
    let r0 = 0;
    for (const q of seqs) {
      attendSequence(ctx, layer, s, r0, q.T, q.past, q.cache[layer], sequenceSlopes(ctx, q.past + q.T), 0);
      r0 += q.T;
    }
  }
  addLinear(ctx, h, s.att, lp.attnProjW, lp.attnProjB, M, D, D);
}

/**
 * The attention of a decode batch of several sequences that each have one new row (row s of s.qkv) and an
 * f16 cache: one kernel call for them all (attentionF16Batch: one fork/join a layer instead of one a
 * sequence), each row as attendSequence gives it. False, with nothing done, for any other batch.
 */
function attendDecodeBatch(ctx: GptContext, layer: number, s: BlockBuffers, seqs: readonly SequenceRows[]): boolean {
  const S = seqs.length;
  if (S < 2 || !seqs.every((q) => q.T === 1 && q.cache[layer] instanceof F16LayerKV)) return false;
  const { cfg, k, D, H, d } = ctx, D3 = 3 * D;
  const caches = seqs.map((q) => q.cache[layer] as F16LayerKV);
  const Tk = Int32Array.from(seqs, (q) => q.past + 1);
  let slopes: Float32Array | null = null; // [S, H]
  if (usesAlibi(cfg)) {
    slopes = new Float32Array(S * H);
    Tk.forEach((t, e) => slopes!.set(sequenceSlopes(ctx, t)!, e * H));
  }
  k.attentionF16Batch({
    out: s.att, q: s.qkv, qStride: D3, k: caches.map((c) => c.k), v: caches.map((c) => c.v), kvStride: D,
    kNew: s.qkv.subarray(D), vNew: s.qkv.subarray(2 * D), newStride: D3, Tk, H, d, scale: attentionScale(cfg, layer), slopes,
  });
  return true;
}

/** ALiBi slopes for a sequence whose keys span Tk positions (the dynamic scale depends on Tk), or null. */
function sequenceSlopes(ctx: GptContext, Tk: number): Float32Array | null {
  return usesAlibi(ctx.cfg) ? scaledSlopes(ctx.slopes, ctx.p.slopes!, alibiScale(ctx.cfg, Tk)) : null;
}

/**
 * Attention of one sequence: query rows r0 … r0+T−1 of s.qkv [M, 3D] (at positions past … past+T−1)
 * into the same rows of s.att [M, D]. With a cache, the rows' keys and values are stored at
 * past … past+T−1 first; without, the keys are the rows themselves (past = 0). probsRow selects the
 * [H, T, T] slice of s.probs when the backward pass keeps them.
 */
function attendSequence(
  ctx: GptContext, layer: number, s: BlockBuffers, r0: number, T: number, past: number, cache: LayerKV | null,
  slopes: Float32Array | null, probsRow: number,
): void {
  const { cfg, k, D, H, d } = ctx;
  const D3 = 3 * D, Tk = past + T;
  const scale = attentionScale(cfg, layer);
  // the whole arrays when r0 = 0 (every single-sequence decode step): no views to build (see F16LayerKV)
  const q = r0 === 0 ? s.qkv : s.qkv.subarray(r0 * D3);
  const out = r0 === 0 ? s.att : s.att.subarray(r0 * D, (r0 + T) * D); // the kernels write T·D of it
  if (cache) {
    cache.appendAttend(k, s.qkv, r0, { out, q, qStride: D3, Tq: T, Tk, H, d, scale, slopes });
    return;
  }
  // without a cache the keys and values are the rows themselves
  const probs = s.probs ? s.probs.subarray(probsRow * H * T * T, (probsRow + 1) * H * T * T) : undefined;
  k.attention({ out, q, qStride: D3, k: s.qkv.subarray(r0 * D3 + D), v: s.qkv.subarray(r0 * D3 + 2 * D), kvStride: D3, Tq: T, Tk, H, d, scale, slopes, probs });
}

/** Scratch of the backward pass, shared by all layers. */
export interface BackwardScratch {
  dAtt: Float32Array; // [M, D]
  dQkv: Float32Array; // [M, 3D]
  dLn: Float32Array; // [M, D]
  dAct: Float32Array; // [M, I]
  dFc: Float32Array; // [M, I]
  dFc2: Float32Array | null; // [M, I]
}

/**
 * Backward of attentionForward without a cache (training: queries = keys, past = 0). dh [M, D] is the
 * gradient of the block's output residual on entry and of its input hIn on exit (the residual adds).
 */
export function attentionBackward(
  ctx: GptContext<Float32Array>, layer: number, lp: LayerParams, g: LayerParams, hIn: Float32Array, s: BlockBuffers,
  dh: Float32Array, sc: BackwardScratch, B: number, T: number, drop: LayerDropout | null = null,
): void {
  const { cfg, k, D, H, d } = ctx;
  const M = B * T, D3 = 3 * D;
  let dy = dh; // gradient of the c_proj output: dh, or dh ⊙ R under resid dropout
  if (drop?.attnResid) { applyMask(drop.y, dh, drop.attnResid, M * D); dy = drop.y; }
  linearBackward(k, sc.dAtt, g.attnProjW, g.attnProjB, dy, s.att, lp.attnProjW, M, D, D);
  const scale = attentionScale(cfg, layer);
  sc.dQkv.fill(0, 0, M * D3);
  for (let b = 0; b < B; b++) {
    const o = b * T * D3, tt = b * H * T * T;
    const a: AttentionBackwardArgs = {
      dq: sc.dQkv.subarray(o), dk: sc.dQkv.subarray(o + D), dv: sc.dQkv.subarray(o + 2 * D),
      dout: sc.dAtt.subarray(b * T * D), q: s.qkv.subarray(o), k: s.qkv.subarray(o + D), v: s.qkv.subarray(o + 2 * D),
      qStride: D3, kvStride: D3, probs: s.probs!.subarray(tt), T, H, d, scale,
    };
    if (drop?.attn) attentionDropoutBackward(k, { ...a, mask: drop.attn.subarray(tt) });
    else k.attentionBackward(a);
  }
  linearBackward(k, sc.dLn, g.attnW, g.attnB, sc.dQkv, s.ln1, lp.attnW, M, D, D3);
  k.layerNormBackward(dh, g.ln1W, g.ln1B, sc.dLn, hIn, s.ln1Mean!, s.ln1Rstd!, lp.ln1W, M, D);
}

// ---- MLP ---------------------------------------------------------------------------------------

/** h[M, D] += mlp(ln_2(h)): c_proj(act(c_fc(x))), or SwiGLU c_proj(c_fc(x) · silu(c_fc2(x))). */
export function mlpForward(ctx: GptContext, lp: LayerParams<Weight>, h: Float32Array, s: BlockBuffers, M: number, drop: LayerDropout | null = null): void {
  const { cfg, k, D, I } = ctx;
  k.layerNorm(s.ln2, h, lp.ln2W, lp.ln2B, M, D, cfg.layer_norm_epsilon, s.ln2Mean, s.ln2Rstd);
  const up = lp.fcW, gate = lp.fc2W;
  if (gate && !(up instanceof Float32Array) && !(gate instanceof Float32Array) && up.K === gate.K) {
    // both quantized: one call (one parallel job) for the two products of ln_2's output
    k.qlinearPair(s.fc, s.fc2!, blockInput(s.ln2, up, M, D), up, gate, lp.fcB, lp.fc2B!, M);
  } else {
    linear(ctx, s.fc, s.ln2, up, lp.fcB, M, D, I);
    if (gate) linear(ctx, s.fc2!, s.ln2, gate, lp.fc2B!, M, D, I);
  }
  // one row into a c_proj stored padded to whole blocks (BTLM's 6,826 inputs): the activation is written straight
  // into a row of the padded width whose tail stays zero, so no copy comes between the kernels (a decode plan
  // replays kernel calls only)
  const act = M === 1 && ctx.actRow ? ctx.actRow : s.act;
  if (ctx.gelu === null) {
    k.swiglu(act, s.fc, s.fc2!, M * I);
  } else {
    k.gelu(act, s.fc, M * I, ctx.gelu);
  }
  if (drop?.mlpResid) {
    linear(ctx, drop.y, act, lp.mlpProjW, lp.mlpProjB, M, I, D);
    addMasked(h, drop.y, drop.mlpResid, M * D);
  } else {
    addLinear(ctx, h, act, lp.mlpProjW, lp.mlpProjB, M, act === s.act ? I : act.length, D);
  }
}

/** Backward of mlpForward: dh [M, D] is the output residual's gradient on entry, the input's (hMid) on exit. */
export function mlpBackward(
  ctx: GptContext<Float32Array>, lp: LayerParams, g: LayerParams, hMid: Float32Array, s: BlockBuffers, dh: Float32Array, sc: BackwardScratch, M: number,
  drop: LayerDropout | null = null,
): void {
  const { k, D, I } = ctx;
  let dy = dh; // gradient of the c_proj output: dh, or dh ⊙ R under resid dropout
  if (drop?.mlpResid) { applyMask(drop.y, dh, drop.mlpResid, M * D); dy = drop.y; }
  linearBackward(k, sc.dAct, g.mlpProjW, g.mlpProjB, dy, s.act, lp.mlpProjW, M, I, D);
  if (ctx.gelu === null) {
    k.swigluBackward(sc.dFc, sc.dFc2!, s.fc, s.fc2!, sc.dAct, M * I);
    linearBackward(k, sc.dLn, g.fcW, g.fcB, sc.dFc, s.ln2, lp.fcW, M, D, I);
    linearBackward(k, sc.dLn, g.fc2W!, g.fc2B!, sc.dFc2!, s.ln2, lp.fc2W!, M, D, I, true);
  } else {
    k.geluBackward(sc.dFc, s.fc, sc.dAct, M * I, ctx.gelu);
    linearBackward(k, sc.dLn, g.fcW, g.fcB, sc.dFc, s.ln2, lp.fcW, M, D, I);
  }
  k.layerNormBackward(dh, g.ln2W, g.ln2B, sc.dLn, hMid, s.ln2Mean!, s.ln2Rstd!, lp.ln2W, M, D);
}

// ---- LM head -----------------------------------------------------------------------------------

/** logits[M, V] = ln_f(h[M, D]) · headᵀ · logitScale (head = wte when tied; μP logit multiplier for btlm). */
export function lmHeadForward(ctx: GptContext, logits: Float32Array, h: Float32Array, ln: Float32Array, M: number): void {
  const { cfg, k, p, D, V } = ctx;
  k.layerNorm(ln, h, p.lnfW, p.lnfB, M, D, cfg.layer_norm_epsilon);
  if (p.lmHead instanceof Float32Array) k.gemm(false, true, M, V, D, ctx.logitScale, ln, p.lmHead, 0, logits);
  else k.qlinear(logits, ln, p.lmHead, null, M, ctx.logitScale, false);
}

/** Buffers of the LM head's training pass. */
export interface HeadBuffers {
  ln: Float32Array; // [M, D] ln_f output
  mean: Float32Array; // [M]
  rstd: Float32Array; // [M]
  dLn: Float32Array; // [M, D]
  /** [chunk, V]: logits of `chunk` rows at a time, overwritten by their gradient. */
  logits: Float32Array;
  chunk: number;
}

/**
 * The LM head, the mean cross-entropy and their backward, `chunk` rows at a time so that the
 * [M, V] logits never exist at once: returns Σ −log p(target) over rows with target ≥ 0, and sets
 * dh [M, D] (overwritten) and g.lmHead (accumulated) for the loss Σ / count.
 */
export function lmHeadLossBackward(
  ctx: GptContext<Float32Array>, g: Params, h: Float32Array, dh: Float32Array, targets: Int32Array, count: number, hb: HeadBuffers, M: number,
): number {
  const { cfg, k, p, D, V, logitScale } = ctx;
  k.layerNorm(hb.ln, h, p.lnfW, p.lnfB, M, D, cfg.layer_norm_epsilon, hb.mean, hb.rstd);
  let loss = 0;
  for (let r0 = 0; r0 < M; r0 += hb.chunk) {
    const m = Math.min(hb.chunk, M - r0);
    const ln = hb.ln.subarray(r0 * D, (r0 + m) * D);
    k.gemm(false, true, m, V, D, logitScale, ln, p.lmHead, 0, hb.logits);
    loss += k.softmaxCrossEntropy(hb.logits, targets.subarray(r0, r0 + m), m, V, 1 / count);
    // logits = s·ln·headᵀ:  dln = s·dlogits·head,  ghead += s·dlogitsᵀ·ln
    k.gemm(false, false, m, D, V, logitScale, hb.logits, p.lmHead, 0, hb.dLn.subarray(r0 * D, (r0 + m) * D));
    k.gemm(true, false, V, D, m, logitScale, hb.logits, ln, 1, g.lmHead);
  }
  dh.fill(0, 0, M * D);
  k.layerNormBackward(dh, g.lnfW, g.lnfB, hb.dLn, h, hb.mean, hb.rstd, p.lnfW, M, D);
  return loss;
}

// ---- the stack of blocks -------------------------------------------------------------------------

/** Runs the blocks over a.h [B·T, D] (T new tokens per sequence after `past` cached positions). */
export function blocksForward(ctx: GptContext, a: Activations, B: number, T: number, past: number, cache: readonly LayerKV[] | null): void {
  ctx.p.layers.forEach((lp, l) => {
    attentionForward(ctx, l, lp, a.h, a.block, B, T, past, cache ? cache[l] : null);
    mlpForward(ctx, lp, a.h, a.block, B * T);
  });
}

/** Runs the blocks over a.h [M = ΣT, D]: the rows of independent sequences, each with its own cache (see batchAttentionForward). */
export function batchBlocksForward(ctx: GptContext, a: Activations, seqs: readonly SequenceRows[], M: number): void {
  ctx.p.layers.forEach((lp, l) => {
    batchAttentionForward(ctx, l, lp, a.h, a.block, seqs, M);
    mlpForward(ctx, lp, a.h, a.block, M);
  });
}
