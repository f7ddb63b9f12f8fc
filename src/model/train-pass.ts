// One training pass over a batch: the forward with every layer's activations kept, the LM head
// and mean next-token cross-entropy (HF's shift) in row chunks, then the backward through the
// blocks to the embeddings. Gradients land in a Params-shaped set of arrays, by HF name.
// With a dropout seed, dropout applies where HF's GPT-2 / BTLM apply it in train mode: embd_pdrop on
// the (scaled) embedding sum, attn_pdrop on the softmax probabilities, resid_pdrop on the output of
// each block's two c_proj (before the residual add); masks are drawn from src/rng.ts with that seed.
import { expectedTensors, paramsFromTensors, type Params } from './params.js';
import {
  attentionBackward, attentionForward, embedBackward, embedForward, lmHeadLossBackward, mlpBackward, mlpForward,
  type BackwardScratch, type BlockBuffers, type GptContext, type HeadBuffers, type LayerDropout,
} from './gpt.js';
import { applyMask, fillDropoutMask } from '../kernels/dropout.js';
import { Rng } from '../rng.js';

/** Rows of logits computed at once by the LM head: [LOGIT_CHUNK, V] floats of scratch (51 MB at V = 50,257). */
const LOGIT_CHUNK = 256;

interface SavedBlock extends BlockBuffers {
  hIn: Float32Array; // [M, D] residual entering the block
  hMid: Float32Array; // [M, D] residual between attention and MLP
}

export class TrainPass {
  /** Gradients by HF name (slopes excluded: not trainable), reused across calls. */
  readonly grads: Map<string, Float32Array>;
  private readonly g: Params;
  private B = 0;
  private T = 0;
  private h: Float32Array = new Float32Array(0); // [M, D]
  private dh: Float32Array = new Float32Array(0); // [M, D]
  private blocks: SavedBlock[] = [];
  private sc!: BackwardScratch;
  private head!: HeadBuffers;
  private targets = new Int32Array(0); // [M] next token, −1 at each row's last position
  private embMask: Float32Array | null = null; // [M, D] embd_pdrop mask
  private drops: LayerDropout[] = []; // per layer, masks allocated where the rate is > 0

  constructor(private readonly ctx: GptContext<Float32Array>) {
    const cfg = ctx.cfg;
    this.grads = new Map();
    for (const { name, shape } of expectedTensors(cfg)) {
      if (name === 'transformer.relative_pe.slopes') continue;
      this.grads.set(name, new Float32Array(shape.reduce((a, b) => a * b, 1)));
    }
    this.g = paramsFromTensors(cfg, this.grads, 'gradients');
  }

  private ensure(B: number, T: number): void {
    if (B === this.B && T === this.T) return;
    const { D, H, I, V, gelu } = this.ctx;
    const M = B * T;
    const f = (n: number): Float32Array => new Float32Array(n);
    this.B = B;
    this.T = T;
    this.h = f(M * D);
    this.dh = f(M * D);
    this.targets = new Int32Array(M);
    this.blocks = this.ctx.p.layers.map(() => ({
      hIn: f(M * D), hMid: f(M * D),
      ln1: f(M * D), ln1Mean: f(M), ln1Rstd: f(M), qkv: f(M * 3 * D), att: f(M * D), probs: f(B * H * T * T),
      ln2: f(M * D), ln2Mean: f(M), ln2Rstd: f(M), fc: f(M * I), fc2: gelu === null ? f(M * I) : null, act: f(M * I),
    }));
    this.sc = { dAtt: f(M * D), dQkv: f(M * 3 * D), dLn: f(M * D), dAct: f(M * I), dFc: f(M * I), dFc2: gelu === null ? f(M * I) : null };
    const chunk = Math.min(LOGIT_CHUNK, M);
    this.head = { ln: f(M * D), mean: f(M), rstd: f(M), dLn: f(M * D), logits: f(chunk * V), chunk };
    const { attn_pdrop: pa, resid_pdrop: pr, embd_pdrop: pe } = this.ctx.cfg;
    this.embMask = pe > 0 ? f(M * D) : null;
    this.drops = this.ctx.p.layers.map(() => ({
      attn: pa > 0 ? f(B * H * T * T) : null, attnResid: pr > 0 ? f(M * D) : null, mlpResid: pr > 0 ? f(M * D) : null, y: f(M * D),
    }));
  }

  /** New masks for this pass from the seed (a fixed order: embedding, then per layer attention, its residual, the MLP's). */
  private drawMasks(seed: number): void {
    const { cfg } = this.ctx, rng = new Rng(seed), M = this.B * this.T, D = this.ctx.D;
    if (this.embMask) fillDropoutMask(rng, this.embMask, M * D, cfg.embd_pdrop);
    for (const dr of this.drops) {
      if (dr.attn) fillDropoutMask(rng, dr.attn, dr.attn.length, cfg.attn_pdrop);
      if (dr.attnResid) fillDropoutMask(rng, dr.attnResid, M * D, cfg.resid_pdrop);
      if (dr.mlpResid) fillDropoutMask(rng, dr.mlpResid, M * D, cfg.resid_pdrop);
    }
  }

  /**
   * Mean next-token cross-entropy of ids (B rows of T ≥ 2 tokens, checked by the caller) and, when
   * withGrad, its gradient in `grads` (zeroed first). dropoutSeed: train mode, with the config's
   * dropout rates and masks drawn from this seed; null: no dropout (eval mode).
   */
  run(ids: number[][], withGrad: boolean, dropoutSeed: number | null = null): number {
    const B = ids.length, T = ids[0].length, M = B * T;
    const { ctx } = this;
    this.ensure(B, T);
    const flat = Int32Array.from(ids.flat());
    for (let r = 0; r < M; r++) this.targets[r] = r % T === T - 1 ? -1 : flat[r + 1];
    const count = B * (T - 1);
    const dropout = dropoutSeed !== null;
    if (dropout) this.drawMasks(dropoutSeed);
    const drop = (l: number): LayerDropout | null => (dropout ? this.drops[l] : null);

    embedForward(ctx, this.h, flat, M, 0, T);
    if (dropout && this.embMask) applyMask(this.h, this.h, this.embMask, M * ctx.D);
    ctx.p.layers.forEach((lp, l) => {
      const s = this.blocks[l];
      s.hIn.set(this.h);
      attentionForward(ctx, l, lp, this.h, s, B, T, 0, null, drop(l));
      s.hMid.set(this.h);
      mlpForward(ctx, lp, this.h, s, M, drop(l));
    });
    if (withGrad) for (const g of this.grads.values()) g.fill(0);
    const loss = lmHeadLossBackward(ctx, this.g, this.h, this.dh, this.targets, count, this.head, M) / count;
    if (!withGrad) return loss;
    for (let l = ctx.p.layers.length - 1; l >= 0; l--) {
      const lp = ctx.p.layers[l], gl = this.g.layers[l], s = this.blocks[l];
      mlpBackward(ctx, lp, gl, s.hMid, s, this.dh, this.sc, M, drop(l));
      attentionBackward(ctx, l, lp, gl, s.hIn, s, this.dh, this.sc, B, T, drop(l));
    }
    if (dropout && this.embMask) applyMask(this.dh, this.dh, this.embMask, M * ctx.D);
    embedBackward(ctx, this.g, this.dh, flat, M, T);
    return loss;
  }
}
