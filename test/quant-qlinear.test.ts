import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qlinearJs } from '../src/kernels/qlinear-js.js';
import { dequantize, quantize, type BlockType } from '../src/quant/blocks.js';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

for (const type of ['q8_0', 'q4_0'] as BlockType[]) {
  test(`${type} linear equals the float product of dequantized weights and Q8_0-rounded activations`, () => {
    const M = 3, K = 96, N = 5;
    const Wf = rand(N * K, 1);
    const W = { type, data: quantize(type, Wf, N, K), N, K };
    const Wd = dequantize(type, W.data, N, K);
    const x = rand(M * K, 2);
    const xd = dequantize('q8_0', quantize('q8_0', x, M, K), M, K);
    const bias = rand(N, 3);
    const out = new Float32Array(M * N);
    qlinearJs(out, x, W, bias, M);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let ref = bias[n];
      for (let k = 0; k < K; k++) ref += xd[m * K + k] * Wd[n * K + k];
      assert.ok(Math.abs(out[m * N + n] - ref) < 1e-5 * (1 + Math.abs(ref)), `${m},${n}: ${out[m * N + n]} vs ${ref}`);
      // and it stays close to the unquantized product
      let exact = bias[n];
      for (let k = 0; k < K; k++) exact += x[m * K + k] * Wf[n * K + k];
      assert.ok(Math.abs(out[m * N + n] - exact) < (type === 'q8_0' ? 0.05 : 0.5), `${type} error too large`);
    }
  });
}
