// The GPT-2 pre-tokenizer: text is cut into pieces (contractions, letter runs, digit runs, other
// symbol runs, each optionally led by one space, and whitespace runs) before BPE runs on each piece.
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// `\s+(?!\S)` leaves the last space of a whitespace run in front of the next word (" world").
// `\s` here is Unicode's White_Space property, as in GPT-2's Python `regex`, tiktoken's Rust regex
// and HF tokenizers' Oniguruma. JavaScript's own `\s` differs on two characters (it lacks U+0085
// NEXT LINE and adds U+FEFF BYTE ORDER MARK), so the class is spelled out.
// This regex is the specification: the tokenizer runs the hand-written scan.ts, which the tests
// check against it piece for piece.

/** Unicode White_Space, as a regex character-class body. */
export const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** The GPT-2 pattern source, with `\s` spelled as Unicode White_Space. */
export const GPT2_PATTERN =
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`;

/** A fresh global regex for GPT2_PATTERN (global regexes carry state, so each user owns one). */
export function gpt2Regex(): RegExp {
  return new RegExp(GPT2_PATTERN, 'gu');
}

/** Splits text into GPT-2 pieces (concatenated, they give back text exactly). */
export function pretokenize(text: string): string[] {
  return text.match(gpt2Regex()) ?? [];
}
