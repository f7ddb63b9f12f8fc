// Backward kernels against central finite differences of the forward kernels (JS reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsKernels as K } from '../src/kernels/js.js';
import { attentionBackward, geluBackward, layerNormBackward, softmaxCrossEntropy, swigluBackward } from '../src/kernels/backward-js.js';

function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => scale * (((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1));
}

/** Σ r·y for the forward's output y: the scalar whose gradient the backward computes with dout = r. */
function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Checks grad against central differences of f over every element of x. */
function checkFd(name: string, x: Float32Array, grad: Float32Array, f: () => number, h = 1e-2): void {
  let maxG = 0;
  for (const g of grad) maxG = Math.max(maxG, Math.abs(g));
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h; const up = f();
    x[i] = x0 - h; const down = f();
    x[i] = x0;
    const fd = (up - down) / (2 * h);
    assert.ok(Math.abs(fd - grad[i]) <= 2e-3 * maxG + 1e-4, `${name}[${i}]: analytic ${grad[i]} vs finite difference ${fd}`);
  }
}

for (const kind of ['erf', 'tanh'] as const) {
  test(`gelu ${kind} backward matches finite differences`, () => {
    const n = 40;
    const x = rand(n, 1, 4), r = rand(n, 2);
    const y = new Float32Array(n);
    const f = (): number => { K.gelu(y, x, n, kind); return dot(y, r); };
    const dx = new Float32Array(n);
    geluBackward(dx, x, r, n, kind);
    checkFd('x', x, dx, f, 1e-3);
  });
}

test('swiglu backward matches finite differences for both inputs', () => {
  const n = 40;
  const a = rand(n, 3, 3), g = rand(n, 4, 4), r = rand(n, 5);
  const y = new Float32Array(n);
  const f = (): number => { K.swiglu(y, a, g, n); return dot(y, r); };
  const da = new Float32Array(n), dg = new Float32Array(n);
  swigluBackward(da, dg, a, g, r, n);
  checkFd('a', a, da, f, 1e-3);
  checkFd('g', g, dg, f, 1e-3);
});

test('layerNorm backward matches finite differences (x, weight, bias) and accumulates', () => {
  const M = 3, D = 8;
  const x = rand(M * D, 6, 2), w = rand(D, 7), b = rand(D, 8), r = rand(M * D, 9);
  const y = new Float32Array(M * D), mean = new Float32Array(M), rstd = new Float32Array(M);
  const f = (): number => { K.layerNorm(y, x, w, b, M, D, 1e-5); return dot(y, r); };
  K.layerNorm(y, x, w, b, M, D, 1e-5, mean, rstd);
  const dx = new Float32Array(M * D), dw = new Float32Array(D), db = new Float32Array(D);
  layerNormBackward(dx, dw, db, r, x, mean, rstd, w, M, D);
  checkFd('x', x, dx, f, 1e-3);
  checkFd('w', w, dw, f, 1e-3);
  checkFd('b', b, db, f, 1e-3);
  const dx2 = Float32Array.from(dx);
  layerNormBackward(dx2, dw, db, r, x, mean, rstd, w, M, D);
  for (let i = 0; i < dx.length; i++) assert.ok(Math.abs(dx2[i] - 2 * dx[i]) < 1e-6 * (1 + Math.abs(dx[i])));
});

for (const alibi of [false, true]) {
  test(`causal attention backward matches finite differences${alibi ? ' (ALiBi)' : ''}`, () => {
    const T = 5, H = 2, d = 3, D = H * d, S = 3 * D; // q|k|v packed in rows of a [T, 3D] buffer, as after c_attn
    const qkv = rand(T * S, 10, 1.5), r = rand(T * D, 11);
    const slopes = alibi ? Float32Array.from([0.5, 0.125]) : null;
    const out = new Float32Array(T * D);
    const probs = new Float32Array(H * T * T);
    const args = (p?: Float32Array) => ({
      out, q: qkv, k: qkv.subarray(D), v: qkv.subarray(2 * D), qStride: S, kvStride: S,
      Tq: T, Tk: T, H, d, scale: 1 / Math.sqrt(d), slopes, probs: p,
    });
    const f = (): number => { K.attention(args()); return dot(out, r); };
    K.attention(args(probs));
    const dqkv = new Float32Array(T * S);
    attentionBackward({
      dq: dqkv, dk: dqkv.subarray(D), dv: dqkv.subarray(2 * D), dout: r, q: qkv, k: qkv.subarray(D), v: qkv.subarray(2 * D),
      qStride: S, kvStride: S, probs, T, H, d, scale: 1 / Math.sqrt(d),
    });
    checkFd('qkv', qkv, dqkv, f, 1e-3);
  });
}

test('fused softmax cross-entropy: loss equals −log softmax, gradient matches finite differences, ignored rows give 0', () => {
  const M = 4, V = 7;
  const logits = rand(M * V, 12, 3);
  const targets = [3, 0, -1, 6];
  const loss = (): number => {
    let s = 0;
    for (let i = 0; i < M; i++) {
      if (targets[i] < 0) continue;
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(logits[i * V + j]);
      s += Math.log(z) - logits[i * V + targets[i]];
    }
    return s / 3;
  };
  const g = Float32Array.from(logits);
  const l = softmaxCrossEntropy(g, targets, M, V, 1 / 3);
  assert.ok(Math.abs(l / 3 - loss()) < 1e-6);
  for (let j = 0; j < V; j++) assert.equal(g[2 * V + j], 0);
  checkFd('logits', logits, g, loss, 1e-3);
});
