// Mean |activation| of every layer output of a model on a batch, for the coordinate check. It runs
// the model's own layer functions (gpt.ts) in the order of blocksForward, reading the residual
// stream between them, so the forward code itself carries no hooks.
import { Activations, attentionForward, attentionScale, embedForward, gptContext, lmHeadForward, mlpForward } from '../model/gpt.js';
import type { Model } from '../model/model.js';

/** What each probed layer output is. */
export type LayerKind = 'embedding' | 'attn' | 'attn_logits' | 'mlp' | 'residual' | 'logits';

export const LAYER_KINDS: LayerKind[] = ['embedding', 'attn_logits', 'attn', 'mlp', 'residual', 'logits'];

export const KIND_LABELS: Record<LayerKind, string> = {
  embedding: 'embedding',
  attn_logits: 'attn scores q·k',
  attn: 'attn output',
  mlp: 'MLP output',
  residual: 'block output',
  logits: 'output logits',
};

export interface LayerStat {
  /** e.g. "embedding", "h.0.attn", "h.0.attn_logits", "h.0.mlp", "h.0.residual", "logits". */
  name: string;
  kind: LayerKind;
  /** Block index, or −1 for embedding and logits. */
  layer: number;
  /** Mean |x| over the output's coordinates. */
  meanAbs: number;
}

function meanAbs(x: Float32Array, n = x.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(x[i]);
  return s / n;
}

/** Mean |y − x| (a block's contribution to the residual stream, which it adds in place). */
function meanAbsDiff(y: Float32Array, x: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(y[i] - x[i]);
  return s / n;
}

/** Mean |q_i·k_j·scale| over the causal pairs j ≤ i of every head: the attention scores before ALiBi and the mask. */
function meanAbsScores(qkv: Float32Array, B: number, T: number, H: number, d: number, scale: number): number {
  const D = H * d, D3 = 3 * D;
  let s = 0, n = 0;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const q = (b * T + i) * D3 + h * d;
        for (let j = 0; j <= i; j++) {
          const k = (b * T + j) * D3 + D + h * d;
          let dot = 0;
          for (let e = 0; e < d; e++) dot += qkv[q + e] * qkv[k + e];
          s += Math.abs(dot * scale);
          n++;
        }
      }
    }
  }
  return s / n;
}

/** Mean |x| of every layer output of `model` on ids ([B][T]), in forward order. */
export function probeActivations(model: Model, ids: number[][]): LayerStat[] {
  const B = ids.length, T = ids[0].length, M = B * T;
  const ctx = gptContext(model.config, model.kernels, model.params);
  const { D, H, d, V } = ctx;
  const a = new Activations(ctx);
  a.ensure(M);
  const n = M * D;
  const prev = new Float32Array(n); // [M, D] the residual before the current sub-layer
  const out: LayerStat[] = [];
  embedForward(ctx, a.h, ids.flat(), M, 0, T);
  out.push({ name: 'embedding', kind: 'embedding', layer: -1, meanAbs: meanAbs(a.h, n) });
  ctx.p.layers.forEach((lp, l) => {
    prev.set(a.h.subarray(0, n));
    attentionForward(ctx, l, lp, a.h, a.block, B, T, 0, null);
    out.push({ name: `h.${l}.attn_logits`, kind: 'attn_logits', layer: l, meanAbs: meanAbsScores(a.block.qkv, B, T, H, d, attentionScale(model.config, l)) });
    out.push({ name: `h.${l}.attn`, kind: 'attn', layer: l, meanAbs: meanAbsDiff(a.h, prev, n) });
    prev.set(a.h.subarray(0, n));
    mlpForward(ctx, lp, a.h, a.block, M);
    out.push({ name: `h.${l}.mlp`, kind: 'mlp', layer: l, meanAbs: meanAbsDiff(a.h, prev, n) });
    out.push({ name: `h.${l}.residual`, kind: 'residual', layer: l, meanAbs: meanAbs(a.h, n) });
  });
  const logits = new Float32Array(M * V); // [M, V]
  lmHeadForward(ctx, logits, a.h, a.ln, M);
  out.push({ name: 'logits', kind: 'logits', layer: -1, meanAbs: meanAbs(logits) });
  return out;
}
