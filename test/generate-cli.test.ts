import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, fixture } from './helpers.js';
import { optionsFromFlags } from '../src/cli/generate.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { loadModel } from '../src/model/model.js';
import { MugptError } from '../src/errors.js';

const gpt2 = loadTokenizer('gpt2');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, 'generate', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function greedyOf(name: string): { prompt: number[]; greedy: number[] } {
  return JSON.parse(readFileSync(join(fixture('model', name), 'expected.json'), 'utf8')).decode;
}

test('mugpt generate prints the prompt, then Hugging Face\'s greedy continuation, and a stats line', () => {
  for (const name of ['gpt2-unscaled-f16', 'btlm-alibi-dynamic-bf16']) {
    const { prompt, greedy } = greedyOf(name);
    const text = gpt2.decode(prompt);
    assert.deepEqual(gpt2.encode(text), prompt, 'the prompt text must encode to the fixture ids');
    const r = run(['--model', fixture('model', name), '--prompt', text, '--max-tokens', String(greedy.length), '--backend', 'js']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, text + gpt2.decode(greedy) + '\n', name);
    assert.match(r.stderr, new RegExp(`^mugpt: loaded in [\\d.]+ s; ${prompt.length} prompt tokens, prefill [\\d.]+ tokens/s; ` +
      `${greedy.length} generated, decode [\\d.]+ tokens/s; kernels js; seed \\d+, end: length\\n$`));
  }
});

test('mugpt generate: stop strings, seeded sampling as the library does it', async () => {
  const model = fixture('model', 'gpt2-unscaled-f16');
  const r = run(['--model', model, '--prompt', '*S[P', '--stop', ')))', 'never', '--backend', 'js']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "*S[P'\n"); // greedy continues "'))))))"
  assert.match(r.stderr, /end: stop/);
  const args = ['--model', model, '--prompt', '*S[P', '--temperature', '1.2', '--top-k', '30', '--top-p', '0.9',
    '--repetition-penalty', '1.1', '--seed', '77', '--max-tokens', '12'];
  const a = run(args);
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stderr, /seed 77, end: length/);
  // The same run through the library.
  let text = '*S[P';
  const gen = loadModel(model, { backend: 'js' }).generate('*S[P',
    { temperature: 1.2, topK: 30, topP: 0.9, repetitionPenalty: 1.1, seed: 77, maxNewTokens: 12 });
  for await (const t of gen) text += t.text;
  assert.equal(a.stdout, text + '\n');
});

test('flag values are checked and errors name the flag', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxTokens: 'ten' }, /--max-tokens expects a non-negative integer, got "ten"/],
    [{ maxTokens: '-3' }, /--max-tokens expects a non-negative integer/],
    [{ temperature: 'hot' }, /--temperature expects a number, got "hot"/],
    [{ temperature: '-1' }, /--temperature must be a finite number ≥ 0/],
    [{ topK: '2.5' }, /--top-k expects a non-negative integer/],
    [{ topP: '0' }, /--top-p must be a number in \(0, 1\]/],
    [{ topP: '1.5' }, /--top-p must be/],
    [{ topP: '' }, /--top-p expects a number/],
    [{ repetitionPenalty: '0' }, /--repetition-penalty must be a finite number > 0/],
    [{ seed: '1e3' }, /--seed expects a non-negative integer/],
    [{ seed: '9007199254740992' }, /--seed must be an integer in \[0, 9007199254740991\]/],
    [{ stop: [''] }, /--stop must be a non-empty string/],
  ];
  for (const [flags, re] of cases) {
    assert.throws(() => optionsFromFlags(flags), (e: unknown) => e instanceof MugptError && re.test(e.message), JSON.stringify(flags));
  }
  assert.deepEqual(optionsFromFlags({ maxTokens: '5', temperature: '0.7', topK: '40', topP: '0.9', repetitionPenalty: '1.2', seed: '3', stop: ['\n'], ignoreEos: true }),
    { maxNewTokens: 5, temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 3, stop: ['\n'], ignoreEos: true });
});

test('the CLI reports bad flags and folders in one line, without a stack trace', () => {
  const model = fixture('model', 'gpt2-gelu');
  const cases: Array<[string[], RegExp]> = [
    [['--model', model, '--prompt', 'x', '--top-p', '2'], /^mugpt: --top-p must be a number in \(0, 1\]/],
    [['--model', model, '--prompt', 'x', '--backend', 'gpu'], /--backend/],
    [['--prompt', 'x'], /--model/],
    [['--model', fixture('model', 'no-such-model'), '--prompt', 'x'], /no-such-model/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

/** Starts a long generation; `stopIt` is called at the first stdout bytes. */
function interrupted(stopIt: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, 'generate', '--model', fixture('model', 'btlm-alibi-h4-stored-slopes'),
    '--prompt', '%@4-', '--max-tokens', '1000000', '--ignore-eos', '--temperature', '1', '--backend', 'js']);
  let stderr = '';
  let stopped = false;
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  child.stdout.on('data', () => {
    if (!stopped) stopIt(child);
    stopped = true;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stderr });
  }));
}

test('Ctrl-C stops generation with the stats line and exit code 130; a closed pipe stops it cleanly', async () => {
  const sigint = await interrupted((c) => c.kill('SIGINT'));
  assert.equal(sigint.code, 130, sigint.stderr);
  assert.match(sigint.stderr, /generated, decode .* end: SIGINT\n$/);
  const epipe = await interrupted((c) => c.stdout?.destroy());
  assert.equal(epipe.code, 0, epipe.stderr);
  assert.match(epipe.stderr, /end: EPIPE\n$/);
});
