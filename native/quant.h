// GGUF block types of the quantized kernels (ggml-common.h): Q8_0 = f16 d + int8 qs[32] (34 bytes),
// Q4_0 = f16 d + uint8 qs[16] (18 bytes; element j in the low nibble of byte j, j+16 in the high one).
#pragma once
#include "half.h"

namespace mugpt {

constexpr int kQ8 = 8, kQ4 = 2;  // ggml type ids
constexpr int QK = 32;           // weights per block

inline long qblock_bytes(int type) { return type == kQ8 ? 34 : 18; }

}  // namespace mugpt
