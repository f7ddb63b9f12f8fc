// Per-stage progress bars (cli-progress) showing MB done, MB/s and ETA. Disabled (no output) when
// not asked for, e.g. in tests or when stderr is not a terminal.
import cliProgress from 'cli-progress';

export interface StageBar {
  /** Adds n bytes of progress. */
  tick(n: number): void;
  /** Changes the expected total (bytes). */
  setTotal(total: number): void;
  done(): void;
}

const MB = 1024 * 1024;

export class Progress {
  private readonly multi: cliProgress.MultiBar | null;

  constructor(enabled: boolean) {
    this.multi = enabled
      ? new cliProgress.MultiBar({
        format: '{stage} |{bar}| {percentage}% {done}/{total_mb} MB | {speed} MB/s | ETA {eta_formatted}',
        hideCursor: true, clearOnComplete: false, stopOnComplete: false, etaBuffer: 50, fps: 5,
      }, cliProgress.Presets.shades_classic)
      : null;
  }

  stage(name: string, totalBytes: number): StageBar {
    const multi = this.multi;
    let value = 0;
    let total = Math.max(1, totalBytes);
    const t0 = Date.now();
    if (!multi) return { tick: () => {}, setTotal: () => {}, done: () => {} };
    const payload = (): Record<string, string> => ({
      stage: name.padEnd(12),
      done: (value / MB).toFixed(1),
      total_mb: (total / MB).toFixed(1),
      speed: (value / MB / Math.max(1e-3, (Date.now() - t0) / 1000)).toFixed(1),
    });
    const bar = multi.create(total, 0, payload());
    return {
      tick: (n) => { value += n; bar.update(Math.min(value, total), payload()); },
      setTotal: (t) => { total = Math.max(1, t); bar.setTotal(total); },
      done: () => { total = Math.max(value, 1); bar.setTotal(total); bar.update(total, payload()); bar.stop(); },
    };
  }

  /** Prints a line above the bars. */
  log(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
  }

  stop(): void {
    this.multi?.stop();
  }
}
