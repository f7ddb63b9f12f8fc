// The WebAssembly build's pool (../pool_api.h, which kernels.inc and quant.inc call): a pool of Web
// Workers or worker_threads, each running worker_main on its own instance of the module over the one
// shared memory (runtime_wasm.cc), and scratch buffers from the module's heap.
#pragma once
#include <cstddef>

#include "../pool_api.h"

namespace mugpt {

/** The module's heap (runtime_wasm.cc): 64-byte aligned blocks; null when memory cannot grow. */
void* heap_alloc(size_t bytes);
void heap_free(void* p);

}  // namespace mugpt
