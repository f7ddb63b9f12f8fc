// Downloads from the Hub on the command line: a progress bar on stderr (bytes, rate, ETA, file) for
// `mugpt pull` and for the commands that take a model by Hub id (generate, eval, quantize).
import { singleBar } from '../report/progress.js';
import { resolveModelPath, type PullOptions, type PullProgress } from '../io/hub.js';

/** Runs fn with an onProgress that drives a bar, shown once bytes have to be fetched. */
export async function withPullBar<T>(fn: (onProgress: (p: PullProgress) => void) => Promise<T>): Promise<T> {
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  const bar = singleBar('{bar} {percentage}% | {doneMB}/{totalMB} MB | {rate} MB/s | ETA {eta_formatted} | {file}');
  const start = Date.now();
  let started = false;
  try {
    return await fn((p) => {
      if (!started && p.done >= p.total) return; // everything cached: no bar
      const payload = { file: p.file, doneMB: mb(p.done), totalMB: mb(p.total), rate: mb(p.fetched / Math.max(1e-3, (Date.now() - start) / 1000)) };
      if (!started) { bar.start(p.total, p.done, payload); started = true; }
      if (bar.getTotal() !== p.total) bar.setTotal(p.total);
      bar.update(p.done, payload);
    });
  } finally {
    if (started) bar.stop();
  }
}

/** A --model / MODEL argument: a local folder or .gguf file, or a Hub id pulled (with a bar) when the cache lacks it. */
export function modelFromArg(arg: string, opts: PullOptions = {}): Promise<string> {
  return withPullBar((onProgress) => resolveModelPath(arg, { ...opts, onProgress }));
}
