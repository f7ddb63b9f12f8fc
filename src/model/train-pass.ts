// One training pass over a batch: the forward with every layer's activations kept, the LM head
// and mean next-token cross-entropy (HF's shift) in row chunks, then the backward through the
// blocks to the embeddings. Gradients land in a Params-shaped set of arrays, by HF name.
import { expectedTensors, paramsFromTensors, type Params } from './params.js';
import {
  attentionBackward, attentionForward, embedBackward, embedForward, lmHeadLossBackward, mlpBackward, mlpForward,
  type BackwardScratch, type BlockBuffers, type GptContext, type HeadBuffers,
} from './gpt.js';

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
  }

  /**
   * Mean next-token cross-entropy of ids (B rows of T ≥ 2 tokens, checked by the caller) and, when
   * withGrad, its gradient in `grads` (zeroed first).
   */
  run(ids: number[][], withGrad: boolean): number {
    const B = ids.length, T = ids[0].length, M = B * T;
    const { ctx } = this;
    this.ensure(B, T);
    const flat = Int32Array.from(ids.flat());
    for (let r = 0; r < M; r++) this.targets[r] = r % T === T - 1 ? -1 : flat[r + 1];
    const count = B * (T - 1);

    embedForward(ctx, this.h, flat, M, 0, T);
    ctx.p.layers.forEach((lp, l) => {
      const s = this.blocks[l];
      s.hIn.set(this.h);
      attentionForward(ctx, l, lp, this.h, s, B, T, 0, null);
      s.hMid.set(this.h);
      mlpForward(ctx, lp, this.h, s, M);
    });
    if (withGrad) for (const g of this.grads.values()) g.fill(0);
    const loss = lmHeadLossBackward(ctx, this.g, this.h, this.dh, this.targets, count, this.head, M) / count;
    if (!withGrad) return loss;
    for (let l = ctx.p.layers.length - 1; l >= 0; l--) {
      const lp = ctx.p.layers[l], gl = this.g.layers[l], s = this.blocks[l];
      mlpBackward(ctx, lp, gl, s.hMid, s, this.dh, this.sc, M);
      attentionBackward(ctx, l, lp, gl, s.hIn, s, this.dh, this.sc, B, T);
    }
    embedBackward(ctx, this.g, this.dh, flat, M, T);
    return loss;
  }
}
