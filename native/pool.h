// A persistent thread pool and per-thread scratch buffers for the kernels.
//
// Workers are std::threads that spin briefly (≈50 µs) after a job, so the back-to-back kernel calls
// of one forward pass find them awake, then sleep on a condition variable: long busy-spinning
// threads fight Node's own threads for the 2 cores of a small machine. The calling thread takes
// part in every job as thread 0.
#pragma once
#include <chrono>
#include <cstddef>

namespace mugpt {

/** A task of a parallel job: fn(ctx, task index, thread index in [0, num_threads())). */
using TaskFn = void (*)(void* ctx, int task, int thread);

/** Threads that run a job, the caller included (MUGPT_THREADS, else all cores). */
int num_threads();

/** Runs fn for tasks 0 … ntasks−1 on the pool (dynamic assignment) and returns when all are done. */
void parallel_for(int ntasks, TaskFn fn, void* ctx);

/** Scratch buffers that kernels reuse between calls (64-byte aligned, grown on demand, never shrunk). */
enum ScratchKind { kScratchPackB = 0, kScratchPackA = 1, kScratchRow = 2, kScratchKv = 3, kScratchKinds = 4 };
float* scratch(ScratchKind kind, int thread, size_t floats);

/** Sets flush-to-zero and denormals-are-zero for this thread (x86), returning the previous state:
    softmax tails and ALiBi far from the diagonal make denormal floats, which cost ~100 cycles an
    operation. Their values are below 1.2e-38, far under float32 resolution of anything summed. */
unsigned denormals_off();
void restore_fp_state(unsigned state);

/** Runs a lambda over tasks; the lambda type is local to the including translation unit. */
template <class F>
inline void parallel(int ntasks, F& f) {
  parallel_for(ntasks, [](void* c, int t, int th) { (*static_cast<F*>(c))(t, th); }, &f);
}

/**
 * The microbenchmarks' timing loop: runs parallel(ntasks, f) at least min_runs times and until
 * `seconds` have passed, and returns the best rate, units_per_task · ntasks per second.
 */
template <class F>
inline double best_rate(int ntasks, F& f, double units_per_task, int min_runs, double seconds) {
  using clock = std::chrono::steady_clock;
  double best = 0, spent = 0;
  for (int run = 0; run < min_runs || spent < seconds; run++) {
    const auto t0 = clock::now();
    parallel(ntasks, f);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    spent += dt;
    best = units_per_task * ntasks / dt > best ? units_per_task * ntasks / dt : best;
  }
  return best;
}

}  // namespace mugpt
