// GGUF block types of the quantized kernels (ggml-common.h): Q8_0 = f16 d + int8 qs[32] (34 bytes),
// Q4_0 = f16 d + uint8 qs[16] (18 bytes; element j in the low nibble of byte j, j+16 in the high one).
//
// Two layouts of a matrix W [N rows, K/32 blocks]:
//  - rows: GGUF's, each row its blocks in order;
//  - x16: made at load by qpack_x16 where the CPU has AVX2 or AVX-512 VNNI, for their integer
//    dot products (one maddubs / vpdpbusd against a 4-byte activation slice serves 8 / 16 rows). The first 16·⌊N/16⌋ rows form groups of 16; a group holds, per block b, the 16 rows'
//    f16 scales (32 bytes) and then their values four bytes a row per step, one step per 4-byte
//    broadcast of the activation block (so one vpdpbusd does four products of all 16 rows):
//      Q8_0: 8 steps × [16 rows × 4 bytes], row i's bytes = w[4s … 4s+3] + 128 (unsigned);
//      Q4_0: 4 steps × [16 rows × 4 bytes], row i's byte c = q[8s+c] | q[8s+4+c] << 4 (raw nibbles
//            0…15; the value is q − 8): low nibbles pair with activation bytes 8s…8s+3, high with 8s+4….
//    A group takes the same bytes as its 16 rows did; rows past the groups stay in the rows layout.
//    The stored values are v + off (off = 128 for Q8_0, 8 for Q4_0), so Σ w·x = Σ (v)·x − off·Σx.
#pragma once
#include <cmath>
#include <cstdint>

#include "half.h"

namespace mugpt {

constexpr int kQ8 = 8, kQ4 = 2;  // ggml type ids
constexpr int QK = 32;           // weights per block
constexpr int QG = 16;           // rows per group of the x16 layout

inline long qblock_bytes(int type) { return type == kQ8 ? 34 : 18; }
inline int x16_offset(int type) { return type == kQ8 ? 128 : 8; }

/**
 * std::roundf(v) for |v| < 2^31, inline: truncate, then step away from zero when the fraction v − r
 * (exact in float) is at least one half. Bit-exact with roundf; without SSE4.1 roundf is a libm call,
 * which made quantizing BTLM-3B's 560 M padded weights at load take seconds.
 */
inline int round_half_away(float v) {
  int r = (int)v;
  const float f = v - (float)r;
  return r + (f >= 0.5f) - (f <= -0.5f);
}

/**
 * n values to int8 with one scale, ggml's Q8_0 reference arithmetic (as src/quant/blocks.ts):
 * d = amax/127, q[i] = roundf(s[i]·(1/d)) (halves away from zero). Writes q[n] and *d; returns Σ q.
 * A Q8_0 block is n = 32; the q8 KV cache quantizes a head's slice.
 */
inline int32_t q8_quantize(const float* s, int n, int8_t* q, float* d) {
  float amax = 0.0f;
  for (int i = 0; i < n; i++) amax = std::fabs(s[i]) > amax ? std::fabs(s[i]) : amax;
  const float dd = amax / 127.0f, id = dd != 0.0f ? 1.0f / dd : 0.0f;
  *d = dd;
  int32_t sum = 0;
  for (int i = 0; i < n; i++) {
    q[i] = (int8_t)round_half_away(s[i] * id);
    sum += q[i];
  }
  return sum;
}

/** Element e (0…31) of a rows-layout block as stored: Q8_0 the int8, Q4_0 the raw nibble 0…15 (the value is q − 8). */
inline int block_value(int type, const uint8_t* blk, int e) {
  if (type == kQ8) return (int8_t)blk[2 + e];
  return e < QK / 2 ? blk[2 + e] & 0x0f : blk[2 + e - QK / 2] >> 4;
}

/** out[nb·32] = a rows-layout row of nb blocks, dequantized ((q − off)·d). */
inline void dequantize_row(float* out, const uint8_t* row, int type, int nb) {
  const long bb = qblock_bytes(type);
  const int off = type == kQ8 ? 0 : 8;
  for (int b = 0; b < nb; b++) {
    const uint8_t* blk = row + b * bb;
    const float d = half_to_float((uint16_t)(blk[0] | (blk[1] << 8)));
    for (int e = 0; e < QK; e++) out[b * QK + e] = (float)(block_value(type, blk, e) - off) * d;
  }
}

/**
 * Rearranges src [N, K/32] from the rows layout to x16 into dst (the same number of bytes; dst == src:
 * in place), groups in parallel; simd: with SSE2 where the build has it (the same bytes).
 */
void qpack_x16(uint8_t* dst, const uint8_t* src, int type, int N, int K, bool simd);

/**
 * src [rows, K] (src_type 0: F32, 1: F16) → [rows, Kp/32] blocks of `type`, each row zero-padded to Kp
 * inputs, bit for bit as ggml's reference quantizer (and src/quant/blocks.ts); rows in parallel. simd:
 * Q8_0 through AVX2 + F16C where the CPU has them (the same bits).
 */
void quantize_rows(uint8_t* out, const uint8_t* src, int src_type, int rows, int K, int Kp, int type, bool simd);

/** out[K] = row r of W dequantized, from either layout. */
void qrow(float* out, const uint8_t* W, int type, int N, int K, int r, bool x16);

/**
 * NG x16 groups g[r] against MT activation rows, plain C++: dots[(r·MT + m)·16 + i] =
 * Σ_b d_w[i,b]·d_x[m,b]·Σ w·x for row i of group r. xq int8 [MT][nb·32], xd [MT][nb], xs [MT][nb] = Σ
 * of each activation block's int8 values; activation rows x_row_blocks blocks apart.
 */
inline void qdot_x16_scalar(int type, const uint8_t* const* g, int NG, int nb, const int8_t* xq, const float* xd,
                            const int32_t* xs, long x_row_blocks, int MT, float* dots) {
  const long gb = QG * qblock_bytes(type);
  const int off = x16_offset(type);
  for (int i = 0; i < NG * MT * QG; i++) dots[i] = 0.0f;
  for (int r = 0; r < NG; r++) {
    for (int b = 0; b < nb; b++) {
      const uint8_t* blk = g[r] + b * gb;
      for (int m = 0; m < MT; m++) {
        const int8_t* x = xq + (m * x_row_blocks + b) * QK;
        for (int i = 0; i < QG; i++) {
          int s = -off * xs[m * x_row_blocks + b];
          if (type == kQ8) {
            for (int t = 0; t < 8; t++)
              for (int c = 0; c < 4; c++) s += blk[32 + t * 64 + i * 4 + c] * x[4 * t + c];
          } else {
            for (int t = 0; t < 4; t++)
              for (int c = 0; c < 4; c++) {
                const uint8_t v = blk[32 + t * 64 + i * 4 + c];
                s += (v & 0x0f) * x[8 * t + c] + (v >> 4) * x[8 * t + 4 + c];
              }
          }
          const float dw = half_to_float((uint16_t)(blk[2 * i] | (blk[2 * i + 1] << 8)));
          dots[(r * MT + m) * QG + i] += dw * xd[m * x_row_blocks + b] * (float)s;
        }
      }
    }
  }
}

}  // namespace mugpt
