import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordCheck, growthExponent, type CoordCheckResult } from '../src/mup/coordcheck.js';
import { probeActivations, type LayerKind } from '../src/mup/probe.js';
import { buildModel, sotuData } from '../src/mup/setup.js';
import { gridSvg } from '../src/mup/svg-grid.js';

// The last 3 addresses over a 256-token vocabulary: small enough for seconds-long tests.
const data = sotuData(256, 16, 0, 3);
const tiny = { layers: 2, heads: 2, batch: 2, seqLen: 16, vocab: 256, data } as const;

test('coordCheck on widths 16 and 32 for 2 steps: every layer of every run has a finite, positive mean |x| at each step', () => {
  const r = coordCheck({ ...tiny, widths: [32, 16], steps: 2 });
  assert.deepEqual(r.options.widths, [16, 32]);
  assert.equal(r.baseWidth, 16);
  assert.deepEqual(r.runs.map((x) => `${x.parameterization}/${x.width}`), ['sp/16', 'sp/32', 'mup/16', 'mup/32']);
  const names = ['embedding', ...[0, 1].flatMap((l) => [`h.${l}.attn_logits`, `h.${l}.attn`, `h.${l}.mlp`, `h.${l}.residual`]), 'logits'];
  for (const run of r.runs) {
    assert.equal(run.losses.length, 2);
    for (const l of run.losses) assert.ok(Number.isFinite(l) && l > 0 && l < 10, `loss ${l}`);
    assert.equal(run.stats.length, 3, 'init plus one measurement per step');
    for (const stats of run.stats) {
      assert.deepEqual(stats.map((s) => s.name), names);
      for (const s of stats) assert.ok(Number.isFinite(s.meanAbs) && s.meanAbs > 0, `${s.name} = ${s.meanAbs}`);
    }
    // training changed the activations
    assert.notEqual(run.stats[2].at(-1)!.meanAbs, run.stats[0].at(-1)!.meanAbs);
  }
});

test('the probe runs the model\'s forward: its logits statistic equals mean |logits| of Model.forward', () => {
  for (const p of ['sp', 'mup'] as const) {
    const { model } = buildModel({ arch: 'btlm', layers: 2, heads: 2, vocab: 256, seqLen: 16 }, 32, p, 16, 3);
    const ids = data.loader.valBatches(1, 2, 16)[0];
    const { logits } = model.forward(ids);
    let s = 0;
    for (const x of logits) s += Math.abs(x);
    const probed = probeActivations(model, ids).find((x) => x.name === 'logits')!.meanAbs;
    assert.ok(Math.abs(probed - s / logits.length) <= 1e-6 * probed, `${p}: probe ${probed}, forward ${s / logits.length}`);
  }
});

test('at init, μP keeps hidden activations width-independent while SP\'s grow; logits scale as width^+½ (SP) and width^-½ (μP) — over several seeds', () => {
  for (const arch of ['btlm', 'gpt2'] as const) {
    for (const seed of [0, 1, 2]) {
      const r: CoordCheckResult = coordCheck({ ...tiny, arch, seed, widths: [32, 64, 128, 256], steps: 0 });
      const e = (p: 'sp' | 'mup', k: LayerKind) => growthExponent(r, p, k, 0);
      const at = `${arch} seed ${seed}`;
      for (const k of ['embedding', 'attn', 'mlp', 'residual'] as const) {
        assert.ok(Math.abs(e('mup', k)) < 0.15, `${at}: μP ${k} exponent ${e('mup', k)}`);
      }
      // SP (σ = 0.02 at every width): each matrix multiplies sizes by ∝ √width
      assert.ok(e('sp', 'attn') > 0.8, `${at}: SP attn exponent ${e('sp', 'attn')}`);
      assert.ok(e('sp', 'mlp') > 0.8, `${at}: SP mlp exponent ${e('sp', 'mlp')}`);
      // the tied readout: SP logits ∝ √width; μP's α/m multiplier over an unscaled σ_base embedding ∝ 1/√width
      assert.ok(Math.abs(e('sp', 'logits') - 0.5) < 0.15, `${at}: SP logits exponent ${e('sp', 'logits')}`);
      assert.ok(Math.abs(e('mup', 'logits') + 0.5) < 0.15, `${at}: μP logits exponent ${e('mup', 'logits')}`);
    }
  }
});

test('coordCheck rejects bad options with the option named', () => {
  assert.throws(() => coordCheck({ ...tiny, widths: [16] }), /widths needs at least two widths/);
  assert.throws(() => coordCheck({ ...tiny, widths: [16, 33] }), /width 33 must be a positive multiple of heads \(2\)/);
  assert.throws(() => coordCheck({ ...tiny, widths: [16, 32], steps: -1 }), /steps must be an integer ≥ 0/);
  assert.throws(() => coordCheck({ ...tiny, widths: [16, 32], vocab: 512 }), /data's vocabulary \(256\) differs from vocab \(512\)/);
});

test('gridSvg places panels side by side and keeps their element ids apart', () => {
  const panel = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><clipPath id="clip1"><rect/></clipPath><g clip-path="url(#clip1)"/></svg>';
  const g = gridSvg([panel, panel, panel], 2);
  assert.match(g, /^<svg [^>]*width="200" height="100"/);
  assert.equal((g.match(/id="p0-clip1"/g) ?? []).length, 1);
  assert.equal((g.match(/url\(#p2-clip1\)/g) ?? []).length, 1);
  assert.match(g, /<svg x="100" y="0"/);
  assert.match(g, /<svg x="0" y="50"/);
});
