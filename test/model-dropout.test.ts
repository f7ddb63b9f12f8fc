// Dropout in training (attn_pdrop, resid_pdrop, embd_pdrop): where HF applies each (at p = 1 a dropped
// branch must vanish exactly, which equals a model with that branch's weights zeroed), the gradient
// with a fixed mask against central finite differences, seeded and reproducible, off in eval, and a
// resumed training run with dropout repeating an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { Model, loadModel } from '../src/model/model.js';
import { fillDropoutMask } from '../src/kernels/dropout.js';
import { nativeAvailable } from '../src/kernels/index.js';
import type { BackendName } from '../src/kernels/kernels.js';
import { Rng } from '../src/rng.js';
import { train } from '../src/train/trainer.js';
import { assertFiniteDifferences, copyGrads } from './finite-differences.js';
import { fixture, scratch } from './helpers.js';
import { bigramShards, bigramRun, V } from './train-bigram.js';

const BACKENDS: BackendName[] = nativeAvailable() ? ['js', 'native'] : ['js'];
const FIXTURES = ['gpt2-gelu', 'btlm-alibi-h4-stored-slopes'];
const ids = [[1, 5, 9, 2, 7, 3, 11, 4], [4, 4, 8, 0, 6, 1, 2, 13]];

/** The fixture's tensors (copies) and config with other fields. */
function fromFixture(name: string, fields: Partial<ModelConfig>, backend: BackendName, edit?: (t: Map<string, Float32Array>) => void): Model {
  const base = loadModel(fixture('model', name), { backend });
  const tensors = new Map([...base.params.tensors].map(([k, v]) => [k, Float32Array.from(v)]));
  edit?.(tensors);
  return Model.fromTensors(makeConfig({ ...base.config, ...fields }), tensors, { backend });
}
const none = { attn_pdrop: 0, resid_pdrop: 0, embd_pdrop: 0 };
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(b), `${what}: ${a} vs ${b}`);

test('dropout masks: kept elements scaled by 1/(1 − p), the kept fraction 1 − p, p = 1 drops all', () => {
  const n = 200_000, m = new Float32Array(n);
  for (const p of [0.1, 0.5]) {
    fillDropoutMask(new Rng(3), m, n, p);
    const kept = m.filter((x) => x !== 0);
    assert.ok(kept.every((x) => x === Math.fround(1 / (1 - p))));
    assert.ok(Math.abs(kept.length / n - (1 - p)) < 0.005, `kept ${kept.length / n} for p ${p}`);
  }
  fillDropoutMask(new Rng(3), m, n, 1);
  assert.ok(m.every((x) => x === 0));
});

for (const backend of BACKENDS) {
  for (const name of FIXTURES) {
    test(`${name} (${backend}): at p = 1 each dropout removes exactly HF's branch`, () => {
      const seed = { dropoutSeed: 5 };
      // attn_pdrop = 1: the attention probabilities are zero, so each attention block adds only its c_proj bias
      const attn = fromFixture(name, { ...none, attn_pdrop: 1 }, backend).lossAndGrad(ids, seed).loss;
      const noAttn = fromFixture(name, none, backend, (t) => {
        for (const [k, v] of t) if (/attn\.c_proj\.weight$/.test(k)) v.fill(0);
      }).loss(ids);
      close(attn, noAttn, 'attn_pdrop 1');
      // resid_pdrop = 1: both branches of every block (bias included) are dropped before the residual add
      const resid = fromFixture(name, { ...none, resid_pdrop: 1 }, backend).lossAndGrad(ids, seed).loss;
      const noBlocks = fromFixture(name, none, backend, (t) => {
        for (const [k, v] of t) if (/(attn|mlp)\.c_proj\.(weight|bias)$/.test(k)) v.fill(0);
      }).loss(ids);
      close(resid, noBlocks, 'resid_pdrop 1');
      // embd_pdrop = 1: the blocks see a zero input (an untied head keeps the output layer as it was)
      const untie = (t: Map<string, Float32Array>): void => { t.set('lm_head.weight', Float32Array.from(t.get('transformer.wte.weight')!)); };
      const embd = fromFixture(name, { ...none, embd_pdrop: 1, tie_word_embeddings: false }, backend, untie).lossAndGrad(ids, seed).loss;
      const zeroIn = fromFixture(name, { ...none, tie_word_embeddings: false }, backend, (t) => {
        untie(t);
        for (const [k, v] of t) if (/w[tp]e\.weight$/.test(k)) v.fill(0);
      }).loss(ids);
      close(embd, zeroIn, 'embd_pdrop 1');
    });

    test(`${name} (${backend}): with a fixed mask the dropout gradient matches finite differences; eval ignores dropout`, () => {
      const model = fromFixture(name, { attn_pdrop: 0.3, resid_pdrop: 0.3, embd_pdrop: 0.3 }, backend);
      const plain = fromFixture(name, none, backend);
      // eval mode: loss(), forward() and lossAndGrad without a seed are the model without dropout
      close(model.loss(ids), plain.loss(ids), 'loss()');
      assert.deepEqual(model.forward(ids).logits, plain.forward(ids).logits);
      close(model.lossAndGrad(ids).loss, plain.loss(ids), 'lossAndGrad without a seed');
      const seed = { dropoutSeed: 42 };
      const r = model.lossAndGrad(ids, seed);
      const loss = r.loss, grads = copyGrads(r.grads);
      assert.ok(Math.abs(loss - plain.loss(ids)) > 1e-3, 'dropout changes the training loss');
      assert.equal(model.lossAndGrad(ids, seed).loss, loss, 'the same seed draws the same masks');
      assert.notEqual(model.lossAndGrad(ids, { dropoutSeed: 43 }).loss, loss, 'another seed, other masks');
      assertFiniteDifferences(model.parameters(), grads, () => model.lossAndGrad(ids, seed).loss, 11, `${name} (${backend})`);
    });
  }
}

test('training with dropout: a resumed run repeats the uninterrupted one (masks seeded by seed, step, micro-batch)', async () => {
  const data = bigramShards();
  const model = { model_type: 'gpt2', vocab_size: V, n_embd: 8, n_layer: 1, n_head: 2, n_inner: 16, n_positions: 64,
    attn_pdrop: 0.2, resid_pdrop: 0.2, embd_pdrop: 0.2 };
  const run = (out: string) => bigramRun(data, out, { model, steps: 4, eval: { interval: 0 }, checkpoint: { interval: 0 } });
  const a = await train(run(scratch()), { plots: false });
  const outB = scratch();
  await train(run(outB), { stopAfterStep: 2, plots: false });
  const b = await train(run(outB), { resume: true, plots: false });
  assert.equal(b.trainLoss, a.trainLoss);
  const wa = loadModel(a.checkpoint).parameters(), wb = loadModel(b.checkpoint).parameters();
  for (const k of Object.keys(wa)) assert.deepEqual(wb[k], wa[k], k);
  // and the masks mattered: without dropout the run ends elsewhere
  const c = await train(bigramRun(data, scratch(), { model: { ...model, attn_pdrop: 0, resid_pdrop: 0, embd_pdrop: 0 }, steps: 4,
    eval: { interval: 0 }, checkpoint: { interval: 0 } }), { plots: false });
  assert.notEqual(c.trainLoss, a.trainLoss);
});
