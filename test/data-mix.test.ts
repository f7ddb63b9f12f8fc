import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MugptError } from '../src/errors.js';
import { copiesOf, hash32, mixMultipliers, rand01 } from '../src/data/mix.js';
import { isHeldOut, pileOf, shuffleInPlace } from '../src/data/split.js';
import { Decontaminator, sha256Hex } from '../src/data/decontaminate.js';

test('mixing multipliers reach the configured byte proportions at the same total size', () => {
  const src = [{ name: 'a', bytes: 600, proportion: 0.2 }, { name: 'b', bytes: 300, proportion: 0.5 }, { name: 'c', bytes: 100, proportion: 0.3 }];
  const m = mixMultipliers(src);
  assert.deepEqual(m.map((x) => +x.toFixed(9)), [1 / 3, 5 / 3, 3].map((x) => +x.toFixed(9)));
  const mixed = m.map((x, i) => x * src[i].bytes);
  assert.ok(Math.abs(mixed.reduce((a, b) => a + b, 0) - 1000) < 1e-9);
  mixed.forEach((b, i) => assert.ok(Math.abs(b / 1000 - src[i].proportion) < 1e-12));
  assert.deepEqual(mixMultipliers([{ name: 'a', bytes: 5, weight: 2 }, { name: 'b', bytes: 5 }]), [2, 1]);
  assert.deepEqual(mixMultipliers([{ name: 'a', bytes: 5, proportion: 1 }, { name: 'b', bytes: 0, proportion: 0 }]), [1, 0]);
  assert.throws(() => mixMultipliers([{ name: 'a', bytes: 5, proportion: 0.5 }, { name: 'b', bytes: 0, proportion: 0.5 }]),
    (e: Error) => e instanceof MugptError && /source 'b' has proportion 0\.5 but no documents are left/.test(e.message));
});

test('copiesOf samples floor(m) or floor(m)+1 copies with mean m, deterministically', () => {
  for (const m of [0.25, 1, 1.5, 3.2]) {
    let sum = 0;
    const n = 20000;
    for (let d = 0; d < n; d++) {
      const c = copiesOf(m, 7, 1, d);
      assert.ok(c === Math.floor(m) || c === Math.floor(m) + 1);
      assert.equal(c, copiesOf(m, 7, 1, d));
      sum += c;
    }
    assert.ok(Math.abs(sum / n - m) < 0.02, `mean ${sum / n} for m=${m}`);
  }
  // Different seeds give different samples.
  let differ = 0;
  for (let d = 0; d < 100; d++) if (copiesOf(0.5, 1, 0, d) !== copiesOf(0.5, 2, 0, d)) differ++;
  assert.ok(differ > 20);
});

test('hash-based randomness is uniform enough and seed-dependent', () => {
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 50000; i++) bins[Math.floor(rand01(3, i) * 10)]++;
  for (const b of bins) assert.ok(Math.abs(b - 5000) < 300, `bin ${b}`);
  assert.notEqual(hash32(1, 5), hash32(2, 5));
  assert.equal(hash32(1, 5, 6), hash32(1, 5, 6));
});

test('split: the shuffle is a seeded permutation and the held-out fraction is honoured', () => {
  const items = Array.from({ length: 1000 }, (_, i) => i);
  const a = shuffleInPlace([...items], 42, 0);
  const b = shuffleInPlace([...items], 42, 0);
  const c = shuffleInPlace([...items], 43, 0);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual([...a].sort((x, y) => x - y), items);
  let held = 0;
  for (let i = 0; i < 20000; i++) if (isHeldOut(42, 0, i, 0.05)) held++;
  assert.ok(Math.abs(held / 20000 - 0.05) < 0.006, `held ${held}`);
  for (let i = 0; i < 100; i++) assert.equal(isHeldOut(42, 0, i, 0), false);
  const piles = new Set(Array.from({ length: 200 }, (_, i) => pileOf(42, i, 4)));
  assert.deepEqual([...piles].sort(), [0, 1, 2, 3]);
});

test('decontamination drops exactly the train documents whose SHA-256 equals a held-out one', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-2 test vector
  const d = new Decontaminator();
  assert.equal(d.isContaminated('anything'), false);
  d.addHeldOut('held-out document');
  d.addHeldOut('café');
  assert.equal(d.size, 2);
  assert.equal(d.isContaminated('held-out document'), true);
  assert.equal(d.isContaminated('held-out document '), false);
  assert.equal(d.isContaminated('café'), true);
  assert.equal(d.isContaminated('cafe\u0301'), false); // NFD differs byte for byte: exact match only
});
