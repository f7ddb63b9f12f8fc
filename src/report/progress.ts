// Progress bars on stderr (cli-progress, one look for every command): the factories every bar is made
// with, a bar of counted items with their rate, and per-stage byte bars (MB done, MB/s, ETA).
// Callers draw them only when asked for and on a terminal.
import cliProgress from 'cli-progress';

export type SingleBar = cliProgress.SingleBar;
export type MultiBar = cliProgress.MultiBar;

const STYLE: cliProgress.Options = { stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50, fps: 5 };

/** A bar of `format` (cli-progress tokens and payload fields); opts override the common style. */
export function singleBar(format: string, opts: cliProgress.Options = {}): SingleBar {
  return new cliProgress.SingleBar({ ...STYLE, format, ...opts }, cliProgress.Presets.shades_classic);
}

/** Several bars of `format` with lines logged above them; opts override the common style. */
export function multiBar(format: string, opts: cliProgress.Options = {}): MultiBar {
  return new cliProgress.MultiBar({ ...STYLE, format, ...opts }, cliProgress.Presets.shades_classic);
}

/**
 * A bar of items counted by a callback (done, total), drawn from the first call, with the rate in
 * `rateUnit`s a second (default: the unit) and the ETA.
 */
export function countBar(unit: string, rateUnit = unit, label = ''): { onProgress: (done: number, total: number) => void; stop: () => void } {
  const bar = singleBar(`${label}{bar} {value}/{total} ${unit} | {rate} ${rateUnit}/s | ETA {eta_formatted}`, { etaBuffer: 200 });
  const t0 = Date.now();
  let started = false;
  return {
    onProgress: (done, total) => {
      const rate = { rate: (done / Math.max(1e-3, (Date.now() - t0) / 1000)).toFixed(1) };
      if (!started) { bar.start(total, 0, rate); started = true; }
      bar.update(done, rate);
    },
    stop: () => bar.stop(),
  };
}

export interface StageBar {
  /** Adds n bytes of progress. */
  tick(n: number): void;
  /** Changes the expected total (bytes). */
  setTotal(total: number): void;
  done(): void;
}

const MB = 1024 * 1024;

/** Per-stage byte bars; disabled (no output) when not asked for, e.g. in tests or when stderr is not a terminal. */
export class Progress {
  private readonly multi: MultiBar | null;

  constructor(enabled: boolean) {
    this.multi = enabled
      ? multiBar('{stage} |{bar}| {percentage}% {done}/{total_mb} MB | {speed} MB/s | ETA {eta_formatted}', { stopOnComplete: false })
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
