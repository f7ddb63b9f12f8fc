// 64-bit checksums of byte ranges: what a cache file of converted weights (src/gguf/layout-cache.ts)
// records of its contents and checks when it is read back.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace mugpt {

/**
 * The checksums of count ranges, computed on threads of their own (not the pool) from construction on,
 * so the caller works meanwhile: from a cold page cache the job is what reads the ranges from the disk.
 * A range's checksum: each 1 MiB chunk is hashed with XXH64's round and avalanche (Collet, xxHash spec:
 * github.com/Cyan4973/xxHash doc/xxhash_spec.md) on four 64-bit lanes, and the chunk hashes are folded
 * in order, so the value does not depend on the number of threads. It detects corruption and
 * truncation; it is neither cryptographic nor XXH64's value. The ranges must stay readable until
 * wait() returns (the destructor waits too).
 */
class ChecksumJob {
 public:
  ChecksumJob(std::vector<const uint8_t*> p, std::vector<size_t> n, int threads);
  ~ChecksumJob();
  /** Waits for the job: the checksum of each range. */
  std::vector<uint64_t> wait();
  /** Stops the job after the chunks being hashed (wait() then returns at once, with meaningless values). */
  void cancel();

 private:
  void work();
  std::vector<const uint8_t*> p_;
  std::vector<size_t> n_, first_;  // range i's chunks are tasks first_[i] … first_[i+1]−1
  std::vector<uint64_t> h_;
  std::atomic<size_t> next_{0};
  std::vector<std::thread> threads_;
};

}  // namespace mugpt
