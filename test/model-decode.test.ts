// KV-cache decoding: incremental logits equal the full forward (any chunking), except under dynamic
// ALiBi scaling where HF's cached behaviour differs by design; context limits; batch independence.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MugptError } from '../src/errors.js';
import { loadModel, Model } from '../src/model/model.js';
import { LayerKVCache } from '../src/model/kvcache.js';
import { fixture } from './helpers.js';
import { maxRelErr } from './kernels-ref.js';

const dir = (name: string): string => fixture('model', name);
const idsOf = (name: string): number[][] => (JSON.parse(readFileSync(join(dir(name), 'expected.json'), 'utf8')) as { ids: number[][] }).ids;

/** Logits of every position of `row` through the cache, fed in chunks of the given sizes. */
function stepLogits(model: Model, row: number[], chunks: number[]): Float32Array[] {
  const cache = model.newCache(), out: Float32Array[] = [];
  let t = 0;
  for (const n of chunks) {
    out[t + n - 1] = model.step(cache, row.slice(t, t + n));
    t += n;
    assert.equal(cache.length, t);
  }
  return out;
}

const EXACT = ['gpt2-gelu', 'gpt2-gelu-new-layer-idx', 'gpt2-unscaled-f16', 'btlm-alibi-h4-stored-slopes',
  'btlm-alibi-h6-factor-sharded', 'btlm-learned-gelu-old-mup-names'];

for (const name of EXACT) {
  test(`${name}: cached decoding equals the full forward, in any chunking`, () => {
    const model = loadModel(dir(name), { backend: 'js' });
    const row = idsOf(name)[1];
    const T = row.length, V = model.vocabSize;
    const full = model.forward([row]).logits;
    for (const chunks of [Array(T).fill(1), [3, 1, T - 4], [T]]) {
      const got = stepLogits(model, row, chunks);
      let t = 0;
      for (const n of chunks) {
        t += n;
        const e = maxRelErr(got[t - 1], full.subarray((t - 1) * V, t * V));
        assert.ok(e <= 1e-5, `chunks ${chunks}: position ${t - 1} off by ${e.toExponential(2)}`);
      }
    }
  });
}

test('dynamic ALiBi scaling: cached steps recompute the scale from the total key length (not the full forward)', () => {
  const model = loadModel(dir('btlm-alibi-dynamic-bf16'), { backend: 'js' });
  const L = 4; // alibi_scaling.train_seq_len of the fixture
  assert.deepEqual(model.config.alibi_scaling, { type: 'linear', train_seq_len: L });
  const row = idsOf('btlm-alibi-dynamic-bf16')[0];
  const T = row.length, V = model.vocabSize;
  const full = model.forward([row]).logits; // scale T/L everywhere
  const got = stepLogits(model, row, Array(T).fill(1)); // scale max(1, (t+1)/L) at step t; position 0 has no bias either way
  // The last position sees all T keys either way, but its keys and values were computed at earlier
  // steps under smaller scales: HF's incremental result differs from its full forward.
  for (let t = 0; t < T; t++) {
    const e = maxRelErr(got[t], full.subarray(t * V, (t + 1) * V));
    if (t >= 1 && t < L) assert.ok(e > 1e-3, `position ${t}: full forward (scale ${T / L}) and step (scale 1) should differ`);
    else if (t === T - 1) assert.ok(e > 1e-4, 'the last position depends on the scales of earlier steps');
  }
  // A forward of exactly the first L tokens has scale 1, as every step up to L.
  const short = model.forward([row.slice(0, L)]).logits;
  for (let t = 0; t < L; t++) assert.ok(maxRelErr(got[t], short.subarray(t * V, (t + 1) * V)) <= 1e-5);
});

test('ALiBi models have no cap at n_positions; learned-position models stop there with a clear error', () => {
  const alibi = loadModel(dir('btlm-alibi-h4-stored-slopes'), { backend: 'js' });
  assert.equal(alibi.maxContext, Infinity);
  const P = alibi.config.n_positions;
  const cache = alibi.newCache();
  let logits = alibi.step(cache, [1, 2, 3]);
  for (let t = 0; t < 3 * P; t++) logits = alibi.step(cache, [t % alibi.vocabSize]);
  assert.equal(cache.length, 3 + 3 * P);
  assert.ok(logits.every(Number.isFinite));
  const long = Array.from({ length: 3 * P }, (_, i) => (7 * i) % alibi.vocabSize);
  assert.ok(alibi.forward([long]).logits.every(Number.isFinite));

  const learned = loadModel(dir('gpt2-gelu'), { backend: 'js' });
  const n = learned.config.n_positions;
  assert.equal(learned.maxContext, n);
  const tooLong = Array.from({ length: n + 1 }, (_, i) => i % learned.vocabSize);
  assert.throws(() => learned.forward([tooLong]), (e: unknown) => e instanceof MugptError && /17 positions.*16 \(n_positions/.test(e.message));
  const c = learned.newCache();
  learned.step(c, tooLong.slice(0, n));
  assert.throws(() => learned.step(c, [1]), (e: unknown) => e instanceof MugptError && /n_positions/.test(e.message));
  assert.equal(c.length, n, 'a refused step leaves the cache as it was');
  assert.throws(() => learned.step(learned.newCache(), tooLong), MugptError);
});

test('batch rows are independent', () => {
  const model = loadModel(dir('btlm-alibi-h6-factor-sharded'), { backend: 'js' });
  const [a, b] = idsOf('btlm-alibi-h6-factor-sharded');
  const both = model.forward([a, b]).logits;
  const n = a.length * model.vocabSize;
  assert.deepEqual(model.forward([a]).logits, both.subarray(0, n));
  assert.deepEqual(model.forward([b]).logits, both.subarray(n));
});

test('a cache belongs to the model that made it', () => {
  const m1 = loadModel(dir('gpt2-gelu'), { backend: 'js' });
  const m2 = loadModel(dir('gpt2-gelu'), { backend: 'js' });
  assert.throws(() => m1.step(m2.newCache(), [1]), (e: unknown) => e instanceof MugptError && /newCache/.test(e.message));
  assert.throws(() => m1.step({ length: 0 }, [1]), MugptError);
});

test('newCache(positions) makes room up front (at most n_positions), grows past it, and gives the same logits', () => {
  const small = loadModel(dir('btlm-alibi-h4-stored-slopes'), { backend: 'js' });
  // ALiBi: n_positions names no tensor, so the same weights serve a longer nominal context
  const model = Model.fromTensors({ ...small.config, n_positions: 40 }, small.parameters(), { backend: 'js' });
  const P = model.config.n_positions, D = model.config.n_embd, L = model.config.n_layer;
  const ids = Array.from({ length: P + 5 }, (_, i) => (3 * i + 1) % model.vocabSize);
  const roomy = model.newCache(P - 2) as LayerKVCache, plain = model.newCache() as LayerKVCache;
  assert.equal(roomy.capacity, P - 2);
  assert.equal(roomy.bytes, 2 * L * (P - 2) * D * 4);
  assert.equal((model.newCache(10 * P) as LayerKVCache).capacity, P, 'room up front stops at n_positions');
  let a = model.step(roomy, ids.slice(0, 3)), b = model.step(plain, ids.slice(0, 3));
  for (const id of ids.slice(3)) {
    a = model.step(roomy, [id]);
    b = model.step(plain, [id]);
    assert.deepEqual(a, b);
  }
  assert.ok(roomy.capacity >= ids.length, 'an ALiBi cache grows past its room');
  for (const bad of [-1, 1.5, NaN]) assert.throws(() => model.newCache(bad), (e: unknown) => e instanceof MugptError && /newCache: positions/.test(e.message));
});

test('step(cache, ids, out) writes the logits into out and returns it, equal to a fresh array; a wrong out is named', () => {
  const model = loadModel(dir('gpt2-gelu'), { backend: 'js' });
  const row = idsOf('gpt2-gelu')[1], V = model.vocabSize;
  const fresh = stepLogits(model, row, Array(row.length).fill(1));
  const cache = model.newCache(), out = new Float32Array(V);
  for (let t = 0; t < row.length; t++) {
    const got = model.step(cache, [row[t]], out);
    assert.equal(got, out);
    assert.deepEqual(got, fresh[t], `position ${t}`);
  }
  assert.throws(() => model.step(model.newCache(), [1], new Float32Array(V - 1)),
    (e: unknown) => e instanceof MugptError && /out must be a Float32Array of the vocabulary size/.test(e.message));
});
