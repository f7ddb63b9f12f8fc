// The thread pool and scratch buffers as the kernel drivers (kernels.inc, quant.inc) call them, for
// both implementations: pool.cc (std::threads, the native addon) and wasm/runtime_wasm.cc (Web Workers
// or worker_threads on one shared WebAssembly memory). The calling thread takes part in every job as
// thread 0.
#pragma once
#include <cstddef>

namespace mugpt {

/** A task of a parallel job: fn(ctx, task index, thread index in [0, num_threads())). */
using TaskFn = void (*)(void* ctx, int task, int thread);

/** Threads a job may use, the caller included (native: MUGPT_THREADS, else all cores; WebAssembly:
    set_threads, 1 without a shared memory). */
int num_threads();

/** Runs fn for tasks 0 … ntasks−1 on the pool (dynamic assignment) and returns when all are done. */
void parallel_for(int ntasks, TaskFn fn, void* ctx);

/** Scratch buffers that kernels reuse between calls (64-byte aligned, grown on demand, never shrunk). */
enum ScratchKind { kScratchPackB = 0, kScratchPackA = 1, kScratchRow = 2, kScratchKv = 3, kScratchKinds = 4 };
float* scratch(ScratchKind kind, int thread, size_t floats);

/** Runs a lambda over tasks; the lambda type is local to the including translation unit. */
template <class F>
inline void parallel(int ntasks, F& f) {
  parallel_for(ntasks, [](void* c, int t, int th) { (*static_cast<F*>(c))(t, th); }, &f);
}

}  // namespace mugpt
