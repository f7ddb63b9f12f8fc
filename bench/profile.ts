// Per-kernel timing for the benchmarks: wraps every method of a Kernels object with a timer, in
// place (the model holds the same object), so the library runs unchanged; unwrapped again while off.
// Kernels are synchronous, so wall time between entry and return is the kernel's time (all its threads
// included).
import type { Kernels } from '../src/kernels/kernels.js';

export interface KernelTime { kernel: string; calls: number; ms: number }

/** Matrix kernels are told apart by their K×N (which layer's matrix); the rest by name. */
function label(name: string, a: unknown[]): string {
  if (name === 'linear') return `linear ${String(a[5])}x${String(a[6])}`;
  if (name === 'qlinear') {
    const W = a[2] as { type: string; N: number; K: number };
    return `qlinear ${W.type} ${W.K}x${W.N}`;
  }
  if (name === 'qlinearPair') {
    const [A, B] = a.slice(3, 5) as Array<{ type: string; N: number; K: number }>;
    return `qlinearPair ${A.type}+${B.type} ${A.K}x${A.N}`;
  }
  if (name === 'gemm') return `gemm ${String(a[4])}x${String(a[3])}${a[0] ? ' At' : ''}${a[1] ? ' Bt' : ''}`;
  return name;
}

export class KernelProfiler {
  private readonly acc = new Map<string, { calls: number; ns: bigint }>();
  /** The kernels' own methods, and the timing wrappers around them, by name. */
  private readonly own = new Map<string, unknown>();
  private readonly timed = new Map<string, unknown>();
  private on = false;

  constructor(private readonly k: Kernels) {
    const obj = k as unknown as Record<string, unknown>;
    for (const name of Object.keys(obj)) {
      const fn = obj[name];
      if (typeof fn !== 'function') continue;
      const f = fn as (...a: unknown[]) => unknown;
      this.own.set(name, f);
      if (name === 'record') {
        // while timing, no plans (Kernels.record): a replayed plan would run the kernels past the timers
        this.timed.set(name, undefined);
        continue;
      }
      this.timed.set(name, (...args: unknown[]): unknown => {
        if (!this.on) return f.apply(k, args); // a wrapper bound while timing was on (Kernels.populate in a cache)
        const t0 = process.hrtime.bigint();
        try {
          return f.apply(k, args);
        } finally {
          const key = label(name, args);
          const e = this.acc.get(key) ?? { calls: 0, ns: 0n };
          e.calls++;
          e.ns += process.hrtime.bigint() - t0;
          this.acc.set(key, e);
        }
      });
    }
    this.enabled = true;
  }

  /**
   * Timing on: the kernels object holds the timing wrappers. Off: it holds its own methods again, so the
   * library calls them as a user's program does (a wrapper costs a few µs a call with cold caches).
   */
  get enabled(): boolean { return this.on; }
  set enabled(on: boolean) {
    const obj = this.k as unknown as Record<string, unknown>;
    for (const [name, f] of on ? this.timed : this.own) obj[name] = f;
    this.on = on;
  }

  reset(): void { this.acc.clear(); }

  /** Kernel times since the last reset, largest first. */
  snapshot(): KernelTime[] {
    return [...this.acc].map(([kernel, e]) => ({ kernel, calls: e.calls, ms: Number(e.ns) / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }
}

/** "linear 61% (812 ms), attention 20% …, other (JS between kernels) 3%" for a phase of `totalMs`. */
export function profileLine(times: KernelTime[], totalMs: number, top = 5): string {
  const inKernels = times.reduce((s, t) => s + t.ms, 0);
  const parts = times.slice(0, top).map((t) => `${t.kernel} ${((100 * t.ms) / totalMs).toFixed(0)}% (${t.ms.toFixed(0)} ms, ${t.calls} calls)`);
  parts.push(`outside kernels ${((100 * (totalMs - inKernels)) / totalMs).toFixed(0)}%`);
  return parts.join(', ');
}
