import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, scratch } from './helpers.js';
import { MugptError } from '../src/errors.js';
import { emptyReadStats, listFiles, readSource, splitLines, type Doc, type ReadIssue, type ReaderSpec } from '../src/data/readers.js';

async function readAll(spec: ReaderSpec, onError: 'skip' | 'stop' = 'skip'): Promise<{ docs: Doc[]; issues: ReadIssue[]; stats: ReturnType<typeof emptyReadStats> }> {
  const docs: Doc[] = [];
  const issues: ReadIssue[] = [];
  const stats = emptyReadStats();
  for await (const d of readSource(spec, { onError, stats, onIssue: (i) => issues.push(i) })) docs.push(d);
  return { docs, issues, stats };
}

test('JSONL: text, source and meta fields; malformed lines, invalid UTF-8 and missing fields are counted with file:line', async () => {
  const dir = scratch();
  const f = join(dir, 'a.jsonl');
  const bad = Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"t":"<FF FE>"}
  writeFileSync(f, Buffer.concat([
    Buffer.from('{"body":"one","meta":{"set":"c4"},"id":1}\r\n'),
    Buffer.from('\n'),
    Buffer.from('{"body": broken\n'),
    bad, Buffer.from('\n'),
    Buffer.from('{"other":"x"}\n'),
    Buffer.from('{"body":42}\n'),
    Buffer.from('{"body":"two\\nlines ünï","meta":{"set":"wiki"}}'), // no final newline
  ]));
  const { docs, issues, stats } = await readAll({ name: 'src', paths: [f], textField: 'body', sourceField: 'meta.set', metaField: 'id' });
  assert.deepEqual(docs.map((d) => [d.text, d.line, d.origin, d.meta]), [['one', 1, 'c4', 1], ['two\nlines ünï', 7, 'wiki', undefined]]);
  assert.deepEqual(issues.map((i) => [i.kind, i.line]), [['json', 3], ['utf8', 4], ['field', 5], ['field', 6]]);
  assert.ok(issues.every((i) => i.file === f));
  assert.match(issues[3].message, /'body' is number, expected a string/);
  assert.equal(stats.documents, 2);
  assert.equal(stats.bytes, Buffer.byteLength('one') + Buffer.byteLength('two\nlines ünï'));
  assert.deepEqual(stats.issues, { json: 1, utf8: 1, field: 2, zstd: 0, io: 0, size: 0, 'empty-source': 0 });

  // on_error: stop → a MugptError naming the file and line of the first bad input.
  await assert.rejects(readAll({ name: 'src', paths: [f], textField: 'body' }, 'stop'), (e: Error) => e instanceof MugptError && e.message.includes(`${f}:3: malformed JSON`));
});

test('.jsonl.zst is decompressed as a stream (fixture made with Debian zstd -19), concatenated frames included', async () => {
  const zst = fixture('data', 'docs.jsonl.zst');
  const { docs, issues } = await readAll({ name: 'sp', paths: [zst], sourceField: 'meta.redpajama_set_name' });
  assert.deepEqual(docs.map((d) => d.origin), ['RedPajamaC4', 'RedPajamaWikipedia', 'RedPajamaArXiv']);
  assert.equal(docs[1].text, 'Second document: naïve café — ünïcödé survives.');
  assert.equal(docs[2].text, 'Third document.\nIt has two lines.');
  assert.deepEqual(issues.map((i) => [i.kind, i.line]), [['json', 3], ['field', 4]]);

  const dir = scratch();
  const two = join(dir, 'two.jsonl.zst');
  writeFileSync(two, Buffer.concat([readFileSync(zst), readFileSync(zst)]));
  const r2 = await readAll({ name: 'sp', paths: [two] });
  assert.deepEqual(r2.docs.map((d) => d.line), [1, 2, 5, 6, 7, 10]);
});

test('a corrupt or truncated .zst is reported with file and line, then skipped or fatal', async () => {
  const dir = scratch();
  const bytes = readFileSync(fixture('data', 'docs.jsonl.zst'));
  const truncated = join(dir, 'truncated.jsonl.zst');
  writeFileSync(truncated, bytes.subarray(0, 60));
  const badMagic = join(dir, 'magic.jsonl.zst');
  const m = Buffer.from(bytes); m[0] ^= 0xff;
  writeFileSync(badMagic, m);
  for (const f of [truncated, badMagic]) {
    const { docs, issues, stats } = await readAll({ name: 'z', paths: [f] });
    assert.equal(docs.length, 0);
    assert.equal(issues[0].kind, 'zstd', f);
    assert.equal(issues[0].file, f);
    assert.equal(issues[0].line, 1);
    assert.equal(issues[0].skipped, 'rest of file');
    assert.equal(stats.issues.zstd, 1);
    assert.equal(stats.issues['empty-source'], 1); // and the source produced nothing
    await assert.rejects(readAll({ name: 'z', paths: [f] }, 'stop'), (e: Error) => e instanceof MugptError && e.message.includes(`${f}:1: corrupt zstd stream`));
  }
});

test('text files: one document per file or per blank-line block; invalid UTF-8 skips the file or the block', async () => {
  const dir = scratch();
  writeFileSync(join(dir, 'a.txt'), 'Para one\nstill one\n\n  \nPara two\n\n\nPara three');
  writeFileSync(join(dir, 'b.txt'), Buffer.concat([Buffer.from('ok line\nbad '), Buffer.from([0xc3, 0x28]), Buffer.from('\n\nnext block\n')]));
  const whole = await readAll({ name: 't', paths: [dir], format: 'text' });
  assert.deepEqual(whole.docs.map((d) => d.text), ['Para one\nstill one\n\n  \nPara two\n\n\nPara three']);
  assert.deepEqual(whole.issues.map((i) => [i.kind, i.file.endsWith('b.txt'), i.line, i.skipped]), [['utf8', true, 2, 'file']]);
  const para = await readAll({ name: 't', paths: [dir], format: 'text', textUnit: 'paragraph' });
  assert.deepEqual(para.docs.map((d) => [d.text, d.line]), [['Para one\nstill one', 1], ['Para two', 5], ['Para three', 8], ['next block', 4]]);
  assert.deepEqual(para.issues.map((i) => [i.kind, i.line, i.skipped]), [['utf8', 2, 'paragraph']]);
});

test('folders and globs expand to sorted files; a path that matches nothing is an empty source', async () => {
  const dir = scratch();
  mkdirSync(join(dir, 'x', 'y'), { recursive: true });
  writeFileSync(join(dir, 'x', 'b.jsonl'), '{"text":"b"}\n');
  writeFileSync(join(dir, 'x', 'a.jsonl'), '{"text":"a"}\n');
  writeFileSync(join(dir, 'x', 'y', 'c.jsonl'), '{"text":"c"}\n');
  writeFileSync(join(dir, 'x', 'y', 'd.txt'), 'd');
  writeFileSync(join(dir, 'x', '.hidden.jsonl'), '{"text":"h"}\n');
  assert.deepEqual(listFiles(['x/*.jsonl'], dir).files.map((f) => f.slice(dir.length + 1)), ['x/a.jsonl', 'x/b.jsonl']);
  assert.deepEqual(listFiles(['x/**/*.jsonl'], dir).files.map((f) => f.slice(dir.length + 1)), ['x/a.jsonl', 'x/b.jsonl', 'x/y/c.jsonl']);
  assert.deepEqual(listFiles(['x'], dir, 'jsonl').files.map((f) => f.slice(dir.length + 1)), ['x/a.jsonl', 'x/b.jsonl', 'x/y/c.jsonl']);
  const auto = await readAll({ name: 'g', paths: [join(dir, 'x')] });
  assert.deepEqual(auto.docs.map((d) => d.text), ['a', 'b', 'c', 'd']);

  const none = await readAll({ name: 'g', paths: [join(dir, 'nothing-*.jsonl')] });
  assert.deepEqual(none.issues.map((i) => [i.kind, i.message]), [['empty-source', 'matches no files']]);
  await assert.rejects(readAll({ name: 'g', paths: [join(dir, 'nothing-*.jsonl')] }, 'stop'), /source 'g': .*nothing-\*\.jsonl: matches no files/);
  writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
  const empty = await readAll({ name: 'e', paths: [join(dir, 'empty.jsonl')] });
  assert.deepEqual(empty.issues.map((i) => i.kind), ['empty-source']);
});

test('splitLines joins lines across chunk boundaries and strips CR', async () => {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const s of ['ab', 'c\r', '\nd', 'e\n', '', 'f']) yield Buffer.from(s);
  }
  const lines: string[] = [];
  for await (const l of splitLines(chunks())) lines.push(`${l.line}:${Buffer.from(l.bytes).toString()}`);
  assert.deepEqual(lines, ['1:abc', '2:de', '3:f']);
});
