// The SlimPajama cleaning used by the short-document filter and by MinHash (modelzoo
// slimpajama/preprocessing/filter.py and dedup/to_hash.py): lower-case, delete every character of
// Python's string.punctuation (ASCII only), strip, and collapse each whitespace run to one space.
// Written as one pass over UTF-16 code units because it sits on the hot path of the dedup.

/** ASCII classes: 1 = Python's string.punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~), 2 = whitespace. */
const ASCII_CLASS = new Uint8Array(128);
for (const c of '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') ASCII_CLASS[c.charCodeAt(0)] = 1;
for (let c = 0; c < 128; c++) if (isSpaceCode(c)) ASCII_CLASS[c] = 2;

/** Whitespace as Python's str.isspace() / re's \s see it (so collapsing matches re.sub(r"\s+", " ", …)). */
export function isSpaceCode(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/**
 * Cleans text into code points (lower-cased, ASCII punctuation removed, whitespace runs → one space,
 * no leading/trailing space), written into out (grown when too small). Returns the array holding the
 * result (out or its replacement) and the number of code points. A code point is what Python's len()
 * counts, so lengths match SlimPajama's.
 */
export function cleanCodePoints(text: string, out: Uint32Array): { cps: Uint32Array; length: number } {
  if (out.length < text.length) out = new Uint32Array(Math.max(text.length, out.length * 2));
  // Pure-ASCII text (most of it) is lower-cased inline; at the first non-ASCII unit, start over on
  // String.prototype.toLowerCase() of the whole text (full Unicode case mapping, which may change length).
  const n = cleanPass(text, out, true);
  if (n >= 0) return { cps: out, length: n };
  const lower = text.toLowerCase();
  if (out.length < lower.length) out = new Uint32Array(lower.length);
  return { cps: out, length: cleanPass(lower, out, false) };
}

/** One cleaning pass; with asciiOnly, lower-cases A–Z itself and returns −1 at the first non-ASCII unit. */
function cleanPass(s: string, out: Uint32Array, asciiOnly: boolean): number {
  let n = 0;
  let pendingSpace = false;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 128) {
      const cls = ASCII_CLASS[c];
      if (cls === 1) continue;
      if (cls === 2) { pendingSpace = n > 0; continue; }
      if (asciiOnly && c >= 65 && c <= 90) c += 32;
    } else {
      if (asciiOnly) return -1;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000; i++; }
      }
      if (isSpaceCode(c)) { pendingSpace = n > 0; continue; }
    }
    if (pendingSpace) { out[n++] = 32; pendingSpace = false; }
    out[n++] = c;
  }
  return n;
}

/** The cleaned text as a string (see cleanCodePoints). */
export function cleanText(text: string): string {
  const { cps, length } = cleanCodePoints(text, new Uint32Array(text.length));
  let s = '';
  for (let i = 0; i < length; i += 8192) s += String.fromCodePoint(...cps.subarray(i, Math.min(length, i + 8192)));
  return s;
}
