// Packing tokenized documents into fixed-length sequences. The packed stream is the documents'
// tokens with <|endoftext|> between consecutive documents (d0 EOS d1 EOS d2 …); sequence k is the
// window stream[k·L, (k+1)·L) — windows do not overlap, and the tail shorter than L is dropped.
// A cursor (document index, offset into that document's packed tokens, the EOS included) marks where
// the next sequence starts, so an interrupted build resumes packing exactly where a shard ended.
import { check } from '../errors.js';

export interface PackCursor {
  /** Index of the document (in its split's order) that holds the next token. */
  doc: number;
  /** Offset of the next token within that document's packed tokens ([EOS] + tokens for doc > 0). */
  offset: number;
}

export class Packer {
  private readonly buf: Uint32Array; // [seqLen]
  private filled = 0;
  private nextDoc: number;
  private skip: number;
  /** Tokens of the current partial sequence (dropped if the stream ends there). */
  get pending(): number { return this.filled; }

  constructor(readonly seqLen: number, readonly eos: number, start: PackCursor = { doc: 0, offset: 0 }) {
    check(Number.isInteger(seqLen) && seqLen >= 2, `pack: seq_len must be an integer ≥ 2, got ${seqLen}`);
    check(Number.isInteger(eos) && eos >= 0, `pack: the tokenizer has no <|endoftext|> id (got ${eos})`);
    this.buf = new Uint32Array(seqLen);
    this.nextDoc = start.doc;
    this.skip = start.offset;
  }

  /** The document index the next pushDoc call packs. */
  get docIndex(): number { return this.nextDoc; }

  /**
   * Packs the next document's tokens. For every sequence completed, calls onSequence with the
   * sequence ([seqLen], reused: copy it) and the cursor of the token after it.
   */
  pushDoc(tokens: ArrayLike<number>, onSequence: (seq: Uint32Array, next: PackCursor) => void): void {
    const d = this.nextDoc;
    const lead = d > 0 ? 1 : 0; // the EOS before every document but the first
    const n = lead + tokens.length;
    for (let i = this.skip; i < n; i++) {
      this.buf[this.filled++] = i < lead ? this.eos : tokens[i - lead];
      if (this.filled === this.seqLen) {
        this.filled = 0;
        onSequence(this.buf, i + 1 < n ? { doc: d, offset: i + 1 } : { doc: d + 1, offset: 0 });
      }
    }
    this.skip = 0;
    this.nextDoc = d + 1;
  }
}
