// One mugpt training measurement in its own process (peak RSS is mugpt's alone):
//   node dist/bench/engine-train.js '{"shape":"cerebras-gpt-111m","batch":4,"seq":512,"steps":3}'
// Random F32 weights; each step is lossAndGrad (forward + exact backward) then AdamW.step.
// One warm-up step first (scratch buffers, optimizer state, thread pool). Prints one JSON line.
import { Model } from '../src/model/model.js';
import { AdamW } from '../src/train/adamw.js';
import { peakRssMiB, promptIds, randomTensors, shapeConfig, type ShapeName } from './common.js';
import { KernelProfiler } from './profile.js';

interface Args { shape: ShapeName; layers?: number; batch: number; seq: number; steps: number }

const a = JSON.parse(process.argv[2]) as Args;
const cfg = shapeConfig(a.shape, a.layers);
const model = Model.fromTensors(cfg, randomTensors(cfg));
const opt = new AdamW(model, { lr: 1e-4, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
const batch = (seed: number): number[][] =>
  Array.from({ length: a.batch }, (_, b) => promptIds(a.seq, cfg.vocab_size, seed * 1000 + b + 1));

const prof = new KernelProfiler(model.kernels);
const step = (ids: number[][]): { fwdBwd: number; adam: number } => {
  const t0 = performance.now();
  const { grads } = model.lossAndGrad(ids);
  const t1 = performance.now();
  opt.step(grads);
  return { fwdBwd: t1 - t0, adam: performance.now() - t1 };
};

step(batch(0)); // warm-up
prof.reset();
let fwdBwd = 0, adam = 0;
const t0 = performance.now();
for (let s = 1; s <= a.steps; s++) {
  const r = step(batch(s));
  fwdBwd += r.fwdBwd;
  adam += r.adam;
}
const ms = performance.now() - t0;
console.log(JSON.stringify({
  engine: 'mugpt',
  backend: model.kernels.name,
  tokensPerSecond: (a.batch * a.seq * a.steps * 1000) / ms,
  secondsPerStep: ms / 1000 / a.steps,
  fwdBwdMs: fwdBwd / a.steps,
  adamMs: adam / a.steps,
  peakRssMiB: peakRssMiB(),
  totalMs: ms,
  profile: prof.snapshot(),
}));
