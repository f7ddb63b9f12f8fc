// Training speed of the Cerebras-GPT-111M shape, mugpt against PyTorch, in one run:
//   node dist/bench/train-step.js [--batch 4] [--seq 512] [--steps 1] [--torch-batch 4] [--torch-seq 512] [--torch-steps 1] [--no-torch]
// A step is forward + backward + AdamW over batch × seq tokens, float32, 2 threads, random weights.
// Each engine runs in its own child process (peak RSS per engine). PyTorch (bench/peers/torch_train.py,
// autograd + torch.optim.AdamW, OpenBLAS with 2 threads: see torch-peer.ts) runs the same batch by default.
import { toHfConfig } from '../src/model/config.js';
import {
  fmt, machineLine, peerScript, printTable, ratio, runChild, runEngine, shapeConfig, benchArgs, numberFlag,
} from './common.js';
import { measureMachine } from './machine.js';
import { profileLine, type KernelTime } from './profile.js';
import { checkTorchBlas } from './torch-peer.js';

const { values: opt } = benchArgs({
  options: {
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '512' },
    steps: { type: 'string', default: '1' },
    'torch-batch': { type: 'string', default: '4' },
    'torch-seq': { type: 'string', default: '512' },
    'torch-steps': { type: 'string', default: '1' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const batch = numberFlag('batch', opt.batch), seq = numberFlag('seq', opt.seq), steps = numberFlag('steps', opt.steps);
const shape = 'cerebras-gpt-111m';
const cfg = shapeConfig(shape);

console.log(machineLine());
const machine = measureMachine();
console.log(`\n## ${shape} training step: forward + backward + AdamW, float32, 2 threads`);

const m = await runEngine('engine-train.js', { shape, batch, seq, steps });
const rows: string[][] = [];
let mTps: number | null = null;
if (m.ok) {
  mTps = m.json.tokensPerSecond as number;
  rows.push([`mugpt (native), batch ${batch}×${seq}`, fmt(mTps), fmt(m.json.secondsPerStep as number, 2), fmt(m.json.peakRssMiB as number, 0), '×1.00']);
} else rows.push(['mugpt', `failed: ${m.error}`, '', '', '']);

if (!opt['no-torch'] && checkTorchBlas().ok) {
  const tb = Number(opt['torch-batch']), ts = Number(opt['torch-seq']);
  const t = await runChild('/usr/bin/python3', [peerScript('torch_train.py'), JSON.stringify(toHfConfig(cfg)), String(tb), String(ts), opt['torch-steps'], '2']);
  if (t.ok) {
    const tps = t.json.tokensPerSecond as number;
    rows.push([`PyTorch ${String(t.json.torch)} autograd + AdamW, batch ${tb}×${ts}`, fmt(tps), fmt(t.json.secondsPerStep as number, 2), fmt(t.json.peakRssMiB as number, 0), ratio(mTps, tps)]);
  } else rows.push(['PyTorch', `failed: ${t.error}`, '', '', '']);
}
printTable(['engine', 'tokens/s', 's/step', 'peak RSS MiB', 'mugpt ÷ engine'], rows);

if (m.ok) {
  // 6·N flop per token for the matrices (N without the position table) + causal attention (QKᵀ and PV, forward and backward)
  const N = 12 * cfg.n_layer * cfg.n_embd ** 2 + cfg.vocab_size * cfg.n_embd;
  const flopPerToken = 6 * N + 6 * cfg.n_layer * seq * cfg.n_embd;
  const gflops = (flopPerToken * (mTps ?? 0)) / 1e9;
  console.log(`mugpt: ${gflops.toFixed(0)} GFLOP/s of model arithmetic (≈${(flopPerToken / 1e9).toFixed(2)} GFLOP per token)`
    + (machine ? `, ${((100 * gflops) / machine.peakGflops).toFixed(0)}% of the ${machine.peakGflops.toFixed(0)} GFLOP/s FMA peak measured now` : ''));
  console.log(`mugpt per step: lossAndGrad ${fmt((m.json.fwdBwdMs as number) / 1000, 2)} s, AdamW ${fmt((m.json.adamMs as number) / 1000, 2)} s`);
  console.log(`  profile: ${profileLine(m.json.profile as KernelTime[], m.json.totalMs as number, 8)}`);
}
