// GPT-2's reversible byte ↔ unicode map: byte-level BPE vocabularies (encoder.json, vocab.json,
// tokenizer.json) spell each byte as a printable character, so that token strings never contain
// whitespace or control characters. Printable Latin-1 bytes map to themselves; the other 68 bytes
// map, in byte order, to U+0100, U+0101, …

/** byteToChar[b] = the character that spells byte b (length 256). */
export const byteToChar: readonly string[] = (() => {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : next++);
  return out;
})();

/** charToByte.get(c) = the byte that character c spells. */
export const charToByte: ReadonlyMap<string, number> = new Map(byteToChar.map((c, b) => [c, b]));

/**
 * The 256 bytes in GPT-2's id order (ids 0…255 of encoder.json): sorted by the character that
 * spells them, i.e. the printable bytes first.
 */
export const gpt2ByteOrder: readonly number[] = Array.from({ length: 256 }, (_, b) => b)
  .sort((x, y) => byteToChar[x].charCodeAt(0) - byteToChar[y].charCodeAt(0));

/** The byte-level spelling of some bytes (a token string of vocab.json / tokenizer.json). */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += byteToChar[b];
  return s;
}

/**
 * The bytes a byte-level token string spells, or null when a character is not one of the 256
 * byte characters (such tokens are plain text, e.g. some added tokens).
 */
export function tokenStringToBytes(s: string): Uint8Array | null {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = charToByte.get(s[i]);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}
