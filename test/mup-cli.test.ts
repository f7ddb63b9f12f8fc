import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { parseArch, parseLrs, parseWidths } from '../src/cli/mup.js';
import { parseIntFlag } from '../src/cli/flags.js';
import { cliPath, scratch } from './helpers.js';

const mugpt = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, MUGPT_THREADS: '1' } });

test('--lrs grids: powers of two apart by default, another log2 step after ":", or a list', () => {
  const g = parseLrs('2^-12..2^-4');
  assert.equal(g.length, 9);
  assert.equal(g[0], 2 ** -12);
  assert.equal(g[8], 2 ** -4);
  assert.deepEqual(parseLrs('2^-4..2^-2:0.5'), [2 ** -4, 2 ** -3.5, 2 ** -3, 2 ** -2.5, 2 ** -2]);
  assert.deepEqual(parseLrs('0.001,2^-8, 1e-2'), [0.001, 2 ** -8, 0.01]);
});

test('mugpt mup flag errors name the flag, one line, no stack trace', () => {
  const cases: Array<[string[], string]> = [
    [['sweep', '--lrs', 'abc'], '--lrs: expected a positive number or 2^k, got "abc"'],
    [['coord-check', '--widths', '64,66'], '--widths: 66 is not a multiple of --heads (4)'],
    [['coord-check', '--arch', 'llama'], '--arch: expected btlm or gpt2, got "llama"'],
  ];
  for (const [args, message] of cases) {
    const r = mugpt('mup', ...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr, `mugpt: ${message}\n`);
  }
});

test('the flag parsers name the flag and what was expected', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => parseLrs('2^-4..2^-12'), '--lrs: the grid "2^-4..2^-12" runs backwards (expected LOW..HIGH)'],
    [() => parseLrs('0.01,0.01'), '--lrs: a learning rate is repeated in "0.01,0.01"'],
    [() => parseLrs('2^-12..2^-4:0'), '--lrs: the step after ":" must be a positive number (log2 units), got "0"'],
    [() => parseLrs('1e-30..1'), '--lrs: the grid "1e-30..1" has 100 points (at most 64)'],
    [() => parseIntFlag('--steps', '0', 1), '--steps: expected an integer ≥ 1, got "0"'],
    [() => parseIntFlag('--eval-batches', 'x', 1), '--eval-batches: expected an integer ≥ 1, got "x"'],
    [() => parseIntFlag('--steps', '-1', 0), '--steps: expected an integer ≥ 0, got "-1"'],
    [() => parseWidths('64,abc', 4), '--widths: expected an integer ≥ 8, got "abc"'],
    [() => parseWidths('64', 4, 2), '--widths: expected at least 2 comma-separated widths, got "64"'],
    [() => parseWidths('64,64', 4), '--widths: a width is repeated in "64,64"'],
    [() => parseArch('llama'), '--arch: expected btlm or gpt2, got "llama"'],
  ];
  for (const [f, message] of cases) assert.throws(f, (e: unknown) => e instanceof MugptError && e.message === message, message);
});

test('mugpt mup coord-check writes its table, JSON and SVG', () => {
  const dir = scratch();
  const r = mugpt('mup', 'coord-check', '--widths', '16,32', '--steps', '1', '--layers', '1', '--heads', '2', '--batch', '2', '--seq-len', '8', '--vocab', '64', '-o', dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /μP, after 1 steps: mean \|x\| by width/);
  assert.match(r.stdout, /h\.0\.attn_logits/);
  assert.ok(existsSync(join(dir, 'coord-check.svg')));
  const json = JSON.parse(readFileSync(join(dir, 'coord-check.json'), 'utf8')) as { runs: unknown[] };
  assert.equal(json.runs.length, 4);
  assert.match(readFileSync(join(dir, 'coord-check.svg'), 'utf8'), /^<svg /);
});
