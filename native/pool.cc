// Thread pool and scratch buffers (see pool.h).
#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
static inline unsigned get_fp_state() { return _mm_getcsr(); }
static inline void set_fp_state(unsigned s) { _mm_setcsr(s); }
static const unsigned kFtzDaz = 0x8040;  // MXCSR flush-to-zero (bit 15) | denormals-are-zero (bit 6)
#else
static inline void cpu_relax() {}
static inline unsigned get_fp_state() { return 0; }
static inline void set_fp_state(unsigned) {}
static const unsigned kFtzDaz = 0;
#endif

namespace mugpt {
namespace {

// How long an idle worker stays awake: past the JavaScript between two decode steps (sampling over the
// vocabulary, the logits copied out of a plan: 50–80 µs), so a step's first product does not wait for the
// workers to wake (measured against 50 µs, in one process with tokens alternating: 111M Q4_0 ×1.04–×1.06,
// Q8_0 ×1.02, F32 ×1.01, BTLM-3B Q4_0 ×0.99–×1.01).
constexpr auto kSpin = std::chrono::microseconds(250);

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    for (int i = 1; i < n_; i++) workers_.emplace_back([this, i] { loop(i); });
  }

  int size() const { return n_; }

  void run(int ntasks, TaskFn fn, void* ctx) {
    if (ntasks <= 0) return;
    if (n_ == 1 || ntasks == 1) {
      for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    ntasks_ = ntasks;
    next_.store(0, std::memory_order_relaxed);
    active_.store(n_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(m_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work(0);
    // The workers finish their last task shortly; spin, yielding if the machine is oversubscribed.
    for (int i = 0; active_.load(std::memory_order_acquire) != 0; i++) {
      if (i < 4096) cpu_relax();
      else std::this_thread::yield();
    }
  }

 private:
  void work(int thread) {
    for (;;) {
      int t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= ntasks_) break;
      fn_(ctx_, t, thread);
    }
  }

  void loop(int thread) {
    denormals_off();  // workers run nothing but kernels
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      if (g == seen) {
        auto until = std::chrono::steady_clock::now() + kSpin;
        for (int i = 0; (g = generation_.load(std::memory_order_acquire)) == seen; i++) {
          cpu_relax();
          if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) break;
        }
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      work(thread);
      active_.fetch_sub(1, std::memory_order_release);
    }
  }

  int n_;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int ntasks_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> active_{0};
};

int threads_from_env() {
  const char* s = std::getenv("MUGPT_THREADS");
  int n = s ? std::atoi(s) : 0;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  return n > 64 ? 64 : n;
}

// Created on first use and never destroyed: the workers sleep until the process exits, and a
// destructor joining them at exit would only add a way to hang.
Pool& pool() {
  static Pool* p = new Pool(threads_from_env());
  return *p;
}

struct Buffer {
  float* data = nullptr;
  size_t size = 0;
};
Buffer buffers[kScratchKinds][64];

}  // namespace

int num_threads() { return pool().size(); }

unsigned denormals_off() {
  const unsigned old = get_fp_state();
  set_fp_state(old | kFtzDaz);
  return old;
}

void restore_fp_state(unsigned state) { set_fp_state(state); }

void parallel_for(int ntasks, TaskFn fn, void* ctx) { pool().run(ntasks, fn, ctx); }

float* scratch(ScratchKind kind, int thread, size_t floats) {
  Buffer& b = buffers[kind][thread];
  if (b.size < floats) {
    std::free(b.data);
    size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    b.data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!b.data) std::abort();
    b.size = floats;
  }
  return b.data;
}

}  // namespace mugpt
