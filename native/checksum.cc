// See checksum.h.
#include "checksum.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "pool.h"

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

void checksums(const uint8_t* const* p, const size_t* n, int count, uint64_t* out) {
  std::vector<size_t> first(count + 1, 0);  // range i's chunks are tasks first[i] … first[i+1]−1
  for (int i = 0; i < count; i++) first[i + 1] = first[i] + (n[i] + kChunk - 1) / kChunk;
  std::vector<uint64_t> h(first[count]);
  auto f = [&](int t, int) {
    const int i = (int)(std::upper_bound(first.begin(), first.end(), (size_t)t) - first.begin()) - 1;
    const size_t begin = ((size_t)t - first[i]) * kChunk;
    h[t] = chunk_hash(p[i] + begin, n[i] - begin < kChunk ? n[i] - begin : kChunk);
  };
  parallel((int)first[count], f);
  for (int i = 0; i < count; i++) {
    uint64_t total = P3 + n[i];
    for (size_t c = first[i]; c < first[i + 1]; c++) total = rotl(total ^ h[c], 27) * P1 + P2;
    out[i] = avalanche(total);
  }
}

uint64_t checksum(const uint8_t* p, size_t n) {
  uint64_t h;
  checksums(&p, &n, 1, &h);
  return h;
}

}  // namespace mugpt
