// The Cerebras-GPT scaling law L(C) = (C / C₀)^(−α) + L∞ (Dey et al. 2023, "Cerebras-GPT", §3.2),
// fitted to (compute, loss) points by nonlinear least squares with a Levenberg–Marquardt loop of our own
// (Marquardt 1963; Nocedal & Wright, "Numerical Optimization", §10.3):
//
//   parameters θ = (α, ln C₀, ln L∞), so C₀ stays positive and spans decades, and L∞ — a cross-entropy,
//   never negative — stays positive too;
//   residuals r_i = (C_i/C₀)^(−α) + L∞ − L_i; with u_i = ln C_i − ln C₀ and p_i = e^(−α·u_i),
//   Jacobian rows ∂r_i/∂α = −u_i·p_i, ∂r_i/∂ln C₀ = α·p_i, ∂r_i/∂ln L∞ = L∞;
//   step δ solves (JᵀJ + λ·diag(JᵀJ)) δ = −Jᵀr; accepted (λ ÷ 10) if it lowers Σr², else λ × 10.
//
// Starting points: for each trial L∞ between 0 and the smallest loss, ln(L − L∞) is linear in ln C with
// slope −α; a least-squares line gives α and ln C₀, and the best of these starts seeds the loop.
// Uncertainty: the covariance s²·(JᵀJ)⁻¹ at the optimum with s² = Σr²/(n − 3) (standard errors, carried
// from ln C₀ and ln L∞ to C₀ and L∞ by the delta method; none when n ≤ 3).
import { check } from '../errors.js';

export interface ScalingFit {
  alpha: number;
  c0: number;
  lInf: number;
  /** 1 − Σr²/Σ(L − mean L)². */
  r2: number;
  /** Standard errors of α, C₀ and L∞; null with ≤ 3 points. */
  stderr: { alpha: number; c0: number; lInf: number } | null;
  /** Root-mean-square residual. */
  rmse: number;
  iterations: number;
}

export interface FitPoint { flops: number; loss: number }

/** L(C) under a fit. */
export function predictLoss(fit: Pick<ScalingFit, 'alpha' | 'c0' | 'lInf'>, flops: number): number {
  return (flops / fit.c0) ** -fit.alpha + fit.lInf;
}

/** Solves the 3×3 system A x = b (Gaussian elimination with partial pivoting); null when singular. */
function solve3(A: number[][], b: number[]): number[] | null {
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < 3; c++) {
    let piv = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    if (Math.abs(M[piv][c]) < 1e-300) return null;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < 3; r++) {
      const k = M[r][c] / M[c][c];
      for (let j = c; j < 4; j++) M[r][j] -= k * M[c][j];
    }
  }
  const x = [0, 0, 0];
  for (let r = 2; r >= 0; r--) {
    let s = M[r][3];
    for (let j = r + 1; j < 3; j++) s -= M[r][j] * x[j];
    x[r] = s / M[r][r];
  }
  return x;
}

function inverse3(A: number[][]): number[][] | null {
  const cols = [0, 1, 2].map((k) => solve3(A, [0, 1, 2].map((i) => (i === k ? 1 : 0))));
  if (cols.some((c) => c === null || c.some((v) => !Number.isFinite(v)))) return null;
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => cols[j]![i]));
}

/** Residuals r [n] and Jacobian J [n][3] at θ = (α, ln C₀, ln L∞). */
function residuals(theta: number[], lnC: number[], loss: number[]): { r: number[]; J: number[][]; sse: number } {
  const [alpha, lnC0, lnLInf] = theta;
  const lInf = Math.exp(lnLInf);
  const r: number[] = [], J: number[][] = [];
  let sse = 0;
  for (let i = 0; i < lnC.length; i++) {
    const u = lnC[i] - lnC0, p = Math.exp(-alpha * u);
    const ri = p + lInf - loss[i];
    r.push(ri);
    J.push([-u * p, alpha * p, lInf]);
    sse += ri * ri;
  }
  return { r, J, sse };
}

/** Least-squares line through (x, y): slope and intercept. */
function line(x: number[], y: number[]): { slope: number; intercept: number } {
  const n = x.length, mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ** 2; }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, intercept: my - slope * mx };
}

/** Fits L(C) = (C/C₀)^(−α) + L∞ to at least three points of distinct compute. */
export function fitScalingLaw(points: FitPoint[], opts: { maxIterations?: number } = {}): ScalingFit {
  check(points.length >= 3, `fitScalingLaw: needs at least 3 points (3 parameters), got ${points.length}`);
  for (const q of points) check(Number.isFinite(q.flops) && q.flops > 0 && Number.isFinite(q.loss), `fitScalingLaw: compute must be > 0 and losses finite, got ${JSON.stringify(q)}`);
  check(new Set(points.map((q) => q.flops)).size >= 3, 'fitScalingLaw: needs at least 3 distinct compute values');
  check(points.every((q) => q.loss > 0), 'fitScalingLaw: losses must be > 0 (cross-entropies)');
  const lnC = points.map((q) => Math.log(q.flops)), loss = points.map((q) => q.loss);
  const minL = Math.min(...loss), maxL = Math.max(...loss);
  const spread = Math.max(maxL - minL, 1e-6);

  // starts: L∞ from just below the smallest loss (a thousandth of the spread) down towards 0
  let theta: number[] = [0.1, Math.max(...lnC), Math.log(minL / 2)];
  let best = residuals(theta, lnC, loss).sse;
  for (let k = 0; k <= 60; k++) {
    const lInf = minL - Math.min(spread * 10 ** (-3 + k / 12), minL * (1 - 1e-6));
    const { slope, intercept } = line(lnC, loss.map((l) => Math.log(l - lInf)));
    if (!(slope < 0)) continue;
    const alpha = -slope, cand = [alpha, intercept / alpha, Math.log(lInf)];
    const sse = residuals(cand, lnC, loss).sse;
    if (Number.isFinite(sse) && sse < best) { best = sse; theta = cand; }
  }

  let lambda = 1e-3, iterations = 0, converged = false;
  let cur = residuals(theta, lnC, loss);
  const maxIt = opts.maxIterations ?? 500;
  while (!converged && iterations < maxIt) {
    iterations++;
    const JtJ = [0, 1, 2].map((a) => [0, 1, 2].map((b) => cur.J.reduce((s, row) => s + row[a] * row[b], 0)));
    const Jtr = [0, 1, 2].map((a) => cur.J.reduce((s, row, i) => s + row[a] * cur.r[i], 0));
    let improved = false;
    while (lambda < 1e12) {
      const A = JtJ.map((row, i) => row.map((v, j) => (i === j ? v + lambda * Math.max(v, 1e-12) : v)));
      const delta = solve3(A, Jtr.map((v) => -v));
      if (delta) {
        const cand = theta.map((t, i) => t + delta[i]);
        const next = residuals(cand, lnC, loss);
        if (Number.isFinite(next.sse) && next.sse < cur.sse) {
          const gain = cur.sse - next.sse;
          theta = cand; cur = next; lambda = Math.max(lambda / 10, 1e-12); improved = true;
          converged = gain <= 1e-15 * Math.max(cur.sse, 1e-30) || Math.max(...delta.map(Math.abs)) < 1e-12;
          break;
        }
      }
      lambda *= 10;
    }
    if (!improved) converged = true; // no step lowers Σr²: a minimum (to rounding)
  }

  const [alpha, lnC0, lnLInf] = theta;
  const lInf = Math.exp(lnLInf);
  const mean = loss.reduce((a, b) => a + b, 0) / loss.length;
  const sst = loss.reduce((a, l) => a + (l - mean) ** 2, 0);
  let stderr: ScalingFit['stderr'] = null;
  if (points.length > 3) {
    const JtJ = [0, 1, 2].map((a) => [0, 1, 2].map((b) => cur.J.reduce((s, row) => s + row[a] * row[b], 0)));
    const inv = inverse3(JtJ);
    if (inv) {
      const s2 = cur.sse / (points.length - 3);
      const se = [0, 1, 2].map((i) => Math.sqrt(Math.max(0, s2 * inv[i][i])));
      stderr = { alpha: se[0], c0: Math.exp(lnC0) * se[1], lInf: lInf * se[2] };
    }
  }
  return {
    alpha, c0: Math.exp(lnC0), lInf,
    r2: sst > 0 ? 1 - cur.sse / sst : cur.sse === 0 ? 1 : 0,
    stderr, rmse: Math.sqrt(cur.sse / points.length), iterations,
  };
}

/**
 * Leave the largest out: fit the points of smaller compute, predict the loss of the largest, and return
 * the relative error (predicted − actual) / actual. Needs at least four points (three to fit).
 */
export function holdoutError(points: FitPoint[]): number {
  check(points.length >= 4, `holdoutError: needs at least 4 points (3 to fit, the largest to predict), got ${points.length}`);
  const sorted = [...points].sort((a, b) => a.flops - b.flops);
  const largest = sorted[sorted.length - 1];
  const fit = fitScalingLaw(sorted.slice(0, -1));
  return (predictLoss(fit, largest.flops) - largest.loss) / largest.loss;
}
