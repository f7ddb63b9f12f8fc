// The WebAssembly kernels' runtime, the same in Node and in browsers: one module (native/wasm/, built
// by native/wasm/build.sh) instantiated over one memory, its heap, and its pool of worker threads.
//
// Threads need a shared memory (a SharedArrayBuffer: always in Node, only in cross-origin isolated
// pages): each worker instantiates the module over that memory with its own stack and runs the
// module's worker loop (native/wasm/runtime_wasm.cc). Without one the module runs on the calling
// thread alone over a plain memory of fixed size (growing a plain memory would detach every view of
// it that a model holds).
import { MugptError } from '../errors.js';

/** The module's exports (pointers are byte offsets into memory). */
export interface WasmExports {
  __stack_pointer: WebAssembly.Global;
  heap_alloc(bytes: number): number;
  heap_free(ptr: number): void;
  heap_used(): number;
  set_threads(n: number): void;
  worker_main(thread: number): void;
  gemm(tA: number, tB: number, M: number, N: number, K: number, alpha: number, A: number, B: number, beta: number, C: number): void;
  linear(out: number, x: number, W: number, bias: number, M: number, K: number, N: number): void;
  layer_norm(out: number, x: number, w: number, b: number, M: number, D: number, eps: number, mean: number, rstd: number): void;
  gelu(out: number, x: number, n: number, kind: number): void;
  swiglu(out: number, a: number, g: number, n: number): void;
  attention(out: number, q: number, qStride: number, k: number, v: number, kvStride: number, Tq: number, Tk: number,
    H: number, d: number, scale: number, slopes: number, probs: number): void;
  attention_f16(out: number, q: number, qStride: number, k: number, v: number, kvStride: number, kNew: number, vNew: number,
    newStride: number, Tq: number, Tk: number, H: number, d: number, scale: number, slopes: number): void;
  attention_q8(out: number, q: number, qStride: number, k: number, v: number, kScale: number, vScale: number, kvStride: number,
    Tq: number, Tk: number, H: number, d: number, scale: number, slopes: number): void;
  quantize_heads(q: number, scale: number, x: number, H: number, d: number): void;
  /** x4: W in the x4 layout (native/wasm/quant_wasm.inc), else GGUF's rows. */
  qlinear(out: number, x: number, W: number, type: number, N: number, K: number, bias: number, M: number, alpha: number, accumulate: number,
    x4: number): void;
  /** qlinear of x by two [N, K] matrices (alpha 1, no accumulation) in one parallel job. */
  qlinear_pair(outA: number, outB: number, x: number, WA: number, typeA: number, x4A: number, biasA: number, WB: number, typeB: number,
    x4B: number, biasB: number, N: number, K: number, M: number): void;
  /** W [N, K/32 blocks] from the rows layout to x4, in place. */
  qpack_x4(W: number, type: number, N: number, K: number): void;
  qrow(out: number, W: number, type: number, N: number, K: number, r: number, x4: number): void;
  layer_norm_backward(dx: number, dw: number, db: number, dout: number, x: number, mean: number, rstd: number, w: number, M: number, D: number): void;
  gelu_backward(dx: number, x: number, dout: number, n: number, kind: number): void;
  swiglu_backward(da: number, dg: number, a: number, g: number, dout: number, n: number): void;
  softmax_xent(logits: number, targets: number, M: number, V: number, gradScale: number, rowLoss: number): number;
  attention_backward(dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number, qStride: number,
    kvStride: number, probs: number, T: number, H: number, d: number, scale: number): void;
}

/** What a worker needs to join the pool (structured-cloneable: Node's workerData, a Web Worker message). */
export interface WasmWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  thread: number;
  /** Top of the worker's stack (it grows down), a block of the module's heap. */
  stackTop: number;
}

export interface WasmRuntimeOptions {
  /** mugpt-simd-threads.wasm with a shared memory, mugpt-simd.wasm with a plain one. */
  module: WebAssembly.Module;
  shared: boolean;
  /** Threads of a job, the caller included (1 without a shared memory). */
  threads: number;
  /** A plain memory's fixed size in bytes (default 1 GiB). */
  plainBytes?: number;
  /** Starts a worker (a worker_thread or a Web Worker) that calls runWasmWorker(init). */
  startWorker?: (init: WasmWorkerInit) => void;
}

const PAGE = 65536;
const INITIAL_PAGES = 64; // above the module's static data and 1 MiB main stack
const WORKER_STACK = 256 * 1024;

/** The module instantiated over one memory, with its heap and threads. */
export class WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly exports: WasmExports;
  readonly shared: boolean;
  readonly threads: number;
  /** Every ArrayBuffer object views of the memory were made on (a shared memory's grows to new objects). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(opts: WasmRuntimeOptions) {
    this.shared = opts.shared;
    this.threads = opts.shared ? Math.max(1, Math.min(64, Math.floor(opts.threads))) : 1;
    if (opts.shared) {
      this.memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: 65536, shared: true });
    } else {
      const pages = Math.max(INITIAL_PAGES, Math.ceil((opts.plainBytes ?? 2 ** 30) / PAGE));
      this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    }
    const instance = new WebAssembly.Instance(opts.module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as WasmExports;
    this.exports.set_threads(this.threads);
    for (let t = 1; t < this.threads && opts.startWorker; t++) {
      const stack = this.alloc(WORKER_STACK);
      opts.startWorker({ module: opts.module, memory: this.memory, thread: t, stackTop: stack + WORKER_STACK });
    }
  }

  /** The memory's current bytes (a new object after a shared memory grows; views of older ones stay valid). */
  buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  /** True when a view lies in this memory (kernels then read it in place). */
  owns(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer) || view.buffer === this.memory.buffer;
  }

  /** A 64-byte aligned block of the heap; a MugptError when the memory is full. */
  alloc(bytes: number): number {
    const p = this.exports.heap_alloc(Math.max(1, bytes));
    if (p === 0) {
      throw new MugptError(`wasm kernels: out of WebAssembly memory: ${bytes} more bytes do not fit ` +
        `(${this.exports.heap_used()} in use of at most ${this.shared ? 4 * 2 ** 30 : this.memory.buffer.byteLength}); ` +
        'use a smaller or quantized model');
    }
    return p;
  }

  free(ptr: number): void {
    this.exports.heap_free(ptr);
  }

  /** Bytes the heap has taken from memory. */
  get heapBytes(): number {
    return this.exports.heap_used() >>> 0;
  }
}

/** A worker's body: the module over the shared memory, on its own stack, in the pool's loop (never returns). */
export function runWasmWorker(init: WasmWorkerInit): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const ex = instance.exports as unknown as WasmExports;
  ex.__stack_pointer.value = init.stackTop;
  ex.worker_main(init.thread);
}
