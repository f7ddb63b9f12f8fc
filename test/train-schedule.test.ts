import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrAt, validateSchedule, type LrSchedule } from '../src/train/schedule.js';
import { chinchillaFromFlops, chinchillaTokens, countParameters, stepsForTokens, trainingFlops } from '../src/train/chinchilla.js';
import { makeConfig } from '../src/model/config.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('linear warmup then linear decay: the BTLM recipe (95 warmup, 159,636 total, end 1.0138e-4)', () => {
  const s: LrSchedule = { peakLr: 0.012, warmupSteps: 95, totalSteps: 159_636, decay: 'linear', endRatio: 1.0138e-4 / 0.012 };
  close(lrAt(s, 0), 0);
  close(lrAt(s, 19), 0.012 * 19 / 95);
  close(lrAt(s, 95), 0.012);
  const mid = 95 + 159_541 / 2;
  close(lrAt(s, mid), (0.012 + 1.0138e-4) / 2);
  close(lrAt(s, 159_636), 1.0138e-4);
  close(lrAt(s, 200_000), 1.0138e-4);
  // monotone decreasing after warmup
  for (let k = 96; k < 159_636; k += 997) assert.ok(lrAt(s, k) < lrAt(s, k - 1));
});

test('cosine decay to 10%: closed form at quarter points', () => {
  const s: LrSchedule = { peakLr: 2e-4, warmupSteps: 346, totalSteps: 346 + 1000, decay: 'cosine', endRatio: 0.1 };
  const end = 2e-5;
  close(lrAt(s, 346), 2e-4);
  close(lrAt(s, 346 + 250), end + (2e-4 - end) * (1 + Math.SQRT1_2) / 2);
  close(lrAt(s, 346 + 500), end + (2e-4 - end) / 2);
  close(lrAt(s, 346 + 750), end + (2e-4 - end) * (1 - Math.SQRT1_2) / 2);
  close(lrAt(s, 346 + 1000), end);
  close(lrAt({ ...s, decay: 'constant' }, 5000), 2e-4);
  assert.throws(() => validateSchedule({ ...s, totalSteps: 10 }, 'runs/x.yaml: schedule'), /runs\/x.yaml: schedule: total steps/);
  assert.throws(() => validateSchedule({ ...s, endRatio: 2 }), /end ratio/);
});

test('parameter counts: BTLM-3B-8K 2,646,255,744 and Cerebras-GPT-111M 111,050,496', () => {
  const btlm = makeConfig({ model_type: 'btlm', n_embd: 2560, n_layer: 32, n_head: 32, n_inner: 6826, n_positions: 8192,
    activation_function: 'swiglu', position_embedding_type: 'alibi' });
  assert.equal(countParameters(btlm), 2_646_255_744);
  assert.equal(countParameters(btlm, { embeddings: false }), 2_646_255_744 - 128_657_920);
  const c111 = makeConfig({ model_type: 'gpt2', n_embd: 768, n_layer: 10, n_head: 12, n_inner: 3072, n_positions: 2048, activation_function: 'gelu' });
  assert.equal(countParameters(c111), 111_050_496);
  assert.equal(countParameters(makeConfig({ model_type: 'gpt2', n_embd: 768, n_layer: 10, n_head: 12, n_inner: 3072, n_positions: 2048,
    tie_word_embeddings: false })), 111_050_496 + 50257 * 768);
  // The Cerebras-GPT table: 2.22e9 tokens, 9,037 steps of 120 × 2048.
  const tokens = chinchillaTokens(countParameters(c111));
  assert.ok(Math.abs(tokens / 2.22e9 - 1) < 0.005);
  const steps = stepsForTokens(tokens, 120, 2048);
  assert.ok(Math.abs(steps - 9037) / 9037 < 0.005, `${steps}`);
});

test('Chinchilla from a FLOP budget: C = 6·N·D with D = 20·N', () => {
  const { params, tokens } = chinchillaFromFlops(1.5e18);
  close(tokens, 20 * params);
  close(trainingFlops(params, tokens), 1.5e18, 1e-12);
  close(params, Math.sqrt(1.5e18 / 120));
  assert.throws(() => chinchillaFromFlops(0), /FLOP budget must be > 0/);
});
