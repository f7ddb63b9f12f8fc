// Portable C++ kernels for CPUs without AVX2/FMA (and non-x86 machines): the same drivers as
// kernels_avx2.cc with plain loops that the compiler vectorizes for the baseline instruction set.
#include <cmath>
#include <cstring>

#include "isa.h"
#include "pool.h"
#include "quant.h"

namespace mugpt {
namespace portable {

static const int MR = 6, NR = 16;
static const int KC = 256, MC_MAX = 48, NC_TASK = 512;

static void micro_tile(int kc, const float* a, const float* b, float* c, long ldc, float beta) {
  float acc[MR][NR] = {};
  for (int p = 0; p < kc; p++, a += MR, b += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      float* cij = c + i * ldc + j;
      *cij = beta == 0.0f ? acc[i][j] : acc[i][j] + beta * *cij;
    }
}

static void axpy4(long n, const float* coef, const float* w0, const float* w1, const float* w2, const float* w3,
                  float* y) {
  const float a0 = coef[0], a1 = coef[1], a2 = coef[2], a3 = coef[3];
  for (long i = 0; i < n; i++) y[i] += a0 * w0[i] + a1 * w1[i] + a2 * w2[i] + a3 * w3[i];
}

// Without a measured prefetch distance for the machines this build serves, the hardware prefetchers alone.
static void axpy4_ahead(long n, const float* coef, const float* w0, const float* w1, const float* w2,
                        const float* w3, float* y, long) {
  axpy4(n, coef, w0, w1, w2, w3, y);
}

static void axpy1(long n, float coef, const float* w, float* y) {
  for (long i = 0; i < n; i++) y[i] += coef * w[i];
}

static void scale_row(float* y, long n, float c) {
  for (long i = 0; i < n; i++) y[i] *= c;
}

static float dot(const float* a, const float* b, long n) {
  float s[8] = {};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int r = 0; r < 8; r++) s[r] += a[i + r] * b[i + r];
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; i++) t += a[i] * b[i];
  return t;
}

static void dot4(const float* x, const float* b0, const float* b1, const float* b2, const float* b3, long n,
                 float* out) {
  out[0] = dot(x, b0, n);
  out[1] = dot(x, b1, n);
  out[2] = dot(x, b2, n);
  out[3] = dot(x, b3, n);
}

static float exp_sub_sum(float* s, long n, float mx) {
  float sum = 0;
  for (long i = 0; i < n; i++) {
    s[i] = std::exp(s[i] - mx);
    sum += s[i];
  }
  return sum;
}

static void gelu_range(float* out, const float* x, long n, int kind) {
  if (kind == 0) {
    for (long i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
  } else {
    for (long i = 0; i < n; i++) {
      const float v = x[i];
      out[i] = 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
  }
}

static void swiglu_range(float* out, const float* a, const float* g, long n) {
  for (long i = 0; i < n; i++) out[i] = a[i] * g[i] / (1.0f + std::exp(-g[i]));
}

#include "activation_grads_scalar.inc"

static float max_row(const float* x, long n) {
  float r = -INFINITY;
  for (long i = 0; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}

static void layer_norm_row(float* out, const float* x, const float* w, const float* b, int D, float eps,
                           float* mean, float* rstd) {
  double s = 0;
  for (int i = 0; i < D; i++) s += x[i];
  const float mu = (float)(s / D);
  double v = 0;
  for (int i = 0; i < D; i++) v += (double)(x[i] - mu) * (x[i] - mu);
  const float r = (float)(1.0 / std::sqrt(v / D + eps));
  for (int i = 0; i < D; i++) out[i] = (x[i] - mu) * r * w[i] + b[i];
  if (mean) *mean = mu;
  if (rstd) *rstd = r;
}

#include "quant_portable.inc"
#include "kernels.inc"
#include "quant.inc"

// Eight independent multiply-add chains per thread, vectorizable by the compiler.
static double peak_gflops(double seconds) {
  const long iters = 1 << 16;
  auto task = [](int, int) {
    float a[32];
    for (int r = 0; r < 32; r++) a[r] = 1.0f + r * 1e-3f;
    for (long i = 0; i < iters; i++)
      for (int r = 0; r < 32; r++) a[r] = a[r] * 0.999999f + 1e-7f;
    float s = 0;
    for (int r = 0; r < 32; r++) s += a[r];
    volatile float sink = s;
    (void)sink;
  };
  const double flops_per_task = (double)iters * 32 * 2;
  return best_rate(8 * num_threads(), task, flops_per_task / 1e9, 1, seconds);
}

static double read_bandwidth(const float* buf, long n, int reps) {
  const long chunk = 1 << 20;
  const int tasks = (int)(n / chunk);
  auto task = [&](int t, int) {
    const long q = chunk / 4;
    const float* p = buf + (long)t * chunk;
    float s[4][8] = {};
    for (long i = 0; i < q; i += 8)
      for (int r = 0; r < 4; r++)
        for (int l = 0; l < 8; l++) s[r][l] += p[r * q + i + l];
    float t2 = 0;
    for (int r = 0; r < 4; r++)
      for (int l = 0; l < 8; l++) t2 += s[r][l];
    volatile float sink = t2;
    (void)sink;
  };
  return best_rate(tasks, task, chunk * 4 / 1e9, reps, 0.0);
}

}  // namespace portable

const Isa kIsaPortable = {"portable", portable::gemm, portable::linear, portable::layer_norm, portable::gelu,
                          portable::swiglu, portable::attention, portable::layer_norm_backward, portable::gelu_backward, portable::swiglu_backward,
    portable::softmax_xent, portable::attention_backward, portable::qlinear, portable::qlinear_pair, portable::groups_fast, portable::attention_q8, portable::attention_f16, portable::attention_f16_batch, portable::peak_gflops, portable::read_bandwidth};

}  // namespace mugpt
