// The atomic writer's failure paths: whatever goes wrong, no temp file stays beside the target, the
// previous file is untouched, and file-system failures are one MugptError naming the path and reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { scratch } from './helpers.js';

function throwsMugpt(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return true;
  });
}

test('a failed rename (a folder appeared at the target while writing) removes the temp file', () => {
  const dir = scratch();
  const target = join(dir, 'out.bin');
  throwsMugpt(() => writeFileAtomic(target, (write) => {
    write(new Uint8Array(1000));
    mkdirSync(join(target, 'inside'), { recursive: true }); // a non-empty folder: rename(2) fails with EISDIR
  }), /out\.bin: cannot write the file: is a folder, not a file/);
  assert.deepEqual(readdirSync(dir), ['out.bin'], 'only the folder that took the name; no .tmp file');
});

test('a missing folder, a folder target or a file in the path: refused before writing, nothing left behind', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'plain'), 'x');
  throwsMugpt(() => writeFileAtomic(join(dir, 'missing', 'a.gguf'), 'data'), /missing[/\\]a\.gguf: cannot write the file: the folder .*missing does not exist/);
  throwsMugpt(() => writeFileAtomic(dir, 'data'), /cannot write the file: a folder has that name/);
  throwsMugpt(() => writeFileAtomic(join(dir, 'plain', 'a.gguf'), 'data'), /plain[/\\]a\.gguf: cannot write the file: (the folder .* does not exist|a part of the path is a file)/);
  assert.deepEqual(readdirSync(dir), ['plain']);
});

test('an error from the data callback passes unchanged, the old file stays, the temp file goes', () => {
  const dir = scratch();
  const target = join(dir, 'model.gguf');
  writeFileSync(target, 'old');
  const boom = new MugptError('tensor x is missing');
  assert.throws(() => writeFileAtomic(target, (write) => { write(new Uint8Array(10)); throw boom; }), (e) => e === boom);
  assert.deepEqual(readdirSync(dir), ['model.gguf']);
  assert.equal(readFileSync(target, 'utf8'), 'old');
  writeFileAtomic(target, 'new');
  assert.equal(readFileSync(target, 'utf8'), 'new');
  assert.deepEqual(readdirSync(dir), ['model.gguf']);
});
