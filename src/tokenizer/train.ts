// Byte-level BPE training (GPT-2 style), written by hand: no npm package trains BPE with options
// (HF `tokenizers` exposes only train(files) with defaults).
//
// 1. Count pre-tokenized pieces ("words") over the corpus: memory grows with distinct words only.
// 2. Each word is a sequence of byte-token ids (ids 0…255, in GPT-2's byte order). Repeat until the
//    vocabulary is full: take the most frequent adjacent pair (ties: smaller left id, then smaller
//    right id), give it the next id, rewrite the words that contain it, and update the pair counts
//    of just those words (count(pair) = Σ over words of occurrences × word count). A max-heap with
//    lazy deletion finds the best pair; each pair keeps the list of words it occurs in.
import { MugptError, check } from '../errors.js';
import { BpeTokenizer, type AddedToken } from './bpe.js';
import { gpt2ByteOrder } from './bytes.js';
import { pieceEnd, spanEquals, spanHash } from './scan.js';

export interface TrainBpeOptions {
  /** Total vocabulary: 256 byte tokens + merges + special tokens. */
  vocabSize: number;
  /** Special tokens, given the last ids; `<|endoftext|>` is always among them (and is the EOS). */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
  /** Progress: while counting (texts and characters read so far), then while merging (merges done, merges wanted). */
  onProgress?: (p: { phase: 'count'; texts: number; chars: number } | { phase: 'merge'; merges: number; total: number }) => void;
}

const EOT = '<|endoftext|>';
const MAX_VOCAB = 2 ** 21; // pair keys a · K + b stay exact doubles

/** Trains a byte-level BPE tokenizer on texts. */
export async function trainBpe(texts: AsyncIterable<string> | Iterable<string>, opts: TrainBpeOptions): Promise<BpeTokenizer> {
  const specials = [EOT, ...(opts.specialTokens ?? []).filter((s) => s !== EOT)];
  const minFrequency = opts.minFrequency ?? 2;
  check(Number.isInteger(opts.vocabSize) && opts.vocabSize >= 256 + specials.length && opts.vocabSize <= MAX_VOCAB,
    `trainBpe: vocabSize ${opts.vocabSize} must be an integer from ${256 + specials.length} (256 bytes + ${specials.length} special tokens) to ${MAX_VOCAB}`);
  check(Number.isInteger(minFrequency) && minFrequency >= 1, `trainBpe: minFrequency ${minFrequency} must be an integer ≥ 1`);
  specials.forEach((s, i) => check(typeof s === 'string' && s !== '' && specials.indexOf(s) === i, `trainBpe: specialTokens[${i}] ${JSON.stringify(s)} must be a non-empty string, listed once`));

  const wordCounts = await countWords(texts, specials, opts.onProgress);
  const nMerges = opts.vocabSize - 256 - specials.length;
  const { pairs, results } = learnMerges(wordCounts, nMerges, opts.vocabSize, minFrequency, opts.onProgress);

  const byteToId = new Int32Array(256);
  const tokenBytes: Uint8Array[] = gpt2ByteOrder.map((b, id) => { byteToId[b] = id; return Uint8Array.of(b); });
  for (let r = 0; r < results.length; r++) {
    const a = tokenBytes[pairs[2 * r]], b = tokenBytes[pairs[2 * r + 1]];
    const t = new Uint8Array(a.length + b.length);
    t.set(a); t.set(b, a.length);
    tokenBytes.push(t);
  }
  const added: AddedToken[] = specials.map((content) => ({ id: tokenBytes.push(new Uint8Array(Buffer.from(content, 'utf8'))) - 1, content, special: true }));
  return new BpeTokenizer({ tokenBytes, mergePairs: pairs, mergeResults: results, byteToId, added, eosTokenId: added[0].id });
}

/**
 * Piece → occurrences, as an open-addressing table on a hash of the piece's code units, so that a
 * piece already seen costs no substring (most pieces of a corpus repeat).
 */
class WordCounter {
  keys: Array<string | undefined> = new Array(1 << 16);
  hashes = new Int32Array(1 << 16);
  counts = new Float64Array(1 << 16);
  size = 0;

  add(text: string, i: number, e: number): void {
    const h = spanHash(text, i, e), len = e - i;
    const mask = this.keys.length - 1;
    let slot = h & mask;
    for (let key = this.keys[slot]; key !== undefined; key = this.keys[slot]) {
      if (this.hashes[slot] === h && key.length === len && spanEquals(key, text, i)) { this.counts[slot]++; return; }
      slot = (slot + 1) & mask;
    }
    this.keys[slot] = text.slice(i, e);
    this.hashes[slot] = h;
    this.counts[slot] = 1;
    if (++this.size * 2 > this.keys.length) this.grow();
  }

  private grow(): void {
    const { keys, hashes, counts } = this;
    this.keys = new Array(keys.length * 2);
    this.hashes = new Int32Array(keys.length * 2);
    this.counts = new Float64Array(keys.length * 2);
    const mask = this.keys.length - 1;
    for (let s = 0; s < keys.length; s++) {
      if (keys[s] === undefined) continue;
      let slot = hashes[s] & mask;
      while (this.keys[slot] !== undefined) slot = (slot + 1) & mask;
      this.keys[slot] = keys[s]; this.hashes[slot] = hashes[s]; this.counts[slot] = counts[s];
    }
  }

  /** Frees the table. */
  clear(): void {
    this.keys = [];
    this.hashes = new Int32Array(0);
    this.counts = new Float64Array(0);
    this.size = 0;
  }

  *entries(): Generator<[string, number]> {
    for (let s = 0; s < this.keys.length; s++) if (this.keys[s] !== undefined) yield [this.keys[s]!, this.counts[s]];
  }
}

/** Counts the pre-tokenized pieces of the corpus; special-token strings in the text are cut out first. */
async function countWords(texts: AsyncIterable<string> | Iterable<string>, specials: string[], onProgress: TrainBpeOptions['onProgress']): Promise<WordCounter> {
  const counter = new WordCounter();
  let n = 0, chars = 0;
  for await (const text of texts) {
    if (typeof text !== 'string') throw new MugptError(`trainBpe: text ${n} is ${typeof text}, expected a string`);
    let parts = [text];
    for (const s of specials) if (text.includes(s)) parts = parts.flatMap((p) => p.split(s));
    for (const part of parts) {
      for (let i = 0; i < part.length;) {
        const e = pieceEnd(part, i);
        counter.add(part, i, e);
        i = e;
      }
    }
    n++;
    chars += text.length;
    if (onProgress && (n & 63) === 0) onProgress({ phase: 'count', texts: n, chars });
  }
  onProgress?.({ phase: 'count', texts: n, chars });
  return counter;
}

/** The merge loop: returns merge pairs (left, right ids) and the id each merge creates (256, 257, …). */
function learnMerges(wordCounts: WordCounter, nMerges: number, vocabSize: number, minFrequency: number, onProgress: TrainBpeOptions['onProgress']): { pairs: Int32Array; results: Int32Array } {
  // Pair key a · KEY + b; KEY a power of two ≥ vocabSize, so keys order like (a, b) and, for
  // vocabularies up to 2^15, are small integers (V8 Smis), which Maps hash much faster than doubles.
  const KEY = 2 ** Math.ceil(Math.log2(vocabSize));
  const byteToId = new Int32Array(256);
  gpt2ByteOrder.forEach((b, id) => { byteToId[b] = id; });
  // Words as byte-token ids, packed in one array (word w: syms[start[w] … start[w] + lens[w]));
  // words of one byte can never merge and are dropped.
  let nWords = 0, total = 0;
  for (const [w] of wordCounts.entries()) {
    const n = Buffer.byteLength(w, 'utf8');
    if (n >= 2) { nWords++; total += n; }
  }
  const syms = new Int32Array(total);
  const start = new Int32Array(nWords), lens = new Int32Array(nWords);
  const counts = new Float64Array(nWords);
  let nw = 0, o = 0;
  for (const [w, c] of wordCounts.entries()) {
    const b = Buffer.from(w, 'utf8');
    if (b.length < 2) continue;
    start[nw] = o; lens[nw] = b.length; counts[nw] = c; nw++;
    for (let i = 0; i < b.length; i++) syms[o++] = byteToId[b[i]];
  }
  wordCounts.clear();

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();   // may list a word twice, or words that lost the pair
  const addPair = (key: number, w: number, c: number): void => {
    pairCount.set(key, (pairCount.get(key) ?? 0) + c);
    const list = pairWords.get(key);
    if (list === undefined) pairWords.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < nWords; w++) {
    const s0 = start[w], e = s0 + lens[w] - 1;
    for (let i = s0; i < e; i++) addPair(syms[i] * KEY + syms[i + 1], w, counts[w]);
  }

  // Max-heap of (count, key); larger count first, then smaller key (= smaller left, then right id).
  const hc: number[] = [], hk: number[] = [];
  const above = (i: number, j: number): boolean => hc[i] > hc[j] || (hc[i] === hc[j] && hk[i] < hk[j]);
  const swap = (i: number, j: number): void => {
    let t = hc[i]; hc[i] = hc[j]; hc[j] = t;
    t = hk[i]; hk[i] = hk[j]; hk[j] = t;
  };
  const push = (c: number, k: number): void => {
    hc.push(c); hk.push(k);
    for (let i = hc.length - 1; i > 0;) { const up = (i - 1) >> 1; if (!above(i, up)) break; swap(i, up); i = up; }
  };
  const pop = (): void => {
    swap(0, hc.length - 1); hc.pop(); hk.pop();
    for (let i = 0; ;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < hc.length && above(l, m)) m = l;
      if (r < hc.length && above(r, m)) m = r;
      if (m === i) break;
      swap(i, m); i = m;
    }
  };
  for (const [k, c] of pairCount) push(c, k);

  const pairs = new Int32Array(2 * nMerges);
  const results = new Int32Array(nMerges);
  const stamp = new Int32Array(nWords).fill(-1);
  let done = 0;
  while (done < nMerges && hc.length > 0) {
    const c = hc[0], key = hk[0];
    pop();
    const cur = pairCount.get(key) ?? 0;
    if (cur !== c) { if (cur > 0 && cur < c) push(cur, key); continue; } // stale entry
    if (c < minFrequency) break;
    const a = Math.floor(key / KEY), b = key - a * KEY, id = 256 + done;
    pairs[2 * done] = a; pairs[2 * done + 1] = b; results[done] = id;
    const before = new Map<number, number>();  // counts of the pairs this merge touches, before it
    const touch = (k: number): void => { if (!before.has(k)) before.set(k, pairCount.get(k) ?? 0); };
    for (const w of pairWords.get(key)!) {
      if (stamp[w] === done) continue;
      stamp[w] = done;
      const s0 = start[w], e = s0 + lens[w], cw = counts[w];
      let has = false;
      for (let i = s0; i + 1 < e; i++) if (syms[i] === a && syms[i + 1] === b) { has = true; break; }
      if (!has) continue;
      for (let i = s0; i + 1 < e; i++) { const k = syms[i] * KEY + syms[i + 1]; touch(k); pairCount.set(k, pairCount.get(k)! - cw); }
      let j = s0;
      for (let i = s0; i < e;) {
        if (i + 1 < e && syms[i] === a && syms[i + 1] === b) { syms[j++] = id; i += 2; } else syms[j++] = syms[i++];
      }
      lens[w] = j - s0;
      for (let i = s0; i + 1 < j; i++) { const k = syms[i] * KEY + syms[i + 1]; touch(k); addPair(k, w, cw); }
    }
    for (const [k, was] of before) {
      const now = pairCount.get(k)!;
      if (now <= 0) { pairCount.delete(k); pairWords.delete(k); } else if (now > was) push(now, k);
    }
    done++;
    if (onProgress && (done & 31) === 0) onProgress({ phase: 'merge', merges: done, total: nMerges });
  }
  onProgress?.({ phase: 'merge', merges: done, total: nMerges });
  return { pairs: pairs.slice(0, 2 * done), results: results.slice(0, done) };
}
