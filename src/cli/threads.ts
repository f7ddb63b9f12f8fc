// `--threads N` for the commands that compute: the size of the native kernels' thread pool (and of a
// command's worker pool where it has one). The pool reads MUGPT_THREADS when it starts, before the
// first kernel runs, so the flag sets that variable for this process: `--threads` is the flag form of
// MUGPT_THREADS, and wins over it.
import type { Command } from 'commander';
import { check } from '../errors.js';

/** Most threads the native pool runs (native/pool.cc caps there). */
export const MAX_THREADS = 64;

/** Parses a --threads value: an integer in [1, MAX_THREADS]. */
export function parseThreads(v: string, flag = '--threads'): number {
  const n = Number(v);
  check(/^\s*\d+\s*$/.test(v) && n >= 1 && n <= MAX_THREADS, `${flag}: expected an integer from 1 to ${MAX_THREADS}, got '${v}'`);
  return n;
}

/** Adds `--threads <n>` to cmd; before its action runs, the value becomes MUGPT_THREADS. */
export function threadsOption(cmd: Command, what = 'threads the kernels run on (default: $MUGPT_THREADS, else all cores)'): Command {
  return cmd
    .option('--threads <n>', what)
    .hook('preAction', (c) => {
      const v = c.opts<{ threads?: string }>().threads;
      if (v !== undefined) process.env.MUGPT_THREADS = String(parseThreads(v));
    });
}
