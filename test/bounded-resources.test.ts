// Inputs that declare far more than they hold (10^12 elements, a 1 GB JSONL line, 10^7 merges) are
// refused with a MugptError before anything of the declared size is allocated. The inputs are made
// cheaply: small files that only claim sizes, sparse files, and streams that repeat one buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync, ftruncateSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { readGguf } from '../src/gguf/file.js';
import { MAX_LINE_BYTES, readSource, splitLines, emptyReadStats } from '../src/data/readers.js';
import { loadTokenizer, MAX_TOKENIZER_ENTRIES, MAX_TOKENIZER_FILE_BYTES } from '../src/tokenizer/load.js';
import { byteToChar } from '../src/tokenizer/bytes.js';
import { scratch } from './helpers.js';

/** Bytes of ArrayBuffers allocated while fn runs (what has not been collected yet counts). */
function buffersGrownBy(fn: () => void): number {
  const before = process.memoryUsage().arrayBuffers;
  fn();
  return process.memoryUsage().arrayBuffers - before;
}

/** A file of `size` bytes that occupies no disk: zeros, no newline. */
function sparseFile(path: string, size: number): string {
  const fd = openSync(path, 'w');
  try { ftruncateSync(fd, size); } finally { closeSync(fd); }
  return path;
}

function safetensors(header: object, data = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

/** A GGUF v3 file with one KV and one tensor, from little-endian fields. */
function gguf(kv: Buffer, tensor: Buffer, tail = Buffer.alloc(64)): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0x46554747, 0); head.writeUInt32LE(3, 4);
  head.writeBigUInt64LE(tensor.length > 0 ? 1n : 0n, 8); head.writeBigUInt64LE(kv.length > 0 ? 1n : 0n, 16);
  return Buffer.concat([head, kv, tensor, tail]);
}
const str = (s: string): Buffer => { const b = Buffer.from(s); const n = Buffer.alloc(8); n.writeBigUInt64LE(BigInt(b.length)); return Buffer.concat([n, b]); };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const u64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };

test('a safetensors header claiming 10^12 elements is refused before any tensor is read', () => {
  const path = join(scratch(), 'big.safetensors');
  writeFileSync(path, safetensors({ w: { dtype: 'F32', shape: [1_000_000, 1_000_000], data_offsets: [0, 4_000_000_000_000] } }, Buffer.alloc(16)));
  let err: unknown;
  const grown = buffersGrownBy(() => { try { new SafetensorsFile(path); } catch (e) { err = e; } });
  assert.ok(err instanceof MugptError);
  assert.match((err as Error).message, /big\.safetensors: tensor "w": data_offsets \[0, 4000000000000\] run past the end of the file/);
  assert.ok(grown < 1 << 20, `${grown} bytes allocated`);
});

test('a GGUF tensor claiming 10^12 elements, or an array claiming 10^12 values, is refused before allocation', () => {
  const dir = scratch();
  const tensor = Buffer.concat([str('w'), u32(2), u64(1_000_000n), u64(1_000_000n), u32(0), u64(0n)]);
  const big = join(dir, 'tensor.gguf');
  writeFileSync(big, gguf(Buffer.alloc(0), tensor, Buffer.alloc(4 << 20))); // each dimension fits the file, their product does not
  assert.throws(() => readGguf(big), (e: unknown) => e instanceof MugptError
    && /tensor\.gguf: tensor 'w' data \(4000000000000 bytes at \d+\) runs past the end of the file/.test((e as Error).message));

  const array = Buffer.concat([str('fuzz.values'), u32(9), u32(4), u64(1_000_000_000_000n)]);
  const arr = join(dir, 'array.gguf');
  writeFileSync(arr, gguf(array, Buffer.alloc(0)));
  let err: unknown;
  const grown = buffersGrownBy(() => { try { readGguf(arr); } catch (e) { err = e; } });
  assert.ok(err instanceof MugptError);
  assert.match((err as Error).message, /array\.gguf: not a valid GGUF file: length of 'fuzz\.values' is 1000000000000, more than the file can hold/);
  assert.ok(grown < 1 << 20, `${grown} bytes allocated`);
});

test('a 1 GB JSONL line is refused (stop) or skipped and counted (skip) without being held in memory', async () => {
  const dir = scratch();
  // a sparse 1 GiB file: one line of zero bytes (no newline); stop mode refuses it at the limit
  const file = sparseFile(join(dir, 'huge.jsonl'), 1 << 30);
  await assert.rejects(async () => { for await (const _ of readSource({ name: 'web', paths: [file] }, { onError: 'stop' })) { /* none */ } },
    (e: unknown) => e instanceof MugptError && new RegExp(`huge\\.jsonl:1: a line longer than the ${MAX_LINE_BYTES}-byte limit \\(\\d+ bytes of it read`).test((e as Error).message));

  // the same gigabyte as a stream of one reused 1 MiB buffer, then a normal line: skip mode drops the long one
  const mib = Buffer.alloc(1 << 20, 0x61);
  async function* gigabyteLine(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 1024; i++) yield mib;
    yield Buffer.from('\n{"text":"after"}\n');
  }
  const lines: Array<{ line: number; tooLong?: number; text: string }> = [];
  for await (const l of splitLines(gigabyteLine())) lines.push({ line: l.line, tooLong: l.tooLong, text: Buffer.from(l.bytes).toString() });
  assert.deepEqual(lines, [{ line: 1, tooLong: MAX_LINE_BYTES + (1 << 20), text: '' }, { line: 2, tooLong: undefined, text: '{"text":"after"}' }]);

  // skip mode over a file: the long line is counted as a 'size' issue, the next document is kept
  const mixed = join(dir, 'mixed.jsonl');
  writeFileSync(mixed, `${'x'.repeat(MAX_LINE_BYTES + 10)}\n{"text":"kept"}\n`);
  const stats = emptyReadStats();
  const docs: string[] = [];
  for await (const d of readSource({ name: 'web', paths: [mixed] }, { onError: 'skip', stats })) docs.push(d.text);
  assert.deepEqual(docs, ['kept']);
  assert.equal(stats.issues.size, 1);
});

test('data dedup reads JSONL lines through the same 64 MiB cap: a longer line is skipped and counted, or refused with --strict', async () => {
  const { dedupJsonlFile } = await import('../src/cli/data-dedup.js');
  const dir = scratch();
  const input = join(dir, 'in.jsonl');
  // a sparse line of zero bytes just over the cap, then two documents
  sparseFile(input, MAX_LINE_BYTES + 10);
  appendFileSync(input, '\n{"text":"one document"}\r\n{"text":"another document"}\n');
  const skipped: string[] = [];
  const r = await dedupJsonlFile(input, join(dir, 'out.jsonl'), { threads: 1, onSkip: (m) => skipped.push(m) });
  assert.deepEqual({ lines: r.lines, skipped: r.skippedLines, kept: r.stats.kept }, { lines: 3, skipped: 1, kept: 2 });
  assert.match(skipped[0], new RegExp(`in\\.jsonl:1: a line longer than the ${MAX_LINE_BYTES}-byte limit \\(\\d+ bytes of it read, the rest skipped\\)`));
  assert.equal(readFileSync(join(dir, 'out.jsonl'), 'utf8'), '{"text":"one document"}\r\n{"text":"another document"}\n'); // lines byte for byte
  await assert.rejects(dedupJsonlFile(input, join(dir, 'strict.jsonl'), { threads: 1, strict: true }),
    (e: unknown) => e instanceof MugptError && /in\.jsonl:1: a line longer than the \d+-byte limit .*\(--strict; without it such lines are skipped and counted\)/.test((e as Error).message));
});

test('a text file over the document limit is refused by its size, before it is read', async () => {
  const file = sparseFile(join(scratch(), 'book.txt'), 1 << 30);
  await assert.rejects(async () => { for await (const _ of readSource({ name: 'books', paths: [file], format: 'text' }, { onError: 'stop' })) { /* none */ } },
    (e: unknown) => e instanceof MugptError && /book\.txt: a text file of 1073741824 bytes is one document longer than the \d+-byte limit \(set text_unit: paragraph\)/.test((e as Error).message));
});

test('a tokenizer with 10^7 merges, or a tokenizer file over 256 MiB, is refused before its tables are built', () => {
  const dir = scratch();
  const vocab: Record<string, number> = Object.fromEntries(byteToChar.map((c, i) => [c, i]));
  vocab.ab = 256;
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  const line = Buffer.from('a b\n');
  const merges = Buffer.alloc(line.length * 10_000_000);
  merges.fill(line);
  writeFileSync(join(dir, 'merges.txt'), merges);
  assert.throws(() => loadTokenizer(dir), (e: unknown) => e instanceof MugptError
    && new RegExp(`merges\\.txt: more than ${MAX_TOKENIZER_ENTRIES} merges \\(the limit\\)`).test((e as Error).message));

  const big = join(dir, 'big');
  mkdirSync(big);
  sparseFile(join(big, 'tokenizer.json'), MAX_TOKENIZER_FILE_BYTES + 1);
  assert.throws(() => loadTokenizer(big), (e: unknown) => e instanceof MugptError
    && /tokenizer\.json: 268435457 bytes, more than the 268435456-byte limit of a tokenizer file/.test((e as Error).message));
});
