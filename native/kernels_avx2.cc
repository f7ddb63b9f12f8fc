// AVX2 + FMA kernels. This file alone is compiled with -mavx2 -mfma (binding.gyp target
// mugpt_avx2); addon.cc calls it only when the CPU reports both features at run time.
#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "isa.h"
#include "pool.h"

namespace mugpt {
namespace avx2 {

static const int MR = 6, NR = 16;

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

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static void axpy4(long n, const float* coef, const float* w0, const float* w1, const float* w2, const float* w3,
                  float* y) {
  const __m256 a0 = _mm256_set1_ps(coef[0]), a1 = _mm256_set1_ps(coef[1]), a2 = _mm256_set1_ps(coef[2]),
               a3 = _mm256_set1_ps(coef[3]);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_loadu_ps(y + i);
    acc = _mm256_fmadd_ps(a0, _mm256_loadu_ps(w0 + i), acc);
    acc = _mm256_fmadd_ps(a1, _mm256_loadu_ps(w1 + i), acc);
    acc = _mm256_fmadd_ps(a2, _mm256_loadu_ps(w2 + i), acc);
    acc = _mm256_fmadd_ps(a3, _mm256_loadu_ps(w3 + i), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  for (; i < n; i++) y[i] += coef[0] * w0[i] + coef[1] * w1[i] + coef[2] * w2[i] + coef[3] * w3[i];
}

static void axpy1(long n, float coef, const float* w, float* y) {
  const __m256 a = _mm256_set1_ps(coef);
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, _mm256_loadu_ps(w + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += coef * w[i];
}

static void scale_row(float* y, long n, float c) {
  const __m256 a = _mm256_set1_ps(c);
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(a, _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] *= c;
}

[[maybe_unused]] static float dot(const float* a, const float* b, long n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static void dot4(const float* x, const float* b0, const float* b1, const float* b2, const float* b3, long n,
                 float* out) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    s0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b0 + i), s0);
    s1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b1 + i), s1);
    s2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b2 + i), s2);
    s3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b3 + i), s3);
  }
  float r0 = hsum(s0), r1 = hsum(s1), r2 = hsum(s2), r3 = hsum(s3);
  for (; i < n; i++) {
    r0 += x[i] * b0[i]; r1 += x[i] * b1[i]; r2 += x[i] * b2[i]; r3 += x[i] * b3[i];
  }
  out[0] = r0; out[1] = r1; out[2] = r2; out[3] = r3;
}

// exp(x) in float (Cephes expf: exp(x) = 2^n · exp(r), |r| ≤ ln2/2, degree-5 polynomial; ≈1 ulp).
// Inputs are clamped to [−87.3, 88] so 2^n stays a normal float; NaN passes through.
static inline __m256 exp8(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-87.33654f), x);  // max(c, NaN) = NaN
  x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static float exp_sub_sum(float* s, long n, float mx) {
  const __m256 m = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + i), m));
    _mm256_storeu_ps(s + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum(acc);
  if (i < n) {  // tail through a padded vector
    float tmp[8];
    for (int r = 0; r < 8; r++) tmp[r] = i + r < n ? s[i + r] - mx : -100.0f;
    _mm256_storeu_ps(tmp, exp8(_mm256_loadu_ps(tmp)));
    for (long r = 0; i + r < n; r++) {
      s[i + r] = tmp[r];
      sum += tmp[r];
    }
  }
  return sum;
}

// erf(x), x·P(x²)/Q(x²) on [−4, 4] (Eigen's float rational approximation; |error| < 1e-7), ±1 outside.
static inline __m256 erf8(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-4.0f), x);
  x = _mm256_min_ps(_mm256_set1_ps(4.0f), x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
  __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

// gelu(x) = x/2·(1 + erf(x/√2)); gelu_new(x) = x/2·(1 + tanh(u)) = x / (1 + exp(−2u)),
// u = √(2/π)·(x + 0.044715·x³).
static inline __m256 gelu8(__m256 x, int kind) {
  if (kind == 0) {
    const __m256 e = erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  }
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f),
                                 _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
  const __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static void gelu_range(float* out, const float* x, long n, int kind) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu8(_mm256_loadu_ps(x + i), kind));
  if (i < n) {
    float tmp[8] = {0};
    for (long r = 0; i + r < n; r++) tmp[r] = x[i + r];
    _mm256_storeu_ps(tmp, gelu8(_mm256_loadu_ps(tmp), kind));
    for (long r = 0; i + r < n; r++) out[i + r] = tmp[r];
  }
}

// a · silu(g) = a · g / (1 + exp(−g))
static inline __m256 swiglu8(__m256 a, __m256 g) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(_mm256_mul_ps(a, g), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static void swiglu_range(float* out, const float* a, const float* g, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(a + i), _mm256_loadu_ps(g + i)));
  if (i < n) {
    float ta[8] = {0}, tg[8] = {0};
    for (long r = 0; i + r < n; r++) { ta[r] = a[i + r]; tg[r] = g[i + r]; }
    _mm256_storeu_ps(ta, swiglu8(_mm256_loadu_ps(ta), _mm256_loadu_ps(tg)));
    for (long r = 0; i + r < n; r++) out[i + r] = ta[r];
  }
}

// Two-pass mean and variance: float lanes, combined in double.
static void layer_norm_row(float* out, const float* x, const float* w, const float* b, int D, float eps,
                           float* mean, float* rstd) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= D; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
  double s = hsum(acc);
  for (; i < D; i++) s += x[i];
  const float mu = (float)(s / D);
  const __m256 m = _mm256_set1_ps(mu);
  acc = _mm256_setzero_ps();
  for (i = 0; i + 8 <= D; i += 8) {
    const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    acc = _mm256_fmadd_ps(c, c, acc);
  }
  double v = hsum(acc);
  for (; i < D; i++) v += (double)(x[i] - mu) * (x[i] - mu);
  const float r = (float)(1.0 / __builtin_sqrt(v / D + eps));
  const __m256 rv = _mm256_set1_ps(r);
  for (i = 0; i + 8 <= D; i += 8) {
    const __m256 c = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), rv);
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(c, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
  }
  for (; i < D; i++) out[i] = (x[i] - mu) * r * w[i] + b[i];
  if (mean) *mean = mu;
  if (rstd) *rstd = r;
}

#include "kernels.inc"

// ---- microbenchmarks ----

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

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
  int tasks = 8 * num_threads();
  double best = 0, spent = 0;
  while (spent < seconds) {
    const double t0 = now_s();
    parallel(tasks, task);
    const double dt = now_s() - t0;
    spent += dt;
    const double g = flops_per_task * tasks / dt / 1e9;
    best = g > best ? g : best;
  }
  return best;
}

// Each task sums a 4 MiB chunk read as four interleaved sequential streams (as the gemv kernels
// read four weight rows at once), which the hardware prefetchers serve better than one stream.
static double read_bandwidth(const float* buf, long n, int reps) {
  const long chunk = 1 << 20;  // floats per task
  const int tasks = (int)(n / chunk);
  auto task = [&](int t, int) {
    const long q = chunk / 4;
    const float* p0 = buf + (long)t * chunk;
    const float *p1 = p0 + q, *p2 = p1 + q, *p3 = p2 + q;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    for (long i = 0; i < q; i += 16) {
      s0 = _mm256_add_ps(s0, _mm256_add_ps(_mm256_load_ps(p0 + i), _mm256_load_ps(p0 + i + 8)));
      s1 = _mm256_add_ps(s1, _mm256_add_ps(_mm256_load_ps(p1 + i), _mm256_load_ps(p1 + i + 8)));
      s2 = _mm256_add_ps(s2, _mm256_add_ps(_mm256_load_ps(p2 + i), _mm256_load_ps(p2 + i + 8)));
      s3 = _mm256_add_ps(s3, _mm256_add_ps(_mm256_load_ps(p3 + i), _mm256_load_ps(p3 + i + 8)));
    }
    volatile float sink = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    (void)sink;
  };
  double best = 0;
  for (int r = 0; r < reps; r++) {
    const double t0 = now_s();
    parallel(tasks, task);
    const double gbs = (double)tasks * chunk * 4 / (now_s() - t0) / 1e9;
    best = gbs > best ? gbs : best;
  }
  return best;
}

}  // namespace avx2

const Isa kIsaAvx2 = {"avx2", avx2::gemm, avx2::linear, avx2::layer_norm, avx2::gelu,
                      avx2::swiglu, avx2::attention, avx2::peak_gflops, avx2::read_bandwidth};

}  // namespace mugpt
