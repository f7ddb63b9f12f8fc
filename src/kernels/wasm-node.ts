// The WebAssembly backend in Node: native/wasm/mugpt-simd-threads.wasm of this package over a shared
// memory, with a pool of worker_threads (MUGPT_THREADS, else every core). The workers are unref'd:
// they never keep the process alive.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MugptError } from '../errors.js';
import type { Kernels } from './kernels.js';
import { wasmKernels } from './wasm.js';
import { WasmRuntime, type WasmWorkerInit } from './wasm-runtime.js';

/** The built module files (native/wasm/build.sh writes them; the package ships them). */
export function wasmFile(variant: 'simd-threads' | 'simd'): string {
  return fileURLToPath(new URL(`../../../native/wasm/mugpt-${variant}.wasm`, import.meta.url));
}

// The worker's body: runWasmWorker (wasm-runtime.ts) inlined, as an eval'd CommonJS worker has no module graph.
const WORKER = `
const { workerData: w } = require('node:worker_threads');
const i = new WebAssembly.Instance(w.module, { env: { memory: w.memory } });
i.exports.__stack_pointer.value = w.stackTop;
i.exports.worker_main(w.thread);
`;

function threadsFromEnv(): number {
  const s = process.env.MUGPT_THREADS;
  if (s === undefined || s === '') return availableParallelism();
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new MugptError(`MUGPT_THREADS: expected a positive integer, got '${s}'`);
  return Math.min(n, 64);
}

let runtime: WasmRuntime | null = null;

/** The Node WebAssembly runtime, created on first use. */
export function nodeWasmRuntime(): WasmRuntime {
  if (runtime) return runtime;
  const file = wasmFile('simd-threads');
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new MugptError(`wasm kernels: cannot read ${file} (${(e as Error).message}); rebuild it with 'sh native/wasm/build.sh'`);
  }
  runtime = new WasmRuntime({
    module: new WebAssembly.Module(bytes),
    shared: true,
    threads: threadsFromEnv(),
    startWorker: (init: WasmWorkerInit) => new Worker(WORKER, { eval: true, workerData: init }).unref(),
  });
  return runtime;
}

let kernels: Kernels | null = null;

export function nodeWasmKernels(): Kernels {
  kernels ??= wasmKernels(nodeWasmRuntime());
  return kernels;
}
