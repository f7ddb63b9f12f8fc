// Generation on real (tiny) checkpoints: greedy tokens equal Hugging Face's (the PyTorch fixtures of
// tools/torch_reference.py), for learned positions and ALiBi, past n_positions with dynamic scaling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from './helpers.js';
import { loadModel } from '../src/model/model.js';
import { MugptError } from '../src/errors.js';

interface Expected { decode: { prompt: number[]; greedy: number[] } }

const dirs = readdirSync(fixture('model')).map((d) => fixture('model', d))
  .filter((d) => readdirSync(d).includes('expected.json'));

test('greedy generation gives Hugging Face\'s tokens on every fixture model', async () => {
  assert.ok(dirs.length >= 5);
  for (const dir of dirs) {
    const { prompt, greedy } = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected).decode;
    const model = loadModel(dir, { backend: 'js' });
    const gen = model.generate(prompt, { maxNewTokens: greedy.length, temperature: 0 });
    const ids: number[] = [];
    for await (const t of gen) ids.push(t.id);
    assert.deepEqual(ids, greedy, dir);
    assert.equal(gen.stats.finishReason, 'length');
  }
});

test('a learned-position model: too long a prompt is an error, generation stops at the context', async () => {
  const model = loadModel(fixture('model', 'gpt2-gelu'), { backend: 'js' });
  assert.equal(model.maxContext, 16);
  assert.throws(() => model.generate(new Array(17).fill(3)), (e: unknown) => e instanceof MugptError && /17 tokens.*context of 16/.test(e.message));
  const gen = model.generate([1, 61, 61, 0], { maxNewTokens: 100 });
  let n = 0;
  for await (const _ of gen) n++;
  assert.equal(n, 16 - 4 + 1);
  assert.equal(gen.stats.finishReason, 'context');
});

test('sampling a real model is reproducible for a seed and differs across seeds', async () => {
  const model = loadModel(fixture('model', 'btlm-alibi-h4-stored-slopes'), { backend: 'js' });
  const run = async (seed: number): Promise<number[]> => {
    const ids: number[] = [];
    for await (const t of model.generate([4, 31, 19, 12], { maxNewTokens: 20, temperature: 1.5, topK: 40, topP: 0.95, seed })) ids.push(t.id);
    return ids;
  };
  const a = await run(1);
  assert.deepEqual(await run(1), a);
  assert.notDeepEqual(await run(2), a);
});
