import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeConfig } from '../src/model/config.js';
import { initModel, initStd } from '../src/model/init.js';
import { alibiSlopes } from '../src/model/alibi.js';
import { expectedTensors } from '../src/model/params.js';
import { mupLrMultipliers, mupMultipliers, withMup } from '../src/model/mup.js';
import { AdamW } from '../src/train/adamw.js';
import { countParameters } from '../src/train/chinchilla.js';

/** Standard deviation of a unit normal truncated at ±2. */
const TRUNC2 = 0.8796256610342398;

function stats(x: Float32Array) {
  let s = 0, ss = 0, maxAbs = 0;
  for (const v of x) { s += v; ss += v * v; maxAbs = Math.max(maxAbs, Math.abs(v)); }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(ss / x.length - mean * mean), maxAbs };
}

const tinyBtlm = makeConfig({ model_type: 'btlm', n_embd: 64, n_layer: 3, n_head: 4, n_inner: 170, n_positions: 128,
  vocab_size: 300, activation_function: 'swiglu', position_embedding_type: 'alibi', initializer_range: 0.073 });

test('BTLM-3B-8K μP init stds equal the published ones (0.073/√10, 0.073/√10/√64)', () => {
  const btlm = makeConfig({ model_type: 'btlm', n_embd: 2560, n_layer: 32, n_head: 32, n_inner: 6826, activation_function: 'swiglu',
    position_embedding_type: 'alibi', initializer_range: 0.073, mup_width_scale: 0.1 });
  const base = { width: 256, ffnWidth: 682.6 };
  assert.ok(Math.abs(initStd(btlm, 'transformer.h.0.attn.c_attn.weight', { parameterization: 'mup', mupBase: base }) - 0.023084626919229165) < 1e-15);
  assert.ok(Math.abs(initStd(btlm, 'transformer.h.0.attn.c_proj.weight', { parameterization: 'mup', mupBase: base }) - 0.0028855783649036457) < 1e-15);
  assert.ok(Math.abs(initStd(btlm, 'transformer.h.0.mlp.c_proj.weight', { parameterization: 'mup', mupBase: base }) - 0.0028855783649036457) < 1e-15);
  assert.equal(initStd(btlm, 'transformer.wte.weight', { parameterization: 'mup', mupBase: base }), 0.073);
  // From the config alone (m = 1/mup_width_scale) the same numbers come out.
  assert.ok(Math.abs(initStd(btlm, 'transformer.h.5.mlp.c_fc2.weight') - 0.023084626919229165) < 1e-15);
  const lr = mupLrMultipliers(expectedTensors(btlm).map((t) => t.name), mupMultipliers(btlm, base));
  assert.ok(Math.abs(lr['transformer.h.0.attn.c_attn.weight'] - 0.1) < 1e-12);
  assert.ok(Math.abs(lr['transformer.h.0.mlp.c_proj.weight'] - 0.1) < 1e-12);
  assert.equal(lr['transformer.wte.weight'], 1);
  assert.equal(lr['transformer.h.0.mlp.c_fc.bias'], 1);
  assert.equal(lr['transformer.ln_f.weight'], 1);
  assert.equal('transformer.relative_pe.slopes' in lr, false);
});

test('SP init: σ for matrices, σ/√(2L) for output projections (Cerebras-GPT-111M: 0.004472)', () => {
  const c111 = makeConfig({ model_type: 'gpt2', n_embd: 768, n_layer: 10, n_head: 12, n_inner: 3072 });
  assert.ok(Math.abs(initStd(c111, 'transformer.h.9.attn.c_proj.weight') - 0.004472) < 1e-6);
  assert.equal(initStd(c111, 'transformer.h.9.attn.c_attn.weight'), 0.02);
  assert.equal(initStd(c111, 'transformer.wpe.weight'), 0.02);
});

test('μP init statistics per tensor are within sampling error; vectors, LN and slopes exact', () => {
  const base = { width: 16 };               // m = 4
  const t = initModel(tinyBtlm, { seed: 7, parameterization: 'mup', mupBase: base });
  assert.deepEqual(t.map((x) => x.name), expectedTensors(tinyBtlm).map((x) => x.name));
  const nTrainable = t.filter((x) => !x.name.endsWith('slopes')).reduce((a, x) => a + x.data.length, 0);
  assert.equal(nTrainable, countParameters(tinyBtlm));
  let checked = 0;
  for (const { name, shape, data } of t) {
    assert.equal(data.length, shape.reduce((a, b) => a * b, 1), name);
    if (name.endsWith('.bias') || /ln_.\.bias$/.test(name)) { assert.ok(data.every((v) => v === 0), name); continue; }
    if (/ln_(1|2|f)\.weight$/.test(name)) { assert.ok(data.every((v) => v === 1), name); continue; }
    if (name.endsWith('relative_pe.slopes')) { assert.deepEqual(Array.from(data), Array.from(alibiSlopes(4))); continue; }
    const sigma = initStd(tinyBtlm, name, { parameterization: 'mup', mupBase: base });
    const s = stats(data), n = data.length, want = sigma * TRUNC2;
    assert.ok(s.maxAbs <= 2 * sigma * (1 + 1e-6), `${name}: |x| ≤ 2σ`);
    assert.ok(Math.abs(s.std - want) <= 5 * want / Math.sqrt(2 * n), `${name}: std ${s.std} vs ${want} (n=${n})`);
    assert.ok(Math.abs(s.mean) <= 5 * want / Math.sqrt(n), `${name}: mean ${s.mean}`);
    checked++;
  }
  assert.equal(checked, 1 + 3 * 5);
  // σ ratios: hidden = σ/2, attn out = σ/2/√6
  assert.ok(Math.abs(initStd(tinyBtlm, 'transformer.h.1.attn.c_attn.weight', { parameterization: 'mup', mupBase: base }) - 0.073 / 2) < 1e-15);
  assert.ok(Math.abs(initStd(tinyBtlm, 'transformer.h.1.attn.c_proj.weight', { parameterization: 'mup', mupBase: base }) - 0.073 / 2 / Math.sqrt(6)) < 1e-15);
});

test('init is deterministic from the seed', () => {
  const a = initModel(tinyBtlm, { seed: 3, parameterization: 'sp' });
  const b = initModel(tinyBtlm, { seed: 3, parameterization: 'sp' });
  const c = initModel(tinyBtlm, { seed: 4, parameterization: 'sp' });
  assert.deepEqual(a[0].data, b[0].data);
  assert.notDeepEqual(a[0].data, c[0].data);
});

test('withMup writes the HF μP fields; Cerebras-GPT-μP becomes btlm with learned positions; groups reach AdamW', () => {
  const c111 = makeConfig({ model_type: 'gpt2', n_embd: 768, n_layer: 10, n_head: 12, n_inner: 3072, activation_function: 'gelu' });
  const mup = withMup(c111, { base: { width: 256, ffnWidth: 1024 }, embeddingsScale: 10, outputAlpha: 1 });
  assert.equal(mup.model_type, 'btlm');
  assert.equal(mup.position_embedding_type, 'learned');
  assert.equal(mup.activation_function, 'gelu');
  assert.ok(Math.abs(mup.mup_width_scale - 1 / 3) < 1e-15);
  assert.equal(mup.mup_embeddings_scale, 10);
  assert.equal(mup.mup_output_alpha, 1);
  assert.equal(mup.mup_scale_qk_dot_by_d, true);
  const t = initModel(tinyBtlm, { seed: 1, parameterization: 'mup', mupBase: { width: 16, ffnWidth: 34 } });
  const params = Object.fromEntries(t.map((x) => [x.name, x.data]));
  const shapes = Object.fromEntries(t.map((x) => [x.name, x.shape]));
  const mults = mupLrMultipliers(Object.keys(params), mupMultipliers(tinyBtlm, { width: 16, ffnWidth: 34 }));
  const opt = new AdamW({ parameters: () => params }, { lr: 0.01, lrMultipliers: mults, shapes });
  assert.equal(opt.multiplier('transformer.h.0.mlp.c_fc2.weight'), 0.25);
  assert.equal(opt.multiplier('transformer.h.0.mlp.c_proj.weight'), 0.2);
  assert.equal(opt.multiplier('transformer.wte.weight'), 1);
  assert.equal(opt.decayed('transformer.h.0.ln_1.weight'), false);
});
