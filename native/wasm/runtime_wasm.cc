// The WebAssembly module's runtime: a heap over linear memory, the thread pool behind parallel_for,
// and per-thread scratch buffers. Memory is shared between the module's instances (one per thread)
// when it is a shared WebAssembly.Memory; everything here is then guarded by atomics.
//
// Pool protocol (all words in linear memory): the caller writes the job, sets `active` to the number
// of workers taking part, bumps `generation` and wakes the waiters; each worker with an index below
// the job's thread count takes tasks from `next` until none is left, then decrements `active`; the
// caller takes tasks too and then waits for `active` to reach 0. Workers that are not up yet (a
// Worker starts asynchronously) are left out of the job, so a job never waits for a thread that
// cannot come.
#include <cstdint>

#include "pool_wasm.h"

extern "C" unsigned char __heap_base;

#define EXPORT(name) extern "C" __attribute__((export_name(name)))

namespace mugpt {
namespace {

constexpr int kMaxThreads = 64;
constexpr uint32_t kAlign = 64;  // block alignment: a cache line (the header takes one)

// ---- heap: first-fit over an implicit list of blocks [header 64 B | payload], merged lazily ----
struct Block {
  uint32_t size;  // bytes, header included; 0 marks the end
  uint32_t used;
};

int heap_lock = 0;
uint32_t heap_start = 0, heap_end = 0;  // blocks lie in [heap_start, heap_end)

void lock(int* l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
  }
}
void unlock(int* l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

inline Block* at(uint32_t a) { return reinterpret_cast<Block*>(static_cast<uintptr_t>(a)); }

// Grows memory so that [heap_end, heap_end + bytes) exists; false when the memory is at its maximum.
bool extend(uint32_t bytes) {
  const uint64_t need = (uint64_t)heap_end + bytes, have = (uint64_t)__builtin_wasm_memory_size(0) << 16;
  if (need > have && __builtin_wasm_memory_grow(0, (uint32_t)((need - have + 65535) >> 16)) == (uint32_t)-1) return false;
  return true;
}

// ---- pool ----
struct Pool {
  int generation;
  int active;
  int next;
  int ntasks;
  int job_threads;
  TaskFn fn;
  void* ctx;
  int threads;             // set_threads: threads a job may use
  int ready[kMaxThreads];  // worker i has entered worker_main
};
Pool pool;

void work(int thread) {
  for (;;) {
    const int t = __atomic_fetch_add(&pool.next, 1, __ATOMIC_RELAXED);
    if (t >= pool.ntasks) break;
    pool.fn(pool.ctx, t, thread);
  }
}

struct Buffer {
  float* data;
  size_t size;
};
Buffer buffers[kScratchKinds][kMaxThreads];

}  // namespace

void* heap_alloc(size_t bytes) {
  const uint32_t need = (uint32_t)((bytes + 2 * kAlign - 1) / kAlign * kAlign);  // payload rounded up + header
  if (bytes > 0xF0000000u) return nullptr;
  lock(&heap_lock);
  if (heap_start == 0) heap_start = heap_end = ((uint32_t)(uintptr_t)&__heap_base + kAlign - 1) / kAlign * kAlign;
  void* out = nullptr;
  for (uint32_t a = heap_start; a < heap_end; a += at(a)->size) {
    Block* b = at(a);
    if (b->used) continue;
    while (a + b->size < heap_end && !at(a + b->size)->used) b->size += at(a + b->size)->size;  // merge free neighbours
    if (b->size >= need) {
      if (b->size - need >= 2 * kAlign) {  // split off the rest
        Block* r = at(a + need);
        r->size = b->size - need;
        r->used = 0;
        b->size = need;
      }
      b->used = 1;
      out = reinterpret_cast<unsigned char*>(b) + kAlign;
      break;
    }
    if (a + b->size == heap_end) {  // the last block is free but short: grow it
      if (extend(need - b->size)) {
        heap_end += need - b->size;
        b->size = need;
        b->used = 1;
        out = reinterpret_cast<unsigned char*>(b) + kAlign;
      }
      unlock(&heap_lock);
      return out;
    }
  }
  if (!out && extend(need)) {
    Block* b = at(heap_end);
    b->size = need;
    b->used = 1;
    heap_end += need;
    out = reinterpret_cast<unsigned char*>(b) + kAlign;
  }
  unlock(&heap_lock);
  return out;
}

void heap_free(void* p) {
  if (!p) return;
  lock(&heap_lock);
  reinterpret_cast<Block*>(reinterpret_cast<unsigned char*>(p) - kAlign)->used = 0;
  unlock(&heap_lock);
}

int num_threads() { return pool.threads > 0 ? pool.threads : 1; }

void parallel_for(int ntasks, TaskFn fn, void* ctx) {
  if (ntasks <= 0) return;
  int n = 1;
  while (n < num_threads() && __atomic_load_n(&pool.ready[n], __ATOMIC_ACQUIRE)) n++;
  if (n == 1 || ntasks == 1) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  pool.fn = fn;
  pool.ctx = ctx;
  pool.ntasks = ntasks;
  pool.job_threads = n;
  __atomic_store_n(&pool.next, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&pool.active, n - 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&pool.generation, 1, __ATOMIC_SEQ_CST);
  __builtin_wasm_memory_atomic_notify(&pool.generation, (unsigned)(n - 1));
  work(0);
  // the workers finish their last task shortly: spin a while, then sleep until the last one wakes us
  for (int i = 0;; i++) {
    const int a = __atomic_load_n(&pool.active, __ATOMIC_ACQUIRE);
    if (a == 0) break;
    if (i > 20000) __builtin_wasm_memory_atomic_wait32(&pool.active, a, -1);
  }
}

float* scratch(ScratchKind kind, int thread, size_t floats) {
  Buffer& b = buffers[kind][thread];
  if (b.size < floats) {
    heap_free(b.data);
    b.data = static_cast<float*>(heap_alloc(floats * sizeof(float)));
    if (!b.data) __builtin_trap();  // out of memory: the JS side reports it
    b.size = floats;
  }
  return b.data;
}

}  // namespace mugpt

using namespace mugpt;

EXPORT("heap_alloc") void* wasm_heap_alloc(size_t bytes) { return heap_alloc(bytes); }
EXPORT("heap_free") void wasm_heap_free(void* p) { heap_free(p); }
/** Bytes from the heap's start to its end (what the module has taken from memory). */
EXPORT("heap_used") uint32_t wasm_heap_used() { return heap_end - heap_start; }

/** Threads a job may use (the caller included), at most 64. */
EXPORT("set_threads") void wasm_set_threads(int n) { pool.threads = n < 1 ? 1 : n > kMaxThreads ? kMaxThreads : n; }

/**
 * A worker's loop (never returns): thread index `thread` ≥ 1 on its own instance, whose stack the
 * caller has placed. Spins briefly after each job, so back-to-back kernel calls find it awake.
 */
EXPORT("worker_main") void wasm_worker_main(int thread) {
  int seen = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE);
  __atomic_store_n(&pool.ready[thread], 1, __ATOMIC_RELEASE);
  for (;;) {
    int g;
    for (int i = 0; (g = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE)) == seen; i++)
      if (i > 20000) __builtin_wasm_memory_atomic_wait32(&pool.generation, seen, -1);
    seen = g;
    if (thread >= pool.job_threads) continue;
    work(thread);
    if (__atomic_fetch_sub(&pool.active, 1, __ATOMIC_ACQ_REL) == 1) __builtin_wasm_memory_atomic_notify(&pool.active, 1);
  }
}
