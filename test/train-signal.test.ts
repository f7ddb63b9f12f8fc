import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, scratch } from './helpers.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';

test('SIGTERM during training saves a checkpoint after the current step, then exits 0', async () => {
  const out = scratch();
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'test', 'train-signal-child.js'), out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('started') && !child.killed) child.kill('SIGTERM');
    });
    child.on('exit', (c) => resolve(c));
  });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /SIGTERM: saving a checkpoint after this step/);
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(result.status, 'interrupted');
  assert.ok(result.step >= 1 && result.step < 1_000_000);
  assert.equal(loadCheckpoint(result.checkpoint).state.step, result.step);
});
