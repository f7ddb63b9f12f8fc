// Runs the cases of a format in child processes, a batch at a time, each under an address-space limit
// (ulimit -v) and a time limit per case: a case that hangs, or that kills its process (out of memory,
// a crash), is recorded as a failure and the batch restarts after it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Failure { format: string; seed: number; case: number; why: string }
export interface FuzzSummary { format: string; seed: number; cases: number; accepted: number; refused: number; failures: Failure[] }

export interface FuzzOptions {
  format: string;
  cases: number;
  seed: number;
  /** First case number (default 0). */
  from?: number;
  /** A case that prints nothing for this long is a hang (default 60 s). */
  timeoutMs?: number;
  /** Cases per child process (default 500). */
  batch?: number;
  /** Address-space limit of a child in MiB (default 4096). */
  memoryMb?: number;
  onCase?: (done: number) => void;
  /** Filled in as cases end (so a run stopped early can still report what it did). */
  summary?: FuzzSummary;
}

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

interface BatchEnd { next: number; failure?: string }

/** Runs cases [from, to) in one child; stops at the first hang or crash and says where. */
function runBatch(o: Required<Pick<FuzzOptions, 'format' | 'seed' | 'timeoutMs' | 'memoryMb'>>, from: number, to: number, tmp: string,
  onResult: (i: number, r: { r: string; why?: string }) => void): Promise<BatchEnd> {
  return new Promise((resolve) => {
    const script = `ulimit -v ${o.memoryMb * 1024}; exec "$0" --max-old-space-size=${Math.floor(o.memoryMb / 2)} "$@"`;
    const child = spawn('sh', ['-c', script, process.execPath, CHILD, o.format, String(o.seed), String(from), String(to), tmp], { stdio: ['ignore', 'pipe', 'pipe'] });
    let next = from, buf = '', stderr = '', hung = false;
    // the child's start (loading mugpt, preparing seeds) gets ten case limits, then each case one
    let timer = setTimeout(onHang, 10 * o.timeoutMs);
    function onHang(): void { hung = true; child.kill('SIGKILL'); }
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        const r = JSON.parse(line) as { i: number; r: string; why?: string; ready?: true };
        if (!r.ready) { onResult(r.i, r); next = r.i + 1; }
        clearTimeout(timer);
        timer = setTimeout(onHang, o.timeoutMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (next >= to && code === 0) resolve({ next });
      else if (hung) resolve({ next: next + 1, failure: `hang: no result within ${o.timeoutMs} ms` });
      else resolve({ next: next + 1, failure: `the process died (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-6).join(' | ')}` });
    });
  });
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const o = { timeoutMs: 60_000, batch: 500, memoryMb: 4096, from: 0, ...opts };
  const tmp = mkdtempSync(join(tmpdir(), `mugpt-fuzz-${o.format}-`));
  const s: FuzzSummary = o.summary ?? { format: o.format, seed: o.seed, cases: 0, accepted: 0, refused: 0, failures: [] };
  const end = o.from + o.cases;
  try {
    for (let i = o.from; i < end;) {
      const to = Math.min(end, i + o.batch);
      const r = await runBatch(o, i, to, tmp, (k, res) => {
        s.cases++;
        if (res.r === 'ok') s.accepted++;
        else if (res.r === 'refused') s.refused++;
        else s.failures.push({ format: o.format, seed: o.seed, case: k, why: res.why ?? '' });
        o.onCase?.(s.cases);
      });
      if (r.failure) {
        s.cases++;
        s.failures.push({ format: o.format, seed: o.seed, case: r.next - 1, why: r.failure });
        o.onCase?.(s.cases);
      }
      i = r.next;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return s;
}
