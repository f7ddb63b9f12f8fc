// The x16 layout of quantized matrices (see quant.h): packing (in place or into new memory), and reading one row back.
// Plain C++ and SSE2 (the x86-64 baseline): it runs once at load (packing) or for one row per token (an embedding lookup).
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "pool.h"
#include "quant.h"

namespace mugpt {

namespace {

// Group block dst (16 rows of block b) from the 16 rows at src (rows layout). Q8_0: step t is bytes
// 4t … 4t+3 of the block, each + 128 (= xor 0x80 on the int8). Q4_0: with qs the 16 stored bytes (element
// j in the low nibble of qs[j], j + 16 in the high one), step t < 2 pairs the low nibbles of qs[8t+c] and
// qs[8t+4+c], step t + 2 their high nibbles.
void pack_block(int type, const uint8_t* src, long row_bytes, int b, uint8_t* dst) {
  const long bb = qblock_bytes(type);
  for (int i = 0; i < QG; i++) {
    const uint8_t* blk = src + i * row_bytes + b * bb;
    const uint8_t* qs = blk + 2;
    dst[2 * i] = blk[0];
    dst[2 * i + 1] = blk[1];
    uint8_t* out = dst + 32 + i * 4;
    if (type == kQ8) {
      for (int t = 0; t < 8; t++)
        for (int c = 0; c < 4; c++) out[t * 64 + c] = qs[4 * t + c] ^ 0x80;
    } else {
      for (int t = 0; t < 2; t++)
        for (int c = 0; c < 4; c++) {
          const uint8_t lo = qs[8 * t + c], hi = qs[8 * t + 4 + c];
          out[t * 64 + c] = (uint8_t)((lo & 0x0f) | (hi << 4));
          out[(t + 2) * 64 + c] = (uint8_t)((lo >> 4) | (hi & 0xf0));
        }
    }
  }
}

#if defined(__SSE2__)
// Four rows' 4-byte slices a_r = [s0, s1, s2, s3] (one dword per step) → for each step s, the 16 bytes
// [a_0.s, a_1.s, a_2.s, a_3.s] at out + s·64: rows i … i+3 of steps s0 … s3 in the x16 layout.
inline void store_steps(__m128i a0, __m128i a1, __m128i a2, __m128i a3, uint8_t* out) {
  const __m128i l01 = _mm_unpacklo_epi32(a0, a1), l23 = _mm_unpacklo_epi32(a2, a3);
  const __m128i h01 = _mm_unpackhi_epi32(a0, a1), h23 = _mm_unpackhi_epi32(a2, a3);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi64(l01, l23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 64), _mm_unpackhi_epi64(l01, l23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 128), _mm_unpacklo_epi64(h01, h23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 192), _mm_unpackhi_epi64(h01, h23));
}

// pack_block with SSE2, four rows at a time (the same bytes).
void pack_block_sse2(int type, const uint8_t* src, long row_bytes, int b, uint8_t* dst) {
  const long bb = qblock_bytes(type);
  for (int i = 0; i < QG; i++) std::memcpy(dst + 2 * i, src + i * row_bytes + b * bb, 2);
  const __m128i flip = _mm_set1_epi8((char)0x80), low = _mm_set1_epi8(0x0f), high = _mm_set1_epi8((char)0xf0);
  for (int i = 0; i < QG; i += 4) {
    __m128i a[4], h[4];
    for (int r = 0; r < 4; r++) {
      const uint8_t* qs = src + (i + r) * row_bytes + b * bb + 2;
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
      if (type == kQ8) {  // steps 0…3 and 4…7: the block's dwords, flipped to unsigned
        a[r] = _mm_xor_si128(q, flip);
        h[r] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16)), flip);
      } else {  // dwords 0, 2 hold qs[8t+c], dwords 1, 3 qs[8t+4+c]: steps 0, 1 from their low nibbles, 2, 3 from the high
        const __m128i lo = _mm_shuffle_epi32(q, _MM_SHUFFLE(2, 0, 2, 0)), hi = _mm_shuffle_epi32(q, _MM_SHUFFLE(3, 1, 3, 1));
        const __m128i steps01 = _mm_or_si128(_mm_and_si128(lo, low), _mm_slli_epi16(_mm_and_si128(hi, low), 4));
        const __m128i steps23 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(lo, 4), low), _mm_and_si128(hi, high));
        a[r] = _mm_unpacklo_epi64(steps01, steps23);
      }
    }
    store_steps(a[0], a[1], a[2], a[3], dst + 32 + i * 4);
    if (type == kQ8) store_steps(h[0], h[1], h[2], h[3], dst + 32 + 4 * 64 + i * 4);
  }
}
#endif

}  // namespace

void qpack_x16(uint8_t* dst, const uint8_t* src, int type, int N, int K, bool simd) {
  const int nb = K / QK, groups = N / QG;
  const long bb = qblock_bytes(type), row_bytes = nb * bb, group_bytes = QG * row_bytes;
  auto f = [&](int g, int) {
    const uint8_t* rows = src + g * group_bytes;
    std::vector<uint8_t> copy;
    if (dst == src) {  // in place: the group's rows are read from a copy while they are rewritten
      copy.assign(rows, rows + group_bytes);
      rows = copy.data();
    }
    uint8_t* out = dst + g * group_bytes;
#if defined(__SSE2__)
    if (simd) {
      for (int b = 0; b < nb; b++) pack_block_sse2(type, rows, row_bytes, b, out + b * QG * bb);
      return;
    }
#endif
    for (int b = 0; b < nb; b++) pack_block(type, rows, row_bytes, b, out + b * QG * bb);
  };
  parallel(groups, f);
  if (dst != src) std::memcpy(dst + groups * group_bytes, src + groups * group_bytes, (N - groups * QG) * row_bytes);
}

void qrow(float* out, const uint8_t* W, int type, int N, int K, int r, bool x16) {
  const int nb = K / QK;
  const long bb = qblock_bytes(type), row_bytes = nb * bb;
  if (!x16 || r >= N / QG * QG) return dequantize_row(out, W + r * row_bytes, type, nb);
  const int g = r / QG, i = r % QG, off = x16_offset(type);
  for (int b = 0; b < nb; b++) {
    const uint8_t* blk = W + g * QG * row_bytes + b * QG * bb;
    const float d = half_to_float((uint16_t)(blk[2 * i] | (blk[2 * i + 1] << 8)));
    float* o = out + b * QK;
    if (type == kQ8) {
      for (int t = 0; t < 8; t++)
        for (int c = 0; c < 4; c++) o[4 * t + c] = (float)(blk[32 + t * 64 + i * 4 + c] - off) * d;
    } else {
      for (int t = 0; t < 4; t++)
        for (int c = 0; c < 4; c++) {
          const uint8_t v = blk[32 + t * 64 + i * 4 + c];
          o[8 * t + c] = (float)((v & 0x0f) - off) * d;
          o[8 * t + 4 + c] = (float)((v >> 4) - off) * d;
        }
    }
  }
}

}  // namespace mugpt
