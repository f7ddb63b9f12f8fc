// `mugpt train [RUN.yaml] [--resume]`: train (or continue) the run a config describes, with a progress
// bar on stderr (step, loss, val loss, lr, tokens/s, ETA). Ctrl-C or SIGTERM saves a checkpoint after
// the current step and exits; `--resume` continues from it. Without a config it runs the embedded
// default, runs/btlm-tiny.yaml: a small BTLM-architecture μP model on the State of the Union addresses.
// A finished run ends with a sample of text from the final checkpoint and, on the State of the Union
// corpus, its accuracy on the two tasks built from the held-out speeches, next to chance.
import type { Command } from 'commander';
import { countBar, multiBar, type SingleBar } from '../report/progress.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../model/model.js';
import { loadRunConfig } from '../train/runconfig.js';
import { train } from '../train/trainer.js';
import { countParameters } from '../train/chinchilla.js';
import { describeKernels, getKernels } from '../kernels/index.js';
import { threadsOption } from './threads.js';
import { EvalLM } from '../eval/lm.js';
import { formatSotuReport, scoreSotu } from '../eval/sotu-report.js';
import type { RunConfig } from '../train/runconfig.js';

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * SIGINT/SIGTERM → an abort signal the trainer checks after each step (it then saves and returns);
 * a second signal exits at once without saving.
 */
export function interruptOnSignals(say: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): { signal: AbortSignal; dispose(): void } {
  const ctl = new AbortController();
  const on = (sig: NodeJS.Signals) => {
    if (ctl.signal.aborted) process.exit(130);
    say(`mugpt: ${sig}: saving a checkpoint after this step (send it again to quit without saving)`);
    ctl.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { signal: ctl.signal, dispose: () => { process.off('SIGINT', on); process.off('SIGTERM', on); } };
}

/** 7.2M, 627.7B, 512: a count with a unit prefix. */
function count(n: number): string {
  for (const [v, u] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']] as const) if (n >= v) return `${(n / v).toFixed(1)}${u}`;
  return String(n);
}

/** The run the package ships as its main job (dist/src/cli/train.js → runs/ at the package root). */
const DEFAULT_RUN = fileURLToPath(new URL('../../../runs/btlm-tiny.yaml', import.meta.url));

/** A short sample (temperature 0.8, top-k 40, seed 0) from the final checkpoint, and how to get more. */
async function printSample(checkpoint: string, prompt: string): Promise<void> {
  const model = loadModel(checkpoint);
  let text = '';
  for await (const t of model.generate(prompt, { maxNewTokens: 48, temperature: 0.8, topK: 40, seed: 0 })) text += t.text;
  process.stdout.write(`\n${prompt}${text}\n\n`);
  process.stderr.write(`more: mugpt generate --model ${checkpoint} --prompt "${prompt}"\n`);
}

/**
 * A run on the State of the Union corpus ends with the final model's accuracy on sotu_cloze and
 * sotu_next, built from the speeches it held out, next to chance (src/eval/sotu-report.ts).
 */
function printHeldOutTasks(run: RunConfig, checkpoint: string): void {
  if (run.data.kind !== 'corpus' || run.data.name !== 'sotu') return;
  const model = loadModel(checkpoint);
  const bar = countBar('requests', 'req', 'held-out tasks ');
  const t0 = performance.now();
  try {
    const r = scoreSotu(new EvalLM(model, model.tokenizer), run.file, bar.onProgress);
    bar.stop();
    process.stdout.write(`${formatSotuReport(r)}\n`);
    process.stderr.write(`scored in ${((performance.now() - t0) / 1000).toFixed(1)} s; any checkpoint: mugpt eval ${checkpoint} --task sotu_cloze=${run.file} --task sotu_next=${run.file} --output DIR\n`);
  } finally {
    bar.stop();
  }
}

export function register(program: Command): void {
  threadsOption(program.command('train'))
    .description('pretrain a GPT-2 / BTLM model from a run config (YAML or JSON); Ctrl-C saves a checkpoint')
    .argument('[run]', 'run config file; relative paths in it resolve from its folder (default: the bundled runs/btlm-tiny.yaml, writing ./out/btlm-tiny)')
    .option('--resume', 'continue from the last checkpoint in the run\'s out_dir')
    .option('--sample <prompt>', 'prompt of the text sample printed at the end of a finished run', 'The state of the Union')
    .action(async (given: string | undefined, o: { resume?: boolean; sample: string }) => {
      // The bundled run lives inside the package; it resolves its paths as if it were ./runs/btlm-tiny.yaml
      // (its out_dir ../out/btlm-tiny is ./out/btlm-tiny), so `mugpt train` writes into the working directory.
      const file = given ?? 'runs/btlm-tiny.yaml (bundled)';
      const run = given === undefined ? loadRunConfig(DEFAULT_RUN, { baseDir: join(process.cwd(), 'runs') }) : loadRunConfig(given);
      // On a terminal, a MultiBar (of one bar) prints the notes above the bar; elsewhere everything is plain lines.
      const multi = multiBar('{bar} step {value}/{total} | loss {loss} | val {val} | lr {lr} | {tps} tok/s | ETA {etaText}',
        { gracefulExit: false, forceRedraw: true });
      let bar: SingleBar | null = null;
      const tty = process.stderr.isTTY === true;
      const note = (m: string) => { if (bar) multi.log(`${m}\n`); else process.stderr.write(`${m}\n`); };
      let lastLine = 0;
      const stopBar = () => {
        if (bar === null) return;
        multi.update(); // flush the notes still buffered above the bar
        multi.stop();
        bar = null;
      };
      const interrupt = interruptOnSignals(note);
      note(`${file}: ${run.model.model_type} with ${count(countParameters(run.model))} parameters (${run.parameterization}), `
        + `${run.totalSteps} steps, ${count(run.tokens)} tokens → ${run.outDir}; kernels ${describeKernels(getKernels())}`);
      try {
        const r = await train(run, {
          resume: o.resume, signal: interrupt.signal, log: note,
          onStep: (s) => {
            const payload = { loss: s.loss.toFixed(4), val: s.valLoss === null ? '-' : s.valLoss.toFixed(4), lr: s.lr.toExponential(2),
              tps: Math.round(s.tokensPerSec), etaText: duration(s.etaSec) };
            if (!tty) { // a log file: a plain line every 10 s and at the end
              if (Date.now() - lastLine < 10_000 && s.step < s.totalSteps) return;
              lastLine = Date.now();
              note(`step ${s.step}/${s.totalSteps} | loss ${payload.loss} | val ${payload.val} | lr ${payload.lr} | ${payload.tps} tok/s | ETA ${payload.etaText}`);
            } else if (bar === null) bar = multi.create(s.totalSteps, s.step, payload);
            else bar.update(s.step, payload);
          },
        });
        stopBar();
        note(`${r.status === 'done' ? 'done' : 'interrupted (continue with --resume)'} at step ${r.step}: checkpoint ${r.checkpoint}, `
          + `metrics ${r.metrics}${r.valLoss === null ? '' : `, val loss ${r.valLoss.toFixed(4)}`}`);
        if (r.status === 'done' && r.checkpoint) {
          await printSample(r.checkpoint, o.sample);
          printHeldOutTasks(run, r.checkpoint);
        }
      } finally {
        stopBar();
        interrupt.dispose();
      }
    });
}
