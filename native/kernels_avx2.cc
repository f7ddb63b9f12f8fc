// AVX2 + FMA kernels. This file alone is compiled with -mavx2 -mfma (binding.gyp target
// mugpt_avx2); addon.cc calls it only when the CPU reports both features at run time.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "isa.h"
#include "pool.h"
#include "quant.h"

namespace mugpt {
namespace avx2 {

static const int MR = 6, NR = 16;
static const int KC = 384;       // reduction slice: a KC×NR panel of B (24 KB) stays in L1
static const int MC_MAX = 48;    // rows of A per block (measured: smaller blocks beat L2-sized ones here)
static const int NC_TASK = 512;  // columns per GEMM task (a multiple of NR): KC×NC_TASK of B stays in L2

// 6×16 micro-kernel: 12 ymm accumulators, per k two B loads, six A broadcasts, twelve FMAs.
static void micro_tile(int kc, const float* a, const float* b, float* c, long ldc, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 av;
    av = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    a += MR;
    b += NR;
  }
  const __m256 vb = _mm256_set1_ps(beta);
  auto st = [&](float* p, __m256 x) {
    if (beta == 0.0f) _mm256_storeu_ps(p, x);
    else _mm256_storeu_ps(p, _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), x));
  };
  st(c, c00); st(c + 8, c01); c += ldc;
  st(c, c10); st(c + 8, c11); c += ldc;
  st(c, c20); st(c + 8, c21); c += ldc;
  st(c, c30); st(c + 8, c31); c += ldc;
  st(c, c40); st(c + 8, c41); c += ldc;
  st(c, c50); st(c + 8, c51);
}

#define MUGPT_DOT_RC  // several activation rows: gemv_t_rows_task (dot_rc, simd_avx2.inc)
#define MUGPT_ROWS8   // eight-row dot8 and axpy8 for the decode attention (quant_avx2.inc)
#include "simd_avx2.inc"
#include "quant_avx2.inc"
#include "kernels.inc"
#include "quant.inc"

// Ten independent FMA chains per thread (more than latency × throughput = 4 × 2), many small tasks
// so that the dynamic schedule keeps every thread busy until the end.
static double peak_gflops(double seconds) {
  const long iters = 1 << 16;
  auto task = [](int, int) {
    __m256 a[10];
    for (int r = 0; r < 10; r++) a[r] = _mm256_set1_ps(1.0f + r * 1e-3f);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
      for (int r = 0; r < 10; r++) a[r] = _mm256_fmadd_ps(a[r], m, c);
    __m256 s = a[0];
    for (int r = 1; r < 10; r++) s = _mm256_add_ps(s, a[r]);
    volatile float sink = hsum(s);
    (void)sink;
  };
  const double flops_per_task = (double)iters * 10 * 8 * 2;
  return best_rate(8 * num_threads(), task, flops_per_task / 1e9, 1, seconds);
}

}  // namespace avx2

const Isa kIsaAvx2 = {"avx2", avx2::gemm, avx2::linear, avx2::layer_norm, avx2::gelu,
                      avx2::swiglu, avx2::attention, avx2::layer_norm_backward, avx2::gelu_backward, avx2::swiglu_backward,
    avx2::softmax_xent, avx2::attention_backward, avx2::qlinear, avx2::qlinear_pair, avx2::groups_fast, avx2::attention_q8, avx2::attention_f16, avx2::attention_f16_batch, avx2::peak_gflops, avx2::read_bandwidth};

}  // namespace mugpt
