// The study's members and their compute: each (size, parameterization) becomes a run config, its
// parameters are counted (total and non-embedding), its tokens set compute-optimally (Chinchilla:
// D = 20 · N), its training compute estimated, and its wall-clock time predicted from a measured step.
//
// Compute: C = 6·N·D (forward 2·N·D, backward 4·N·D: Kaplan et al. 2020, "Scaling Laws for Neural
// Language Models", §2.1) plus the attention term those parameters miss, the products q·kᵀ and
// softmax·v: per token and layer 2·n_ctx·d_model multiply-adds over a causal context of n_ctx/2 on
// average, forward 2·n_layer·n_ctx·d_model FLOPs, with the backward 6·n_layer·n_ctx·d_model·D.
import { join } from 'node:path';
import { check } from '../errors.js';
import { initModel } from '../model/init.js';
import { Model } from '../model/model.js';
import { mupLrMultipliers, mupMultipliers } from '../model/mup.js';
import { MUP_RECIPES, SP_SIGMA } from '../mup/setup.js';
import { AdamW, clipGradNorm } from '../train/adamw.js';
import { countParameters } from '../train/chinchilla.js';
import { parseRunConfig, type RunConfig } from '../train/runconfig.js';
import type { Parameterization } from '../model/init.js';
import type { SizeSpec, Study } from './study.js';

/** Training FLOPs: 6·N·D for the parameters plus 6·n_layer·n_ctx·d_model·D for attention (see above). */
export function studyFlops(params: number, tokens: number, shape: { nLayer: number; nCtx: number; dModel: number }): { dense: number; attention: number; total: number } {
  const dense = 6 * params * tokens;
  const attention = 6 * shape.nLayer * shape.nCtx * shape.dModel * tokens;
  return { dense, attention, total: dense + attention };
}

export interface MemberPlan {
  /** `<size>-<sp|mup>`: the member's folder under members/. */
  name: string;
  size: SizeSpec;
  parameterization: Parameterization;
  params: number;
  nonEmbeddingParams: number;
  /** Trained tokens: tokensPerParam × the chosen count, rounded up to whole steps. */
  tokens: number;
  steps: number;
  flops: { dense: number; attention: number; total: number };
  /** The run config's fields (what parseRunConfig validates) at a peak lr, in the study folder `dir`. */
  runFields: (lr: number, dir: string) => Record<string, unknown>;
}

/** The FFN width of the study's architecture at a width (SwiGLU 8/3, GELU 4, as the μP family of src/mup). */
export function ffnWidth(study: Study, width: number): number {
  return Math.round(MUP_RECIPES[study.arch].ffnRatio * width);
}

/** The μP base (the proxy sweep's smallest width) and the recipe's multipliers. */
export function mupBaseFields(study: Study): Record<string, number> {
  const r = MUP_RECIPES[study.arch], w = study.sweep.widths[0];
  return { base_width: w, base_ffn_width: r.ffnRatio * w, embeddings_scale: r.embeddingsScale, output_alpha: r.outputAlpha };
}

function modelFields(study: Study, size: SizeSpec, p: Parameterization): Record<string, unknown> {
  return {
    model_type: study.arch, n_layer: size.nLayer, n_embd: size.nEmbd, n_head: size.nHead, n_inner: ffnWidth(study, size.nEmbd),
    n_positions: study.data.seqLen, vocab_size: study.data.vocabSize,
    activation_function: study.arch === 'btlm' ? 'swiglu' : 'gelu',
    ...(study.arch === 'btlm' ? { position_embedding_type: 'alibi' } : {}),
    initializer_range: p === 'sp' ? SP_SIGMA : MUP_RECIPES[study.arch].sigma,
    attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
  };
}

/** Every member of the study, sizes in order, each in every parameterization. */
export function planMembers(study: Study): MemberPlan[] {
  const tokensPerStep = study.batchSize * study.data.seqLen;
  const out: MemberPlan[] = [];
  for (const [i, size] of study.sizes.entries()) {
    for (const p of study.parameterizations) {
      const name = `${size.name}-${p}`;
      const fields = (lr: number, dir: string, tokens: number): Record<string, unknown> => ({
        model: modelFields(study, size, p),
        parameterization: p,
        ...(p === 'mup' ? { mup: mupBaseFields(study) } : {}),
        data: { shards: join(dir, 'data', 'corpus') },
        batch_size: study.batchSize,
        seq_len: study.data.seqLen,
        tokens,
        optimizer: { lr, betas: study.optimizer.betas, eps: study.optimizer.eps, weight_decay: study.optimizer.weightDecay },
        clip_grad_norm: study.clipGradNorm,
        seed: study.seed,
        out_dir: join(dir, 'members', name),
      });
      const where = `${study.file}: sizes[${i}] (${size.name}, ${p})`;
      const model = parseRunConfig(fields(1e-3, '.', 1), where).model;
      const params = countParameters(model);
      const nonEmbeddingParams = countParameters(model, { embeddings: false });
      const wanted = study.tokensPerParam * (study.tokenParams === 'total' ? params : nonEmbeddingParams);
      const steps = Math.max(1, Math.ceil(wanted / tokensPerStep));
      const tokens = steps * tokensPerStep;
      const evalInterval = Math.max(1, Math.ceil(steps / study.eval.points));
      out.push({
        name, size, parameterization: p, params, nonEmbeddingParams, tokens, steps,
        flops: studyFlops(params, tokens, { nLayer: size.nLayer, nCtx: study.data.seqLen, dModel: size.nEmbd }),
        runFields: (lr, dir) => ({
          ...fields(lr, dir, tokens),
          schedule: { warmup_steps: Math.round(study.schedule.warmupFraction * steps), decay: study.schedule.decay, end_ratio: study.schedule.endRatio },
          eval: { interval: evalInterval, batches: study.eval.batches },
          checkpoint: { interval: study.checkpointInterval },
        }),
      });
    }
  }
  return out;
}

/** Which parameterizations the proxy sweep trains: those whose lr is 'sweep'. */
export function sweptParameterizations(study: Study): Parameterization[] {
  return study.parameterizations.filter((p) => (p === 'sp' ? study.spLr : study.mupLr) === 'sweep');
}

/** The run config fields of one proxy-sweep model (for timing it): the sweep's layers, heads and batch. */
export function sweepRunFields(study: Study, width: number): Record<string, unknown> {
  const size: SizeSpec = { name: `sweep-${width}`, nEmbd: width, nLayer: study.sweep.layers, nHead: study.sweep.heads };
  return {
    model: modelFields(study, size, 'sp'), data: { shards: '.' }, batch_size: study.sweep.batch, seq_len: study.data.seqLen,
    steps: study.sweep.steps, optimizer: { lr: 1e-3 }, out_dir: '.',
  };
}

/**
 * Seconds of one training step (forward, backward, clipping, AdamW) of a run config's model on random
 * tokens: the median of `reps` steps after one warm-up step.
 */
export function measureStep(run: RunConfig, reps = 5): number {
  check(reps >= 1, `measureStep: reps must be ≥ 1, got ${reps}`);
  const tensors = initModel(run.model, { seed: 0, parameterization: run.parameterization, mupBase: run.mupBase });
  const model = Model.fromTensors(run.model, new Map(tensors.map((t) => [t.name, t.data])));
  const lrMultipliers = run.parameterization === 'mup'
    ? mupLrMultipliers(tensors.map((t) => t.name), mupMultipliers(run.model, run.mupBase)) : undefined;
  const opt = new AdamW(model, { lr: 1e-4, lrMultipliers });
  const { batchSize, seqLen } = run.stages[0];
  let s = 12345;
  const batch = Array.from({ length: batchSize }, () => Array.from({ length: seqLen }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % run.model.vocab_size;
  })); // [batchSize][seqLen]
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const { grads } = model.lossAndGrad(batch);
    clipGradNorm(grads, 1.0);
    opt.step(grads);
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
