// The serving bench's rates: medians of interleaved runs (bench/common.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interleavedRates, median } from '../bench/common.js';

test('median of odd and even counts, input left unsorted', () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
});

test('interleavedRates runs the stream counts in turn, each round, and reports their medians', async () => {
  const order: number[] = [];
  let call = 0;
  const rate = [10, 40, 12, 44, 9, 90];  // S=1, S=8, S=1, S=8, S=1, S=8
  const { rates, runs } = await interleavedRates([1, 8], 3, (S) => { order.push(S); return rate[call++]; });
  assert.deepEqual(order, [1, 8, 1, 8, 1, 8]);
  assert.deepEqual(runs, { 1: [10, 12, 9], 8: [40, 44, 90] });
  assert.deepEqual(rates, { 1: 10, 8: 44 });
});
