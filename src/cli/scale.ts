// `mugpt scale plan|run|fit|report`: a compute-optimal family trained in SP and μP, its scaling law and
// its report (src/scale/, docs/scaling/README.md).
import type { Command } from 'commander';
import { formatFits, writeReport, studyResults } from '../scale/report.js';
import { measureStep, planMembers, sweepRunFields, sweptParameterizations } from '../scale/plan.js';
import { rerunMember, runStudy } from '../scale/run.js';
import { loadStudy } from '../scale/study.js';
import { parseRunConfig } from '../train/runconfig.js';
import { threadsOption } from './threads.js';

const DEFAULT_DIR = 'scaling-out';
const sci = (x: number): string => x.toExponential(2).replace('e+', 'e');
const duration = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

export function register(program: Command): void {
  const scale = program.command('scale').description('scaling study: a compute-optimal family in SP and μP, its scaling law L(C), and a report');

  threadsOption(scale.command('plan'))
    .description('the members of a study: parameters (total and non-embedding), Chinchilla tokens, FLOPs, and a wall-clock estimate from a measured step')
    .argument('<study>', 'study file (YAML or JSON), e.g. runs/scaling-cpu.yaml')
    .option('--quick', "apply the study's quick: overrides")
    .option('--no-measure', 'skip timing a training step of each size (no wall-clock estimate)')
    .action((file: string, o: { quick?: boolean; measure: boolean }) => {
      const study = loadStudy(file, { quick: o.quick });
      const plans = planMembers(study);
      const rows = [['member', 'params', 'non-emb.', 'tokens', 'steps', '6·N·D', 'attention', 'FLOPs', 'step (s)', 'estimate']];
      let total = 0, flops = 0;
      const stepTime = new Map<string, number>();
      for (const m of plans) {
        let est = '';
        if (o.measure) {
          const t = stepTime.get(m.size.name) ?? measureStep(parseRunConfig(m.runFields(1e-3, '.'), file));
          stepTime.set(m.size.name, t);
          total += t * m.steps;
          est = duration(t * m.steps);
        }
        flops += m.flops.total;
        rows.push([m.name, String(m.params), String(m.nonEmbeddingParams), String(m.tokens), String(m.steps), sci(m.flops.dense), sci(m.flops.attention),
          sci(m.flops.total), o.measure ? stepTime.get(m.size.name)!.toFixed(3) : '', est]);
      }
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      for (const r of rows) process.stdout.write(`${r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ')}\n`);
      let sweepSecs = 0;
      const swept = sweptParameterizations(study);
      if (o.measure && swept.length > 0) {
        for (const w of study.sweep.widths) sweepSecs += measureStep(parseRunConfig(sweepRunFields(study, w), file)) * study.sweep.steps * study.sweep.lrs.length * swept.length;
        process.stdout.write(`proxy sweep: ${swept.length * study.sweep.widths.length * study.sweep.lrs.length} runs of ${study.sweep.steps} steps, ≈ ${duration(sweepSecs)}\n`);
      }
      const span = (k: 'params' | 'nonEmbeddingParams') => (Math.max(...plans.map((m) => m[k])) / Math.min(...plans.map((m) => m[k]))).toFixed(1);
      process.stdout.write(`${plans.length} members, ${span('params')}× in parameters (${span('nonEmbeddingParams')}× non-embedding), ${sci(flops)} FLOPs`
        + `${o.measure ? `, ≈ ${duration(total + sweepSecs)} with the sweep at the measured step times (plus the data build, seconds)` : ''}\n`);
    });

  threadsOption(scale.command('run'))
    .description('build the data, run the μP proxy sweep, train every member (resumes an interrupted study; Ctrl-C saves and stops)')
    .argument('<study>', 'study file (YAML or JSON)')
    .option('--quick', "apply the study's quick: overrides (the small variant for tests and CI)")
    .option('-o, --out <dir>', 'study folder', DEFAULT_DIR)
    .option('--no-progress', 'no progress bar')
    .action(async (file: string, o: { quick?: boolean; out: string; progress: boolean }) => {
      const study = loadStudy(file, { quick: o.quick });
      const ctrl = new AbortController();
      let interrupts = 0;
      const onSignal = () => {
        if (++interrupts > 1) process.exit(130);
        process.stderr.write('\nstopping after this step (a checkpoint is saved); press Ctrl-C again to quit at once\n');
        ctrl.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const r = await runStudy(study, o.out, { signal: ctrl.signal, progress: o.progress && Boolean(process.stderr.isTTY),
          log: (line) => process.stderr.write(`${line}\n`) });
        process.stderr.write(r.status === 'done' ? `study done: ${r.members.length} members in ${o.out}; next: mugpt scale report -o ${o.out}\n`
          : `study interrupted; run the same command again to resume\n`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  threadsOption(scale.command('rerun'))
    .description('train a done member again from its run.json into DIR/rerun/NAME and compare its final held-out loss with the recorded one (determinism)')
    .argument('<member>', 'member name, e.g. w32l2-mup')
    .option('-o, --out <dir>', 'study folder', DEFAULT_DIR)
    .action(async (name: string, o: { out: string }) => {
      const r = await rerunMember(o.out, name, { log: (line) => process.stderr.write(`${line}\n`) });
      process.stdout.write(`${name}: recorded ${r.recorded}, re-run ${r.rerun}, difference ${r.difference.toExponential(2)}\n`);
    });

  scale.command('fit')
    .description('fit L(C) = (C/C0)^(-alpha) + L_inf to the done members of each parameterization (Levenberg–Marquardt), with R², standard errors and the leave-the-largest-out error')
    .option('-o, --out <dir>', 'study folder', DEFAULT_DIR)
    .action((o: { out: string }) => {
      const r = studyResults(o.out);
      process.stdout.write(`${formatFits(r)}\n`);
      if (r.missing.length) process.stdout.write(`not done yet: ${r.missing.join(', ')}\n`);
    });

  scale.command('report')
    .description('write results.json, report.md and SVG plots (loss vs compute with the fits, loss curves, SP vs μP) into the study folder')
    .option('-o, --out <dir>', 'study folder', DEFAULT_DIR)
    .action(async (o: { out: string }) => {
      const { files } = await writeReport(o.out);
      process.stdout.write(`${files.join('\n')}\n`);
    });
}
