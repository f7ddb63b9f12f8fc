// Child process of train-signal.test.ts: a long bigram run that the parent interrupts with SIGTERM.
import { interruptOnSignals } from '../src/cli/train.js';
import { train } from '../src/train/trainer.js';
import { bigramRun, bigramShards, factory } from './train-bigram.js';

const out = process.argv[2];
const run = bigramRun(bigramShards(), out, { steps: 1_000_000, eval: { interval: 0 }, checkpoint: { interval: 0 } });
const interrupt = interruptOnSignals();
const r = await train(run, { createModel: factory, signal: interrupt.signal, plots: false,
  onStep: (s) => { if (s.step === 1) process.stdout.write('started\n'); } });
interrupt.dispose();
process.stdout.write(`${JSON.stringify(r)}\n`);
