import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize, quantize, quantizedBytes } from '../src/quant/blocks.js';
import { floatToHalf, halfToFloat } from '../src/quant/half.js';

function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const u = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

test('half conversion is exact for every half value and rounds to nearest even', () => {
  for (let h = 0; h < 65536; h++) {
    const f = halfToFloat(h);
    if (Number.isNaN(f)) { assert.ok(Number.isNaN(halfToFloat(floatToHalf(f)))); continue; }
    assert.equal(floatToHalf(f), h, `half 0x${h.toString(16)}`);
  }
  assert.equal(floatToHalf(1 + 2 ** -11), floatToHalf(1)); // tie → even (mantissa 0)
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), floatToHalf(1 + 2 ** -9)); // tie → even (mantissa 2)
  assert.equal(halfToFloat(floatToHalf(65520)), Infinity); // overflow rounds to Inf
  assert.equal(halfToFloat(floatToHalf(2 ** -25 * 1.5)), 2 ** -24); // subnormal rounding
});

test('Q8_0 blocks: layout, error at most half a step, exact on representable values', () => {
  const K = 64, rows = 3;
  const x = randn(rows * K, 1);
  const q = quantize('q8_0', x, rows, K);
  assert.equal(q.length, quantizedBytes('q8_0', rows, K));
  assert.equal(q.length, rows * 2 * 34);
  const y = dequantize('q8_0', q, rows, K);
  for (let b = 0; b < (rows * K) / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
    const d = halfToFloat(q[b * 34] | (q[b * 34 + 1] << 8));
    assert.ok(Math.abs(d - amax / 127) <= (amax / 127) * 2 ** -10, 'scale is amax/127 in f16');
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(y[b * 32 + i] - x[b * 32 + i]) <= d * 0.5 + amax * 2 ** -10);
  }
  // values that are multiples of a power-of-two step survive exactly
  const exact = new Float32Array(32).map((_, i) => (i - 16) * 0.125);
  exact[0] = 127 * 0.125;
  assert.deepEqual(dequantize('q8_0', quantize('q8_0', exact, 1, 32), 1, 32), exact);
});

test('Q4_0 blocks: nibble order j / j+16, scale from the signed extreme', () => {
  const x = new Float32Array(32);
  for (let i = 0; i < 32; i++) x[i] = i - 16; // largest |x| is −16 → d = 2, q = x/2 + 8
  const q = quantize('q4_0', x, 1, 32);
  assert.equal(q.length, 18);
  assert.equal(halfToFloat(q[0] | (q[1] << 8)), 2);
  for (let j = 0; j < 16; j++) {
    assert.equal(q[2 + j] & 0xf, Math.min(15, Math.trunc(x[j] / 2 + 8.5)));
    assert.equal(q[2 + j] >> 4, Math.min(15, Math.trunc(x[j + 16] / 2 + 8.5)));
  }
  const y = dequantize('q4_0', q, 1, 32);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(y[i] - x[i]) <= 1 + 1e-6);
  const r = randn(32 * 8, 7, 0.02);
  const ry = dequantize('q4_0', quantize('q4_0', r, 8, 32), 8, 32);
  let err = 0, norm = 0;
  for (let i = 0; i < r.length; i++) { err += (ry[i] - r[i]) ** 2; norm += r[i] ** 2; }
  assert.ok(Math.sqrt(err / norm) < 0.15, `Q4_0 relative RMS error ${Math.sqrt(err / norm)}`);
});

test('quantize rejects rows that are not a multiple of 32', () => {
  assert.throws(() => quantize('q4_0', new Float32Array(48), 1, 48), /multiple of 32/);
});
