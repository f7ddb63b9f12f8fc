// The backward pass: Model.lossAndGrad against float64 PyTorch autograd (tools/torch_grads.py) within
// docs/model.md's tolerances, against central finite differences of the loss, and the loss
// against the cross-entropy of the full forward's logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/model/model.js';
import { nativeAvailable } from '../src/kernels/index.js';
import type { BackendName } from '../src/kernels/kernels.js';
import { assertFiniteDifferences, copyGrads } from './finite-differences.js';
import { fixture } from './helpers.js';

const FIXTURES = ['gpt2-gelu', 'gpt2-gelu-new-layer-idx', 'btlm-alibi-h4-stored-slopes', 'btlm-alibi-h6-factor-sharded', 'btlm-learned-gelu-old-mup-names'];
const BACKENDS: BackendName[] = nativeAvailable() ? ['js', 'native'] : ['js'];

interface GradFixture { loss: number; ids: number[][]; tensors: Record<string, { offset: number; shape: number[] }> }

function readGrads(name: string): { fx: GradFixture; bin: Buffer } {
  const dir = fixture('model', name);
  return { fx: JSON.parse(readFileSync(join(dir, 'grads.json'), 'utf8')) as GradFixture, bin: readFileSync(join(dir, 'grads.bin')) };
}

for (const backend of BACKENDS) {
  for (const name of FIXTURES) {
    test(`${name} (${backend}): loss and every gradient match PyTorch float64 autograd`, () => {
      const { fx, bin } = readGrads(name);
      const model = loadModel(fixture('model', name), { backend });
      const { loss, grads } = model.lossAndGrad(fx.ids);
      assert.ok(Math.abs(loss - fx.loss) <= 1e-5, `loss ${loss} vs ${fx.loss}`);
      assert.deepEqual(Object.keys(grads).sort(), Object.keys(fx.tensors).sort(), 'one gradient per trainable tensor');
      for (const [t, { offset, shape }] of Object.entries(fx.tensors)) {
        const n = shape.reduce((a, b) => a * b, 1);
        const want = new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + 4 * n));
        const got = grads[t];
        let maxB = 0, maxD = 0;
        for (let i = 0; i < n; i++) { maxB = Math.max(maxB, Math.abs(want[i])); maxD = Math.max(maxD, Math.abs(got[i] - want[i])); }
        // c_attn's key bias has an exact gradient of 0 (softmax ignores a per-row constant): compare absolutely
        const tol = maxB < 1e-6 ? 1e-6 : 1e-4 * maxB;
        assert.ok(maxD <= tol, `${t}: max|Δ| ${maxD} > ${tol} (max|grad| ${maxB})`);
      }
    });
  }
}

test('gradients match central finite differences of the loss (float32 model, sampled elements)', () => {
  for (const name of ['gpt2-gelu', 'btlm-alibi-h4-stored-slopes']) {
    const { fx } = readGrads(name);
    const model = loadModel(fixture('model', name), { backend: 'js' });
    assertFiniteDifferences(model.parameters(), copyGrads(model.lossAndGrad(fx.ids).grads), () => model.loss(fx.ids), 7, name);
  }
});

test('loss() equals the cross-entropy of forward()\'s logits; lossAndGrad reuses its arrays; bad batches are clear errors', () => {
  const model = loadModel(fixture('model', 'btlm-alibi-h6-factor-sharded'), { backend: 'js' });
  const ids = [[1, 5, 9, 2, 7], [3, 3, 8, 0, 4]];
  const { logits, shape: [B, T, V] } = model.forward(ids);
  let ce = 0;
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) {
    const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
    const max = Math.max(...row);
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    ce += max + Math.log(z) - row[ids[b][t + 1]];
  }
  assert.ok(Math.abs(model.loss(ids) - ce / (B * (T - 1))) < 1e-5);
  const a = model.lossAndGrad(ids).grads;
  const b = model.lossAndGrad([[1, 2, 3]]).grads;
  assert.equal(a['transformer.wte.weight'], b['transformer.wte.weight']);
  assert.throws(() => model.lossAndGrad([[1]]), /at least 2 tokens/);
  assert.throws(() => model.lossAndGrad([[1, 2], [1]]), /same length/);
  assert.throws(() => model.lossAndGrad([[1, 99999]]), /ids\[0\]\[1\].*vocab_size/);
});
