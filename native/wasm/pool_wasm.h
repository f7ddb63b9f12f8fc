// The WebAssembly build's stand-in for ../pool.h (same declarations, which kernels.inc and quant.inc
// call): a pool of Web Workers or worker_threads, each running worker_main on its own instance of the
// module over the one shared memory (runtime_wasm.cc), and scratch buffers from the module's heap.
#pragma once
#include <cstddef>

namespace mugpt {

/** A task of a parallel job: fn(ctx, task index, thread index in [0, num_threads())). */
using TaskFn = void (*)(void* ctx, int task, int thread);

/** Threads a job may use, the caller included (set_threads; 1 without shared memory). */
int num_threads();

/** Runs fn for tasks 0 … ntasks−1 on the workers that are up (dynamic assignment), the caller included. */
void parallel_for(int ntasks, TaskFn fn, void* ctx);

enum ScratchKind { kScratchPackB = 0, kScratchPackA = 1, kScratchRow = 2, kScratchKv = 3, kScratchKinds = 4 };
/** Scratch buffers that kernels reuse between calls (64-byte aligned, grown on demand, never shrunk). */
float* scratch(ScratchKind kind, int thread, size_t floats);

template <class F>
inline void parallel(int ntasks, F& f) {
  parallel_for(ntasks, [](void* c, int t, int th) { (*static_cast<F*>(c))(t, th); }, &f);
}

/** The module's heap (runtime_wasm.cc): 64-byte aligned blocks; null when memory cannot grow. */
void* heap_alloc(size_t bytes);
void heap_free(void* p);

}  // namespace mugpt
