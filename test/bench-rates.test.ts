// The benches' arithmetic: the serving bench's medians of interleaved runs, the decode bound's bytes and bandwidth (bench/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interleavedRates, kvBytesPerToken, median } from '../bench/common.js';
import { bandwidthLine, sampleBandwidth } from '../bench/probe-bandwidth.js';
import { stallsLine, summarizeGaps } from '../bench/stalls.js';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import type { LayerKVCache } from '../src/model/kvcache.js';
import { Model } from '../src/model/model.js';
import { loadNativeAddon } from '../src/native/addon.js';

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

test('the decode bound counts the KV cache bytes a cache of that many positions holds, for every cache type', () => {
  const cfg = makeConfig({ model_type: 'btlm', n_layer: 2, n_embd: 64, n_head: 4, vocab_size: 97, n_positions: 64, activation_function: 'swiglu', position_embedding_type: 'alibi' });
  const model = Model.fromTensors(cfg, new Map(initModel(cfg, { seed: 2 }).map((t) => [t.name, t.data])), { kvCache: 'f32' });
  for (const kv of ['f32', 'f16', 'q8'] as const) {
    const m = kv === 'f32' ? model : Model.fromTensors(cfg, new Map(initModel(cfg, { seed: 2 }).map((t) => [t.name, t.data])), { kvCache: kv });
    const cache = m.newCache(40) as LayerKVCache;
    assert.equal(kvBytesPerToken(cfg, 40, kv), cache.bytes, kv);
  }
});

test('bandwidth samples come from a child process, one positive figure a pass', { skip: !loadNativeAddon() && 'the native addon is not built' }, () => {
  const gbs = sampleBandwidth(2);
  assert.equal(gbs.length, 2);
  for (const g of gbs) assert.ok(g > 0.1 && g < 10_000, `${g} GB/s`);
  assert.match(bandwidthLine([20, 30, 25]), /^25\.0 GB\/s \(median of 3 passes, 20\.0–30\.0\)$/);
});

test('the stalls summary: gaps a second per thread, the share of time lost, the median gap', () => {
  // two threads spinning 1 s: 3 and 1 gaps of 10–40 µs
  const s = summarizeGaps([[20, 40, 10], [30]], 1);
  assert.equal(s.threads, 2);
  assert.equal(s.perSecond, 2);
  assert.ok(Math.abs(s.percent - (100 * 100e-6) / 2) < 1e-12);
  assert.equal(s.medianUs, 30);
  assert.equal(stallsLine(s), '2 gaps a second of 5 µs or more per thread (median 30 µs), 0.0 % of each thread\'s time (2 threads)');
  assert.equal(summarizeGaps([[], []], 0.5).medianUs, 0);
});

test('the addon\'s stalls probe: one list of gaps a pool thread, each at least 5 µs and within the spin', { skip: !loadNativeAddon() }, () => {
  const addon = loadNativeAddon()!;
  const t0 = performance.now();
  const gaps = addon.stalls(0.05);
  const elapsedUs = (performance.now() - t0) * 1000;
  assert.equal(gaps.length, addon.info().threads);
  for (const g of gaps) {
    for (const us of g) assert.ok(us >= 5, `gap ${us} µs`);
    assert.ok(g.reduce((a, b) => a + b, 0) <= elapsedUs, 'a thread lost more time than the call took');
  }
});
