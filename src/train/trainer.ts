// The training loop: for each step, the stage's batch (split into grad_accum micro-batches whose
// gradients are averaged), global-norm clipping, the scheduled learning rate, one AdamW update; held-out
// loss at intervals; atomic checkpoints at intervals, at the end and on interruption; a metrics log
// and loss/LR plots. `train` continues an interrupted run exactly (`resume`): the model, AdamW moments,
// step and data position come back from the checkpoint, and the data order is a function of
// (seed, position), so the next steps' losses equal those of an uninterrupted run.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError, check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { toHfConfig, type ModelConfig } from '../model/config.js';
import { initModel, type NamedTensor } from '../model/init.js';
import { Model } from '../model/model.js';
import { expectedTensors } from '../model/params.js';
import { mupLrMultipliers, mupMultipliers } from '../model/mup.js';
import { AdamW, clipGradNorm, isTrainableName, type HasParameters } from './adamw.js';
import { checkSameArchitecture, latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { DataLoader, openRunData, type TokenStream } from './loader.js';
import { MetricsLog } from './metrics.js';
import type { DataSpec, RunConfig, Stage } from './runconfig.js';
import { readShardIndex } from '../data/shards.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import { lrAt } from './schedule.js';

/** What the trainer needs of a model (the contract of the model's backward pass). */
export interface TrainableModel extends HasParameters {
  /**
   * Mean next-token cross-entropy over ids ([B][T], HF's shift) and its gradient per HF tensor;
   * dropoutSeed: train mode (the config's dropout, masks from that seed).
   */
  lossAndGrad(ids: number[][], opts?: { dropoutSeed?: number }): { loss: number; grads: Record<string, Float32Array> };
  /** The loss alone (validation). Without it, the loss of forward's logits, else lossAndGrad(ids).loss. */
  loss?(ids: number[][]): number;
  /** Logits [B, T, V] of a full forward. */
  forward?(ids: number[][]): { logits: Float32Array; shape: [number, number, number] };
}

/** Mean next-token cross-entropy (HF's shift) of logits [B, T, V] for ids [B][T]: logsumexp − logit of the next id. */
export function crossEntropy(logits: Float32Array, shape: [number, number, number], ids: number[][]): number {
  const [B, T, V] = shape;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
      sum += Math.log(z) + max - row[ids[b][t + 1]];
    }
  }
  return sum / (B * (T - 1));
}

/** Builds a model over the given tensors; parameters() must return those arrays (AdamW updates them in place). */
export type ModelFactory = (config: ModelConfig, tensors: NamedTensor[]) => TrainableModel;

export interface StepInfo {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  seqLen: number;
  tokens: number;
  tokensPerSec: number;
  etaSec: number;
  valLoss: number | null;
}

export interface TrainOptions {
  /** Default: the Model of src/model/model.ts over the tensors (it needs its backward pass). */
  createModel?: ModelFactory;
  /** Continue from the last checkpoint in out_dir (required when one exists). */
  resume?: boolean;
  /** Stop after the current step, saving a checkpoint first (Ctrl-C / SIGTERM). */
  signal?: AbortSignal;
  /** Stop after this step as an interruption would (saving a checkpoint). */
  stopAfterStep?: number;
  onStep?: (info: StepInfo) => void;
  /** One-line notes (resume point, stage changes, evaluations). */
  log?: (message: string) => void;
  /** Write loss.svg and lr.svg (default true). */
  plots?: boolean;
}

export interface TrainResult {
  status: 'done' | 'interrupted';
  step: number;
  checkpoint: string;
  trainLoss: number | null;
  valLoss: number | null;
  metrics: string;
}

/**
 * The default factory: the model of src/model/model.ts over the tensors, used in place (not copied),
 * so AdamW's updates are the model's weights.
 */
const modelFactory: ModelFactory = (config, tensors) => Model.fromTensors(config, new Map(tensors.map((t) => [t.name, t.data])));

/**
 * The tokenizer a run trains with, which its checkpoints carry: data.tokenizer, or the one a shard
 * index names ('gpt2', or a tokenizer.json path relative to the shard folder or as given). null, with
 * a note, when it cannot be loaded or does not fit the model's vocabulary.
 */
export function runTokenizer(spec: DataSpec, vocabSize: number, log: (message: string) => void): Tokenizer | null {
  let name: string;
  if (spec.kind === 'shards') {
    const t = readShardIndex(spec.dir).tokenizer;
    name = t !== 'gpt2' && existsSync(join(spec.dir, t)) ? join(spec.dir, t) : t;
  } else {
    name = spec.tokenizer;
  }
  try {
    const tok = loadTokenizer(name);
    if (tok.vocabSize <= vocabSize) return tok;
    log(`note: tokenizer ${name} has ${tok.vocabSize} tokens, more than the model's vocab_size ${vocabSize}: checkpoints get no tokenizer files`);
  } catch (e) {
    if (!(e instanceof MugptError)) throw e;
    log(`note: checkpoints get no tokenizer files (${e.message})`);
  }
  return null;
}

/**
 * The dropout seed of a micro-batch: a function of (run seed, step, micro-batch) only, so a resumed
 * run draws the masks an uninterrupted one would (32-bit FNV-1a over the three numbers).
 */
export function dropoutSeed(seed: number, step: number, micro: number): number {
  let h = 0x811c9dc5;
  for (const x of [seed % 2 ** 32, Math.floor(seed / 2 ** 32), step, micro]) {
    for (let b = 0; b < 4; b++) h = Math.imul(h ^ ((x >>> (8 * b)) & 0xff), 0x01000193) >>> 0;
  }
  return h;
}

function stageAt(stages: Stage[], step: number): Stage {
  for (const s of stages) if (step < s.startStep + s.steps) return s;
  return stages[stages.length - 1];
}

/** Trains (or resumes) the run described by a validated run config. */
export async function train(run: RunConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  mkdirSync(run.outDir, { recursive: true });
  const data = openRunData(run.data, run.model.vocab_size, run.seed);
  try {
    return await trainOn(run, opts, data);
  } finally {
    data.close();
  }
}

/**
 * The weights a run starts from: its last checkpoint's (resume: same architecture and seed), or a new
 * initialization in an out_dir that holds no checkpoint yet (its config.json written).
 */
function startingPoint(run: RunConfig, resume: boolean, log: (line: string) => void): {
  prev: string | null; tensors: NamedTensor[]; resumed: ReturnType<typeof loadCheckpoint> | null;
} {
  const outDir = run.outDir;
  const prev = latestCheckpoint(outDir);
  if (resume) {
    check(prev !== null, `${outDir}: no checkpoint to resume from (run without --resume to start this run)`);
    const resumed = loadCheckpoint(prev);
    checkSameArchitecture(resumed.config, run.model, prev, run.file);
    check(resumed.state.seed === run.seed,
      `${prev}: saved with seed ${resumed.state.seed}, but ${run.file} says seed ${run.seed}; the data order would change`);
    log(`resuming from ${prev} at step ${resumed.state.step}`);
    return { prev, tensors: resumed.tensors, resumed };
  }
  check(prev === null, `${outDir} already holds a checkpoint (${prev}); pass --resume to continue it, or choose another out_dir`);
  const tensors = initModel(run.model, { seed: run.seed, parameterization: run.parameterization, mupBase: run.mupBase });
  writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(toHfConfig(run.model), null, 2)}\n`);
  return { prev, tensors, resumed: null };
}

/**
 * One step's gradient into accum (by name): the mean over the run's gradAccum micro-batches of the
 * batch, each with its own dropout seed. Returns the step's mean loss; stop() on a loss that is not finite.
 */
function stepGradient(model: TrainableModel, run: RunConfig, batch: number[][], step: number, accum: Record<string, Float32Array>,
  stop: (why: string) => never): number {
  const micro = batch.length / run.gradAccum;
  let loss = 0;
  for (let k = 0; k < run.gradAccum; k++) {
    const r = model.lossAndGrad(batch.slice(k * micro, (k + 1) * micro), { dropoutSeed: dropoutSeed(run.seed, step, k) });
    if (!Number.isFinite(r.loss)) stop(`the training loss is ${r.loss}`);
    loss += r.loss / run.gradAccum;
    for (const [name, g] of Object.entries(r.grads)) {
      if (!isTrainableName(name)) continue; // stored ALiBi slopes: not trained, not in the clipping norm
      const a = (accum[name] ??= new Float32Array(g.length));
      if (k === 0) for (let i = 0; i < g.length; i++) a[i] = g[i] / run.gradAccum;
      else for (let i = 0; i < g.length; i++) a[i] += g[i] / run.gradAccum;
    }
  }
  return loss;
}

/** Tokens the run's stages still train after `step` steps. */
function remainingTokens(run: RunConfig, step: number): number {
  return run.stages.reduce((a, st) => a + Math.max(0, Math.min(st.steps, st.startStep + st.steps - step)) * st.batchSize * st.seqLen, 0);
}

async function trainOn(run: RunConfig, opts: TrainOptions, data: { train: TokenStream; val: TokenStream }): Promise<TrainResult> {
  const log = opts.log ?? (() => {});
  const outDir = run.outDir;
  const { prev, tensors, resumed } = startingPoint(run, opts.resume ?? false, log);

  const tokenizer = runTokenizer(run.data, run.model.vocab_size, log);
  const model = (opts.createModel ?? modelFactory)(run.model, tensors);
  const params = model.parameters();
  const shapes = Object.fromEntries(expectedTensors(run.model).map((t) => [t.name, t.shape]));
  const lrMultipliers = run.parameterization === 'mup'
    ? mupLrMultipliers(Object.keys(params), mupMultipliers(run.model, run.mupBase)) : undefined;
  const opt = new AdamW(model, { lr: run.optimizer.lr, betas: run.optimizer.betas, eps: run.optimizer.eps,
    weightDecay: run.optimizer.weightDecay, lrMultipliers, shapes });

  const unit = Math.max(...run.stages.map((s) => s.seqLen));
  const loader = new DataLoader(data.train, data.val, unit, run.seed);
  if (run.eval.interval > 0) loader.valBatches(1, 1, unit); // fail now, not at the first evaluation, when val is too short
  let step = 0, tokens = 0, priorElapsed = 0;
  if (resumed) {
    opt.importState(resumed.optimizer);
    loader.restore(resumed.state.data);
    ({ step, tokens } = resumed.state);
    priorElapsed = resumed.state.elapsed;
  }
  const metrics = new MetricsLog(outDir, resumed ? step : 0);
  const title = run.file.replace(/^.*[\\/]/, '').replace(/\.(ya?ml|json)$/, '');

  // The checkpoint tensors: the model's live arrays, plus the non-trainable ones (ALiBi slopes) as loaded.
  const checkpointTensors = (): NamedTensor[] => tensors.map((t) => ({ ...t, data: params[t.name] ?? t.data }));
  const sessionStart = Date.now();
  const elapsed = () => priorElapsed + (Date.now() - sessionStart) / 1000;
  let lastCheckpoint = prev ?? '';
  const save = (): string => {
    const state: TrainerState = { format: 'mugpt-train-state', version: 1, step, tokens, seed: run.seed,
      data: loader.position(), optimizer: { step: opt.stepCount, lr: opt.getLr() }, elapsed: elapsed() };
    lastCheckpoint = saveCheckpoint(outDir, { config: run.model, tensors: checkpointTensors(), tokenizer, optimizer: opt.exportState(), state });
    metrics.flush();
    return lastCheckpoint;
  };
  const lossOf = (ids: number[][]): number => {
    if (model.loss) return model.loss(ids);
    if (model.forward) { const { logits, shape } = model.forward(ids); return crossEntropy(logits, shape, ids); }
    return model.lossAndGrad(ids).loss;
  };
  const evaluate = (stage: Stage): number => {
    const batches = loader.valBatches(run.eval.batches, stage.batchSize / run.gradAccum, stage.seqLen);
    const v = batches.reduce((a, b) => a + lossOf(b), 0) / batches.length;
    metrics.add({ kind: 'val', step, val_loss: v, tokens });
    metrics.flush();
    log(`step ${step}: val loss ${v.toFixed(4)}`);
    return v;
  };
  const stop = (why: string): never => {
    metrics.flush();
    throw new MugptError(`step ${step + 1}: ${why}; training stopped. `
      + (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was saved yet.'));
  };

  let trainLoss: number | null = null, valLoss: number | null = null;
  let status: TrainResult['status'] = 'done';
  const sessionStartTokens = tokens;
  const accum: Record<string, Float32Array> = {};
  try {
    let stage = stageAt(run.stages, step);
    if (step < run.totalSteps) log(`training steps ${step + 1}…${run.totalSteps}: seq_len ${stage.seqLen} × batch ${stage.batchSize}`);
    while (step < run.totalSteps) {
      const s = stageAt(run.stages, step);
      if (s !== stage) { stage = s; log(`step ${step + 1}: context ${stage.seqLen} × batch ${stage.batchSize}`); }
      const lr = lrAt(run.schedule, step);
      opt.setLr(lr);
      const loss = stepGradient(model, run, loader.nextBatch(stage.batchSize, stage.seqLen), step, accum, stop);
      const gradNorm = run.clipGradNorm === null ? Math.sqrt(Object.values(accum).reduce((a, g) => a + g.reduce((x, y) => x + y * y, 0), 0))
        : clipGradNorm(accum, run.clipGradNorm);
      if (!Number.isFinite(gradNorm)) stop(`the gradient norm is ${gradNorm}`);
      opt.step(accum);
      step++;
      tokens += stage.batchSize * stage.seqLen;
      trainLoss = loss;
      const secs = (Date.now() - sessionStart) / 1000;
      const tps = secs > 0 ? (tokens - sessionStartTokens) / secs : 0;
      const remaining = remainingTokens(run, step);
      metrics.add({ kind: 'train', step, loss, lr, grad_norm: gradNorm, seq_len: stage.seqLen, tokens,
        tokens_per_s: tps, elapsed_s: elapsed() });
      if (run.eval.interval > 0 && (step % run.eval.interval === 0 || step === run.totalSteps)) valLoss = evaluate(stage);
      opts.onStep?.({ step, totalSteps: run.totalSteps, loss, lr, gradNorm, seqLen: stage.seqLen, tokens,
        tokensPerSec: tps, etaSec: tps > 0 ? remaining / tps : Infinity, valLoss });
      if (step === run.totalSteps) break;
      await new Promise((r) => setImmediate(r)); // let SIGINT/SIGTERM handlers run
      if (opts.signal?.aborted || step === opts.stopAfterStep) { status = 'interrupted'; break; }
      if (run.checkpointInterval > 0 && step % run.checkpointInterval === 0) save();
    }
    save();
    if (opts.plots ?? true) await metrics.plot(outDir, title);
  } catch (err) {
    // a system error while writing (a full disk, say): name where the run stands and what survives
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof MugptError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) throw err;
    throw new MugptError(`after step ${step}: ${(err as Error).message}; training stopped. `
      + (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was saved yet.'));
  }
  return { status, step, checkpoint: lastCheckpoint, trainLoss, valLoss, metrics: metrics.path };
}
