// `--threads N` on every command that computes: listed in its help, checked, and reaching the native
// thread pool (the generate stats line names the pool size the kernels ran with).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { nativeAvailable } from '../src/kernels/index.js';
import { cliPath, fixture } from './helpers.js';

const COMMANDS = [['generate'], ['eval'], ['quantize'], ['train'], ['mup', 'coord-check'], ['mup', 'sweep'], ['data', 'build'], ['data', 'dedup'],
  ['scale', 'plan'], ['scale', 'run'], ['scale', 'rerun'], ['serve']];

function mugpt(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('every computing command documents --threads and rejects a bad value naming the flag', () => {
  for (const cmd of COMMANDS) {
    const help = mugpt([...cmd, '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--threads <n>/, cmd.join(' '));
  }
  const bad = mugpt(['generate', '--model', fixture('model', 'gpt2-unscaled-f16'), '--prompt', 'x', '--threads', '0']);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "mugpt: --threads: expected an integer from 1 to 64, got '0'\n");
  const many = mugpt(['quantize', fixture('model', 'gpt2-unscaled-f16'), '--type', 'q8_0', '-o', 'x.gguf', '--threads', 'two']);
  assert.equal(many.status, 1);
  assert.match(many.stderr, /--threads: expected an integer from 1 to 64, got 'two'/);
});

test('--threads sizes the native pool and wins over MUGPT_THREADS', { skip: nativeAvailable() ? false : 'the native addon did not load' }, () => {
  const args = ['generate', '--model', fixture('model', 'gpt2-unscaled-f16'), '--prompt', '*S[P', '--max-tokens', '2', '--backend', 'native'];
  const one = mugpt([...args, '--threads', '1'], { MUGPT_THREADS: '2' });
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stderr, /kernels native \(\w+, 1 thread\); seed/);
  const three = mugpt([...args, '--threads', '3']);
  assert.match(three.stderr, /kernels native \(\w+, 3 threads\); seed/);
  const env = mugpt(args, { MUGPT_THREADS: '2' });
  assert.match(env.stderr, /kernels native \(\w+, 2 threads\); seed/, 'the environment form stays');
});
