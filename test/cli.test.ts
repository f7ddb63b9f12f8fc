import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliPath } from './helpers.js';

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
