// `mugpt scale fit` and `mugpt scale report`: the members' final held-out losses against their
// training compute, the scaling law fitted per parameterization (fit.ts), and the report: results.json
// (the contract layout of issue #10), report.md (tables) and SVG plots.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { Parameterization } from '../model/init.js';
import { gridSvg } from '../mup/svg-grid.js';
import { barChartSvg, lineChartSvg, type LineSeries } from '../report/plot.js';
import { MetricsLog, type EvalRecord } from '../train/metrics.js';
import { fitScalingLaw, holdoutError, predictLoss, type ScalingFit } from './fit.js';
import { memberDir, readMemberResult, readStudyRecord, type MemberResult, type StudyRecord } from './run.js';

export interface ParamFit { fit: ScalingFit; holdoutError: number | null; members: number }

export interface StudyResults {
  record: StudyRecord;
  /** Done members, in plan order. */
  members: MemberResult[];
  /** Members planned but not done. */
  missing: string[];
  /** Per parameterization with at least 3 done members. */
  fits: Partial<Record<Parameterization, ParamFit>>;
}

const PNAME: Record<Parameterization, string> = { sp: 'SP', mup: 'μP' };

/** Reads a study folder and fits the law to each parameterization's done members. */
export function studyResults(dir: string): StudyResults {
  const record = readStudyRecord(dir);
  const members: MemberResult[] = [], missing: string[] = [];
  for (const m of record.members) {
    const r = readMemberResult(dir, m.name);
    if (r) members.push(r); else missing.push(m.name);
  }
  const fits: StudyResults['fits'] = {};
  for (const p of record.study.parameterizations) {
    const pts = members.filter((m) => m.parameterization === p).map((m) => ({ flops: m.flops, loss: m.final_val_loss }));
    if (pts.length < 3) continue;
    fits[p] = { fit: fitScalingLaw(pts), holdoutError: pts.length >= 4 ? holdoutError(pts) : null, members: pts.length };
  }
  return { record, members, missing, fits };
}

/** results.json exactly as issue #10 lays it out. */
export function resultsJson(r: StudyResults): object {
  return {
    members: r.members.map((m) => ({ name: m.name, parameterization: m.parameterization, params: m.params,
      non_embedding_params: m.non_embedding_params, tokens: m.tokens, flops: m.flops, final_val_loss: m.final_val_loss })),
    fits: Object.fromEntries(Object.entries(r.fits).map(([p, f]) => [p, {
      r2: f.fit.r2, alpha: f.fit.alpha, c0: f.fit.c0, l_inf: f.fit.lInf, holdout_error: f.holdoutError,
    }])),
  };
}

const sci = (x: number, d = 2): string => x.toExponential(d).replace('e+', 'e');
const pm = (x: number, se: number | undefined, d: number, fmt = (v: number, k: number) => v.toFixed(k)): string =>
  se === undefined ? fmt(x, d) : `${fmt(x, d)} ± ${fmt(se, d)}`;

/** The fits as a Markdown table. */
export function formatFits(r: StudyResults): string {
  const lines = ['| | α | C₀ (FLOPs) | L∞ (nats/token) | R² | members | holdout error (largest) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const [p, f] of Object.entries(r.fits) as Array<[Parameterization, ParamFit]>) {
    const se = f.fit.stderr ?? undefined;
    lines.push(`| ${PNAME[p]} | ${pm(f.fit.alpha, se?.alpha, 4)} | ${pm(f.fit.c0, se?.c0, 2, sci)} | ${pm(f.fit.lInf, se?.lInf, 3)} | ${f.fit.r2.toFixed(4)} | ${f.members} | `
      + `${f.holdoutError === null ? 'n/a (needs 4 members)' : `${(100 * f.holdoutError).toFixed(2)}%`} |`);
  }
  if (Object.keys(r.fits).length === 0) lines.push('| (no parameterization has 3 done members yet) | | | | | | |');
  return lines.join('\n');
}

/** The members as a Markdown table, one row per size with SP and μP side by side. */
export function formatMembers(r: StudyResults): string {
  const ps = r.record.study.parameterizations;
  const head = ['size', 'n_embd × n_layer (heads)', 'params', 'non-emb. params', 'tokens', 'FLOPs',
    ...ps.map((p) => `${PNAME[p]} loss`), ...(ps.length === 2 ? ['μP − SP'] : []), ...ps.map((p) => `${PNAME[p]} tokens/s`)];
  const lines = [`| ${head.join(' | ')} |`, `| --- | --- | ${head.slice(2).map(() => '---:').join(' | ')} |`];
  for (const size of r.record.study.sizes) {
    const by = (p: Parameterization) => r.members.find((m) => m.size === size.name && m.parameterization === p);
    const any = ps.map(by).find((m) => m !== undefined);
    const plan = r.record.members.find((m) => m.name.startsWith(`${size.name}-`))!;
    const losses = ps.map((p) => by(p)?.final_val_loss);
    const diff = ps.length === 2 && losses[0] !== undefined && losses[1] !== undefined ? [(losses[1]! - losses[0]!).toFixed(4)] : ps.length === 2 ? ['—'] : [];
    lines.push(`| ${size.name} | ${size.nEmbd} × ${size.nLayer} (${size.nHead}) | ${plan.params} | ${plan.non_embedding_params} | ${plan.tokens} | ${sci(any?.flops ?? plan.flops)} | `
      + `${losses.map((l) => (l === undefined ? '—' : l.toFixed(4))).join(' | ')} | ${[...diff, ...ps.map((p) => { const m = by(p); return m ? m.tokens_per_s.toFixed(0) : '—'; })].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Held-out loss against compute, log axes: the members as dots and each fitted law as a line. */
export async function lossVsComputeSvg(r: StudyResults): Promise<string> {
  const series: LineSeries[] = [];
  const all = r.members.map((m) => m.flops);
  const lo = Math.min(...all), hi = Math.max(...all);
  for (const p of r.record.study.parameterizations) {
    const ms = r.members.filter((m) => m.parameterization === p);
    if (ms.length === 0) continue;
    series.push({ name: `${PNAME[p]} members`, dotsOnly: true, points: ms.map((m) => [m.flops, m.final_val_loss]) });
    const f = r.fits[p];
    if (f) {
      const pts: Array<[number, number]> = Array.from({ length: 41 }, (_, i) => {
        const c = lo * (hi / lo) ** (i / 40);
        return [c, predictLoss(f.fit, c)];
      });
      series.push({ name: `${PNAME[p]} fit, α ${f.fit.alpha.toFixed(3)}, R² ${f.fit.r2.toFixed(3)}`, points: pts });
    }
  }
  return lineChartSvg({ title: 'Held-out loss against training compute', xLabel: 'training compute C (FLOPs)', yLabel: 'final held-out loss (nats/token)',
    series, logX: true, logY: true, width: 520, height: 340 });
}

/** Held-out loss against tokens for each member; SP and μP panels side by side. */
export async function lossCurvesSvg(r: StudyResults, dir: string): Promise<string> {
  const panels: string[] = [];
  for (const p of r.record.study.parameterizations) {
    const series: LineSeries[] = r.members.filter((m) => m.parameterization === p).map((m) => {
      const recs = new MetricsLog(memberDir(dir, m.name), Number.MAX_SAFE_INTEGER).records();
      return { name: m.size, points: recs.filter((x): x is EvalRecord => x.kind === 'val').map((x) => [x.tokens, x.val_loss] as [number, number]) };
    });
    if (series.length === 0) continue;
    panels.push(await lineChartSvg({ title: `${PNAME[p]}: held-out loss during training`, xLabel: 'tokens', yLabel: 'held-out loss (nats/token)',
      series, logX: true, points: true, width: 380, height: 280 }));
  }
  return gridSvg(panels, panels.length);
}

/** Final held-out loss per size, SP and μP side by side. */
export function spVsMupSvg(r: StudyResults): Promise<string> {
  return barChartSvg({
    title: 'SP against μP: final held-out loss per size', xLabel: 'size', yLabel: 'final held-out loss (nats/token)',
    bars: r.members.map((m) => ({ label: m.size, value: m.final_val_loss, group: PNAME[m.parameterization] })),
  });
}

/** Downstream accuracy against compute, one line per (task, parameterization); null without evaluations. */
export async function accuracySvg(r: StudyResults): Promise<string | null> {
  const series: LineSeries[] = [];
  for (const task of r.record.study.downstreamTasks.map((t) => t.split('=')[0])) {
    for (const p of r.record.study.parameterizations) {
      const pts = r.members.filter((m) => m.parameterization === p && task in m.downstream).map((m) => [m.flops, m.downstream[task]] as [number, number]);
      if (pts.length) series.push({ name: `${task} (${PNAME[p]})`, points: pts });
    }
  }
  if (series.length === 0) return null;
  return lineChartSvg({ title: 'Downstream accuracy against training compute', xLabel: 'training compute C (FLOPs)', yLabel: 'accuracy',
    series, logX: true, points: true });
}

/** Writes results.json, report.md and the plots into dir; returns the files written. */
export async function writeReport(dir: string): Promise<{ files: string[]; results: StudyResults }> {
  const r = studyResults(dir);
  const files: string[] = [];
  const put = (name: string, text: string) => { const p = join(dir, name); writeFileAtomic(p, text); files.push(p); };
  put('results.json', `${JSON.stringify(resultsJson(r), null, 1)}\n`);
  const plots: string[] = [];
  if (r.members.length > 0) {
    put('loss-vs-compute.svg', await lossVsComputeSvg(r)); plots.push('loss-vs-compute.svg');
    put('loss-curves.svg', await lossCurvesSvg(r, dir)); plots.push('loss-curves.svg');
    put('sp-vs-mup.svg', await spVsMupSvg(r)); plots.push('sp-vs-mup.svg');
    const acc = await accuracySvg(r);
    if (acc) { put('accuracy-vs-compute.svg', acc); plots.push('accuracy-vs-compute.svg'); }
  }
  const s = r.record.study;
  const lrs = Object.entries(r.record.lrs ?? {}).map(([p, lr]) => `${PNAME[p as Parameterization]} ${lr} (2^${Math.log2(lr).toFixed(1)})`).join(', ');
  const md = [
    `# Scaling study${s.quick ? ' (--quick)' : ''}`,
    '',
    `From \`${r.record.file.replace(/^.*[\\/](runs[\\/])/, '$1')}\`: ${s.arch} architecture, ${s.data.vocabSize}-token BPE, context ${s.data.seqLen}, `
      + `${s.batchSize} sequences a step, ${s.tokensPerParam} tokens per ${s.tokenParams === 'total' ? '' : 'non-embedding '}parameter. `
      + `Peak learning rates: ${lrs || 'not chosen yet'}${existsSync(join(dir, 'sweep', 'lr-sweep.json')) ? ' (μP proxy sweep: [sweep/lr-sweep.svg](sweep/lr-sweep.svg))' : ''}.`,
    '',
    '## Members',
    '',
    formatMembers(r),
    '',
    ...(r.missing.length ? [`Not done yet: ${r.missing.join(', ')}.`, ''] : []),
    '## Fits: L(C) = (C / C₀)^(−α) + L∞',
    '',
    formatFits(r),
    '',
    'C counts 6·N·D plus the attention term (src/scale/plan.ts); ± are standard errors from the Jacobian at the optimum; '
      + 'the holdout error is (predicted − actual) / actual for the largest member, predicted by the fit of the others.',
    '',
    ...plots.map((p) => `![${p.replace('.svg', '')}](${p})`),
    '',
  ].join('\n');
  put('report.md', md);
  return { files, results: r };
}
