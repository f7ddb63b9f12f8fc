// Writes a tokenizer as a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer and
// decoder, GPT-2 settings), which HF tokenizers/transformers and loadTokenizer both read.
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { BpeTokenizer, type Tokenizer } from './bpe.js';
import { bytesToTokenString } from './bytes.js';

/** The tokenizer.json object for a byte-level BPE tokenizer. */
export function tokenizerJson(tok: Tokenizer): Record<string, unknown> {
  if (!(tok instanceof BpeTokenizer)) throw new MugptError('saveTokenizerJson: only byte-level BPE tokenizers (from loadTokenizer or trainBpe) can be saved');
  const spec = tok.spec;
  const addedIds = new Map(spec.added.map((t) => [t.id, t.content]));
  const names: string[] = [];
  for (let id = 0; id < tok.vocabSize; id++) names.push(addedIds.get(id) ?? bytesToTokenString(tok.tokenBytes(id)));
  const vocab: Record<string, number> = {};
  names.forEach((s, id) => { vocab[s] = id; });
  const merges: string[] = [];
  for (let r = 0; r < spec.mergeResults.length; r++) merges.push(`${names[spec.mergePairs[2 * r]]} ${names[spec.mergePairs[2 * r + 1]]}`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: spec.addPrefixSpace ?? false, trim_offsets: true, use_regex: spec.useRegex ?? true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.added.map((t) => ({
      id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: spec.ignoreMerges ?? false, vocab, merges,
    },
  };
}

/** Writes tok to path as tokenizer.json (atomically). */
export function saveTokenizerJson(tok: Tokenizer, path: string): void {
  writeFileAtomic(path, JSON.stringify(tokenizerJson(tok)));
}
