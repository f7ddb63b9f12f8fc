import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from './helpers.js';
import { AdamW, clipGradNorm, rankFromHfName } from '../src/train/adamw.js';
import { MugptError } from '../src/errors.js';

interface Fixture {
  betas: [number, number]; eps: number; weight_decay: number; max_norm: number;
  shapes: Record<string, number[]>; lr_multipliers: Record<string, number>;
  init: Record<string, number[]>;
  steps: Array<{ lr: number; norm: number; grads: Record<string, number[]>;
    clipped: Record<string, number[]>; params: Record<string, number[]> }>;
}
const fx = JSON.parse(readFileSync(fixture('train', 'adamw.json'), 'utf8')) as Fixture;

function modelOf(init: Record<string, number[]>) {
  const params: Record<string, Float32Array> = {};
  for (const [n, v] of Object.entries(init)) params[n] = Float32Array.from(v);
  return { parameters: () => params };
}
const f32 = (r: Record<string, number[]>) =>
  Object.fromEntries(Object.entries(r).map(([n, v]) => [n, Float32Array.from(v)]));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('AdamW + clip_grad_norm_ match torch over 5 steps with μP multipliers and a changing lr', () => {
  const model = modelOf(fx.init);
  const opt = new AdamW(model, { lr: fx.steps[0].lr, betas: fx.betas, eps: fx.eps, weightDecay: fx.weight_decay,
    lrMultipliers: fx.lr_multipliers });
  let clippedSteps = 0;
  for (const [k, s] of fx.steps.entries()) {
    const grads = f32(s.grads);
    const norm = clipGradNorm(grads, fx.max_norm);
    assert.ok(Math.abs(norm - s.norm) <= 1e-5 * s.norm, `step ${k}: norm ${norm} vs torch ${s.norm}`);
    if (norm > fx.max_norm) clippedSteps++;
    for (const n of Object.keys(grads)) assert.ok(maxDiff(grads[n], s.clipped[n]) <= 1e-6, `step ${k} clipped ${n}`);
    opt.setLr(s.lr);
    opt.step(grads);
    for (const n of Object.keys(s.params)) {
      const d = maxDiff(model.parameters()[n], s.params[n]);
      assert.ok(d <= 2e-6, `step ${k} ${n}: max |Δ| ${d} > 2e-6`);
    }
  }
  assert.ok(clippedSteps >= 2 && clippedSteps < fx.steps.length, 'the fixture exercises both clipped and unclipped steps');
});

test('weight decay applies to rank-2 tensors only and uses the group lr', () => {
  assert.equal(rankFromHfName('transformer.h.3.mlp.c_fc2.bias'), 1);
  assert.equal(rankFromHfName('transformer.h.3.ln_2.weight'), 1);
  assert.equal(rankFromHfName('transformer.ln_f.weight'), 1);
  assert.equal(rankFromHfName('transformer.wte.weight'), 2);
  assert.equal(rankFromHfName('transformer.h.0.attn.c_proj.weight'), 2);
  // With a zero gradient, Adam's update is 0 and only the decay moves p: p·(1 − lr·mult·wd).
  const params = { 'a.weight': new Float32Array([1, -2]), 'a.bias': new Float32Array([1, -2]) };
  const opt = new AdamW({ parameters: () => params }, { lr: 0.1, weightDecay: 0.5, lrMultipliers: { 'a.weight': 0.5 },
    shapes: { 'a.weight': [1, 2], 'a.bias': [2] } });
  opt.step({ 'a.weight': new Float32Array(2), 'a.bias': new Float32Array(2) });
  assert.ok(maxDiff(params['a.weight'], [0.975, -1.95]) < 1e-7);
  assert.deepEqual(Array.from(params['a.bias']), [1, -2]);
});

test('exported state resumes the same trajectory; the stored ALiBi slopes stay frozen', () => {
  const init = { 'x.weight': [0.5, -1, 2, 0.1], 'x.bias': [0.3, 0.2], 'transformer.relative_pe.slopes': [0.5, 0.25] };
  const grad = (k: number) => ({ 'x.weight': Float32Array.from([k, -1, 0.5, 2 - k]), 'x.bias': Float32Array.from([1, k]) });
  const a = modelOf(init);
  const oa = new AdamW(a, { lr: 0.01, betas: [0.9, 0.95], weightDecay: 0.1 });
  for (let k = 0; k < 6; k++) oa.step({ ...grad(k), 'transformer.relative_pe.slopes': Float32Array.from([1, 1]) });
  const b = modelOf(init);
  const ob = new AdamW(b, { lr: 0.01, betas: [0.9, 0.95], weightDecay: 0.1 });
  for (let k = 0; k < 3; k++) ob.step(grad(k));
  const saved = ob.exportState();
  const copy = { step: saved.step, lr: saved.lr,
    m: Object.fromEntries(Object.entries(saved.m).map(([n, v]) => [n, v.slice()])),
    v: Object.fromEntries(Object.entries(saved.v).map(([n, v]) => [n, v.slice()])) };
  const c = modelOf(Object.fromEntries(Object.entries(b.parameters()).map(([n, v]) => [n, Array.from(v)])));
  const oc = new AdamW(c, { lr: 0.5, betas: [0.9, 0.95], weightDecay: 0.1 });
  oc.importState(copy);
  assert.equal(oc.getLr(), 0.01);
  for (let k = 3; k < 6; k++) oc.step(grad(k));
  for (const n of Object.keys(init)) assert.deepEqual(Array.from(c.parameters()[n]), Array.from(a.parameters()[n]), n);
  assert.deepEqual(Array.from(a.parameters()['transformer.relative_pe.slopes']), [0.5, 0.25]);
});

test('bad gradients and state are MugptErrors naming the tensor', () => {
  const params = { 'x.weight': new Float32Array(4) };
  const opt = new AdamW({ parameters: () => params }, { lr: 0.1 });
  assert.throws(() => opt.step({}), (e: unknown) => e instanceof MugptError && /no gradient for 'x.weight'/.test(e.message));
  assert.throws(() => opt.step({ 'x.weight': new Float32Array(3) }), /'x.weight' has 3 elements/);
  assert.throws(() => opt.step({ 'x.weight': new Float32Array(4), 'y': new Float32Array(1) }), /unknown tensor 'y'/);
  assert.throws(() => opt.importState({ step: 1, lr: 0.1, m: {}, v: {} }), /no 'm' buffer for tensor 'x.weight'/);
  assert.throws(() => new AdamW({ parameters: () => params }, { lr: -1 }), /lr must be/);
  assert.throws(() => new AdamW({ parameters: () => params }, { lr: 1, lrMultipliers: { nope: 2 } }), /unknown tensor 'nope'/);
});

test('clipGradNorm: below the limit leaves gradients alone; non-finite norms are reported', () => {
  const g = { a: new Float32Array([0.3, 0.4]) };
  assert.ok(Math.abs(clipGradNorm(g, 1) - 0.5) < 1e-7);
  assert.deepEqual(Array.from(g.a), [Math.fround(0.3), Math.fround(0.4)]);
  const h = { a: new Float32Array([3, 4]), b: new Float32Array([0]) };
  assert.ok(Math.abs(clipGradNorm(h, 1) - 5) < 1e-6);
  assert.ok(Math.abs(Math.hypot(h.a[0], h.a[1]) - 1) < 1e-5);
  assert.ok(Number.isNaN(clipGradNorm({ a: new Float32Array([NaN, 1]) }, 1)));
});
