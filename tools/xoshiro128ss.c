// Reference for src/rng.ts: xoshiro128** (Blackman & Vigna's C code) seeded with two
// splitmix64 outputs. Prints the first 8 outputs for the seeds the known-answer test uses.
// Build and run: cc -O2 -o /tmp/xo tools/xoshiro128ss.c && /tmp/xo
#include <stdint.h>
#include <stdio.h>

static uint64_t sm_state;
static uint64_t splitmix64(void) {
  uint64_t z = (sm_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint32_t s[4];
static inline uint32_t rotl(const uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static uint32_t next(void) {
  const uint32_t result = rotl(s[1] * 5, 7) * 9;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

int main(void) {
  const uint64_t seeds[] = {0, 42, 9007199254740991ULL};
  for (int k = 0; k < 3; k++) {
    sm_state = seeds[k];
    uint64_t a = splitmix64(), b = splitmix64();
    s[0] = (uint32_t)a; s[1] = (uint32_t)(a >> 32); s[2] = (uint32_t)b; s[3] = (uint32_t)(b >> 32);
    printf("%llu:", (unsigned long long)seeds[k]);
    for (int i = 0; i < 8; i++) printf(" %u", next());
    printf("\n");
  }
  return 0;
}
