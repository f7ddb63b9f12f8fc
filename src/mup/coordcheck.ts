// The coordinate check (microsoft/mup's, as Cerebras used it to verify μP): models of one family
// that differ only in width train a few AdamW steps on real text, and after each step the mean
// |activation| of every layer output is measured on a fixed held-out batch. Under μP these sizes
// do not change with width; under SP the output logits and attention scores grow with it once the
// model trains.
import { join } from 'node:path';
import { check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Parameterization } from '../model/init.js';
import { lineChartSvg } from '../report/plot.js';
import { AdamW } from '../train/adamw.js';
import { KIND_LABELS, LAYER_KINDS, probeActivations, type LayerKind, type LayerStat } from './probe.js';
import { buildModel, sotuData, type FamilyOptions, type MupRunOptions } from './setup.js';
import { gridSvg } from './svg-grid.js';

export interface CoordCheckOptions extends MupRunOptions {
  /** Model widths (n_embd); the smallest is the μP base width. Default 64, 128, 256, 512. */
  widths?: number[];
  /** AdamW updates; activations are measured at init and after each. Default 5. */
  steps?: number;
  /** Base learning rate (the same for SP and μP; μP divides it per tensor). Default 0.01. */
  lr?: number;
  onProgress?: (message: string) => void;
}

export type ResolvedCoordCheckOptions = Required<Omit<CoordCheckOptions, 'data' | 'onProgress'>>;

export interface CoordRun {
  parameterization: Parameterization;
  width: number;
  /** Training loss of each update. */
  losses: number[];
  /** stats[t]: every layer's mean |x| after t updates (t = 0 is init). */
  stats: LayerStat[][];
}

export interface CoordCheckResult {
  options: ResolvedCoordCheckOptions;
  baseWidth: number;
  runs: CoordRun[];
}

export const COORD_DEFAULTS: ResolvedCoordCheckOptions = {
  arch: 'btlm', widths: [64, 128, 256, 512], steps: 5, seed: 0, layers: 2, heads: 4, batch: 8, seqLen: 64,
  vocab: 4096, lr: 0.01, parameterizations: ['sp', 'mup'],
};

export function resolveCoordOptions(o: CoordCheckOptions): ResolvedCoordCheckOptions {
  const r = { ...COORD_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'data' && k !== 'onProgress')) } as ResolvedCoordCheckOptions;
  check(r.arch === 'btlm' || r.arch === 'gpt2', `coordCheck: arch must be btlm or gpt2, got ${JSON.stringify(r.arch)}`);
  check(r.widths.length >= 2, `coordCheck: widths needs at least two widths, got [${r.widths.join(', ')}]`);
  for (const w of r.widths) check(Number.isInteger(w) && w > 0 && w % r.heads === 0, `coordCheck: width ${w} must be a positive multiple of heads (${r.heads})`);
  check(Number.isInteger(r.steps) && r.steps >= 0, `coordCheck: steps must be an integer ≥ 0, got ${r.steps}`);
  check(Number.isFinite(r.lr) && r.lr > 0, `coordCheck: lr must be > 0, got ${r.lr}`);
  r.widths = [...r.widths].sort((a, b) => a - b);
  return r;
}

/** Trains each (parameterization, width) for `steps` updates and measures every layer after each. */
export function coordCheck(opts: CoordCheckOptions = {}): CoordCheckResult {
  const o = resolveCoordOptions(opts);
  const say = opts.onProgress ?? (() => {});
  const family: FamilyOptions = { arch: o.arch, layers: o.layers, heads: o.heads, vocab: o.vocab, seqLen: o.seqLen };
  const data = opts.data ?? sotuData(o.vocab, o.seqLen, o.seed);
  check(data.vocab === o.vocab, `coordCheck: the data's vocabulary (${data.vocab}) differs from vocab (${o.vocab})`);
  const probe = data.loader.valBatches(1, o.batch, o.seqLen)[0]; // [batch][seqLen], the same for every run
  const baseWidth = o.widths[0];
  const runs: CoordRun[] = [];
  for (const p of o.parameterizations) {
    for (const width of o.widths) {
      const { model, lrMultipliers } = buildModel(family, width, p, baseWidth, o.seed);
      const opt = new AdamW(model, { lr: o.lr, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, lrMultipliers });
      data.loader.restore({ epoch: 0, unit: 0, offset: 0 });
      const run: CoordRun = { parameterization: p, width, losses: [], stats: [probeActivations(model, probe)] };
      for (let t = 0; t < o.steps; t++) {
        const { loss, grads } = model.lossAndGrad(data.loader.nextBatch(o.batch, o.seqLen));
        opt.step(grads);
        run.losses.push(loss);
        run.stats.push(probeActivations(model, probe));
      }
      say(`${p} width ${width}: loss ${run.losses.map((l) => l.toFixed(3)).join(' → ') || '(no steps)'}`);
      runs.push(run);
    }
  }
  return { options: o, baseWidth, runs };
}

/** Mean over blocks of one kind's mean |x| in a list of layer stats. */
export function kindMean(stats: LayerStat[], kind: LayerKind): number {
  const xs = stats.filter((s) => s.kind === kind).map((s) => s.meanAbs);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * The growth exponent of a layer kind at step t: the least-squares slope of log2(mean |x|) against
 * log2(width). 0 means width-independent; 1 means proportional to width.
 */
export function growthExponent(r: CoordCheckResult, p: Parameterization, kind: LayerKind, step: number): number {
  const pts = r.runs.filter((run) => run.parameterization === p).map((run) => [Math.log2(run.width), Math.log2(kindMean(run.stats[step], kind))]);
  const n = pts.length;
  const mx = pts.reduce((a, q) => a + q[0], 0) / n, my = pts.reduce((a, q) => a + q[1], 0) / n;
  let sxy = 0, sxx = 0;
  for (const [x, y] of pts) { sxy += (x - mx) * (y - my); sxx += (x - mx) ** 2; }
  return sxy / sxx;
}

const PNAME: Record<Parameterization, string> = { sp: 'SP', mup: 'μP' };

function fmt(x: number): string {
  return !Number.isFinite(x) ? String(x) : x >= 1000 || x < 0.01 ? x.toExponential(2) : x.toPrecision(3);
}

/** The tables the CLI prints: every layer's mean |x| by width at init and after the last step, and the growth exponents. */
export function formatCoordCheck(r: CoordCheckResult): string {
  const o = r.options, lines: string[] = [];
  const steps = o.steps === 0 ? [0] : [0, o.steps];
  for (const p of o.parameterizations) {
    const runs = r.runs.filter((run) => run.parameterization === p);
    for (const t of steps) {
      lines.push(`${PNAME[p]}, ${t === 0 ? 'at init' : `after ${t} steps`}: mean |x| by width (growth exponent = slope of log|x| vs log width)`);
      lines.push(['layer'.padEnd(16), ...runs.map((run) => `w=${run.width}`.padStart(10)), 'exponent'.padStart(10)].join(''));
      for (const [i, s] of runs[0].stats[t].entries()) {
        const ys = runs.map((run) => run.stats[t][i].meanAbs);
        const xs = runs.map((run) => Math.log2(run.width));
        const mx = xs.reduce((a, b) => a + b, 0) / xs.length, ly = ys.map(Math.log2), my = ly.reduce((a, b) => a + b, 0) / ly.length;
        const slope = xs.reduce((a, x, k) => a + (x - mx) * (ly[k] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
        lines.push([s.name.padEnd(16), ...ys.map((y) => fmt(y).padStart(10)), slope.toFixed(2).padStart(10)].join(''));
      }
      lines.push('');
    }
  }
  if (o.steps > 0 && o.parameterizations.length > 1) {
    lines.push(`growth exponents after ${o.steps} steps, mean over blocks (0 = flat in width):`);
    lines.push(['kind'.padEnd(20), ...o.parameterizations.map((p) => PNAME[p].padStart(8))].join(''));
    for (const k of LAYER_KINDS) lines.push([KIND_LABELS[k].padEnd(20), ...o.parameterizations.map((p) => growthExponent(r, p, k, o.steps).toFixed(2).padStart(8))].join(''));
  }
  return lines.join('\n');
}

/** One panel per (step, parameterization): mean |x| against width, one line per layer kind (mean over blocks); rows are steps. */
export async function coordCheckSvg(r: CoordCheckResult): Promise<string> {
  const o = r.options, panels: string[] = [];
  for (let t = 0; t <= o.steps; t++) {
    for (const p of o.parameterizations) {
      const runs = r.runs.filter((run) => run.parameterization === p);
      panels.push(await lineChartSvg({
        title: `${PNAME[p]} (${o.arch}), ${t === 0 ? 'at init' : `after step ${t}`}`,
        xLabel: 'log2(width)', yLabel: 'mean |activation|', logY: true, points: true, width: 300, height: 200,
        series: LAYER_KINDS.map((k) => ({ name: KIND_LABELS[k], points: runs.map((run) => [Math.log2(run.width), kindMean(run.stats[t], k)] as [number, number]) })),
      }));
    }
  }
  return gridSvg(panels, o.parameterizations.length);
}

/** Writes coord-check.json and coord-check.svg into dir; returns their paths. */
export async function writeCoordCheck(r: CoordCheckResult, dir: string): Promise<{ json: string; svg: string }> {
  const json = join(dir, 'coord-check.json'), svg = join(dir, 'coord-check.svg');
  writeFileAtomic(json, JSON.stringify(r, null, 1) + '\n');
  writeFileAtomic(svg, await coordCheckSvg(r));
  return { json, svg };
}
