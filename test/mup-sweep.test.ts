import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestLrs, lrSweep, type SweepPoint } from '../src/mup/sweep.js';
import { sotuData } from '../src/mup/setup.js';

const data = sotuData(256, 16, 0, 3);

test('lrSweep on a 2×2 grid trains every point and returns the argmin lr per width', () => {
  const r = lrSweep({ widths: [32, 16], lrs: [1e-2, 1e-3], steps: 4, layers: 1, heads: 2, batch: 2, seqLen: 16, vocab: 256, evalBatches: 2, data });
  assert.deepEqual(r.options.widths, [16, 32]);
  assert.deepEqual(r.options.lrs, [1e-3, 1e-2]);
  assert.equal(r.points.length, 8);
  for (const q of r.points) {
    assert.ok(q.valLoss !== null && Number.isFinite(q.valLoss) && q.valLoss > 0 && q.valLoss < 7, `val loss ${q.valLoss}`);
    assert.ok(q.trainLoss !== null && Number.isFinite(q.trainLoss));
  }
  assert.equal(r.best.length, 4);
  for (const b of r.best) {
    const mine = r.points.filter((q) => q.parameterization === b.parameterization && q.width === b.width);
    const argmin = mine.reduce((a, q) => (q.valLoss! < a.valLoss! ? q : a));
    assert.equal(b.lr, argmin.lr);
    assert.equal(b.valLoss, argmin.valLoss);
  }
  // at 4 steps a 10× larger lr learns faster on every run: the grid's argmin is not a tie-break artefact
  for (const b of r.best) assert.equal(b.lr, 1e-2, `${b.parameterization} width ${b.width}`);
  // the same seed and data give the same numbers
  const again = lrSweep({ ...r.options, parameterizations: ['mup'], widths: [16], lrs: [1e-2], data });
  assert.equal(again.points[0].valLoss, r.points.find((q) => q.parameterization === 'mup' && q.width === 16 && q.lr === 1e-2)!.valLoss);
});

test('bestLrs skips diverged runs and leaves out widths where all diverged', () => {
  const pt = (width: number, lr: number, valLoss: number | null): SweepPoint => ({ parameterization: 'sp', width, lr, valLoss, trainLoss: valLoss, seconds: 0 });
  const best = bestLrs([pt(16, 0.1, null), pt(16, 0.01, 5.5), pt(16, 0.001, 5.9), pt(32, 0.1, null)]);
  assert.deepEqual(best, [{ parameterization: 'sp', width: 16, lr: 0.01, valLoss: 5.5 }]);
});

test('lrSweep rejects bad options with the option named', () => {
  assert.throws(() => lrSweep({ data, vocab: 256, lrs: [0] }), /learning rates must be > 0, got 0/);
  assert.throws(() => lrSweep({ data, vocab: 256, steps: 0 }), /steps must be an integer ≥ 1/);
  assert.throws(() => lrSweep({ data, vocab: 256, widths: [] }), /widths is empty/);
});
