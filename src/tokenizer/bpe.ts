// Byte-level BPE (GPT-2 style), written by hand because it must load HF tokenizer.json and
// vocab.json + merges.txt files, share its tables with the trainer, and be fast: none of the npm
// tokenizers does all three (js-tiktoken / gpt-tokenizer only know their bundled rank files).
//
// encode: text → pieces (GPT-2 pre-tokenizer) → each piece's UTF-8 bytes → one symbol per byte →
// repeatedly merge the adjacent pair with the lowest merge rank (leftmost on ties) → token ids.
// Results are cached per piece (most pieces of real text repeat).
import { MugptError } from '../errors.js';
import { bytesToTokenString } from './bytes.js';

const UTF8 = new TextEncoder();
import { pieceEnd, spanEquals, spanHash } from './scan.js';

export interface Tokenizer {
  readonly vocabSize: number;
  /** The end-of-text id (`<|endoftext|>` = 50256 for GPT-2), or null when the vocabulary has none. */
  readonly eosTokenId: number | null;
  /**
   * Text → ids. Special tokens (`<|endoftext|>`, and added tokens marked special) written in the
   * text are plain text by default (like tiktoken's encode_ordinary), so user text can never inject
   * them; with allowSpecial they become their ids. Non-special added tokens are always matched.
   */
  encode(text: string, opts?: { allowSpecial?: boolean }): number[];
  /**
   * ids → text, exactly (no clean-up of spaces): decode(encode(s)) === s for every well-formed
   * string (a lone surrogate is encoded as U+FFFD); bytes that are not valid UTF-8 become U+FFFD.
   */
  decode(ids: ArrayLike<number>): string;
  /** ids → raw bytes, for streaming output that may end inside a UTF-8 character. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
}

export interface AddedToken { id: number; content: string; special: boolean }

/** Everything a BPE tokenizer is made of; produced by the loaders and by the trainer. */
export interface BpeSpec {
  /** tokenBytes[id] = the bytes of token id, for every id (added tokens: UTF-8 of their content). */
  tokenBytes: Uint8Array[];
  /** mergePairs[2r], mergePairs[2r+1] = the left and right ids of the merge of rank r. */
  mergePairs: Int32Array;
  /** mergeResults[r] = the id the merge of rank r produces. */
  mergeResults: Int32Array;
  /** byteToId[b] = the id of the single-byte token for byte b. */
  byteToId: Int32Array;
  added: AddedToken[];
  eosTokenId: number | null;
  /** HF ByteLevel options: prepend a space to text not starting with one; split with the regex. */
  addPrefixSpace?: boolean;
  useRegex?: boolean;
  /** HF BPE `ignore_merges`: a piece that is itself a token is emitted whole. */
  ignoreMerges?: boolean;
}

const NONE = 0x7fffffff;
/** Pieces longer than this (in bytes) use the heap-based merge loop (O(n log n) instead of O(n²)). */
const LONG = 96;
const CACHE_BITS = 17;                       // piece-cache slots: 2^17; cleared when half full

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly spec: BpeSpec;
  private readonly byteData: Uint8Array;     // all tokens' bytes, concatenated
  private readonly byteOff: Int32Array;      // [vocabSize + 1] offsets into byteData
  private readonly byteToId: Int32Array;
  private readonly mergeResults: Int32Array;
  // Open-addressing hash table (a, b) → merge rank; faster than a Map with 2^32-sized number keys.
  private readonly hKeyA: Int32Array;
  private readonly hKeyB: Int32Array;
  private readonly hRank: Int32Array;
  private readonly hShift: number;
  // Piece cache (piece → ids), open addressing on a hash of the piece's UTF-16 code units, so a
  // hit needs no substring: cKey holds the piece, cStart/cLen its ids in pool.
  private cKey: Array<string | undefined> = new Array(1 << CACHE_BITS);
  private readonly cHash = new Int32Array(1 << CACHE_BITS);
  private readonly cStart = new Int32Array(1 << CACHE_BITS);
  private readonly cLen = new Int32Array(1 << CACHE_BITS);
  private pool = new Int32Array(1 << 18);
  private poolLen = 0;
  private cCount = 0;
  private readonly ordinarySplit: RegExp | null;  // non-special added tokens
  private readonly specialSplit: RegExp | null;   // all added tokens
  private readonly addedIds: Map<string, number>;
  private readonly wholeTokens: Map<string, number> | null;
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private sym = new Int32Array(256);
  private rk = new Int32Array(256);

  constructor(spec: BpeSpec) {
    this.spec = spec;
    this.vocabSize = spec.tokenBytes.length;
    this.eosTokenId = spec.eosTokenId;
    this.byteToId = spec.byteToId;
    this.mergeResults = spec.mergeResults;
    let total = 0;
    for (const b of spec.tokenBytes) total += b.length;
    this.byteData = new Uint8Array(total);
    this.byteOff = new Int32Array(this.vocabSize + 1);
    total = 0;
    spec.tokenBytes.forEach((b, id) => { this.byteData.set(b, total); total += b.length; this.byteOff[id + 1] = total; });

    const nMerges = spec.mergeResults.length;
    let bits = 4;
    while ((1 << bits) < nMerges * 2) bits++;
    this.hShift = 32 - bits;
    this.hKeyA = new Int32Array(1 << bits).fill(-1);
    this.hKeyB = new Int32Array(1 << bits);
    this.hRank = new Int32Array(1 << bits);
    const mask = (1 << bits) - 1;
    for (let r = 0; r < nMerges; r++) {
      const a = spec.mergePairs[2 * r], b = spec.mergePairs[2 * r + 1];
      let h = this.hash(a, b);
      while (this.hKeyA[h] !== -1 && !(this.hKeyA[h] === a && this.hKeyB[h] === b)) h = (h + 1) & mask;
      if (this.hKeyA[h] === -1) { this.hKeyA[h] = a; this.hKeyB[h] = b; this.hRank[h] = r; } // a repeated pair keeps its first rank
    }

    this.addedIds = new Map(spec.added.map((t) => [t.content, t.id]));
    this.ordinarySplit = splitRegex(spec.added.filter((t) => !t.special).map((t) => t.content));
    this.specialSplit = splitRegex(spec.added.map((t) => t.content));
    this.wholeTokens = spec.ignoreMerges
      ? new Map(spec.tokenBytes.map((b, id) => [bytesToTokenString(b), id]))
      : null;
  }

  private hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> this.hShift;
  }

  /** The rank of merging ids (a, b), or NONE. */
  private rank(a: number, b: number): number {
    const keyA = this.hKeyA, mask = keyA.length - 1;
    let h = this.hash(a, b);
    for (;;) {
      const k = keyA[h];
      if (k === -1) return NONE;
      if (k === a && this.hKeyB[h] === b) return this.hRank[h];
      h = (h + 1) & mask;
    }
  }

  encode(text: string, opts?: { allowSpecial?: boolean }): number[] {
    if (typeof text !== 'string') throw new MugptError(`encode: expected a string, got ${text === null ? 'null' : typeof text}`);
    const out: number[] = [];
    const split = opts?.allowSpecial ? this.specialSplit : this.ordinarySplit;
    if (split === null) { this.encodeOrdinary(text, out); return out; }
    let last = 0;
    split.lastIndex = 0;
    for (let m = split.exec(text); m !== null; m = split.exec(text)) {
      if (m.index > last) this.encodeOrdinary(text.slice(last, m.index), out);
      out.push(this.addedIds.get(m[0])!);
      last = m.index + m[0].length;
    }
    if (last < text.length) this.encodeOrdinary(text.slice(last), out);
    return out;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (this.spec.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    if (this.spec.useRegex === false) { if (text.length > 0) this.encodeSpan(text, 0, text.length, out); return; }
    for (let i = 0; i < text.length;) {
      const e = pieceEnd(text, i);
      this.encodeSpan(text, i, e, out);
      i = e;
    }
  }

  /** Appends the ids of the piece text[i, e) to out, through the piece cache. */
  private encodeSpan(text: string, i: number, e: number, out: number[]): void {
    const len = e - i;
    const h = spanHash(text, i, e);
    const mask = (1 << CACHE_BITS) - 1;
    let slot = h & mask;
    for (let key = this.cKey[slot]; key !== undefined; key = this.cKey[slot]) {
      if (this.cHash[slot] === h && key.length === len) {
        if (spanEquals(key, text, i)) {
          const s = this.cStart[slot], n = this.cLen[slot], pool = this.pool;
          for (let q = 0; q < n; q++) out.push(pool[s + q]);
          return;
        }
      }
      slot = (slot + 1) & mask;
    }
    const piece = text.slice(i, e);
    const ids = this.bpe(piece);
    for (let q = 0; q < ids.length; q++) out.push(ids[q]);
    if (this.cCount >= (1 << (CACHE_BITS - 1)) || this.poolLen + ids.length > 1 << 22) {
      this.cKey = new Array(1 << CACHE_BITS);   // full: start over (slot may now be any free one)
      this.cCount = 0;
      this.poolLen = 0;
      slot = h & mask;
    }
    if (this.poolLen + ids.length > this.pool.length) {
      const grown = new Int32Array(Math.max(this.pool.length * 2, this.poolLen + ids.length));
      grown.set(this.pool.subarray(0, this.poolLen));
      this.pool = grown;
    }
    this.pool.set(ids, this.poolLen);
    this.cKey[slot] = piece;
    this.cHash[slot] = h;
    this.cStart[slot] = this.poolLen;
    this.cLen[slot] = ids.length;
    this.poolLen += ids.length;
    this.cCount++;
  }

  /** BPE of one piece. */
  private bpe(piece: string): number[] {
    let ascii = true;
    for (let i = 0; i < piece.length; i++) if (piece.charCodeAt(i) > 0x7f) { ascii = false; break; }
    const bytes = ascii ? null : UTF8.encode(piece);
    const n = bytes === null ? piece.length : bytes.length;
    if (this.wholeTokens !== null) {
      const whole = this.wholeTokens.get(bytesToTokenString(bytes ?? Uint8Array.from(piece, (c) => c.charCodeAt(0))));
      if (whole !== undefined) return [whole];
    }
    if (this.sym.length < n) { this.sym = new Int32Array(n * 2); this.rk = new Int32Array(n * 2); }
    const sym = this.sym, byteToId = this.byteToId;
    if (bytes === null) for (let i = 0; i < n; i++) sym[i] = byteToId[piece.charCodeAt(i)];
    else for (let i = 0; i < n; i++) sym[i] = byteToId[bytes[i]];
    return n > LONG ? this.mergeLong(n) : this.mergeShort(n);
  }

  /** The merge loop for short pieces: ranks of adjacent pairs in an array, rescanned per merge. */
  private mergeShort(n: number): number[] {
    const sym = this.sym, rk = this.rk, res = this.mergeResults;
    for (let i = 0; i < n - 1; i++) rk[i] = this.rank(sym[i], sym[i + 1]);
    while (n > 1) {
      let best = NONE, bi = -1;
      for (let i = 0; i < n - 1; i++) if (rk[i] < best) { best = rk[i]; bi = i; }
      if (bi < 0) break;
      sym[bi] = res[best];
      for (let j = bi + 1; j < n - 1; j++) { sym[j] = sym[j + 1]; rk[j] = rk[j + 1]; }
      n--;
      if (bi > 0) rk[bi - 1] = this.rank(sym[bi - 1], sym[bi]);
      if (bi < n - 1) rk[bi] = this.rank(sym[bi], sym[bi + 1]);
    }
    return Array.from(sym.subarray(0, n));
  }

  /**
   * The merge loop for long pieces: a doubly linked list of symbols and a binary min-heap of
   * (rank, position) pairs with lazy deletion; a popped entry is valid if its pair still has that
   * rank. Ties pop in position order, so the result equals mergeShort's.
   */
  private mergeLong(n: number): number[] {
    const sym = this.sym, res = this.mergeResults;
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    const heapR: number[] = [], heapP: number[] = [];
    const less = (i: number, j: number): boolean => heapR[i] < heapR[j] || (heapR[i] === heapR[j] && heapP[i] < heapP[j]);
    const swap = (i: number, j: number): void => {
      const r = heapR[i]; heapR[i] = heapR[j]; heapR[j] = r;
      const p = heapP[i]; heapP[i] = heapP[j]; heapP[j] = p;
    };
    const push = (r: number, p: number): void => {
      heapR.push(r); heapP.push(p);
      for (let i = heapR.length - 1; i > 0;) {
        const up = (i - 1) >> 1;
        if (!less(i, up)) break;
        swap(i, up); i = up;
      }
    };
    const pop = (): void => {
      const last = heapR.length - 1;
      swap(0, last); heapR.pop(); heapP.pop();
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heapR.length && less(l, m)) m = l;
        if (r < heapR.length && less(r, m)) m = r;
        if (m === i) break;
        swap(i, m); i = m;
      }
    };
    for (let i = 0; i < n - 1; i++) { const r = this.rank(sym[i], sym[i + 1]); if (r !== NONE) push(r, i); }
    const alive = new Uint8Array(n).fill(1);
    while (heapR.length > 0) {
      const r = heapR[0], i = heapP[0];
      pop();
      const j = next[i];
      if (!alive[i] || j < 0 || this.rank(sym[i], sym[j]) !== r) continue;
      sym[i] = res[r];
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) { const q = this.rank(sym[prev[i]], sym[i]); if (q !== NONE) push(q, prev[i]); }
      if (next[i] >= 0) { const q = this.rank(sym[i], sym[next[i]]); if (q !== NONE) push(q, i); }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return out;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new MugptError(`token id ${id} (at position ${i}) is outside the vocabulary (0…${this.vocabSize - 1})`);
      }
      total += this.byteOff[id + 1] - this.byteOff[id];
    }
    const out = new Uint8Array(total);
    const data = this.byteData, off = this.byteOff;
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      for (let k = off[ids[i]], e = off[ids[i] + 1]; k < e; k++) out[o++] = data[k];  // tokens are short: a loop beats subarray+set
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return this.decoder.decode(this.decodeBytes(ids));
  }

  /** The bytes of one token. */
  tokenBytes(id: number): Uint8Array {
    return this.byteData.subarray(this.byteOff[id], this.byteOff[id + 1]);
  }
}

/** A global regex matching any of the given literal strings (longest first), or null for none. */
function splitRegex(literals: string[]): RegExp | null {
  if (literals.length === 0) return null;
  const esc = [...literals].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(esc.join('|'), 'gu');
}
