// Gradients against central finite differences of a loss, on sampled elements of every tensor: the check
// the backward tests (model-backward, model-dropout) share.
import assert from 'node:assert/strict';

/**
 * For every tensor of `grads` (a copy: lossAndGrad reuses its arrays, and `loss` may call it), three elements i
 * drawn by an LCG from `seed`: the analytic gradient g[i] against (loss(x + h) − loss(x − h)) / 2h with
 * h = 1e-2·max(1, |x|), the element of `params` moved in place and restored; within 5e-3 of the tensor's
 * largest |gradient| (plus 2e-5), float32's reach at this h.
 */
export function assertFiniteDifferences(
  params: Record<string, Float32Array>, grads: Record<string, Float32Array>, loss: () => number, seed: number, what: string,
): void {
  let s = seed;
  for (const [t, g] of Object.entries(grads)) {
    const p = params[t];
    let maxG = 0;
    for (const x of g) maxG = Math.max(maxG, Math.abs(x));
    for (let k = 0; k < 3; k++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const i = s % p.length;
      const x0 = p[i], h = 1e-2 * Math.max(1, Math.abs(x0));
      p[i] = x0 + h; const up = loss();
      p[i] = x0 - h; const down = loss();
      p[i] = x0;
      const fd = (up - down) / (2 * h);
      assert.ok(Math.abs(fd - g[i]) <= 5e-3 * maxG + 2e-5, `${what} ${t}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
    }
  }
}

/** A copy of each gradient (lossAndGrad reuses its arrays from call to call). */
export function copyGrads(grads: Record<string, Float32Array>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, Float32Array.from(v)]));
}
