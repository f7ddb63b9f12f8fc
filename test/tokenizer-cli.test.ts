// `mugpt tokenizer train|encode|decode` end to end, and their errors (one line, no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../src/index.js';
import { cliPath, scratch } from './helpers.js';

const mugpt = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });

function corpus(): string {
  const dir = scratch();
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'a.txt'), 'the cat sat on the mat. the cat sat.\n'.repeat(20));
  writeFileSync(join(dir, 'in', 'b.jsonl'), ['the dog', 'the dog sat', 'a hat'].map((text) => JSON.stringify({ text })).join('\n') + '\n');
  writeFileSync(join(dir, 'in', 'index.json'), '{"not": "a corpus"}');   // not a corpus file: skipped in a folder
  return dir;
}

test('tokenizer train on a folder of .txt and .jsonl writes a loadable tokenizer.json', () => {
  const dir = corpus();
  const out = join(dir, 'tok.json');
  const r = mugpt('tokenizer', 'train', '--vocab', '270', '--min-frequency', '1', '--input', join(dir, 'in'), '-o', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /270 tokens \(13 merges\) from 4 documents/);  // a.txt + 3 JSONL lines
  const tok = loadTokenizer(out);
  assert.equal(tok.vocabSize, 270);
  assert.ok(tok.encode(' the cat sat').length <= 3);
  const e = mugpt('tokenizer', 'encode', '--tokenizer', out, ' the cat<|endoftext|>', '--allow-special');
  assert.equal(e.status, 0, e.stderr);
  const ids = JSON.parse(e.stdout) as number[];
  assert.equal(ids[ids.length - 1], 269);
  const d = mugpt('tokenizer', 'decode', '--tokenizer', out, ...ids.map(String));
  assert.equal(d.stdout, ' the cat<|endoftext|>\n');
  // Asking for more tokens than the corpus has pairs for says so.
  const big = mugpt('tokenizer', 'train', '--vocab', '400', '--min-frequency', '1', '--input', join(dir, 'in'), '-o', out);
  assert.equal(big.status, 0, big.stderr);
  assert.match(big.stdout, /supports only 274 of the 400 tokens/);
});

test('tokenizer encode/decode with the bundled gpt2', () => {
  assert.equal(mugpt('tokenizer', 'encode', 'Hello world').stdout.trim(), '[15496,995]');
  assert.equal(mugpt('tokenizer', 'decode', '15496,995').stdout, 'Hello world\n');
});

test('tokenizer CLI errors name the flag, file and line', () => {
  const dir = corpus();
  const fails = (args: string[], pattern: RegExp): void => {
    const r = mugpt(...args);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  };
  fails(['tokenizer', 'train', '--vocab', 'abc', '--input', dir], /--vocab: expected an integer/);
  fails(['tokenizer', 'train', '--vocab', '100', '--input', join(dir, 'in'), '-o', join(dir, 't.json')], /vocabSize 100 must be an integer from 257/);
  fails(['tokenizer', 'train', '--vocab', '300', '--input', join(dir, 'nope')], /--input: .*nope does not exist/);
  fails(['tokenizer', 'train', '--vocab', '300', '--input', join(dir, 'in'), '-o', join(dir, 'no', 'dir', 't.json')], /--output: folder .* does not exist/);
  writeFileSync(join(dir, 'in', 'b.jsonl'), '{"text": "ok"}\n{"text": broken\n');
  fails(['tokenizer', 'train', '--vocab', '300', '--input', join(dir, 'in'), '-o', join(dir, 't.json')], /b\.jsonl:2/);
  fails(['tokenizer', 'train', '--vocab', '300', '--input', join(dir, 'in'), '--on-error', 'ignore'], /--on-error: expected 'stop' or 'skip'/);
  // --on-error skip: trains on the rest and says what it skipped.
  const skip = mugpt('tokenizer', 'train', '--vocab', '270', '--input', join(dir, 'in'), '-o', join(dir, 't.json'), '--on-error', 'skip');
  assert.equal(skip.status, 0, skip.stderr);
  assert.match(skip.stdout, /from 2 documents/);
  assert.match(skip.stdout, /skipped 1 pieces of bad input \(json: 1\); the first: .*b\.jsonl:2/);
  fails(['tokenizer', 'decode', '1', 'x'], /'x' is not a token id/);
  fails(['tokenizer', 'decode', '99999'], /outside the vocabulary/);
});
