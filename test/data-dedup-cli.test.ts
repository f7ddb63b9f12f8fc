import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, scratch } from './helpers.js';
import { rng, words } from './data-dedup-testlib.js';
import { dedupJsonlFile, type DedupFileOptions } from '../src/cli/data-dedup.js';
import { MugptError } from '../src/errors.js';

function run(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, 'data', 'dedup', ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A JSONL file (as bytes) with duplicates, near duplicates and every kind of bad line; returns the lines expected to be kept. */
function buildInput(): { bytes: Buffer; kept: Buffer[] } {
  const r = rng(21);
  const a = words(r, 300).join(' ');
  const b = words(r, 300).join(' ');
  const c = words(r, 300).join(' ');
  const near = a.replace(/^(\S+ \S+ \S+)/, 'changed words here');
  const line = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
  const lines: Array<{ bytes: Buffer; keep: boolean }> = [
    { bytes: line({ text: a, meta: { id: 1 } }), keep: true },                 // 1
    { bytes: line({ text: b, id: 'x' }), keep: true },                         // 2
    { bytes: Buffer.from('{"text": "unterminated'), keep: false },             // 3 malformed JSON
    { bytes: line({ text: a, meta: { id: 'copy' } }), keep: false },           // 4 exact duplicate of 1
    { bytes: line({ body: 'no text field' }), keep: false },                   // 5 missing text
    { bytes: Buffer.from(''), keep: false },                                   // 6 blank: ignored
    { bytes: line({ text: 17 }), keep: false },                                // 7 non-string text
    { bytes: Buffer.concat([Buffer.from('{"text": "bad '), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), keep: false }, // 8 invalid UTF-8
    { bytes: line({ text: near }), keep: false },                              // 9 near duplicate of 1
    { bytes: Buffer.concat([Buffer.from(`{ "text" : ${JSON.stringify(c)} }`), Buffer.from('\r')]), keep: true }, // 10 CRLF, odd spacing: kept byte for byte
    { bytes: line([1, 2]), keep: false },                                      // 11 not an object
  ];
  const bytes = Buffer.concat(lines.flatMap((l) => [l.bytes, Buffer.from('\n')]));
  return { bytes, kept: lines.filter((l) => l.keep).map((l) => l.bytes) };
}

test('data dedup end to end: kept lines unchanged and in order, bad lines reported with file:line and counted', () => {
  const dir = scratch();
  const { bytes, kept } = buildInput();
  writeFileSync(join(dir, 'in.jsonl'), bytes);
  const r = run(['--input', 'in.jsonl', '--output', 'out.jsonl'], dir);
  assert.equal(r.status, 0, r.stderr);
  const out = readFileSync(join(dir, 'out.jsonl'));
  assert.deepEqual(out, Buffer.concat(kept.flatMap((k) => [k, Buffer.from('\n')])));
  assert.match(r.stdout, /documents\s+5 \(/);
  assert.match(r.stdout, /5 bad lines skipped/);
  assert.match(r.stdout, /removed\s+2 .*1 exact duplicates, 1 near duplicates, in 1 clusters/);
  assert.match(r.stdout, /kept\s+3/);
  for (const [n, what] of [[3, 'malformed JSON'], [5, 'no "text" field'], [7, 'field "text" is number'], [8, 'invalid UTF-8'], [11, 'expected a JSON object']] as const) {
    assert.ok(r.stderr.includes(`in.jsonl:${n}: ${what}`), `line ${n}: ${r.stderr}`);
  }
  assert.doesNotMatch(r.stderr, /in\.jsonl:6:/, 'blank lines are not errors');

  // Deterministic: the same output again, in-process and with explicit flags equal to the defaults.
  const r2 = run(['--input', 'in.jsonl', '--output', 'out2.jsonl', '--threads', '0', '--threshold', '0.8', '--ngram', '13', '--permutations', '128'], dir);
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(readFileSync(join(dir, 'out2.jsonl')), out);
});

test('data dedup --strict stops at the first bad line and writes nothing', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'in.jsonl'), buildInput().bytes);
  const r = run(['--input', 'in.jsonl', '--output', 'out.jsonl', '--strict'], dir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /in\.jsonl:3: malformed JSON .*--strict/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.equal(existsSync(join(dir, 'out.jsonl')), false);
});

test('data dedup: empty input, no valid documents, bad flags and paths are clear errors', async () => {
  const dir = scratch();
  const at = (f: string): string => join(dir, f);
  writeFileSync(at('empty.jsonl'), '');
  writeFileSync(at('bad.jsonl'), '{oops\n{"x": 1}\n\n');
  writeFileSync(at('blank.jsonl'), '\n  \n');
  writeFileSync(at('ok.jsonl'), '{"text": "hello"}\n');
  // Through the CLI: one line on stderr, exit 1, no stack trace.
  for (const [args, want] of [
    [['--input', 'empty.jsonl', '--output', 'o.jsonl'], /^mugpt: --input empty\.jsonl: the file is empty, there are no documents to deduplicate\n$/],
    [['--input', 'ok.jsonl', '--output', 'o.jsonl', '--threshold', 'high'], /^mugpt: --threshold expects a number, got 'high'\n$/],
  ] as Array<[string[], RegExp]>) {
    const r = run(args, dir);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
  // The same checks in-process (dedupJsonlFile is what the command calls).
  const cases: Array<[string, string, DedupFileOptions, RegExp]> = [
    ['bad.jsonl', 'o.jsonl', {}, /bad\.jsonl: no valid documents \(2 of 3 lines skipped/],
    ['blank.jsonl', 'o.jsonl', {}, /blank\.jsonl: no documents \(only blank lines\)/],
    ['missing.jsonl', 'o.jsonl', {}, /--input .*missing\.jsonl: no such file/],
    ['ok.jsonl', 'ok.jsonl', {}, /--output must differ from --input/],
    ['ok.jsonl', 'nodir/o.jsonl', {}, /--output .*nodir\/o\.jsonl: folder .*nodir does not exist/],
    ['ok.jsonl', 'o.jsonl', { threshold: 1 }, /--threshold must be a number in \(0, 1\)/],
    ['ok.jsonl', 'o.jsonl', { ngram: 0 }, /--ngram must be an integer/],
    ['ok.jsonl', 'o.jsonl', { permutations: 12.5 }, /--permutations must be an integer/],
    ['ok.jsonl', 'o.jsonl', { keep: 'random' as 'first' }, /--keep must be 'first' or 'longest'/],
  ];
  for (const [input, output, opts, want] of cases) {
    await assert.rejects(dedupJsonlFile(at(input), at(output), { threads: 0, ...opts }), (e) => e instanceof MugptError && want.test(e.message), `${input} ${JSON.stringify(opts)}`);
  }
  assert.equal(existsSync(at('o.jsonl')), false, 'no output written');
});

test('data dedup: other thresholds choose bands × rows as datasketch does', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'ok.jsonl'), '{"text": "hello world, a short one"}\n{"text": "Hello world a short one!"}\n');
  const r = run(['--input', 'ok.jsonl', '--output', 'o.jsonl', '--threshold', '0.7', '--threads', '0'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /LSH 14 bands × 9 rows \(threshold 0\.7\)/);
  assert.match(r.stdout, /1 near duplicates/);
  assert.equal(readFileSync(join(dir, 'o.jsonl'), 'utf8'), '{"text": "hello world, a short one"}\n');
});

test('data dedup: lines longer than the 1 MiB read chunk and a last line without a newline are copied intact', async () => {
  const dir = scratch();
  const r = rng(31);
  const big = words(r, 400_000).join(' ');  // ≈ 2.4 MB: the line spans three read chunks
  const other = words(r, 300).join(' ');
  const lines = [JSON.stringify({ text: big }), JSON.stringify({ text: other }), JSON.stringify({ text: big, copy: true }), JSON.stringify({ text: 'tail é' })];
  writeFileSync(join(dir, 'in.jsonl'), lines.join('\n'));  // no final newline
  const res = await dedupJsonlFile(join(dir, 'in.jsonl'), join(dir, 'out.jsonl'), { threads: 0 });
  assert.equal(res.stats.documents, 4);
  assert.equal(res.stats.exactDuplicates, 1);
  assert.equal(readFileSync(join(dir, 'out.jsonl'), 'utf8'), `${lines[0]}\n${lines[1]}\n${lines[3]}\n`);
});
