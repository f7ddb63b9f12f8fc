// `mugpt serve`'s flags: a bad value is one line naming the flag, exit code 1 (before any model loads).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cliPath, scratch } from './helpers.js';

test('mugpt serve: bad flag values are one line naming the flag, exit code 1', () => {
  for (const [flag, value, msg] of [
    ['--max-concurrency', '0', /--max-concurrency expects an integer ≥ 1, got "0"/],
    ['--port', 'http', /--port expects an integer ≥ 0, got "http"/],
    ['--ctx-size', '-5', /--ctx-size expects an integer ≥ 1, got "-5"/],
  ] as const) {
    const r = spawnSync(process.execPath, [cliPath, 'serve', '--model', scratch(), flag, value], { encoding: 'utf8' });
    assert.equal(r.status, 1, `${flag} ${value}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, msg);
  }
});
