// Text sets for the tokenizer tests and benchmark: the State of the Union addresses and a sample
// of SpamAssassin mails (both from npm @stdlib datasets), and generated strings covering many
// scripts, emoji sequences, combining marks, control characters and whitespace runs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';

const stdlib = join(repoRoot, 'node_modules', '@stdlib');

/** State of the Union texts (every `step`-th of the 233 addresses, in file order). */
export function sotuTexts(step = 1): string[] {
  const dir = join(stdlib, 'datasets-sotu', 'data');
  return readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()
    .filter((_, i) => i % step === 0)
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** A deterministic sample of `count` SpamAssassin mails, read as UTF-8 (invalid bytes become U+FFFD). */
export function spamTexts(count: number): string[] {
  const dir = join(stdlib, 'datasets-spam-assassin', 'data');
  const list = JSON.parse(readFileSync(join(dir, 'file_list.json'), 'utf8')) as string[];
  const step = Math.max(1, Math.floor(list.length / count));
  return list.filter((_, i) => i % step === 0).slice(0, count).map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hand-picked edge cases of GPT-2 pre-tokenization and BPE. */
export const EDGE_CASES: string[] = [
  '', ' ', '  ', '\n', '\n\n\n', ' \n ', 'a', ' a', 'a ', '  a', 'a  b', 'a\t\tb', 'a \t b', '\r\n', 'line1\r\nline2\r\n',
  "I'm", "it's", "they'll", "we've", "you'd", "IT'S", "don't", "'s", "''s", "rock 'n' roll", "O'Neil's",
  'Hello, world!', 'Hello world', ' Hello', 'hello\u00a0world', 'x\u3000y', 'x\u2009y', 'a\u200bb', 'tab\tend\t',
  '12345', '3.14159', '1,000,000', '2024-11-26T21:00:00Z', '0x7fffffff', '١٢٣', '½ ⅓ ²',
  '你好，世界', '東京都', 'こんにちは', '안녕하세요', 'Привет мир', 'Γειά σου', 'مرحبا بالعالم', 'שלום', 'नमस्ते', 'สวัสดี',
  '👍', '👍🏽', '👩‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷🇯🇵', '❤️', 'e\u0301', 'n\u0303o', 'Z\u0351\u0352\u0353', 'ﬁ', 'ℌ',
  'a \u0085b', ' \ufeff!', '\u0000', '\u0001\u0002\u0003', '\u001b[31mred\u001b[0m', '\u007f', '\u0085', 'a\u0085b', '\ufeffBOM', 'x\ufeff y', '\u2028\u2029',
  'a'.repeat(500), ' '.repeat(300), '\n'.repeat(200), 'ab'.repeat(400), '1234567890'.repeat(50), '😀'.repeat(120),
  '!!!???...', '-----', '=====>', '<|endoftext|>', 'a<|endoftext|>b', '<|endoftext', '<|im_start|>',
  'function f(x) {\n  return x * 2;\n}\n', 'if (a && b) { c(); }', 'def foo(self):\n    pass\n', '    indented\n\tindented',
  '<html><body class="x">&nbsp;</body></html>', 'https://example.com/a?b=c&d=e#f', 'user@example.com', '$HOME/.config',
];

const POOLS: string[][] = [
  ['the', 'The', 'of', 'and', 'token', 'izer', 'GPT', 'running', 'Mr.', 'e.g.', 'naïve', 'café', 'Straße', 'œuvre'],
  ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", '’s', "'"],
  ['0', '7', '42', '1999', '3.5', '-12', '1e10', '٣', '४२', '一二三', 'Ⅻ'],
  ['Привет', 'мир', 'Γειά', 'σου', 'مرحبا', 'שלום', 'नमस्ते', 'สวัสดี', 'ქართული', 'Հայերեն', 'ᚠᛇᚻ', 'ꦧꦱ'],
  ['你好', '世界', '東京', 'こんにちは', 'カタカナ', '한국어', '𠀀𠀁', '丼'],
  ['😀', '👍🏽', '👋🏿', '👩‍💻', '👨‍👩‍👧‍👦', '🧑🏽‍🚀', '🏳️‍🌈', '🇺🇸', '❤️', '✨', '🤷‍♀️'],
  ['e\u0301', 'a\u0308', '\u0915\u094d\u0937', 'ñ', 'Å', '\u0300', '\u20dd'],
  [' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\u00a0', '\u3000', '\u2003', '\u200b', '\u000b', '\u000c'],
  ['\u0000', '\u0007', '\u001b', '\u007f', '\u0080', '\u009f'],
  ['{', '}', '(', ')', ';', '=>', '===', '!=', '&&', '||', '//', '/*', '*/', '#', '@', '$', '%', '^', '~', '`', '\\', '"', '<', '>', '...', '—', '–', '…', '«', '»', '“', '”'],
];

/** `count` random strings mixing all pools (pieces joined with or without spaces). */
export function generatedTexts(count: number, seed = 1): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const len = 1 + Math.floor(r() * 40);
    let s = '';
    for (let i = 0; i < len; i++) {
      const pool = POOLS[Math.floor(r() * POOLS.length)];
      let w = pool[Math.floor(r() * pool.length)];
      if (r() < 0.03) w = w.repeat(2 + Math.floor(r() * 60));
      s += (r() < 0.4 ? ' ' : '') + w;
    }
    out.push(s);
  }
  return out;
}
