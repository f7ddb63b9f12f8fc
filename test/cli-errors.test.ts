// Every command's output errors: a missing folder, a folder where a file goes, a file where a folder
// goes → one line naming the path and the reason, exit code 1, no stack trace, no temp file left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, fixture, scratch } from './helpers.js';

function mugpt(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, MUGPT_THREADS: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1; stderr ends with one error line matching pattern (after the command's own notes), no stack trace. */
function failsWithOneLine(args: string[], pattern: RegExp): void {
  const r = mugpt(args);
  assert.equal(r.status, 1, `${args.join(' ')}\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.filter((l) => l.startsWith('mugpt: ')).length, 1, `one error line, got:\n${r.stderr}`);
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), `no stack trace:\n${r.stderr}`);
  assert.match(lines[lines.length - 1], /^mugpt: /);
  assert.match(lines[lines.length - 1], pattern);
}

/** The names in dir, recursively (to see temp files). */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [`${prefix}${e.name}/`, ...tree(join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`]).sort();
}

const model = fixture('model', 'gpt2-gelu');

test('quantize -o into a missing folder, a folder, or under a file: one line, exit 1, nothing written', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'plain'), 'x');
  const out = join(dir, 'out');
  failsWithOneLine(['quantize', model, '--type', 'q8_0', '-o', join(dir, 'missing', 'x.gguf')], /missing[/\\]x\.gguf: cannot write the file: the folder .*missing does not exist/);
  failsWithOneLine(['quantize', model, '--type', 'q8_0', '-o', dir], /cannot write the file: a folder has that name/);
  failsWithOneLine(['quantize', model, '--type', 'q8_0', '-o', join(dir, 'plain', 'x.gguf')], /plain[/\\]x\.gguf: cannot write the file/);
  assert.deepEqual(tree(dir), ['plain']);
  // And the working case writes exactly the file.
  const ok = mugpt(['quantize', model, '--type', 'q8_0', '-o', out]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(tree(dir), ['out', 'plain']);
});

test('the other writers: tokenizer train, data dedup, data build, mup, train — one line each, no temp files', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'plain'), 'x');
  const corpus = join(dir, 'in.jsonl');
  writeFileSync(corpus, `${JSON.stringify({ text: 'hello world, hello there' })}\n`);
  const under = (name: string): string => join(dir, 'plain', name);
  failsWithOneLine(['tokenizer', 'train', '--vocab', '300', '--input', corpus, '-o', join(dir, 'missing', 't.json')], /missing/);
  failsWithOneLine(['data', 'dedup', '--input', corpus, '--output', join(dir, 'missing', 'o.jsonl')], /missing/);
  failsWithOneLine(['data', 'dedup', '--input', corpus, '--output', under('o.jsonl')], /plain[/\\]o\.jsonl: .*a part of the path is a file/);
  failsWithOneLine(['data', 'build', '--preset', 'sotu', '--output', under('sotu')], /plain[/\\]sotu: a part of the path is a file, not a folder/);
  failsWithOneLine(['mup', 'coord-check', '--widths', '32,64', '--steps', '1', '-o', under('cc')], /plain[/\\]cc: /);
  const run = join(dir, 'run.yaml');
  writeFileSync(run, 'model: gpt2-tiny\ndata: { corpus: sotu }\nbatch_size: 2\nseq_len: 16\nsteps: 1\noptimizer: { lr: 0.001 }\nout_dir: plain/run\n');
  failsWithOneLine(['train', run], /plain[/\\]run.*: a part of the path is a file, not a folder/);
  failsWithOneLine(['generate', '--model', join(dir, 'nope'), '--prompt', 'x'], /nope/);
  failsWithOneLine(['eval', join(dir, 'nope'), '--text', corpus], /nope/);
  assert.deepEqual(tree(dir), ['in.jsonl', 'plain', 'run.yaml']);
});
