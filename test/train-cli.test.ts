import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, scratch } from './helpers.js';

const mugpt = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });

test('mugpt train --help documents the run file (the embedded btlm-tiny run by default) and --resume', () => {
  const r = mugpt('train', '--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: mugpt train \[options\] \[run\]/);
  assert.match(r.stdout, /btlm-tiny\.yaml/);
  assert.match(r.stdout, /--resume/);
});

test('mugpt train with a bad run config prints one line naming the file and field, no stack trace', () => {
  const dir = scratch();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'model: btlm-tiny\ndata: { corpus: sotu }\nbatch_size: 4\nseq_len: 64\nsteps: 5\noptimizer: { lr: 0.01, momentum: 0.9 }\nout_dir: x\n');
  const r = mugpt('train', file);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `mugpt: ${file}: optimizer.momentum is not a known field (expected one of: lr, betas, eps, weight_decay)\n`);
  const missing = mugpt('train', join(dir, 'none.yaml'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /none.yaml: cannot read the run config \(ENOENT\)/);
  assert.doesNotMatch(missing.stderr, /at .*\.js:\d+/);
});
