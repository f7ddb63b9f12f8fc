// The few libm functions the kernels need, for the freestanding WebAssembly build (include/cmath).
// Float versions accurate to a few ulps; log in double (the fused cross-entropy's log-sum-exp).
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mugpt_libm {

static inline float bits_to_float(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }

// exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (ln 2 split in two for an exact
// product), e^r by the degree-5 minimax polynomial of Cephes' expf (|r| ≤ ln2/2, ≈1 ulp).
// Inputs are clamped to [−87.3, 88] so 2^n stays a normal float; NaN passes through.
float expf(float x) {
  if (x != x) return x;
  x = x < -87.33654f ? -87.33654f : x > 88.0f ? 88.0f : x;
  const float n = __builtin_rintf(x * 1.44269504088896341f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * bits_to_float((uint32_t)((int32_t)n + 127) << 23);
}

// log(x) for x > 0: x = 2^e · m, m in [√½, √2), log m = 2·atanh(z) = 2(z + z³/3 + z⁵/5 + …) with
// z = (m − 1)/(m + 1), |z| ≤ 0.172: twelve terms reach double precision.
double log(double x) {
  if (!(x > 0)) return x == 0 ? -__builtin_inf() : __builtin_nan("");
  if (x == __builtin_inf()) return x;
  uint64_t b;
  std::memcpy(&b, &x, 8);
  int e = (int)((b >> 52) & 0x7ff);
  if (e == 0) {  // subnormal: scale into the normal range first
    x *= 18014398509481984.0;  // 2^54
    std::memcpy(&b, &x, 8);
    e = (int)((b >> 52) & 0x7ff) - 54;
  }
  e -= 1023;
  b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
  double m;
  std::memcpy(&m, &b, 8);
  if (m > 1.4142135623730951) { m *= 0.5; e++; }
  const double z = (m - 1) / (m + 1), z2 = z * z;
  double s = 0;
  for (int k = 23; k >= 1; k -= 2) s = s * z2 + 1.0 / k;
  return 2 * z * s + e * 0.6931471805599453;
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7, below float32 resolution of the
// 1 + erf(x/√2) the exact GELU adds it to), odd in x.
float erff(float x) {
  const float a = std::fabs(x), t = 1.0f / (1.0f + 0.3275911f * a);
  const float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  const float y = 1.0f - p * expf(-a * a);
  return x < 0 ? -y : y;
}

// tanh: the odd polynomial of Cephes' tanhf below |x| = 0.625, else 1 − 2/(e^{2|x|} + 1).
float tanhf(float x) {
  const float a = std::fabs(x);
  if (a < 0.625f) {
    const float s = x * x;
    return ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s + 1.33314422036e-1f) * s -
            3.33332819422e-1f) * s * x + x;
  }
  const float y = a > 9.0f ? 1.0f : 1.0f - 2.0f / (expf(2.0f * a) + 1.0f);
  return x < 0 ? -y : y;
}

// roundf: halves away from zero (x − trunc(x) is exact in float).
float roundf(float x) {
  const float t = __builtin_truncf(x);
  return std::fabs(x - t) >= 0.5f ? t + __builtin_copysignf(1.0f, x) : t;
}

}  // namespace mugpt_libm
