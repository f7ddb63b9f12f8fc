import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeText } from '../src/data/normalize.js';
import { cleanText } from '../src/data/clean.js';
import { cleanedLength, isShortDocument, MIN_DOCUMENT_CHARS } from '../src/data/filter.js';
import { jaccard, ngramSet } from '../src/data/jaccard.js';

test('NFC composes a decomposed accent and leaves composed text alone', () => {
  assert.equal(normalizeText('Cafe\u0301'), 'Caf\u00e9');
  assert.equal(normalizeText('Caf\u00e9'), 'Caf\u00e9');
  assert.equal(normalizeText('\u1100\u1161'), '\uac00');  // Hangul jamo → syllable
});

test('cleaning lower-cases, drops ASCII punctuation and collapses whitespace as SlimPajama does', () => {
  assert.equal(cleanText('  Hello,   World!\n\n\tIt\'s "fine" (really) '), 'hello world its fine really');
  // Python's \s includes these; punctuation outside ASCII (— « ») is not in string.punctuation.
  assert.equal(cleanText('a\u00a0\u2003b\u3000c\u2028d\x1ce'), 'a b c d e');
  assert.equal(cleanText('A — «B»'), 'a — «b»');
  // A punctuation run between spaces leaves one space, as translate-then-collapse does.
  assert.equal(cleanText('a ! b'), 'a b');
  assert.equal(cleanText('!!!'), '');
  // Astral code points pass through intact.
  assert.equal(cleanText('X😀Y'), 'x😀y');
});

test('the short-document filter counts code points of the cleaned text, threshold 200', () => {
  assert.equal(MIN_DOCUMENT_CHARS, 200);
  const exactly200 = 'a'.repeat(100) + ' ' + 'b'.repeat(99);
  assert.equal(cleanedLength(exactly200), 200);
  assert.equal(isShortDocument(exactly200), false);
  assert.equal(isShortDocument(exactly200.slice(1)), true);
  // Punctuation and extra whitespace do not count; whitespace runs count as one.
  assert.equal(isShortDocument(exactly200.slice(1) + '!!!...\n\n\n'), true);
  // 150 emoji are 300 UTF-16 units but 150 characters.
  assert.equal(cleanedLength('😀'.repeat(150)), 150);
  assert.equal(isShortDocument('😀'.repeat(150)), true);
  assert.equal(isShortDocument('x'.repeat(50), 40), false);
});

test('character n-gram sets and exact Jaccard', () => {
  assert.deepEqual([...ngramSet('Abcd!', 3)], ['abc', 'bcd']);
  assert.deepEqual([...ngramSet('ab', 3)], ['ab']);
  assert.equal(ngramSet('...', 3).size, 0);
  assert.equal(jaccard(ngramSet('abcde', 3), ngramSet('bcdef', 3)), 2 / 4);
  assert.equal(jaccard(new Set(), new Set()), 0);
});
