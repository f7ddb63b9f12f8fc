// Scalar functions of the JS kernels: erf / erfc to double precision, the two GELUs, SiLU.

// erf / erfc to double precision (≈1e-15 relative), for the exact GELU.
//   |z| < 2:  erf(z) = 2/√π · e^{−z²} · Σₙ 2ⁿ z^{2n+1} / (1·3·…·(2n+1))   (all terms positive)
//   |z| ≥ 2:  erfc(z) = e^{−z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))  (continued fraction)

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);

function erfSeries(z: number): number {
  const z2 = z * z;
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (2 * z2) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z2) * sum;
}

/** erfc(z) for z ≥ 2 by the Laplace continued fraction, evaluated bottom-up with 60 levels. */
function erfcLarge(z: number): number {
  let f = z;
  for (let n = 60; n >= 1; n--) f = z + (n / 2) / f;
  return (INV_SQRT_PI * Math.exp(-z * z)) / f;
}

/** The error function, accurate to about 1e-15 relative. */
export function erf(z: number): number {
  if (Number.isNaN(z)) return NaN;
  const a = Math.abs(z);
  const r = a < 2 ? erfSeries(a) : 1 - erfcLarge(a);
  return z < 0 ? -r : r;
}

/** The complementary error function 1 − erf(z), accurate also where it is tiny (z ≫ 0). */
export function erfc(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z >= 2) return erfcLarge(z);
  if (z <= -2) return 2 - erfcLarge(-z);
  return 1 - erf(z);
}

/** Exact GELU: x · Φ(x) = x/2 · erfc(−x/√2). */
export function geluErf(x: number): number {
  return 0.5 * x * erfc(-x * Math.SQRT1_2);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** GPT-2's gelu_new: x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/** SiLU: g · σ(g). */
export function silu(g: number): number {
  return g / (1 + Math.exp(-g));
}

