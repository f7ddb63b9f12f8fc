// `mugpt scale run`: the whole study in one folder, resumable at every level.
//
//   <dir>/study.json               the resolved study and its plan (a rerun must match it)
//   <dir>/data/                    tokenizer.json and the built corpus (data.ts)
//   <dir>/sweep/lr-sweep.json|svg  the μP proxy sweep (`mugpt mup sweep` on the study's data); its best
//                                  lr at the base width is the lr of every μP member (μTransfer)
//   <dir>/members/<size>-<p>/      one run directory per member: run.json (its run config), the trainer's
//                                  checkpoints/ and metrics.jsonl, and result.json once it is done
//
// A member with result.json is skipped; one with a checkpoint resumes from it (bit for bit, see
// docs/training.md); the sweep is kept once written. So an interrupted study continues where it stopped.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError, check } from '../errors.js';
import { singleBar, type SingleBar } from '../report/progress.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Parameterization } from '../model/init.js';
import { lrSweep, writeSweep, type SweepResult } from '../mup/sweep.js';
import { getKernels } from '../kernels/index.js';
import { loadNativeAddon } from '../native/addon.js';
import { latestCheckpoint } from '../train/checkpoint.js';
import { DataLoader, openShards } from '../train/loader.js';
import { MetricsLog, type EvalRecord, type StepRecord } from '../train/metrics.js';
import { parseRunConfig } from '../train/runconfig.js';
import { train } from '../train/trainer.js';
import { prepareStudyData } from './data.js';
import { taskEvaluator, type DownstreamEvaluator } from './downstream.js';
import { planMembers, sweptParameterizations, type MemberPlan } from './plan.js';
import type { Study } from './study.js';


export interface MemberResult {
  name: string;
  size: string;
  parameterization: Parameterization;
  n_embd: number;
  n_layer: number;
  n_head: number;
  params: number;
  non_embedding_params: number;
  tokens: number;
  steps: number;
  flops: number;
  flops_dense: number;
  flops_attention: number;
  lr: number;
  final_val_loss: number;
  final_train_loss: number;
  /** Wall-clock seconds of training (summed over resumed sessions) and tokens a second. */
  seconds: number;
  tokens_per_s: number;
  /** Kernel backend (with its instruction set) and threads of the session that finished the member (they change the last bits). */
  backend: string;
  threads: number;
  downstream: Record<string, number>;
}

export interface StudyRecord {
  format: 'mugpt-scale-study';
  version: 1;
  study: Omit<Study, 'file'>;
  file: string;
  members: Array<Pick<MemberResult, 'name' | 'parameterization' | 'params' | 'non_embedding_params' | 'tokens' | 'steps' | 'flops'>>;
  lrs?: Partial<Record<Parameterization, number>>;
}

export interface RunStudyOptions {
  /** Stop after the current step of the current member (checkpoint saved): Ctrl-C. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** A whole-study progress bar on stderr. */
  progress?: boolean;
  /** Stop (as an interruption would) after this many training steps in this session (tests). */
  stopAfterSteps?: number;
  /** Scores a member on a downstream task (default: src/eval/ with the study's tokenizer). */
  evaluateTask?: DownstreamEvaluator;
}

export interface RunStudyResult { status: 'done' | 'interrupted'; members: MemberResult[] }

export function studyRecordPath(dir: string): string { return join(dir, 'study.json'); }
export function memberDir(dir: string, name: string): string { return join(dir, 'members', name); }

function readJson<T>(path: string, what: string): T {
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch (e) {
    throw new MugptError(`${path}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The study record of a folder (what `scale run` wrote). */
export function readStudyRecord(dir: string): StudyRecord {
  const path = studyRecordPath(dir);
  check(existsSync(path), `${dir}: no study here (no study.json); run \`mugpt scale run STUDY.yaml -o ${dir}\` first`);
  const r = readJson<StudyRecord>(path, 'the study record');
  check(r.format === 'mugpt-scale-study' && r.version === 1, `${path}: not a mugpt study record (format ${JSON.stringify(r.format)})`);
  return r;
}

/** A member's result.json, or null while it is not done. */
export function readMemberResult(dir: string, name: string): MemberResult | null {
  const path = join(memberDir(dir, name), 'result.json');
  return existsSync(path) ? readJson<MemberResult>(path, 'a member result') : null;
}

function recordOf(study: Study, plans: MemberPlan[]): StudyRecord {
  const { file, ...rest } = study;
  return {
    format: 'mugpt-scale-study', version: 1, study: rest, file,
    members: plans.map((m) => ({ name: m.name, parameterization: m.parameterization, params: m.params,
      non_embedding_params: m.nonEmbeddingParams, tokens: m.tokens, steps: m.steps, flops: m.flops.total })),
  };
}

/** Writes study.json, or checks that the folder's record is this study's. */
function claimFolder(study: Study, plans: MemberPlan[], dir: string): StudyRecord {
  const path = studyRecordPath(dir), mine = recordOf(study, plans);
  if (existsSync(path)) {
    const old = readStudyRecord(dir);
    // downstream tasks change no member's training: a study may add them later (they are scored then)
    const differ = (Object.keys(mine.study) as Array<keyof StudyRecord['study']>)
      .filter((k) => k !== 'downstreamTasks' && JSON.stringify(old.study[k]) !== JSON.stringify(mine.study[k]));
    if (differ.length > 0) {
      throw new MugptError(`${dir} holds another study (from ${old.file}${old.study.quick ? ', --quick' : ''}; differs in: ${differ.join(', ')}); `
        + 'choose another -o folder, or delete it to start over');
    }
    const record = { ...mine, lrs: old.lrs };
    if (JSON.stringify(old.study.downstreamTasks) !== JSON.stringify(mine.study.downstreamTasks)) writeFileAtomic(path, `${JSON.stringify(record, null, 1)}\n`);
    return record;
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, `${JSON.stringify(mine, null, 1)}\n`);
  // checkpoints are large and only needed to resume; the report needs metrics and results
  writeFileAtomic(join(dir, '.gitignore'), 'members/*/checkpoints/\nmembers/*/config.json\ndata/corpus/\nrerun/\n');
  return mine;
}

/** The μP proxy sweep on the study's data (kept once written): the best lr at the base width per parameterization. */
async function proxySweep(study: Study, dir: string, shards: string, log: (line: string) => void): Promise<Partial<Record<Parameterization, number>>> {
  const wanted = sweptParameterizations(study);
  const lrs: Partial<Record<Parameterization, number>> = {};
  if (study.spLr !== 'sweep') lrs.sp = study.spLr;
  if (study.mupLr !== 'sweep') lrs.mup = study.mupLr;
  if (wanted.length === 0) return lrs;
  const sweepDir = join(dir, 'sweep'), path = join(sweepDir, 'lr-sweep.json');
  let r: Pick<SweepResult, 'best' | 'baseWidth'>;
  if (existsSync(path)) {
    r = readJson<SweepResult>(path, 'the proxy sweep');
    log(`proxy sweep: reusing ${path}`);
  } else {
    const { train: tr, val } = openShards(shards, study.data.vocabSize);
    try {
      const s = study.sweep;
      const total = wanted.length * s.widths.length * s.lrs.length;
      log(`proxy sweep: ${total} runs of ${s.steps} steps (${wanted.join(', ')}; widths ${s.widths.join(', ')}; ${s.layers} layers, ${s.heads} heads)`);
      const res = lrSweep({
        arch: study.arch, widths: s.widths, lrs: s.lrs, steps: s.steps, seed: study.seed, layers: s.layers, heads: s.heads,
        batch: s.batch, seqLen: study.data.seqLen, vocab: study.data.vocabSize, evalBatches: s.evalBatches, parameterizations: wanted,
        data: { loader: new DataLoader(tr, val, study.data.seqLen, study.seed), vocab: study.data.vocabSize, otherShare: 0, trainTokens: tr.length },
        onProgress: (done, n, q) => log(`  sweep ${done}/${n}: ${q.parameterization} width ${q.width} lr 2^${Math.log2(q.lr).toFixed(1)}: `
          + `${q.valLoss === null ? 'diverged' : q.valLoss.toFixed(3)} (${q.seconds.toFixed(1)} s)`),
      });
      mkdirSync(sweepDir, { recursive: true });
      await writeSweep(res, sweepDir);
      r = res;
    } finally { tr.close(); val.close(); }
  }
  for (const p of wanted) {
    const b = r.best.find((x) => x.parameterization === p && x.width === r.baseWidth);
    check(b !== undefined, `${path}: every ${p} run of the base width ${r.baseWidth} diverged; widen mup.sweep.lrs downwards`);
    lrs[p] = b.lr;
  }
  return lrs;
}

/** A whole-study bar: member i of n, share of the study's FLOPs done, tokens a second, ETA. */
class StudyBar {
  private readonly bar: SingleBar | null;
  private readonly t0 = Date.now();
  private sessionFlops = 0;
  private payload = { i: 0, n: 0, member: '', tps: '0', eta_s: '…' };
  constructor(enabled: boolean, private readonly total: number, private done: number, private readonly log: (line: string) => void) {
    this.bar = enabled ? singleBar('study |{bar}| {percentage}% | member {i}/{n} {member} | {tps} tok/s | ETA {eta_s}', { fps: 4 }) : null;
    this.bar?.start(Math.max(1, total), done, this.payload);
  }
  private eta(): string {
    const secs = (Date.now() - this.t0) / 1000;
    if (this.sessionFlops <= 0 || secs <= 0) return '…';
    const s = (this.total - this.done) / (this.sessionFlops / secs);
    return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`;
  }
  update(flopsDelta: number, info: { i: number; n: number; member: string; tps: number }): void {
    this.done += flopsDelta;
    this.sessionFlops += flopsDelta;
    this.payload = { ...info, tps: info.tps.toFixed(0), eta_s: this.eta() };
    this.bar?.update(this.done, this.payload);
  }
  note(line: string): void {
    if (this.bar) this.bar.stop();
    this.log(`${line}${this.sessionFlops > 0 ? ` (study ${(100 * this.done / this.total).toFixed(1)}% done, ETA ${this.eta()})` : ''}`);
    if (this.bar) this.bar.start(Math.max(1, this.total), this.done, this.payload);
  }
  stop(): void { this.bar?.stop(); }
}

/** The kernels in use: 'js', or 'native/<simd>' with the pool's thread count. */
function backendInfo(): { backend: string; threads: number } {
  const k = getKernels();
  if (k.name !== 'native') return { backend: k.name, threads: 1 };
  const info = loadNativeAddon()!.info();
  return { backend: `native/${info.simd}`, threads: info.threads };
}

/** The last held-out and train losses of a member's metrics log. */
function finalLosses(outDir: string, steps: number): { val: number; train: number; seconds: number } {
  const recs = new MetricsLog(outDir, Number.MAX_SAFE_INTEGER).records();
  const val = recs.filter((r): r is EvalRecord => r.kind === 'val' && r.step === steps).pop();
  const last = recs.filter((r): r is StepRecord => r.kind === 'train' && r.step === steps).pop();
  check(val !== undefined && last !== undefined, `${outDir}/metrics.jsonl: no record of the final step ${steps}`);
  return { val: val.val_loss, train: last.loss, seconds: last.elapsed_s };
}

/** A downstream task's name: NAME of NAME=PATH, or the bare name of a held-out task. */
const taskName = (spec: string): string => spec.split('=')[0];

function checkpointGone(dir: string, name: string): never {
  throw new MugptError(`${memberDir(dir, name)}: the member is done but its checkpoint is gone, so a downstream task added since cannot be scored (train it again: delete its result.json)`);
}

/** Runs (or resumes) every member of the study in `dir`. */
export async function runStudy(study: Study, dir: string, opts: RunStudyOptions = {}): Promise<RunStudyResult> {
  const log = opts.log ?? (() => {});
  const plans = planMembers(study);
  const record = claimFolder(study, plans, dir);
  const data = await prepareStudyData(study, dir, { log, progress: opts.progress });
  log(`corpus: ${data.trainTokens} train and ${data.valTokens} held-out tokens, ${study.data.vocabSize}-token BPE`);
  const evaluateTask = opts.evaluateTask ?? taskEvaluator(data.tokenizer, data.shards);
  const lrs = await proxySweep(study, dir, data.shards, log);
  if (JSON.stringify(lrs) !== JSON.stringify(record.lrs)) writeFileAtomic(studyRecordPath(dir), `${JSON.stringify({ ...record, lrs }, null, 1)}\n`);
  log(`peak learning rates: ${Object.entries(lrs).map(([p, lr]) => `${p} ${lr} (2^${Math.log2(lr).toFixed(1)})`).join(', ')}`);

  const total = plans.reduce((a, m) => a + m.flops.total, 0);
  const doneAtStart = plans.reduce((a, m) => a + (readMemberResult(dir, m.name) ? m.flops.total : 0), 0);
  const bar = new StudyBar(opts.progress ?? false, total, doneAtStart, log);
  const results: MemberResult[] = [];
  let stepsThisSession = 0;
  const stop = new AbortController(); // Ctrl-C, or stopAfterSteps
  if (opts.signal?.aborted) stop.abort();
  opts.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  try {
    for (const [i, m] of plans.entries()) {
      const done = readMemberResult(dir, m.name);
      if (done) {
        const missing = study.downstreamTasks.filter((t) => !(taskName(t) in done.downstream));
        for (const task of missing) done.downstream[taskName(task)] = await evaluateTask(latestCheckpoint(memberDir(dir, m.name)) ?? checkpointGone(dir, m.name), task);
        if (missing.length > 0) writeFileAtomic(join(memberDir(dir, m.name), 'result.json'), `${JSON.stringify(done, null, 1)}\n`);
        results.push(done);
        bar.note(`member ${i + 1}/${plans.length} ${m.name}: done earlier (loss ${done.final_val_loss.toFixed(4)})${missing.length ? `, scored on ${missing.map(taskName).join(', ')}` : ', skipped'}`);
        continue;
      }
      const lr = lrs[m.parameterization]!;
      const out = memberDir(dir, m.name);
      const fields = m.runFields(lr, dir);
      mkdirSync(out, { recursive: true });
      writeFileAtomic(join(out, 'run.json'), `${JSON.stringify(fields, null, 1)}\n`);
      const run = parseRunConfig(fields, join(out, 'run.json'));
      const resume = latestCheckpoint(out) !== null;
      bar.note(`member ${i + 1}/${plans.length} ${m.name}: ${m.params} parameters, ${m.tokens} tokens (${m.steps} steps) at lr ${lr}${resume ? ', resuming' : ''}`);
      const flopsPerStep = m.flops.total / m.steps;
      const r = await train(run, {
        resume, signal: stop.signal, plots: false,
        onStep: (st) => {
          bar.update(flopsPerStep, { i: i + 1, n: plans.length, member: m.name, tps: st.tokensPerSec });
          stepsThisSession++;
          if (opts.stopAfterSteps !== undefined && stepsThisSession >= opts.stopAfterSteps) stop.abort();
        },
      });
      if (r.status === 'interrupted') {
        bar.note(`member ${m.name}: interrupted at step ${r.step}, checkpoint ${r.checkpoint}; run the same command again to resume`);
        return { status: 'interrupted', members: results };
      }
      const fin = finalLosses(out, m.steps);
      const downstream: Record<string, number> = {};
      for (const task of study.downstreamTasks) downstream[taskName(task)] = await evaluateTask(r.checkpoint, task);
      const res: MemberResult = {
        name: m.name, size: m.size.name, parameterization: m.parameterization,
        n_embd: m.size.nEmbd, n_layer: m.size.nLayer, n_head: m.size.nHead,
        params: m.params, non_embedding_params: m.nonEmbeddingParams, tokens: m.tokens, steps: m.steps,
        flops: m.flops.total, flops_dense: m.flops.dense, flops_attention: m.flops.attention, lr,
        final_val_loss: fin.val, final_train_loss: fin.train, seconds: fin.seconds, tokens_per_s: m.tokens / fin.seconds,
        ...backendInfo(), downstream,
      };
      writeFileAtomic(join(out, 'result.json'), `${JSON.stringify(res, null, 1)}\n`);
      results.push(res);
      bar.note(`member ${i + 1}/${plans.length} ${m.name}: held-out loss ${fin.val.toFixed(4)}, ${res.tokens_per_s.toFixed(0)} tokens/s`);
    }
  } finally {
    bar.stop();
  }
  return { status: 'done', members: results };
}

export interface RerunResult { name: string; recorded: number; rerun: number; difference: number; dir: string }

/**
 * Trains a done member again from scratch, from its own run.json, into `<dir>/rerun/<name>`, and compares
 * the final held-out loss with the recorded one: the determinism check of docs/scaling/README.md.
 */
export async function rerunMember(dir: string, name: string, opts: { log?: (line: string) => void } = {}): Promise<RerunResult> {
  const done = readMemberResult(dir, name);
  check(done !== null, `${memberDir(dir, name)}: member ${name} is not done (no result.json); members: ${readStudyRecord(dir).members.map((m) => m.name).join(', ')}`);
  const fields = readJson<Record<string, unknown>>(join(memberDir(dir, name), 'run.json'), 'the member run config');
  const out = join(dir, 'rerun', name);
  rmSync(out, { recursive: true, force: true });
  const run = parseRunConfig({ ...fields, out_dir: out }, join(memberDir(dir, name), 'run.json'));
  opts.log?.(`re-training ${name} (${run.totalSteps} steps) into ${out}`);
  await train(run, { plots: false });
  const rerun = finalLosses(out, run.totalSteps).val;
  return { name, recorded: done.final_val_loss, rerun, difference: rerun - done.final_val_loss, dir: out };
}
