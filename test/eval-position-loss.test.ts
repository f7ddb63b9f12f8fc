import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, Model } from '../src/model/model.js';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { positionLoss } from '../src/eval/position-loss.js';
import { ArrayStream } from '../src/train/loader.js';
import { cliPath, fixture, scratch } from './helpers.js';

/** Buckets computed directly: one full forward per window, cross-entropy per position in float64. */
function direct(model: Model, tokens: Uint32Array, L: number, S: number, windows: number): Array<{ start: number; end: number; loss: number }> {
  const V = model.vocabSize;
  const sums = new Map<number, { s: number; n: number }>();
  for (let w = 0; w < windows; w++) {
    const ids = Array.from(tokens.subarray(w * L, (w + 1) * L));
    const { logits } = model.forward([ids]); // [1, L, V]
    for (let p = 1; p < L; p++) {
      const row = Array.from(logits.subarray((p - 1) * V, p * V));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
      const b = Math.floor((p - 1) / S);
      const e = sums.get(b) ?? { s: 0, n: 0 };
      e.s += lse - row[ids[p]];
      e.n++;
      sums.set(b, e);
    }
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([b, e]) => ({ start: 1 + b * S, end: Math.min(1 + (b + 1) * S, L), loss: e.s / e.n }));
}

function tokensFor(model: Model, n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => (i * 37 + 11 + ((i * i) % 13)) % model.vocabSize);
}

function assertBucketsMatch(got: ReturnType<typeof positionLoss>, want: ReturnType<typeof direct>, windows: number): void {
  assert.equal(got.buckets.length, want.length);
  got.buckets.forEach((b, i) => {
    assert.equal(b.start, want[i].start);
    assert.equal(b.end, want[i].end);
    assert.equal(b.count, windows * (b.end - b.start));
    assert.ok(Math.abs(b.loss - want[i].loss) < 1e-4, `bucket ${b.start}–${b.end}: ${b.loss} vs ${want[i].loss}`);
  });
}

test('position loss: buckets equal a direct full-forward computation, past n_positions with ALiBi, for any chunk size', () => {
  const model = loadModel(fixture('model', 'btlm-alibi-h4-stored-slopes'), { backend: 'js' }); // n_positions 8
  const tokens = tokensFor(model, 80);
  const L = 24, S = 5; // 23 positions: buckets of 5, the last of 3
  const want = direct(model, tokens, L, S, 3);
  for (const chunk of [1, 7, 256]) {
    const r = positionLoss(model, new ArrayStream(tokens, 'tokens'), { maxLength: L, bucketSize: S, chunk });
    assert.equal(r.windows, 3); // 80 tokens → 3 windows of 24
    assertBucketsMatch(r, want, 3);
    const mean = want.reduce((a, b) => a + b.loss * (b.end - b.start), 0) / (L - 1);
    assert.ok(Math.abs(r.loss - mean) < 1e-4);
  }
  const capped = positionLoss(model, new ArrayStream(tokens, 'tokens'), { maxLength: L, bucketSize: S, maxWindows: 1 });
  assertBucketsMatch(capped, direct(model, tokens, L, S, 1), 1);
});

test('position loss: dynamic ALiBi scaling scores each window as one forward (the scale depends on the length)', () => {
  const model = loadModel(fixture('model', 'btlm-alibi-dynamic-bf16'), { backend: 'js' });
  const tokens = tokensFor(model, 40);
  const r = positionLoss(model, new ArrayStream(tokens, 'tokens'), { maxLength: 20, bucketSize: 4, chunk: 3 });
  assertBucketsMatch(r, direct(model, tokens, 20, 4, 2), 2);
});

test('position loss: learned positions stop at n_positions with a clear error; at n_positions it is exact', () => {
  const model = loadModel(fixture('model', 'gpt2-gelu'), { backend: 'js' }); // n_positions 16
  const tokens = tokensFor(model, 50);
  assert.throws(() => positionLoss(model, new ArrayStream(tokens, 'tokens'), { maxLength: 17, bucketSize: 4 }),
    /--max-length: 17 tokens is past this model's context: it has learned position embeddings for 16 positions/);
  assertBucketsMatch(positionLoss(model, new ArrayStream(tokens, 'tokens'), { maxLength: 16, bucketSize: 4, chunk: 5 }), direct(model, tokens, 16, 4, 3), 3);
  assert.throws(() => positionLoss(model, new ArrayStream(tokens.subarray(0, 10), 'short'), { maxLength: 16, bucketSize: 4 }),
    /short: 10 tokens, fewer than one window of 16/);
  assert.throws(() => positionLoss(model, new ArrayStream(tokens, 'tokens'), { maxLength: 16, bucketSize: 16 }), /--bucket-size: expected an integer in \[1, 15\]/);
});

/** A tiny model with GPT-2's vocabulary (so --text goes through the bundled tokenizer), saved to a folder. */
function gpt2VocabModel(dir: string, alibi: boolean): string {
  const cfg = makeConfig(alibi
    ? { model_type: 'btlm', n_layer: 1, n_embd: 8, n_head: 2, n_positions: 16, vocab_size: 50257, position_embedding_type: 'alibi', activation_function: 'swiglu', n_inner: 16 }
    : { model_type: 'gpt2', n_layer: 1, n_embd: 8, n_head: 2, n_positions: 16, vocab_size: 50257 });
  Model.fromTensors(cfg, new Map(initModel(cfg, { seed: 3 }).map((t) => [t.name, t.data]))).save(dir);
  return dir;
}

test('mugpt eval --position-loss: default length, learned-position cap, JSON and SVG, flag errors', () => {
  const tmp = scratch();
  const text = join(tmp, 'speech.txt');
  writeFileSync(text, 'We hold these truths to be self-evident, that all men are created equal. '.repeat(12));
  const run = (model: string, ...a: string[]) => spawnSync(process.execPath, [cliPath, 'eval', model, '--position-loss', ...a], { encoding: 'utf8' });

  const learned = gpt2VocabModel(join(tmp, 'learned'), false);
  let r = run(learned, '--text', text);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /learned position embeddings for 16 positions and cannot be evaluated past them .*--max-length 16 instead of 4 × 16/);
  assert.match(r.stdout, /windows of 16 tokens/);
  r = run(learned, '--text', text, '--max-length', '40');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mugpt: --max-length: 40 tokens is past this model's context/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/); // no stack trace

  const alibi = gpt2VocabModel(join(tmp, 'alibi'), true);
  const out = join(tmp, 'out');
  r = run(alibi, '--text', text, '--bucket-size', '8', '--output', out);
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(readFileSync(join(out, 'position-loss.json'), 'utf8')) as { maxLength: number; trainingLength: number; buckets: Array<{ start: number; end: number }> };
  assert.equal(json.maxLength, 64); // 4 × n_positions: ALiBi goes past it
  assert.equal(json.trainingLength, 16);
  assert.equal(json.buckets.length, 8);
  assert.deepEqual([json.buckets[0].start, json.buckets[7].end], [1, 64]);
  const svg = readFileSync(join(out, 'position-loss.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /training length \(16\)/);

  r = run(alibi);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /give exactly one of --run .*, --shards .* or --text/);
  r = run(alibi, '--text', text, '--bucket-size', '0');
  assert.match(r.stderr, /--bucket-size: expected an integer ≥ 1, got "0"/);
  r = run(alibi, '--text', join(tmp, 'missing.txt'));
  assert.match(r.stderr, /--text: cannot read .*missing\.txt \(ENOENT\)/);
  assert.ok(!existsSync(join(tmp, 'missing-out')));
});
