// Python's string rules where lm-eval's prompts and metrics depend on them: str.strip / rstrip /
// capitalize and re.split(r"\s+") use Unicode whitespace as Python defines it (str.isspace), which
// differs from JavaScript's \s (Python adds U+001C–U+001F and U+0085; JavaScript adds U+FEFF).

/** Python's whitespace (str.isspace, re's \\s on str) as a regex character-class body. */
export const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRAILING = new RegExp(`[${PY_WS}]+$`, 'u');
const LEADING = new RegExp(`^[${PY_WS}]+`, 'u');
const RUNS = new RegExp(`[${PY_WS}]+`, 'u');

/** Python's str.rstrip(). */
export function pyRstrip(s: string): string {
  return s.replace(TRAILING, '');
}

/** Python's str.strip(). */
export function pyStrip(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/** Python's re.split(r"\s+", s): the pieces between whitespace runs (empty ones at the ends kept). */
export function pySplitWhitespace(s: string): string[] {
  return s.split(RUNS);
}

/** Python's str.capitalize(): the first character upper case, the rest lower case. */
export function pyCapitalize(s: string): string {
  const first = s.codePointAt(0);
  if (first === undefined) return s;
  const n = first > 0xffff ? 2 : 1;
  return s.slice(0, n).toUpperCase() + s.slice(n).toLowerCase();
}

/** len(s) in Python: Unicode code points (acc_norm divides by it). */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** UTF-8 bytes of s (byte_perplexity, bits_per_byte). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
