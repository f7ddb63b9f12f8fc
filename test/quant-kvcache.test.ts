// The f16 KV cache: half the memory of the f32 cache, logits within f16 rounding of it, and the
// native f16 attention equal to the JS reference inside a whole model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { MugptError } from '../src/errors.js';
import { nativeAvailable } from '../src/kernels/index.js';
import { loadNativeAddon } from '../src/native/addon.js';
import { loadModel, type Model } from '../src/model/model.js';
import { LayerKVCache } from '../src/model/kvcache.js';
import { floatToHalf } from '../src/quant/half.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { cliPath, fixture } from './helpers.js';
import { maxRelErr } from './kernels-ref.js';

const dir = (name: string): string => fixture('model', name);
const idsOf = (name: string): number[] => (JSON.parse(readFileSync(join(dir(name), 'expected.json'), 'utf8')) as { ids: number[][] }).ids[0];

/** Logits after a prompt of 3 tokens, then after each further token fed alone; and the cache. */
function decode(model: Model, ids: number[]): { logits: Float32Array[]; cache: LayerKVCache } {
  const cache = model.newCache() as LayerKVCache;
  const logits = [model.step(cache, ids.slice(0, 3))];
  for (let t = 3; t < ids.length; t++) logits.push(model.step(cache, [ids[t]]));
  return { logits, cache };
}

const backends = nativeAvailable() ? (['js', 'native'] as const) : (['js'] as const);

for (const name of ['gpt2-gelu', 'btlm-alibi-h4-stored-slopes', 'btlm-learned-gelu-old-mup-names']) {
  test(`${name}: f16-cache decoding stays within f16 rounding of the f32 cache`, () => {
    const ids = idsOf(name);
    const f16: Record<string, ReturnType<typeof decode>> = {};
    for (const backend of backends) {
      // the same backend's f32 cache: backends may sum the projections in different orders
      const ref = decode(loadModel(dir(name), { backend }), ids);
      const r = f16[backend] = decode(loadModel(dir(name), { backend, kvCache: 'f16' }), ids);
      assert.equal(r.cache.type, 'f16');
      assert.equal(r.cache.bytes * 2, ref.cache.bytes, 'an f16 cache takes half the bytes');
      // layer 0's keys and values depend on the embeddings only: exactly the f32 cache's, rounded to half
      const k32 = ref.cache.k[0], k16 = r.cache.k[0], v32 = ref.cache.v[0], v16 = r.cache.v[0];
      for (let i = 0; i < ids.length * r.cache.D; i++) {
        assert.equal(k16[i], floatToHalf(k32[i]), `${backend} layer 0 key element ${i}`);
        assert.equal(v16[i], floatToHalf(v32[i]), `${backend} layer 0 value element ${i}`);
      }
      // keys and values rounded by ≤ 2^-11 relative: the logits move by that times a few (measured ≤ 2.2e-3)
      r.logits.forEach((l, t) => {
        const e = maxRelErr(l, ref.logits[t]);
        assert.ok(e > 0 && e < 5e-3, `${backend} step ${t}: relative logit error ${e}`);
      });
    }
    // the two backends' f32 projections differ in the last bits, so a key or value near a half rounding
    // boundary may round one half ulp (2^-11) apart: measured up to 3.3e-5 relative in the logits
    if (f16.native) f16.native.logits.forEach((l, t) => assert.ok(maxRelErr(l, f16.js.logits[t]) < 2e-4, `native vs js f16 step ${t}: ${maxRelErr(l, f16.js.logits[t])}`));
  });
}

for (const name of ['gpt2-gelu', 'btlm-alibi-h4-stored-slopes', 'btlm-learned-gelu-old-mup-names']) {
  test(`${name}: q8-cache decoding stays within int8 rounding of the f32 cache, in a quarter of its bytes plus scales`, () => {
    const ids = idsOf(name);
    const q8: Record<string, ReturnType<typeof decode>> = {};
    for (const backend of backends) {
      const ref = decode(loadModel(dir(name), { backend }), ids);
      const r = q8[backend] = decode(loadModel(dir(name), { backend, kvCache: 'q8' }), ids);
      const { n_layer: L, n_head: H } = loadModel(dir(name), { backend }).config;
      assert.equal(r.cache.type, 'q8');
      assert.equal(r.cache.bytes, ref.cache.bytes / 4 + 2 * L * r.cache.capacity * H * 4, 'int8 keys and values, and a float scale per position and head');
      // keys and values rounded by ≤ 1/254 of their head's largest magnitude (measured ≤ 1.5e-2 on the logits; f16: 2.2e-3)
      r.logits.forEach((l, t) => {
        const e = maxRelErr(l, ref.logits[t]);
        assert.ok(e > 0 && e < 3e-2, `${backend} step ${t}: relative logit error ${e}`);
      });
    }
    // as with f16, a value on a rounding boundary may land one step apart between the backends (measured ≤ 1.1e-6)
    if (q8.native) q8.native.logits.forEach((l, t) => assert.ok(maxRelErr(l, q8.js.logits[t]) < 1e-3, `native vs js q8 step ${t}: ${maxRelErr(l, q8.js.logits[t])}`));
  });
}

test('kvCache option: a type other than f32 / f16 / q8 is a MugptError naming the option', () => {
  assert.throws(() => loadModel(dir('gpt2-gelu'), { kvCache: 'q8_0' as never }), (e: unknown) => e instanceof MugptError && /kvCache/.test(e.message));
});

test('mugpt generate --kv-cache f16 generates the greedy continuation of the f32 cache; a bad type names the flag', () => {
  const run = (...extra: string[]) => spawnSync(process.execPath, [cliPath, 'generate', '--model', dir('btlm-alibi-h4-stored-slopes'),
    '--prompt', loadTokenizer('gpt2').decode(idsOf('btlm-alibi-h4-stored-slopes').slice(0, 4)), '--max-tokens', '6', ...extra], { encoding: 'utf8', timeout: 60_000 });
  const f32 = run(), f16 = run('--kv-cache', 'f16');
  assert.equal(f16.status, 0, f16.stderr);
  assert.equal(f16.stdout, f32.stdout);
  const bad = run('--kv-cache', 'f8');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--kv-cache/);
});

test('a native cache maps the rows each step appends, and 64 ahead, once (Kernels.populate), and decodes what a cache left to fault in does', { skip: !nativeAvailable() && 'no native addon' }, () => {
  const name = 'btlm-alibi-h4-stored-slopes'; // ALiBi: a cache may grow past n_positions
  const ids = idsOf(name);
  const addon = loadNativeAddon()!;
  for (const kvCache of ['f32', 'f16', 'q8'] as const) {
    const model = loadModel(dir(name), { backend: 'native', kvCache });
    const run = (populate: boolean): { logits: Float32Array[]; mapped: number[]; D: number } => {
      const kernelPopulate = model.kernels.populate;
      const mapped: number[] = []; // elements of each populate call
      // this tiny model's ranges are below POPULATE_MIN: call the addon on every one, so each is mapped
      model.kernels.populate = populate ? (x) => { mapped.push(x.length); addon.populate(x); } : undefined;
      try {
        const cache = model.newCache() as LayerKVCache;
        cache.reserve(4096);
        const logits = [model.step(cache, ids.slice(0, 3))];
        for (let t = 3; t < ids.length; t++) logits.push(model.step(cache, [ids[t]]));
        return { logits, mapped, D: cache.D };
      } finally {
        model.kernels.populate = kernelPopulate;
      }
    };
    const faulted = run(false), withMaps = run(true);
    withMaps.logits.forEach((l, t) => assert.deepEqual(l, faulted.logits[t], `${kvCache} step ${t}`));
    // the first step maps rows 0 … 3 + 64 of every layer's keys and values; the later ones lie inside them
    // (the activations, which populate maps too, were made by the run before)
    assert.ok(ids.length <= 3 + 64);
    assert.deepEqual(withMaps.mapped, Array(2 * model.config.n_layer).fill((3 + 64) * withMaps.D), kvCache);
  }
});
