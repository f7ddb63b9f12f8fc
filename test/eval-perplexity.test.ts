import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadModel } from '../src/model/model.js';
import { heldOutLoss } from '../src/eval/perplexity.js';
import { ArrayStream } from '../src/train/loader.js';
import { cliPath, fixture } from './helpers.js';

test('held-out loss is the mean next-token cross-entropy over whole windows (= model.loss), perplexity its exp', () => {
  const model = loadModel(fixture('model', 'btlm-alibi-h4-stored-slopes'), { backend: 'js' });
  const tokens = Uint32Array.from({ length: 50 }, (_, i) => (i * 37 + 11) % model.vocabSize);
  const r = heldOutLoss(model, new ArrayStream(tokens, 'test tokens'), { seqLen: 8 });
  assert.equal(r.windows, 6); // 50 tokens → 6 windows of 8, the last 2 tokens unscored
  assert.equal(r.predictions, 6 * 7);
  const rows = Array.from({ length: 6 }, (_, w) => Array.from(tokens.subarray(w * 8, w * 8 + 8)));
  assert.ok(Math.abs(r.loss - model.loss(rows)) < 1e-5, `${r.loss} vs ${model.loss(rows)}`);
  assert.ok(Math.abs(r.perplexity - Math.exp(r.loss)) < 1e-9 * r.perplexity);
  const capped = heldOutLoss(model, new ArrayStream(tokens, 'test tokens'), { seqLen: 8, maxTokens: 20 });
  assert.equal(capped.windows, 2);
  assert.throws(() => heldOutLoss(model, new ArrayStream(tokens.subarray(0, 5), 'short'), { seqLen: 8 }), /short: 5 tokens, fewer than one window of 8/);
});

test('mugpt eval: exactly one data source, flag errors name the flag', () => {
  const run = (...a: string[]) => spawnSync(process.execPath, [cliPath, 'eval', fixture('model', 'gpt2-gelu'), ...a], { encoding: 'utf8' });
  let r = run();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /exactly one of --task NAME=PATH, --text, --run or --shards/);
  r = run('--shards', 'nowhere', '--seq-len', '1');
  assert.match(r.stderr, /--seq-len: expected an integer ≥ 2/);
});
