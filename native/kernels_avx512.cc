// AVX-512F kernels: a 12×32 GEMM micro-kernel on zmm registers (twice the FLOPs per instruction of
// AVX2), with the AVX2 primitives for everything memory-bound. Compiled alone with -mavx512f
// (binding.gyp target mugpt_avx512); addon.cc calls it only when the CPU reports AVX-512F.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "isa.h"
#include "pool.h"
#include "quant.h"

namespace mugpt {
namespace avx512 {

static const int MR = 12, NR = 32;
static const int KC = 256;       // a KC×NR panel of B (32 KB) stays in L1
static const int MC_MAX = 96;    // rows of A per block
static const int NC_TASK = 512;  // columns per GEMM task (a multiple of NR)

// 12×32 micro-kernel: 24 zmm accumulators; per k two B loads, twelve A broadcasts, 24 FMAs
// (measured 5% faster than 8×32 here).
static void micro_tile(int kc, const float* a, const float* b, float* c, long ldc, float beta) {
#define ROW(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
  ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7) ROW(8) ROW(9) ROW(10) ROW(11)
#undef ROW
  for (int p = 0; p < kc; p++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    __m512 av;
#define FMA(r)                                   \
  av = _mm512_set1_ps(a[r]);                     \
  c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);    \
  c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);
    FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) FMA(8) FMA(9) FMA(10) FMA(11)
#undef FMA
    a += MR;
    b += NR;
  }
  const __m512 vb = _mm512_set1_ps(beta);
  auto st = [&](float* p, __m512 x) {
    if (beta == 0.0f) _mm512_storeu_ps(p, x);
    else _mm512_storeu_ps(p, _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), x));
  };
#define STORE(r) st(c + r * ldc, c##r##0); st(c + r * ldc + 16, c##r##1);
  STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8) STORE(9) STORE(10) STORE(11)
#undef STORE
}

#define MUGPT_DOT_RC  // several activation rows: gemv_t_rows_task (dot_rc, simd_avx2.inc)
#define MUGPT_ROWS8   // eight-row dot8 and axpy8 for the decode attention (quant_avx2.inc)
#include "simd_avx2.inc"
#define MUGPT_QDOT_VNNI  // the quantized dot products use AVX-512 VNNI where the CPU has it
#include "quant_avx2.inc"
#include "kernels.inc"
#include "quant.inc"

// Twelve independent zmm FMA chains per thread (latency 4 × two ports needs at least eight).
static double peak_gflops(double seconds) {
  const long iters = 1 << 16;
  auto task = [](int, int) {
    __m512 a[12];
    for (int r = 0; r < 12; r++) a[r] = _mm512_set1_ps(1.0f + r * 1e-3f);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
      for (int r = 0; r < 12; r++) a[r] = _mm512_fmadd_ps(a[r], m, c);
    __m512 s = a[0];
    for (int r = 1; r < 12; r++) s = _mm512_add_ps(s, a[r]);
    float lanes[16];
    _mm512_storeu_ps(lanes, s);
    volatile float sink = lanes[0] + lanes[15];
    (void)sink;
  };
  const double flops_per_task = (double)iters * 12 * 16 * 2;
  return best_rate(8 * num_threads(), task, flops_per_task / 1e9, 1, seconds);
}

}  // namespace avx512

const Isa kIsaAvx512 = {"avx512", avx512::gemm, avx512::linear, avx512::layer_norm, avx512::gelu,
                        avx512::swiglu, avx512::attention, avx512::layer_norm_backward, avx512::gelu_backward, avx512::swiglu_backward,
    avx512::softmax_xent, avx512::attention_backward, avx512::qlinear, avx512::qlinear_pair, avx512::groups_fast, avx512::attention_q8, avx512::attention_f16, avx512::attention_f16_batch, avx512::peak_gflops, avx512::read_bandwidth};

}  // namespace mugpt
