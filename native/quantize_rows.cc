// Float rows to GGUF blocks at load (quant.h's quantize_rows): ggml's reference quantizer, bit for bit
// with src/quant/blocks.ts. This file is compiled without FMA, so x·id + 8.5 is two roundings as in
// JS, and the AVX2 path is a target attribute without FMA either: no product is ever fused into an add.
#include <cmath>
#include <cstring>
#include <vector>

#include "pool.h"
#include "quant.h"

#if defined(MUGPT_HAVE_AVX2)
#include <immintrin.h>
#endif

namespace mugpt {

namespace {

// Every half's float value (256 KiB, made once): a lookup instead of half_to_float's branches per weight.
const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (int h = 0; h < 65536; h++) t[h] = half_to_float((uint16_t)h);
    return t;
  }();
  return table.data();
}

// The n ≤ 32 inputs k0 … k0+n−1 of row r as floats, zero-padded to a block.
void block_inputs(float* x, const uint8_t* src, int src_type, int K, int r, int k0, int n) {
  const uint8_t* s = src + (src_type == 1 ? 2 : 4) * ((long)r * K + k0);
  if (src_type == 1) {
    const float* halves = half_table();
    for (int i = 0; i < n; i++) x[i] = halves[s[2 * i] | (s[2 * i + 1] << 8)];
  } else {
    std::memcpy(x, s, sizeof(float) * n);
  }
  for (int i = n; i < QK; i++) x[i] = 0.0f;
}

// One block of 32 floats as ggml's reference quantizer writes it: Q8_0 through q8_quantize; Q4_0 with
// the scale from the signed value of the largest magnitude, q = min(15, trunc(x·id + 8.5)).
void quantize_block(const float* x, int type, uint8_t* blk) {
  if (type == kQ8) {
    float d;
    q8_quantize(x, QK, reinterpret_cast<int8_t*>(blk + 2), &d);
    const uint16_t h = float_to_half(d);
    blk[0] = h & 0xff;
    blk[1] = h >> 8;
    return;
  }
  float amax = 0.0f, mx = 0.0f;
  for (int i = 0; i < QK; i++)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      mx = x[i];
    }
  const float d = mx / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  const uint16_t h = float_to_half(d);
  blk[0] = h & 0xff;
  blk[1] = h >> 8;
  for (int j = 0; j < QK / 2; j++) {
    const float lo = x[j] * id, hi = x[j + QK / 2] * id;
    const int q0 = (int)(lo + 8.5f), q1 = (int)(hi + 8.5f);  // trunc: the int conversion
    blk[2 + j] = (uint8_t)((q0 < 15 ? q0 : 15) | ((q1 < 15 ? q1 : 15) << 4));
  }
}

#if defined(MUGPT_HAVE_AVX2)
#define MUGPT_AVX2_NOFMA __attribute__((target("avx2,f16c")))

// A whole Q8_0 block from 32 finite floats in 4 registers, as q8_quantize computes it: amax by max
// (exact), d = amax/127 and 1/d in scalar float, each q = round half away from zero of x·id by
// truncation and the exact fraction (round_half_away). false, nothing written, when a value is not
// finite (NaN, ±Inf): the scalar code handles those.
MUGPT_AVX2_NOFMA bool q8_block_avx2(const __m256* x, uint8_t* blk) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_andnot_ps(sign, x[0]);
  for (int v = 1; v < 4; v++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, x[v]));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  if (!(amax <= 3.402823466e38f)) return false;  // an infinity, or a NaN that max may have kept
  __m256 bad = _mm256_cmp_ps(x[0], x[0], _CMP_UNORD_Q);
  for (int v = 1; v < 4; v++) bad = _mm256_or_ps(bad, _mm256_cmp_ps(x[v], x[v], _CMP_UNORD_Q));
  if (_mm256_movemask_ps(bad)) return false;
  const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  __m256i q[4];
  for (int v = 0; v < 4; v++) {
    const __m256 s = _mm256_mul_ps(x[v], vid);
    __m256 r = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(s, r);
    r = _mm256_add_ps(r, _mm256_and_ps(_mm256_cmp_ps(f, half, _CMP_GE_OQ), one));
    r = _mm256_sub_ps(r, _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(-0.5f), _CMP_LE_OQ), one));
    q[v] = _mm256_cvttps_epi32(r);
  }
  // |q| ≤ 127: the saturating packs are exact; they interleave 128-bit lanes, which the permutation undoes
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 2),
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  const uint16_t h = float_to_half(d);
  blk[0] = h & 0xff;
  blk[1] = h >> 8;
  return true;
}

// Row r to Q8_0 blocks with AVX2: F16 inputs through F16C (exact), whole blocks in registers.
MUGPT_AVX2_NOFMA void q8_row_avx2(uint8_t* out, const uint8_t* src, int src_type, int K, int Kp, int r) {
  const int nb = Kp / QK;
  for (int b = 0; b < nb; b++) {
    const int k0 = b * QK, n = K - k0 < QK ? K - k0 : QK;
    uint8_t* blk = out + ((long)r * nb + b) * 34;
    __m256 x[4];
    if (n == QK) {
      const uint8_t* s = src + (src_type == 1 ? 2 : 4) * ((long)r * K + k0);
      for (int v = 0; v < 4; v++)
        x[v] = src_type == 1 ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16 * v)))
                             : _mm256_loadu_ps(reinterpret_cast<const float*>(s) + 8 * v);
      if (q8_block_avx2(x, blk)) continue;
    }
    float xs[QK];
    block_inputs(xs, src, src_type, K, r, k0, n);
    for (int v = 0; v < 4; v++) x[v] = _mm256_loadu_ps(xs + 8 * v);
    if (!q8_block_avx2(x, blk)) quantize_block(xs, kQ8, blk);
  }
}

bool cpu_avx2_f16c() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}
#endif

}  // namespace

void quantize_rows(uint8_t* out, const uint8_t* src, int src_type, int rows, int K, int Kp, int type, bool simd) {
  const int nb = Kp / QK;
  const long bb = qblock_bytes(type);
#if defined(MUGPT_HAVE_AVX2)
  static const bool avx2 = cpu_avx2_f16c();
  if (simd && avx2 && type == kQ8) {
    auto row = [&](int r, int) { q8_row_avx2(out, src, src_type, K, Kp, r); };
    parallel(rows, row);
    return;
  }
#else
  (void)simd;
#endif
  auto row = [&](int r, int) {
    float x[QK];
    for (int b = 0; b < nb; b++) {
      const int k0 = b * QK, n = K - k0 < QK ? K - k0 : QK;  // the block's inputs in the row
      block_inputs(x, src, src_type, K, r, k0, n);
      quantize_block(x, type, out + ((long)r * nb + b) * bb);
    }
  };
  parallel(rows, row);
}

}  // namespace mugpt
