import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch } from './helpers.js';
import { MugptError } from '../src/errors.js';
import { Packer, type PackCursor } from '../src/data/pack.js';
import { decodeShard, dtypeFor, encodeShard, readShard, readShardIndex, shardFileName, verifyShards, writeShard, writeShardIndex, type ShardIndex } from '../src/data/shards.js';

const EOS = 99;

function packAll(docs: number[][], seqLen: number, start?: PackCursor): { seqs: number[][]; cursors: PackCursor[]; pending: number } {
  const p = new Packer(seqLen, EOS, start);
  const seqs: number[][] = [];
  const cursors: PackCursor[] = [];
  for (let d = start?.doc ?? 0; d < docs.length; d++) p.pushDoc(docs[d], (s, next) => { seqs.push([...s]); cursors.push(next); });
  return { seqs, cursors, pending: p.pending };
}

test('packing: documents joined with EOS between them, cut into non-overlapping windows, tail dropped', () => {
  const docs = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10], [11]];
  const stream = [1, 2, 3, EOS, 4, 5, EOS, EOS, 6, 7, 8, 9, 10, EOS, 11]; // 15 tokens
  for (const L of [2, 3, 4, 7, 15, 16]) {
    const { seqs, pending } = packAll(docs, L);
    assert.equal(seqs.length, Math.floor(stream.length / L));
    assert.deepEqual(seqs.flat(), stream.slice(0, seqs.length * L), `L=${L}`);
    assert.equal(pending, stream.length % L);
  }
});

test('packing resumes from any recorded cursor with the same sequences', () => {
  const docs = Array.from({ length: 30 }, (_, d) => Array.from({ length: (d * 7) % 11 }, (_, i) => d * 100 + i));
  for (const L of [3, 8, 13]) {
    const full = packAll(docs, L);
    full.cursors.forEach((c, k) => {
      const rest = packAll(docs, L, c);
      assert.deepEqual(rest.seqs, full.seqs.slice(k + 1), `L=${L} from sequence ${k}`);
      assert.equal(rest.pending, full.pending);
    });
  }
  assert.throws(() => new Packer(1, EOS), (e: Error) => e instanceof MugptError && /seq_len/.test(e.message));
});

test('shard dtype: uint16 when the vocabulary fits in 16 bits, else uint32; little-endian, no header', () => {
  assert.equal(dtypeFor(50257), 'uint16');
  assert.equal(dtypeFor(65536), 'uint16');
  assert.equal(dtypeFor(65537), 'uint32');
  const t = Uint32Array.from([0x0102, 65535, 0, 7]);
  const b16 = encodeShard(t, 'uint16');
  assert.deepEqual([...b16.subarray(0, 4)], [0x02, 0x01, 0xff, 0xff]);
  assert.deepEqual([...decodeShard(b16, 'uint16')], [...t]);
  const t32 = Uint32Array.from([0x01020304, 100000, 65536]);
  const b32 = encodeShard(t32, 'uint32');
  assert.deepEqual([...b32.subarray(0, 4)], [0x04, 0x03, 0x02, 0x01]);
  assert.deepEqual([...decodeShard(b32, 'uint32')], [...t32]);
  const dir = scratch();
  const e = writeShard(dir, 'train-00000.bin', Uint32Array.from([70000, 1, 65536, 2]), 2, 'uint32');
  assert.equal(e.sequences, 2);
  const idx: ShardIndex = { format: 'mugpt-shards', version: 1, dtype: 'uint32', seq_len: 2, vocab_size: 100000, eos_token_id: 99999, tokenizer: 't.json', splits: { train: [e], val: [] } };
  writeShardIndex(dir, idx);
  assert.deepEqual([...readShard(dir, readShardIndex(dir), e)], [70000, 1, 65536, 2]);
  assert.deepEqual(verifyShards(dir), []);
});

test('shard folder: written files match index.json; tampering and bad indexes are reported', () => {
  const dir = scratch();
  const L = 4;
  const train = Uint32Array.from({ length: 3 * L }, (_, i) => i * 10);
  const val = Uint32Array.from({ length: L }, (_, i) => 50000 + i);
  const index: ShardIndex = {
    format: 'mugpt-shards', version: 1, dtype: 'uint16', seq_len: L, vocab_size: 50257, eos_token_id: 50256, tokenizer: 'gpt2',
    splits: { train: [writeShard(dir, shardFileName('train', 0), train, L, 'uint16')], val: [writeShard(dir, shardFileName('val', 0), val, L, 'uint16')] },
  };
  writeShardIndex(dir, index);
  assert.equal(index.splits.train[0].file, 'train-00000.bin');
  assert.equal(index.splits.train[0].sequences, 3);
  assert.equal(readFileSync(join(dir, 'train-00000.bin')).length, 3 * L * 2);
  const back = readShardIndex(dir);
  assert.deepEqual(back, index);
  assert.deepEqual([...readShard(dir, back, back.splits.train[0])], [...train]);
  assert.deepEqual(verifyShards(dir), []);

  const f = join(dir, 'val-00000.bin');
  const bytes = readFileSync(f);
  bytes[0] ^= 1;
  writeFileSync(f, bytes);
  assert.deepEqual(verifyShards(dir), ['val-00000.bin: SHA-256 differs from index.json']);
  rmSync(f);
  assert.deepEqual(verifyShards(dir), ['val-00000.bin: missing']);
  assert.throws(() => writeShard(dir, 'x.bin', new Uint32Array(5), L, 'uint16'), /not a multiple of seq_len 4/);

  const bad = (patch: Record<string, unknown>, re: RegExp): void => {
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...index, ...patch }));
    assert.throws(() => readShardIndex(dir), (e: Error) => e instanceof MugptError && re.test(e.message), String(re));
  };
  bad({ format: 'other' }, /'format' must be 'mugpt-shards'/);
  bad({ dtype: 'int8' }, /'dtype' must be 'uint16' or 'uint32'/);
  bad({ vocab_size: 70000 }, /'dtype' must be 'uint32' for a vocabulary over 65536/);
  bad({ eos_token_id: 60000 }, /'eos_token_id' must be an id below vocab_size/);
  bad({ splits: { train: [{ file: '../x.bin', sequences: 1, sha256: 'a'.repeat(64) }], val: [] } }, /'splits\.train\[0\]\.file' must be a file name/);
  bad({ splits: { train: [] } }, /'splits\.val' must be a list/);
  rmSync(join(dir, 'index.json'));
  assert.throws(() => readShardIndex(dir), /index\.json: cannot read a shard index \(ENOENT\)/);
});
