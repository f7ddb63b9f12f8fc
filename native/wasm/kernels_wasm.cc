// WebAssembly SIMD (128-bit) kernels: the primitives kernels.inc and quant.inc call, written with
// wasm_simd128.h (the quantized block products in quant_wasm.inc), then the shared drivers of the
// native backend (blocking, threading, routing), so the WebAssembly backend computes what the native
// one does; the exported functions are the ABI that src/kernels/wasm.ts calls.
#include <wasm_simd128.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "pool_wasm.h"
#include "../quant.h"

#define EXPORT(name) extern "C" __attribute__((export_name(name)))

namespace mugpt {
namespace wasm {

static const int MR = 4, NR = 8;
static const int KC = 256, MC_MAX = 48, NC_TASK = 512;

static inline v128_t ld(const float* p) { return wasm_v128_load(p); }
static inline void st(float* p, v128_t v) { wasm_v128_store(p, v); }
static inline float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// 4×8 micro-kernel: eight accumulators, per k two B loads and four A broadcasts.
static void micro_tile(int kc, const float* a, const float* b, float* c, long ldc, float beta) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    const v128_t b0 = ld(b), b1 = ld(b + 4);
    v128_t av = wasm_v128_load32_splat(a);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(av, b0)); c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 1);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(av, b0)); c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 2);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(av, b0)); c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 3);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(av, b0)); c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(av, b1));
  }
  const v128_t vb = wasm_f32x4_splat(beta);
  auto put = [&](float* p, v128_t x) { st(p, beta == 0.0f ? x : wasm_f32x4_add(x, wasm_f32x4_mul(vb, ld(p)))); };
  put(c, c00); put(c + 4, c01); c += ldc;
  put(c, c10); put(c + 4, c11); c += ldc;
  put(c, c20); put(c + 4, c21); c += ldc;
  put(c, c30); put(c + 4, c31);
}

static inline float f32_one(float v) { return v; }

// y += Σ_r coef[r]·w_r for four rows w_r of element type KV (float, or a KV cache's int8 / half), widened
// as dot4_kv does.
template <class KV, v128_t (*load4)(const KV*), float (*one)(KV)>
static void axpy4_kv(long n, const float* coef, const KV* w0, const KV* w1, const KV* w2, const KV* w3, float* y) {
  const v128_t a0 = wasm_f32x4_splat(coef[0]), a1 = wasm_f32x4_splat(coef[1]), a2 = wasm_f32x4_splat(coef[2]),
               a3 = wasm_f32x4_splat(coef[3]);
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t acc = ld(y + i);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a0, load4(w0 + i)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a1, load4(w1 + i)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a2, load4(w2 + i)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a3, load4(w3 + i)));
    st(y + i, acc);
  }
  for (; i < n; i++) y[i] += coef[0] * one(w0[i]) + coef[1] * one(w1[i]) + coef[2] * one(w2[i]) + coef[3] * one(w3[i]);
}

static void axpy4(long n, const float* coef, const float* w0, const float* w1, const float* w2, const float* w3,
                  float* y) {
  axpy4_kv<float, ld, f32_one>(n, coef, w0, w1, w2, w3, y);
}

// WebAssembly has no prefetch instruction: the engine's hardware prefetchers alone.
static void axpy4_ahead(long n, const float* coef, const float* w0, const float* w1, const float* w2,
                        const float* w3, float* y, long) {
  axpy4(n, coef, w0, w1, w2, w3, y);
}

static void axpy1(long n, float coef, const float* w, float* y) {
  const v128_t a = wasm_f32x4_splat(coef);
  long i = 0;
  for (; i + 4 <= n; i += 4) st(y + i, wasm_f32x4_add(ld(y + i), wasm_f32x4_mul(a, ld(w + i))));
  for (; i < n; i++) y[i] += coef * w[i];
}

static void scale_row(float* y, long n, float c) {
  const v128_t a = wasm_f32x4_splat(c);
  long i = 0;
  for (; i + 4 <= n; i += 4) st(y + i, wasm_f32x4_mul(a, ld(y + i)));
  for (; i < n; i++) y[i] *= c;
}

// out[r] = x·b_r for four rows b_r of element type KV (float, or a KV cache's int8 / half), widened to
// floats four at a time by load4 (one at a time by one in the tail): one accumulator a row.
template <class KV, v128_t (*load4)(const KV*), float (*one)(KV)>
static void dot4_kv(const float* x, const KV* b0, const KV* b1, const KV* b2, const KV* b3, long n, float* out) {
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t xv = ld(x + i);
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(xv, load4(b0 + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(xv, load4(b1 + i)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(xv, load4(b2 + i)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(xv, load4(b3 + i)));
  }
  out[0] = hsum(s0); out[1] = hsum(s1); out[2] = hsum(s2); out[3] = hsum(s3);
  for (; i < n; i++) {
    out[0] += x[i] * one(b0[i]); out[1] += x[i] * one(b1[i]); out[2] += x[i] * one(b2[i]); out[3] += x[i] * one(b3[i]);
  }
}

static void dot4(const float* x, const float* b0, const float* b1, const float* b2, const float* b3, long n,
                 float* out) {
  dot4_kv<float, ld, f32_one>(x, b0, b1, b2, b3, n, out);
}

// e^x on four lanes: libm_wasm.cc's expf (Cephes' reduction and polynomial) in SIMD.
static inline v128_t exp4(v128_t x) {
  x = wasm_f32x4_pmax(wasm_f32x4_splat(-87.33654f), x);
  x = wasm_f32x4_pmin(wasm_f32x4_splat(88.0f), x);
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r), wasm_f32x4_splat(1.0f));
  const v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, e);
}

static float exp_sub_sum(float* s, long n, float mx) {
  const v128_t m = wasm_f32x4_splat(mx);
  v128_t acc = wasm_f32x4_splat(0);
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t e = exp4(wasm_f32x4_sub(ld(s + i), m));
    st(s + i, e);
    acc = wasm_f32x4_add(acc, e);
  }
  float sum = hsum(acc);
  for (; i < n; i++) {
    s[i] = std::exp(s[i] - mx);
    sum += s[i];
  }
  return sum;
}

static float max_row(const float* x, long n) {
  v128_t m = wasm_f32x4_splat(-INFINITY);
  long i = 0;
  for (; i + 4 <= n; i += 4) m = wasm_f32x4_pmax(m, ld(x + i));  // m < x ? x : m: NaN passed over
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  float r = wasm_f32x4_extract_lane(m, 0);
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}

// erf(x), x·P(x²)/Q(x²) on [−4, 4] (Eigen's float rational approximation, as ../simd_avx2.inc's erf8;
// |error| < 1e-7), ±1 outside.
static inline v128_t erf4(v128_t x) {
  x = wasm_f32x4_pmax(wasm_f32x4_splat(-4.0f), x);
  x = wasm_f32x4_pmin(wasm_f32x4_splat(4.0f), x);
  const v128_t x2 = wasm_f32x4_mul(x, x);
  auto step = [&](v128_t p, float c) { return wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(c)); };
  v128_t p = wasm_f32x4_splat(-2.72614225801306e-10f);
  p = step(p, 2.77068142495902e-08f);
  p = step(p, -2.10102402082508e-06f);
  p = step(p, -5.69250639462346e-05f);
  p = step(p, -7.34990630326855e-04f);
  p = step(p, -2.95459980854025e-03f);
  p = step(p, -1.60960333262415e-02f);
  v128_t q = wasm_f32x4_splat(-1.45660718464996e-05f);
  q = step(q, -2.13374055278905e-04f);
  q = step(q, -1.68282697438203e-03f);
  q = step(q, -7.37332916720468e-03f);
  q = step(q, -1.42647390514189e-02f);
  return wasm_f32x4_div(wasm_f32x4_mul(x, p), q);
}

// gelu(x) = x/2·(1 + erf(x/√2)); gelu_new(x) = x/2·(1 + tanh(u)) = x / (1 + exp(−2u)),
// u = √(2/π)·(x + 0.044715·x³).
static inline v128_t gelu4(v128_t x, int kind) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  if (kind == 0) {
    const v128_t e = erf4(wasm_f32x4_mul(x, wasm_f32x4_splat(0.70710678118654752f)));
    return wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(0.5f), x), wasm_f32x4_add(one, e));
  }
  const v128_t x3 = wasm_f32x4_mul(wasm_f32x4_mul(x, x), x);
  const v128_t u = wasm_f32x4_mul(wasm_f32x4_splat(0.79788456080286536f),
                                  wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(0.044715f), x3), x));
  return wasm_f32x4_div(x, wasm_f32x4_add(one, exp4(wasm_f32x4_mul(wasm_f32x4_splat(-2.0f), u))));
}

static void gelu_range(float* out, const float* x, long n, int kind) {
  long i = 0;
  for (; i + 4 <= n; i += 4) st(out + i, gelu4(ld(x + i), kind));
  for (; i < n; i++) out[i] = wasm_f32x4_extract_lane(gelu4(wasm_f32x4_splat(x[i]), kind), 0);
}

// a · silu(g) = a · g / (1 + exp(−g))
static inline v128_t swiglu4(v128_t a, v128_t g) {
  return wasm_f32x4_div(wasm_f32x4_mul(a, g), wasm_f32x4_add(wasm_f32x4_splat(1.0f), exp4(wasm_f32x4_neg(g))));
}

static void swiglu_range(float* out, const float* a, const float* g, long n) {
  long i = 0;
  for (; i + 4 <= n; i += 4) st(out + i, swiglu4(ld(a + i), ld(g + i)));
  for (; i < n; i++) out[i] = wasm_f32x4_extract_lane(swiglu4(wasm_f32x4_splat(a[i]), wasm_f32x4_splat(g[i])), 0);
}

#include "../activation_grads_scalar.inc"

// Two-pass mean and variance: float lanes, combined in double (as the native AVX2 kernels).
static void layer_norm_row(float* out, const float* x, const float* w, const float* b, int D, float eps,
                           float* mean, float* rstd) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= D; i += 4) acc = wasm_f32x4_add(acc, ld(x + i));
  double s = hsum(acc);
  for (; i < D; i++) s += x[i];
  const float mu = (float)(s / D);
  const v128_t vm = wasm_f32x4_splat(mu);
  acc = wasm_f32x4_splat(0.0f);
  for (i = 0; i + 4 <= D; i += 4) {
    const v128_t c = wasm_f32x4_sub(ld(x + i), vm);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(c, c));
  }
  double v = hsum(acc);
  for (; i < D; i++) v += (double)(x[i] - mu) * (x[i] - mu);
  const float r = (float)(1.0 / std::sqrt(v / D + eps));
  const v128_t vr = wasm_f32x4_splat(r);
  for (i = 0; i + 4 <= D; i += 4)
    st(out + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(ld(x + i), vm), vr), ld(w + i)), ld(b + i)));
  for (; i < D; i++) out[i] = (x[i] - mu) * r * w[i] + b[i];
  if (mean) *mean = mu;
  if (rstd) *rstd = r;
}

// ---- f16 and q8 KV cache primitives ----

// Four halves, sign-extended to i32 lanes → four floats, exactly (as half_to_float). Shifted left by 13, a
// half's sign lands on bit 31 (the ones of the extension above it masked off), its exponent and mantissa on a
// float's; scaling by 2^112 rebiases the exponent (15 → 127) and normalizes half subnormals. Inf/NaN
// (exponent 31) are left with a finite exponent there, and get 255. Eight operations: the conversion runs
// once per weight block and group of rows, where a longer one cost a third of the quantized products.
static v128_t h2f4_s32(v128_t x) {
  const v128_t y = wasm_v128_and(wasm_i32x4_shl(x, 13), wasm_i32x4_splat((int32_t)0x8fffe000));
  const v128_t f = wasm_f32x4_mul(y, wasm_f32x4_splat(0x1p112f));
  const v128_t e31 = wasm_i32x4_eq(wasm_v128_and(y, wasm_i32x4_splat(0x0f800000)), wasm_i32x4_splat(0x0f800000));
  return wasm_v128_or(f, wasm_v128_and(e31, wasm_i32x4_splat(0x7f800000)));
}
static v128_t h2f4(const uint16_t* h) { return h2f4_s32(wasm_i32x4_load16x4(h)); }

static inline v128_t i8f4(const int8_t* p) {
  return wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(wasm_i16x8_load8x8(p)));
}

static void to_half(uint16_t* out, const float* x, long n) {
  for (long i = 0; i < n; i++) out[i] = float_to_half(x[i]);
}

static void halves_to_floats(const uint16_t* h, float* out, long n) {
  long i = 0;
  for (; i + 4 <= n; i += 4) st(out + i, h2f4(h + i));
  for (; i < n; i++) out[i] = half_to_float(h[i]);
}

static float i8_one(int8_t v) { return (float)v; }

static void dot4(const float* x, const int8_t* b0, const int8_t* b1, const int8_t* b2, const int8_t* b3, long n,
                 float* out) {
  dot4_kv<int8_t, i8f4, i8_one>(x, b0, b1, b2, b3, n, out);
}
static void axpy4(long n, const float* coef, const int8_t* w0, const int8_t* w1, const int8_t* w2, const int8_t* w3,
                  float* y) {
  axpy4_kv<int8_t, i8f4, i8_one>(n, coef, w0, w1, w2, w3, y);
}
static void dot4(const float* x, const uint16_t* b0, const uint16_t* b1, const uint16_t* b2, const uint16_t* b3,
                 long n, float* out) {
  dot4_kv<uint16_t, h2f4, half_to_float>(x, b0, b1, b2, b3, n, out);
}
static void axpy4(long n, const float* coef, const uint16_t* w0, const uint16_t* w1, const uint16_t* w2,
                  const uint16_t* w3, float* y) {
  axpy4_kv<uint16_t, h2f4, half_to_float>(n, coef, w0, w1, w2, w3, y);
}

#include "quant_wasm.inc"
#include "../kernels.inc"
#include "../quant.inc"

}  // namespace wasm
}  // namespace mugpt

// ---- the ABI of src/kernels/wasm.ts: pointers into linear memory, sizes checked on the JS side ----
using namespace mugpt::wasm;

EXPORT("gemm") void k_gemm(int tA, int tB, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                           float* C) {
  gemm(tA, tB, M, N, K, alpha, A, B, beta, C);
}
EXPORT("linear") void k_linear(float* out, const float* x, const float* W, const float* bias, int M, int K, int N) {
  linear(out, x, W, bias, M, K, N);
}
EXPORT("layer_norm") void k_layer_norm(float* out, const float* x, const float* w, const float* b, int M, int D,
                                       float eps, float* mean, float* rstd) {
  layer_norm(out, x, w, b, M, D, eps, mean, rstd);
}
EXPORT("gelu") void k_gelu(float* out, const float* x, long n, int kind) { gelu(out, x, n, kind); }
EXPORT("swiglu") void k_swiglu(float* out, const float* a, const float* g, long n) { swiglu(out, a, g, n); }
EXPORT("attention") void k_attention(float* out, const float* q, long qs, float* k, float* v, long kvs, int Tq, int Tk,
                                     int H, int d, float scale, const float* slopes, float* probs) {
  attention(out, q, qs, k, v, kvs, nullptr, nullptr, 0, Tq, Tk, H, d, scale, slopes, probs);  // new rows: wasm.ts
}
EXPORT("attention_f16") void k_attention_f16(float* out, const float* q, long qs, uint16_t* k, uint16_t* v, long kvs,
                                             const float* k_new, const float* v_new, long ns, int Tq, int Tk, int H,
                                             int d, float scale, const float* slopes) {
  attention_f16(out, q, qs, k, v, kvs, k_new, v_new, ns, Tq, Tk, H, d, scale, slopes);
}
EXPORT("attention_q8") void k_attention_q8(float* out, const float* q, long qs, const int8_t* k, const int8_t* v,
                                           const float* ks, const float* vs, long kvs, int Tq, int Tk, int H, int d,
                                           float scale, const float* slopes) {
  attention_q8(out, q, qs, k, v, ks, vs, kvs, Tq, Tk, H, d, scale, slopes);
}
EXPORT("quantize_heads") void k_quantize_heads(int8_t* q, float* scale, const float* x, int H, int d) {
  for (int h = 0; h < H; h++) mugpt::q8_quantize(x + (long)h * d, d, q + (long)h * d, scale + h);
}
/** x4: W is in the x4 layout (quant_wasm.inc), else in GGUF's rows layout. */
EXPORT("qlinear") void k_qlinear(float* out, const float* x, const uint8_t* W, int type, int N, int K, const float* bias,
                                 int M, float alpha, int accumulate, int x4) {
  qlinear(out, x, W, type, N, K, bias, M, alpha, accumulate, x4 != 0);
}
EXPORT("qlinear_pair") void k_qlinear_pair(float* out_a, float* out_b, const float* x, const uint8_t* Wa, int type_a,
                                           int x4_a, const float* bias_a, const uint8_t* Wb, int type_b, int x4_b,
                                           const float* bias_b, int N, int K, int M) {
  qlinear_pair(out_a, out_b, x, Wa, type_a, x4_a != 0, bias_a, Wb, type_b, x4_b != 0, bias_b, N, K, M);
}
EXPORT("qpack_x4") void k_qpack_x4(uint8_t* W, int type, int N, int K) { qpack_x4(W, type, N, K); }
EXPORT("qrow") void k_qrow(float* out, const uint8_t* W, int type, int N, int K, int r, int x4) {
  qrow(out, W, type, N, K, r, x4 != 0);
}
EXPORT("layer_norm_backward") void k_layer_norm_backward(float* dx, float* dw, float* db, const float* dout,
                                                         const float* x, const float* mean, const float* rstd,
                                                         const float* w, int M, int D) {
  layer_norm_backward(dx, dw, db, dout, x, mean, rstd, w, M, D);
}
EXPORT("gelu_backward") void k_gelu_backward(float* dx, const float* x, const float* dout, long n, int kind) {
  gelu_backward(dx, x, dout, n, kind);
}
EXPORT("swiglu_backward") void k_swiglu_backward(float* da, float* dg, const float* a, const float* g, const float* dout,
                                                 long n) {
  swiglu_backward(da, dg, a, g, dout, n);
}
/** row_loss: [M] doubles of scratch. */
EXPORT("softmax_xent") double k_softmax_xent(float* logits, const int* targets, int M, int V, float grad_scale,
                                             double* row_loss) {
  return softmax_xent(logits, targets, M, V, grad_scale, row_loss);
}
EXPORT("attention_backward") void k_attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                                       const float* k, const float* v, long qs, long kvs,
                                                       const float* probs, int T, int H, int d, float scale) {
  attention_backward(dq, dk, dv, dout, q, k, v, qs, kvs, probs, T, H, d, scale);
}
