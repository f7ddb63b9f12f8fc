// A 64-bit checksum of a byte range, computed on the thread pool: what a cache file of converted
// weights (src/gguf/layout-cache.ts) records of its contents and checks when it is read back.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mugpt {

/**
 * The checksum of p[0, n): each 1 MiB chunk is hashed with XXH64's round and avalanche (Collet,
 * xxHash spec: github.com/Cyan4973/xxHash doc/xxhash_spec.md) on four 64-bit lanes, and the chunk
 * hashes are folded in order, so the value does not depend on the number of threads. It detects
 * corruption and truncation; it is not a cryptographic hash and not XXH64's value.
 */
uint64_t checksum(const uint8_t* p, size_t n);

/** out[i] = checksum(p[i], n[i]) for count ranges, in one job on the pool (all their chunks in parallel). */
void checksums(const uint8_t* const* p, const size_t* n, int count, uint64_t* out);

}  // namespace mugpt
