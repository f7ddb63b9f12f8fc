// A hand-written scanner for the GPT-2 pre-tokenizer pattern (pretokenize.ts), about twice as fast
// as running the regex: it classifies each code point once (letter / number / white space / other,
// with V8's own \p{L} and \p{N} tables, cached per code point) and returns piece boundaries as
// indices, so that the tokenizer can look pieces up in its cache without slicing strings.
// It follows the regex's alternation order exactly; tests compare the two on every test text.
import { WS } from './pretokenize.js';

const L = 1, N = 2, W = 3, O = 4;
const RE_L = /^\p{L}$/u, RE_N = /^\p{N}$/u;
const RE_W = new RegExp(`^[${WS}]$`, 'u');

const bmpClass = new Uint8Array(0x10000);   // 0 = not classified yet
const astralClass = new Map<number, number>();

function classify(cp: number): number {
  const s = String.fromCodePoint(cp);
  return RE_L.test(s) ? L : RE_N.test(s) ? N : RE_W.test(s) ? W : O;
}

for (let c = 0; c < 0x80; c++) bmpClass[c] = classify(c);

/** Width (1 or 2 code units) of the code point whose class classAt last returned. */
let width = 1;

/** The class of the code point at text[i] (i < text.length); lone surrogates are "other". */
function classAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  width = 1;
  if (c < 0xd800 || c > 0xdfff) {
    const k = bmpClass[c];
    return k !== 0 ? k : (bmpClass[c] = classify(c));
  }
  if (c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) {
      width = 2;
      const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
      let k = astralClass.get(cp);
      if (k === undefined) astralClass.set(cp, (k = classify(cp)));
      return k;
    }
  }
  return O;
}

/**
 * The end of the GPT-2 piece that starts at text[i]:
 *   's|'t|'re|'ve|'m|'ll|'d | ' '?letters | ' '?numbers | ' '?others | \s+(?!\S) | \s+
 */
export function pieceEnd(text: string, i: number): number {
  const n = text.length;
  const c = text.charCodeAt(i);
  if (c === 39 && i + 1 < n) {                                   // contractions
    const d = text.charCodeAt(i + 1);
    if (d === 115 || d === 116 || d === 109 || d === 100) return i + 2;          // 's 't 'm 'd
    if (i + 2 < n) {
      const e = text.charCodeAt(i + 2);
      if ((e === 101 && (d === 114 || d === 118)) || (d === 108 && e === 108)) return i + 3; // 're 've 'll
    }
  }
  let k: number, j: number;
  if (c < 0x80) { k = bmpClass[c]; j = i + 1; } else { k = classAt(text, i); j = i + width; }
  if (c === 32 && j < n) {                                       // one space leads a letter/number/other run
    const k2 = classAt(text, j);
    if (k2 !== W) { k = k2; j += width; }
  }
  if (k !== W) {
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d < 0x80) { if (bmpClass[d] !== k) break; j++; }      // ASCII fast path
      else if (classAt(text, j) === k) j += width;
      else break;
    }
    return j;
  }
  while (j < n) {                                               // white space is all in the BMP
    const d = text.charCodeAt(j);
    if ((d < 0x80 ? bmpClass[d] : classAt(text, j)) !== W) break;
    j++;
  }
  // \s+(?!\S): before a non-space, leave the run's last character to lead the next piece.
  return j === n || j - i === 1 ? j : j - 1;
}

/** The pieces of text (the scanner's equivalent of text.match(gpt2Regex())). */
export function scanPieces(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length;) { const e = pieceEnd(text, i); out.push(text.slice(i, e)); i = e; }
  return out;
}

/** FNV-1a over the UTF-16 code units of text[i, e), finished with a shift-xor (for open addressing). */
export function spanHash(text: string, i: number, e: number): number {
  let h = 0x811c9dc5 ^ (e - i);
  for (let k = i; k < e; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  return h ^ (h >>> 15);
}

/** Whether key equals text[i, i + key.length). */
export function spanEquals(key: string, text: string, i: number): boolean {
  for (let k = 0; k < key.length; k++) if (key.charCodeAt(k) !== text.charCodeAt(i + k)) return false;
  return true;
}
