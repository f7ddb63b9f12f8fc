import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch } from './helpers.js';
import { dtypeFor, writeShard, writeShardIndex, type ShardEntry } from '../src/data/shards.js';
import { ArrayStream, DataLoader, openRunData, openShards, permuteIndex, textStreams } from '../src/train/loader.js';
import { MugptError } from '../src/errors.js';

/** A shard folder whose train stream is 0, 1, 2, … (so a token names its position). */
function makeShards(vocab: number, seqLen: number, trainSeqs: number[], valSeqs: number[]): string {
  const dir = scratch();
  const dtype = dtypeFor(vocab);
  let next = 0, valNext = 50_000 % vocab;
  const split = (name: 'train' | 'val', counts: number[]): ShardEntry[] => counts.map((n, i) => {
    const toks = new Uint32Array(n * seqLen);
    for (let k = 0; k < toks.length; k++) toks[k] = name === 'train' ? next++ % vocab : valNext++ % vocab;
    return writeShard(dir, `${name}-${String(i).padStart(5, '0')}.bin`, toks, seqLen, dtype);
  });
  writeShardIndex(dir, { format: 'mugpt-shards', version: 1, dtype, seq_len: seqLen, vocab_size: vocab, eos_token_id: 0,
    tokenizer: 'test', splits: { train: split('train', trainSeqs), val: split('val', valSeqs) } });
  return dir;
}

test('permuteIndex is a bijection of [0, n) for several n and keys', () => {
  for (const n of [1, 2, 3, 7, 16, 100, 1000, 4097]) {
    for (const key of [0, 12345, 0xffffffff]) {
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) seen.add(permuteIndex(i, n, key));
      assert.equal(seen.size, n);
      assert.ok([...seen].every((x) => x >= 0 && x < n));
    }
  }
  assert.notDeepEqual([0, 1, 2, 3, 4].map((i) => permuteIndex(i, 1000, 1)), [0, 1, 2, 3, 4].map((i) => permuteIndex(i, 1000, 2)));
});

test('shard stream: windows across shard boundaries read exactly (uint32 and uint16)', () => {
  for (const vocab of [70_000, 50_257]) {
    const dir = makeShards(vocab, 64, [3, 5, 2], [2]);
    const { train, val } = openShards(dir, vocab);
    assert.equal(train.length, 10 * 64);
    const out = new Uint32Array(300);
    train.read(100, out); // spans shard 0 (0..191) into shard 1 (192..511)
    assert.deepEqual(Array.from(out), Array.from({ length: 300 }, (_, i) => 100 + i));
    assert.equal(val.length, 128);
    train.close(); val.close();
  }
});

test('one epoch visits every unit once, in a seeded order; later epochs reshuffle', () => {
  const dir = makeShards(70_000, 64, [4, 4], [1]);
  const { train, val } = openShards(dir, 70_000);
  const loader = new DataLoader(train, val, 128, 7);
  assert.equal(loader.units, 4);
  const firstTokens = (batches: number[][][]) => batches.flat().map((s) => s[0]);
  const epoch0 = firstTokens([loader.nextBatch(2, 128), loader.nextBatch(2, 128)]);
  assert.deepEqual([...epoch0].sort((a, b) => a - b), [0, 128, 256, 384]);
  assert.deepEqual(loader.position(), { epoch: 1, unit: 0, offset: 0 });
  const again = new DataLoader(train, val, 128, 7);
  assert.deepEqual(firstTokens([again.nextBatch(4, 128)]), epoch0);
  const other = new DataLoader(train, val, 128, 8);
  const seqs = Array.from({ length: 6 }, () => firstTokens([other.nextBatch(4, 128)]).join());
  assert.ok(new Set(seqs).size > 1, 'a different seed or epoch gives another order');
  train.close(); val.close();
});

test('resuming from a saved position continues the same batches; a context change neither repeats nor skips', () => {
  const train = new ArrayStream(Uint32Array.from({ length: 4096 }, (_, i) => i), 'train');
  const val = new ArrayStream(Uint32Array.from({ length: 600 }, (_, i) => 9000 + i), 'val');
  const a = new DataLoader(train, val, 512, 3);
  a.nextBatch(3, 256);
  const saved = a.position();
  const restOfA = [a.nextBatch(3, 256), a.nextBatch(2, 512), a.nextBatch(2, 512)];
  const b = new DataLoader(train, val, 512, 3);
  b.restore(saved);
  assert.deepEqual([b.nextBatch(3, 256), b.nextBatch(2, 512), b.nextBatch(2, 512)], restOfA);
  // 6 sequences of 256 = 3 units, then 4 units of 512 → 7 of the 8 units, all distinct
  const c = new DataLoader(train, val, 512, 3);
  const starts = [...c.nextBatch(6, 256).map((s) => s[0]), ...c.nextBatch(4, 512).map((s) => s[0])];
  const units = starts.map((t) => Math.floor(t / 512));
  assert.equal(new Set(units).size, 7);
  assert.ok(starts.every((t, i) => t % (i < 6 ? 256 : 512) === 0));
  assert.throws(() => b.restore({ epoch: 0, unit: 99, offset: 0 }), /does not fit train \(8 units of 512 tokens\)/);
  // validation windows: fixed, from the val stream
  const v = a.valBatches(2, 1, 256);
  assert.deepEqual(v.map((bt) => bt[0][0]), [9000, 9256]);
  assert.deepEqual(a.valBatches(2, 1, 256), v);
  assert.throws(() => a.valBatches(1, 1, 1024), /val: 600 tokens, fewer than one sequence of 1024/);
});

test('bad shards: missing, truncated, other vocabulary, out-of-range ids → errors naming the file', () => {
  const dir = makeShards(70_000, 64, [2, 2], [1]);
  assert.throws(() => openShards(dir, 50_257), (e: unknown) => e instanceof MugptError
    && e.message.includes(join(dir, 'index.json')) && /vocab_size 70000 differs from the model's vocab_size 50257/.test(e.message));
  truncateSync(join(dir, 'train-00001.bin'), 100);
  assert.throws(() => openShards(dir, 70_000), (e: unknown) => e instanceof MugptError
    && e.message.includes(join(dir, 'train-00001.bin')) && /truncated: 100 bytes/.test(e.message));
  rmSync(join(dir, 'train-00001.bin'));
  assert.throws(() => openShards(dir, 70_000), new RegExp(`${join(dir, 'train-00001.bin').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: shard missing`));
  const bad = makeShards(70_000, 64, [1], [1]);
  const toks = new Uint32Array(64).fill(69_999);
  toks[5] = 70_001;
  writeShard(bad, 'train-00000.bin', toks, 64, 'uint32');
  const { train } = openShards(bad, 70_000);
  assert.throws(() => train.read(0, new Uint32Array(64)), /train-00000.bin: token id 70001 ≥ vocab_size 70000/);
  assert.throws(() => openShards(scratch(), 70_000), /index.json: cannot read a shard index/);
});

test('text corpora: held-out documents never reach train; a single text holds out its tail', () => {
  const docs = Array.from({ length: 20 }, (_, i) => [100 + i, 200 + i, 300 + i]);
  const { train, val } = textStreams(docs, 0, 0.1, 1, 'docs');
  assert.equal(val.length, 2 * 4);
  assert.equal(train.length, 18 * 4);
  const tv = new Uint32Array(val.length); val.read(0, tv);
  const tt = new Uint32Array(train.length); train.read(0, tt);
  const heldOut = [...tv].filter((t) => t >= 100 && t < 200);
  assert.ok(heldOut.every((t) => !tt.includes(t)));
  const one = textStreams([Array.from({ length: 100 }, (_, i) => i + 1)], 0, 0.2, 1, 'one');
  assert.equal(one.train.length, 80);
  assert.equal(one.val.length, 21);
  const dir = scratch();
  writeFileSync(join(dir, 'c.txt'), 'Hello world. '.repeat(200));
  const d = openRunData({ kind: 'text', path: join(dir, 'c.txt'), tokenizer: 'gpt2', valFraction: 0.1 }, 50_257, 0);
  assert.ok(d.train.length > 500 && d.val.length > 50);
  assert.throws(() => openRunData({ kind: 'text', path: join(dir, 'none.txt'), tokenizer: 'gpt2', valFraction: 0.1 }, 50_257, 0),
    /data.text: cannot read .*none.txt \(ENOENT\)/);
  assert.throws(() => openRunData({ kind: 'text', path: join(dir, 'c.txt'), tokenizer: 'gpt2', valFraction: 0.1 }, 1000, 0),
    /"gpt2" has 50257 tokens, more than the model's vocab_size 1000/);
});
