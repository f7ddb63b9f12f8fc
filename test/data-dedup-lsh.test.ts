import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bandKeys, candidateProbability, falseNegativeProbability, falsePositiveProbability, KeyTable, optimalBandsRows,
} from '../src/data/lsh.js';
import { UnionFind } from '../src/data/components.js';
import { fmix32 } from '../src/data/minhash.js';

test('optimal bands × rows match datasketch _optimal_param (SlimPajama: 0.8, 128 → 9 × 13)', () => {
  // Reference values: datasketch's _optimal_param (datasketch/lsh.py: the false positive and negative
  // areas of the S-curve by scipy's quad, weighted equally), run for each threshold and permutation count.
  assert.deepEqual(optimalBandsRows(0.8, 128), { bands: 9, rows: 13 });
  assert.deepEqual(optimalBandsRows(0.7, 128), { bands: 14, rows: 9 });
  assert.deepEqual(optimalBandsRows(0.9, 128), { bands: 5, rows: 25 });
  assert.deepEqual(optimalBandsRows(0.8, 256), { bands: 17, rows: 15 });
  assert.deepEqual(optimalBandsRows(0.7, 256), { bands: 25, rows: 10 });
  assert.throws(() => optimalBandsRows(1.2, 128), /threshold/);
});

test('S-curve: P = 1 − (1 − s^r)^b, and the FP/FN integrals match closed forms for b = r = 1', () => {
  assert.equal(candidateProbability(0, 9, 13), 0);
  assert.equal(candidateProbability(1, 9, 13), 1);
  const p08 = candidateProbability(0.8, 9, 13);
  assert.ok(Math.abs(p08 - (1 - (1 - 0.8 ** 13) ** 9)) < 1e-15);
  // Monotone, and steep around the 50% point (1/b)^(1/r) ≈ 0.845.
  for (let s = 0.01; s < 1; s += 0.01) assert.ok(candidateProbability(s, 9, 13) >= candidateProbability(s - 0.01, 9, 13));
  const mid = (1 / 9) ** (1 / 13);
  assert.ok(Math.abs(mid - 0.845) < 0.001);
  assert.ok(candidateProbability(0.6, 9, 13) < 0.02 && candidateProbability(0.95, 9, 13) > 0.99);
  // P(s) = s: FP = t²/2, FN = (1 − t)²/2.
  assert.ok(Math.abs(falsePositiveProbability(0.8, 1, 1) - 0.32) < 1e-12);
  assert.ok(Math.abs(falseNegativeProbability(0.8, 1, 1) - 0.02) < 1e-12);
});

test('band keys: equal bands give equal keys, one differing value changes only its band, bands are seeded apart', () => {
  const sig = Uint32Array.from({ length: 128 }, (_, i) => fmix32(i) >>> 0);
  const k1 = new Int32Array(18), k2 = new Int32Array(18);
  bandKeys(sig, 9, 13, k1);
  const sig2 = sig.slice();
  sig2[13 * 4 + 5] ^= 1;  // a value in band 4
  bandKeys(sig2, 9, 13, k2);
  for (let j = 0; j < 9; j++) {
    const same = k1[2 * j] === k2[2 * j] && k1[2 * j + 1] === k2[2 * j + 1];
    assert.equal(same, j !== 4, `band ${j}`);
  }
  // Identical values in two different bands still give different keys.
  const flat = new Uint32Array(26).fill(7);
  const kf = new Int32Array(4);
  bandKeys(flat, 2, 13, kf);
  assert.ok(kf[0] !== kf[2] || kf[1] !== kf[3]);
});

test('KeyTable returns the first value stored under a key, through growth', () => {
  const t = new KeyTable(2, 4);
  const key = new Int32Array(2);
  for (let i = 0; i < 5000; i++) {
    key[0] = fmix32(i); key[1] = fmix32(i + 1e6);
    assert.equal(t.insertOrGet(key, 0, i), -1);
  }
  assert.equal(t.size, 5000);
  for (let i = 0; i < 5000; i += 7) {
    key[0] = fmix32(i); key[1] = fmix32(i + 1e6);
    assert.equal(t.insertOrGet(key, 0, 99999), i);
  }
  // Keys equal in their first word only are distinct.
  key[0] = fmix32(3); key[1] = 12345;
  assert.equal(t.insertOrGet(key, 0, 7), -1);
});

test('union-find is transitive: A~B and B~C put A and C in one set though A≁C; the root is the smallest index', () => {
  const uf = new UnionFind(2);  // starts small: exercises growth
  for (let i = 0; i < 7; i++) uf.add();
  const [A, B, C] = [4, 1, 6];
  uf.union(C, B);  // edges arrive in any order
  uf.union(A, B);
  // no A–C edge
  assert.equal(uf.find(A), uf.find(C));
  assert.equal(uf.find(C), 1, 'root = smallest index of the set');
  assert.equal(uf.union(A, C), false, 'already together');
  uf.union(5, 3);
  assert.equal(uf.find(5), 3);
  assert.notEqual(uf.find(3), uf.find(A));
  assert.equal(uf.find(0), 0);
  uf.union(5, 0);
  assert.equal(uf.find(3), 0);
  assert.equal(uf.size, 7);
});
