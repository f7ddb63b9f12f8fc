import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliPath, repoRoot } from './helpers.js';

test('mugpt --help lists the program and exits 0', () => {
  const r = spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: mugpt/);
});

test('an unknown command fails with a message, not a stack trace', () => {
  const r = spawnSync(process.execPath, [cliPath, 'no-such-command'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

test('help texts: generate names GGUF files, train prints no path of this machine', () => {
  const gen = spawnSync(process.execPath, [cliPath, 'generate', '--help'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  assert.match(gen.stdout, /--model <path> +an HF model folder .*a \.gguf file, or a Hub id/s);
  assert.match(gen.stdout, /model folder or a GGUF file/);
  const train = spawnSync(process.execPath, [cliPath, 'train', '--help'], { encoding: 'utf8' });
  assert.equal(train.status, 0, train.stderr);
  assert.ok(!train.stdout.includes(repoRoot), train.stdout);
  assert.doesNotMatch(train.stdout, /(^|\s)\/\w/, 'no absolute path');
  assert.match(train.stdout, /bundled runs\/btlm-tiny\.yaml/);
});
