// μP's "wider is better" at a fixed learning rate, measured through training (docs/mup.md):
//   node dist/tools/mup-wider.js [--seed 0] [--steps 400] [--lr-exp -8] [--widths 64,128,256] [--heads fixed|per16] [--p mup|sp]
// The family and data of `mugpt mup sweep` (btlm, 2 layers, compact 4,096-token SOTU vocabulary,
// 8 × 64 tokens a step, warmup 10% then linear decay to 10%); the held-out loss on the sweep's 8
// held-out batches after 50, 100, 200, 400, 800 and 1,600 steps (those within --steps). `--heads fixed`
// keeps 4 heads (head dimension grows with width, as the sweep does); `per16` keeps the head dimension
// at 16 (heads = width/16). Prints one JSON line per width.
import { buildModel, sotuData, type FamilyOptions } from '../src/mup/setup.js';
import type { Parameterization } from '../src/model/init.js';
import { AdamW, clipGradNorm } from '../src/train/adamw.js';
import { lrAt, type LrSchedule } from '../src/train/schedule.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const seed = Number(flag('--seed', '0')), steps = Number(flag('--steps', '400')), lrExp = Number(flag('--lr-exp', '-8'));
const widths = flag('--widths', '64,128,256').split(',').map(Number);
const heads = flag('--heads', 'fixed'), p = flag('--p', 'mup') as Parameterization;
if (![seed, steps, lrExp, ...widths].every(Number.isFinite) || !['fixed', 'per16'].includes(heads) || !['sp', 'mup'].includes(p)) {
  throw new Error('usage: mup-wider [--seed N] [--steps N] [--lr-exp K] [--widths a,b,c] [--heads fixed|per16] [--p mup|sp]');
}
const vocab = 4096, seqLen = 64, batch = 8;
const data = sotuData(vocab, seqLen, seed);
const val = data.loader.valBatches(8, batch, seqLen); // [8][batch][seqLen]
const evalAt = new Set([50, 100, 200, 400, 800, 1600].filter((s) => s <= steps));
for (const width of widths) {
  const family: FamilyOptions = { arch: 'btlm', layers: 2, heads: heads === 'fixed' ? 4 : width / 16, vocab, seqLen };
  const { model, lrMultipliers } = buildModel(family, width, p, widths[0], seed);
  const lr = 2 ** lrExp;
  const opt = new AdamW(model, { lr, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, lrMultipliers });
  const sched: LrSchedule = { peakLr: lr, warmupSteps: Math.round(0.1 * steps), totalSteps: steps, decay: 'linear', endRatio: 0.1 };
  data.loader.restore({ epoch: 0, unit: 0, offset: 0 });
  const losses: Record<number, number> = {};
  const t0 = performance.now();
  for (let t = 0; t < steps; t++) {
    const { grads } = model.lossAndGrad(data.loader.nextBatch(batch, seqLen));
    clipGradNorm(grads, 1.0);
    opt.setLr(lrAt(sched, t));
    opt.step(grads);
    if (evalAt.has(t + 1)) losses[t + 1] = val.reduce((a, b) => a + model.loss(b), 0) / val.length;
  }
  console.log(JSON.stringify({ p, seed, steps, lr_exp: lrExp, width, heads: family.heads, losses, seconds: (performance.now() - t0) / 1000 }));
}
