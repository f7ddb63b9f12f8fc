// A persistent thread pool and per-thread scratch buffers for the kernels.
//
// Workers are std::threads that spin briefly (250 µs, pool.cc kSpin) after a job, so the back-to-back kernel
// calls of one forward pass, and the next decode step, find them awake, then sleep on a condition variable: long busy-spinning
// threads fight Node's own threads for the 2 cores of a small machine. The interface is pool_api.h.
#pragma once
#include <chrono>

#include "pool_api.h"

namespace mugpt {

/** Sets flush-to-zero and denormals-are-zero for this thread (x86), returning the previous state:
    softmax tails and ALiBi far from the diagonal make denormal floats, which cost ~100 cycles an
    operation. Their values are below 1.2e-38, far under float32 resolution of anything summed. */
unsigned denormals_off();
void restore_fp_state(unsigned state);

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
