// See checksum.h.
#include "checksum.h"

#include <algorithm>
#include <cstring>

namespace mugpt {

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL;
constexpr size_t kChunk = size_t(1) << 20;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// XXH64's round: a lane absorbs one 64-bit word.
inline uint64_t xxh_round(uint64_t acc, uint64_t w) { return rotl(acc + w * P2, 31) * P1; }

inline uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

uint64_t load64(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);  // little-endian hosts: the bytes in file order
  return w;
}

// One chunk: four lanes over 32-byte stripes, the tail a word then a byte at a time, its length mixed in.
uint64_t chunk_hash(const uint8_t* p, size_t n) {
  uint64_t a[4] = {P1 + P2, P2, 0, 0 - P1};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 4; l++) a[l] = xxh_round(a[l], load64(p + i + 8 * l));
  uint64_t h = rotl(a[0], 1) + rotl(a[1], 7) + rotl(a[2], 12) + rotl(a[3], 18) + n;
  for (; i + 8 <= n; i += 8) h = rotl(h ^ xxh_round(0, load64(p + i)), 27) * P1 + P3;
  for (; i < n; i++) h = rotl(h ^ (p[i] * P3), 11) * P1;
  return avalanche(h);
}

}  // namespace

ChecksumJob::ChecksumJob(std::vector<const uint8_t*> p, std::vector<size_t> n, int threads)
    : p_(std::move(p)), n_(std::move(n)), first_(n_.size() + 1, 0) {
  for (size_t i = 0; i < n_.size(); i++) first_[i + 1] = first_[i] + (n_[i] + kChunk - 1) / kChunk;
  h_.resize(first_.back());
  for (int t = 0; t < threads; t++) threads_.emplace_back([this] { work(); });
}

ChecksumJob::~ChecksumJob() {
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

// Chunks in file order, each to the next free thread.
void ChecksumJob::work() {
  for (size_t t; (t = next_.fetch_add(1)) < h_.size();) {
    const size_t i = std::upper_bound(first_.begin(), first_.end(), t) - first_.begin() - 1;
    const size_t begin = (t - first_[i]) * kChunk;
    h_[t] = chunk_hash(p_[i] + begin, n_[i] - begin < kChunk ? n_[i] - begin : kChunk);
  }
}

void ChecksumJob::cancel() { next_.store(h_.size()); }

std::vector<uint64_t> ChecksumJob::wait() {
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  std::vector<uint64_t> out(n_.size());
  for (size_t i = 0; i < n_.size(); i++) {
    uint64_t total = P3 + n_[i];
    for (size_t c = first_[i]; c < first_[i + 1]; c++) total = rotl(total ^ h_[c], 27) * P1 + P2;
    out[i] = avalanche(total);
  }
  return out;
}

}  // namespace mugpt
