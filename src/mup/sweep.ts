// The learning-rate sweep across widths: each (parameterization, width, lr) trains the same number
// of steps on the same batches, with the papers' optimizer recipe (AdamW β = (0.9, 0.95), weight
// decay 0.1, clipping at 1.0, linear warmup over 10% of the steps then linear decay to 10% of the
// peak), and is scored by its held-out loss. μP's claim: the best lr does not move with width, so the
// lr tuned on a small proxy transfers; under SP it shifts down as width grows.
import { join } from 'node:path';
import { check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Parameterization } from '../model/init.js';
import { lineChartSvg } from '../report/plot.js';
import { AdamW, clipGradNorm } from '../train/adamw.js';
import { lrAt, type LrSchedule } from '../train/schedule.js';
import { buildModel, sotuData, type FamilyOptions, type MupRunOptions } from './setup.js';
import { gridSvg } from './svg-grid.js';

export interface SweepOptions extends MupRunOptions {
  /** Widths (n_embd); the smallest is the μP base width. Default 64, 128, 256. */
  widths?: number[];
  /** Peak learning rates. Default 2^-11 … 2^-5, one per power of two. */
  lrs?: number[];
  steps?: number;
  /** Held-out batches the final loss is averaged over. */
  evalBatches?: number;
  onProgress?: (done: number, total: number, point: SweepPoint) => void;
}

export type ResolvedSweepOptions = Required<Omit<SweepOptions, 'data' | 'onProgress'>>;

export interface SweepPoint {
  parameterization: Parameterization;
  width: number;
  lr: number;
  /** Held-out loss after the last step; null when training diverged (a non-finite loss or gradient). */
  valLoss: number | null;
  /** Mean training loss of the last 10% of the steps (null when diverged). */
  trainLoss: number | null;
  seconds: number;
}

export interface SweepBest { parameterization: Parameterization; width: number; lr: number; valLoss: number }

export interface SweepResult {
  options: ResolvedSweepOptions;
  baseWidth: number;
  points: SweepPoint[];
  /** The lr of the lowest held-out loss, per (parameterization, width). */
  best: SweepBest[];
  seconds: number;
}

export const SWEEP_DEFAULTS: ResolvedSweepOptions = {
  arch: 'btlm', widths: [64, 128, 256], lrs: Array.from({ length: 7 }, (_, i) => 2 ** (i - 11)), steps: 100, seed: 0,
  layers: 2, heads: 4, batch: 8, seqLen: 64, vocab: 4096, evalBatches: 8, parameterizations: ['sp', 'mup'],
};

export function resolveSweepOptions(o: SweepOptions): ResolvedSweepOptions {
  const r = { ...SWEEP_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'data' && k !== 'onProgress')) } as ResolvedSweepOptions;
  check(r.arch === 'btlm' || r.arch === 'gpt2', `lrSweep: arch must be btlm or gpt2, got ${JSON.stringify(r.arch)}`);
  check(r.widths.length >= 1, 'lrSweep: widths is empty');
  for (const w of r.widths) check(Number.isInteger(w) && w > 0 && w % r.heads === 0, `lrSweep: width ${w} must be a positive multiple of heads (${r.heads})`);
  check(r.lrs.length >= 1, 'lrSweep: lrs is empty');
  for (const lr of r.lrs) check(Number.isFinite(lr) && lr > 0, `lrSweep: learning rates must be > 0, got ${lr}`);
  check(Number.isInteger(r.steps) && r.steps >= 1, `lrSweep: steps must be an integer ≥ 1, got ${r.steps}`);
  check(Number.isInteger(r.evalBatches) && r.evalBatches >= 1, `lrSweep: evalBatches must be an integer ≥ 1, got ${r.evalBatches}`);
  r.widths = [...r.widths].sort((a, b) => a - b);
  r.lrs = [...r.lrs].sort((a, b) => a - b);
  return r;
}

/** Trains every (parameterization, width, lr) of the grid and finds the best lr per width. */
export function lrSweep(opts: SweepOptions = {}): SweepResult {
  const o = resolveSweepOptions(opts);
  const family: FamilyOptions = { arch: o.arch, layers: o.layers, heads: o.heads, vocab: o.vocab, seqLen: o.seqLen };
  const data = opts.data ?? sotuData(o.vocab, o.seqLen, o.seed);
  check(data.vocab === o.vocab, `lrSweep: the data's vocabulary (${data.vocab}) differs from vocab (${o.vocab})`);
  const val = data.loader.valBatches(o.evalBatches, o.batch, o.seqLen); // [evalBatches][batch][seqLen]
  const baseWidth = o.widths[0];
  const total = o.parameterizations.length * o.widths.length * o.lrs.length;
  const t0 = performance.now();
  const points: SweepPoint[] = [];
  for (const p of o.parameterizations) {
    for (const width of o.widths) {
      for (const lr of o.lrs) {
        const start = performance.now();
        const { model, lrMultipliers } = buildModel(family, width, p, baseWidth, o.seed);
        const opt = new AdamW(model, { lr, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, lrMultipliers });
        const sched: LrSchedule = { peakLr: lr, warmupSteps: Math.round(0.1 * o.steps), totalSteps: o.steps, decay: 'linear', endRatio: 0.1 };
        data.loader.restore({ epoch: 0, unit: 0, offset: 0 });
        const tail: number[] = [];
        let diverged = false;
        for (let t = 0; t < o.steps && !diverged; t++) {
          const { loss, grads } = model.lossAndGrad(data.loader.nextBatch(o.batch, o.seqLen));
          const norm = clipGradNorm(grads, 1.0);
          if (!Number.isFinite(loss) || !Number.isFinite(norm)) { diverged = true; break; }
          opt.setLr(lrAt(sched, t));
          opt.step(grads);
          if (t >= o.steps - Math.max(1, Math.round(0.1 * o.steps))) tail.push(loss);
        }
        let valLoss: number | null = null;
        if (!diverged) {
          const v = val.reduce((a, b) => a + model.loss(b), 0) / val.length;
          valLoss = Number.isFinite(v) ? v : null;
        }
        const point: SweepPoint = {
          parameterization: p, width, lr, valLoss,
          trainLoss: valLoss === null ? null : tail.reduce((a, b) => a + b, 0) / tail.length,
          seconds: (performance.now() - start) / 1000,
        };
        points.push(point);
        opts.onProgress?.(points.length, total, point);
      }
    }
  }
  return { options: o, baseWidth, points, best: bestLrs(points), seconds: (performance.now() - t0) / 1000 };
}

/** The lowest finite held-out loss per (parameterization, width); widths where every lr diverged are left out. */
export function bestLrs(points: SweepPoint[]): SweepBest[] {
  const best = new Map<string, SweepBest>();
  for (const q of points) {
    if (q.valLoss === null) continue;
    const key = `${q.parameterization}/${q.width}`, b = best.get(key);
    if (!b || q.valLoss < b.valLoss) best.set(key, { parameterization: q.parameterization, width: q.width, lr: q.lr, valLoss: q.valLoss });
  }
  return [...best.values()];
}

const PNAME: Record<Parameterization, string> = { sp: 'SP', mup: 'μP' };

/** The CLI's table: held-out loss per lr (rows) and width (columns), and the best lr per width. */
export function formatSweep(r: SweepResult): string {
  const o = r.options, lines: string[] = [];
  for (const p of o.parameterizations) {
    lines.push(`${PNAME[p]} (${o.arch}, ${o.layers} layers, ${o.steps} steps): held-out loss by peak lr and width; * = best per width`);
    lines.push(['lr'.padEnd(14), ...o.widths.map((w) => `w=${w}`.padStart(10))].join(''));
    for (const lr of o.lrs) {
      const cells = o.widths.map((w) => {
        const q = r.points.find((x) => x.parameterization === p && x.width === w && x.lr === lr);
        const b = r.best.find((x) => x.parameterization === p && x.width === w);
        if (!q) return ''.padStart(10);
        return (q.valLoss === null ? 'diverged' : q.valLoss.toFixed(3) + (b?.lr === lr ? '*' : ' ')).padStart(10);
      });
      lines.push([`2^${Math.log2(lr).toFixed(1)}`.padEnd(14), ...cells].join(''));
    }
    lines.push(['best lr'.padEnd(14), ...o.widths.map((w) => {
      const b = r.best.find((x) => x.parameterization === p && x.width === w);
      return (b ? `2^${Math.log2(b.lr).toFixed(1)}` : 'none').padStart(10);
    })].join(''));
    lines.push('');
  }
  lines.push(`${r.points.length} runs in ${r.seconds.toFixed(0)} s`);
  return lines.join('\n');
}

/** Held-out loss against log2(lr), one line per width; SP and μP side by side. */
export async function sweepSvg(r: SweepResult): Promise<string> {
  const o = r.options, panels: string[] = [];
  for (const p of o.parameterizations) {
    panels.push(await lineChartSvg({
      title: `${PNAME[p]} (${o.arch}, base width ${r.baseWidth}): held-out loss after ${o.steps} steps`,
      xLabel: 'log2(peak learning rate)', yLabel: 'held-out loss (nats/token)', points: true, width: 380, height: 280,
      series: o.widths.map((w) => ({
        name: `width ${w}`,
        points: r.points.filter((q) => q.parameterization === p && q.width === w && q.valLoss !== null).map((q) => [Math.log2(q.lr), q.valLoss!] as [number, number]),
      })),
    }));
  }
  return gridSvg(panels, panels.length);
}

/** Writes lr-sweep.json and lr-sweep.svg into dir; returns their paths. */
export async function writeSweep(r: SweepResult, dir: string): Promise<{ json: string; svg: string }> {
  const json = join(dir, 'lr-sweep.json'), svg = join(dir, 'lr-sweep.svg');
  writeFileAtomic(json, JSON.stringify(r, null, 1) + '\n');
  writeFileAtomic(svg, await sweepSvg(r));
  return { json, svg };
}
