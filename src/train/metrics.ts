// The metrics log of a run (metrics.jsonl: one JSON record per training step or evaluation) and its
// plots (loss.svg: train and val loss; lr.svg: learning rate). The log is kept in memory and the file
// rewritten atomically at flushes (each evaluation, checkpoint and the end), so a crash never leaves a
// torn line; on resume the records past the checkpoint's step are dropped, since they are redone.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { lineChartSvg } from '../report/plot.js';

export interface StepRecord {
  kind: 'train';
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  seq_len: number;
  tokens: number;
  tokens_per_s: number;
  elapsed_s: number;
}

export interface EvalRecord { kind: 'val'; step: number; val_loss: number; tokens: number }

export type MetricsRecord = StepRecord | EvalRecord;

export class MetricsLog {
  readonly path: string;
  private readonly recs: MetricsRecord[] = [];

  /** Opens <outDir>/metrics.jsonl; with keepUpTo, keeps the existing records of steps ≤ keepUpTo. */
  constructor(outDir: string, keepUpTo?: number) {
    this.path = join(outDir, 'metrics.jsonl');
    if (keepUpTo !== undefined && existsSync(this.path)) {
      readFileSync(this.path, 'utf8').split('\n').forEach((line, i) => {
        if (!line.trim()) return;
        let r: MetricsRecord;
        try { r = JSON.parse(line) as MetricsRecord; } catch {
          throw new MugptError(`${this.path}:${i + 1}: not a JSON record`);
        }
        if (r.step <= keepUpTo) this.recs.push(r);
      });
    }
  }

  add(r: MetricsRecord): void { this.recs.push(r); }
  records(): readonly MetricsRecord[] { return this.recs; }

  flush(): void {
    writeFileAtomic(this.path, this.recs.map((r) => JSON.stringify(r)).join('\n') + (this.recs.length ? '\n' : ''));
  }

  /** Writes loss.svg and lr.svg beside the log. */
  async plot(outDir: string, title: string): Promise<void> {
    const train = this.recs.filter((r): r is StepRecord => r.kind === 'train');
    const val = this.recs.filter((r): r is EvalRecord => r.kind === 'val');
    if (train.length === 0) return;
    const series = [{ name: 'train', points: train.map((r) => [r.step, r.loss] as [number, number]) }];
    if (val.length) series.push({ name: 'val', points: val.map((r) => [r.step, r.val_loss] as [number, number]) });
    writeFileAtomic(join(outDir, 'loss.svg'), await lineChartSvg({ title: `${title}: loss`, xLabel: 'step', yLabel: 'cross-entropy (nats/token)', series }));
    writeFileAtomic(join(outDir, 'lr.svg'), await lineChartSvg({ title: `${title}: learning rate`, xLabel: 'step', yLabel: 'lr',
      series: [{ name: 'lr', points: train.map((r) => [r.step, r.lr] as [number, number]) }] }));
  }
}
