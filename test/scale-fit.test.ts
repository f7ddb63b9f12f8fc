import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitScalingLaw, holdoutError, predictLoss } from '../src/scale/fit.js';
import { Rng } from '../src/rng.js';

const law = (p: { alpha: number; c0: number; lInf: number }) => (c: number) => (c / p.c0) ** -p.alpha + p.lInf;
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

test('fit: recovers known parameters within 1% from exact data, and within 5 standard errors from data with 0.01% noise', () => {
  const cases = [
    { alpha: 0.076, c0: 2.1e13, lInf: 1.8, compute: [1e12, 3e12, 1e13, 3e13, 1e14, 3e14, 1e15] }, // a Cerebras-GPT-like law
    { alpha: 0.3, c0: 1e9, lInf: 3.0, compute: [2e10, 8e10, 3e11, 1e12, 4e12] },
    { alpha: 0.15, c0: 5e7, lInf: 2.2, compute: [1e10, 1e11, 1e12, 1e13, 1e14, 1e15] },
  ];
  const rng = new Rng(7);
  for (const t of cases) {
    for (const noise of [0, 1e-4]) {
      const pts = t.compute.map((c) => ({ flops: c, loss: law(t)(c) * (1 + noise * (2 * rng.nextFloat() - 1)) }));
      const f = fitScalingLaw(pts);
      assert.ok(f.r2 > 0.9999, `r2 ${f.r2}`);
      assert.ok(f.stderr !== null);
      if (noise === 0) {
        assert.ok(rel(f.alpha, t.alpha) < 0.01, `alpha ${f.alpha} vs ${t.alpha}`);
        assert.ok(rel(f.c0, t.c0) < 0.01, `c0 ${f.c0} vs ${t.c0}`);
        assert.ok(rel(f.lInf, t.lInf) < 0.01, `lInf ${f.lInf} vs ${t.lInf}`);
        assert.ok(f.rmse < 1e-9);
      } else {
        // C₀ is poorly determined when α is small (ln C₀ moves 1/α times the loss error): the truth lies
        // within a few standard errors of each estimate
        assert.ok(Math.abs(f.alpha - t.alpha) < 5 * f.stderr.alpha, `alpha ${f.alpha} ± ${f.stderr.alpha} vs ${t.alpha}`);
        assert.ok(Math.abs(f.c0 - t.c0) < 5 * f.stderr.c0, `c0 ${f.c0} ± ${f.stderr.c0} vs ${t.c0}`);
        assert.ok(Math.abs(f.lInf - t.lInf) < 5 * f.stderr.lInf, `lInf ${f.lInf} ± ${f.stderr.lInf} vs ${t.lInf}`);
      }
    }
  }
});

test('fit: R² against a hand computation; leave-the-largest-out error; bad input refused', () => {
  const t = { alpha: 0.2, c0: 1e8, lInf: 2.5 };
  const c = [1e9, 1e10, 1e11, 1e12, 1e13];
  const pts = c.map((x, i) => ({ flops: x, loss: law(t)(x) + (i % 2 ? 0.01 : -0.01) }));
  const f = fitScalingLaw(pts);
  const mean = pts.reduce((a, p) => a + p.loss, 0) / pts.length;
  const sse = pts.reduce((a, p) => a + (predictLoss(f, p.flops) - p.loss) ** 2, 0);
  const sst = pts.reduce((a, p) => a + (p.loss - mean) ** 2, 0);
  assert.ok(Math.abs(f.r2 - (1 - sse / sst)) < 1e-12);
  assert.ok(f.r2 < 1 && f.r2 > 0.99);

  // holdout: the fit of the four smaller points predicts the largest; exact data predicts it exactly
  const exact = c.map((x) => ({ flops: x, loss: law(t)(x) }));
  assert.ok(Math.abs(holdoutError(exact)) < 1e-6);
  const bumped = exact.map((p, i) => (i === 4 ? { ...p, loss: p.loss * 1.05 } : p));
  const h = holdoutError(bumped);
  assert.ok(Math.abs(h - (1 / 1.05 - 1)) < 1e-4, `holdout ${h}`);

  assert.throws(() => fitScalingLaw(exact.slice(0, 2)), /at least 3 points/);
  assert.throws(() => fitScalingLaw([exact[0], exact[0], exact[1]]), /3 distinct compute values/);
  assert.throws(() => holdoutError(exact.slice(0, 3)), /at least 4 points/);
  assert.throws(() => fitScalingLaw([{ flops: 0, loss: 3 }, ...exact.slice(0, 3)]), /compute must be > 0/);
});
