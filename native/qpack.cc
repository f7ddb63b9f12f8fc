// The x16 layout of quantized matrices (see quant.h): packing in place, and reading one row back.
// Plain C++: it runs once at load (packing) or for one row per token (an embedding lookup).
#include <cstring>
#include <vector>

#include "pool.h"
#include "quant.h"

namespace mugpt {

namespace {

// Element e (0…31) of a rows-layout block as stored: Q8_0 the int8, Q4_0 the raw nibble 0…15.
inline int block_value(int type, const uint8_t* blk, int e) {
  if (type == kQ8) return (int8_t)blk[2 + e];
  return e < QK / 2 ? blk[2 + e] & 0x0f : blk[2 + e - QK / 2] >> 4;
}

// Group block dst (16 rows of block b) from the 16 rows at src (rows layout).
void pack_block(int type, const uint8_t* src, long row_bytes, int b, uint8_t* dst) {
  const long bb = qblock_bytes(type);
  for (int i = 0; i < QG; i++) {
    const uint8_t* blk = src + i * row_bytes + b * bb;
    dst[2 * i] = blk[0];
    dst[2 * i + 1] = blk[1];
    if (type == kQ8) {
      for (int t = 0; t < 8; t++)
        for (int c = 0; c < 4; c++) dst[32 + t * 64 + i * 4 + c] = (uint8_t)(block_value(type, blk, 4 * t + c) + 128);
    } else {
      for (int t = 0; t < 4; t++)
        for (int c = 0; c < 4; c++)
          dst[32 + t * 64 + i * 4 + c] =
              (uint8_t)(block_value(type, blk, 8 * t + c) | block_value(type, blk, 8 * t + 4 + c) << 4);
    }
  }
}

}  // namespace

void qpack_x16(uint8_t* W, int type, int N, int K) {
  const int nb = K / QK, groups = N / QG;
  const long bb = qblock_bytes(type), row_bytes = nb * bb, group_bytes = QG * row_bytes;
  auto f = [&](int g, int) {
    uint8_t* grp = W + g * group_bytes;
    std::vector<uint8_t> rows(grp, grp + group_bytes);  // the group's rows, then rewritten over them
    for (int b = 0; b < nb; b++) pack_block(type, rows.data(), row_bytes, b, grp + b * QG * bb);
  };
  parallel(groups, f);
}

void qrow(float* out, const uint8_t* W, int type, int N, int K, int r, bool x16) {
  const int nb = K / QK;
  const long bb = qblock_bytes(type), row_bytes = nb * bb;
  if (!x16 || r >= N / QG * QG) {
    const uint8_t* row = W + r * row_bytes;
    for (int b = 0; b < nb; b++) {
      const uint8_t* blk = row + b * bb;
      const float d = half_to_float((uint16_t)(blk[0] | (blk[1] << 8)));
      const int off = type == kQ8 ? 0 : 8;
      for (int e = 0; e < QK; e++) out[b * QK + e] = (float)(block_value(type, blk, e) - off) * d;
    }
    return;
  }
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
