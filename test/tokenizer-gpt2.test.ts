// The bundled GPT-2 tokenizer against two independent implementations (js-tiktoken's `gpt2` and
// gpt-tokenizer's `r50k_base`) on real and generated text, plus exact decode round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEncoding, Tiktoken } from 'js-tiktoken';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { encode as gtEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { loadTokenizer, MugptError } from '../src/index.js';
import { GPT2_PATTERN, pretokenize } from '../src/tokenizer/pretokenize.js';
import { scanPieces } from '../src/tokenizer/scan.js';
import { EDGE_CASES, generatedTexts, sotuTexts, spamTexts } from './tokenizer-texts.js';

const tok = loadTokenizer('gpt2');
const tiktoken = getEncoding('gpt2');
// js-tiktoken with `\s` spelled as Unicode White_Space (GPT-2's Python regex, tiktoken's Rust regex):
// JavaScript's `\s` differs on U+0085 and U+FEFF, so the stock peers split those differently.
const tiktokenUnicodeWs = new Tiktoken({ ...gpt2Ranks, pat_str: GPT2_PATTERN });
const jsWsDiffers = /[\u0085\ufeff]/;

/** Compares ids with the peers (or, for text with U+0085/U+FEFF, tiktoken with Unicode \\s) and checks the round-trip. */
function compare(texts: string[], what: string, peers: { tiktoken: boolean; gptTokenizer: boolean }): void {
  for (const text of texts) {
    const ids = tok.encode(text);
    const show = JSON.stringify(text.slice(0, 80));
    if (jsWsDiffers.test(text)) {
      assert.deepEqual(ids, tiktokenUnicodeWs.encode(text, [], []), `${what}: ids differ from tiktoken (Unicode \\s) for ${show}`);
    } else {
      if (peers.tiktoken) assert.deepEqual(ids, tiktoken.encode(text, [], []), `${what}: js-tiktoken differs on ${show}`);
      if (peers.gptTokenizer) assert.deepEqual(ids, gtEncode(text, { disallowedSpecial: new Set() }), `${what}: gpt-tokenizer differs on ${show}`);
    }
    assert.equal(tok.decode(ids), text, `${what}: decode does not round-trip ${show}`);
    assert.deepEqual(scanPieces(text), pretokenize(text), `${what}: the scanner and the regex split ${show} differently`);
  }
}

test('vocabulary: 50,257 tokens, <|endoftext|> = 50256', () => {
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eosTokenId, 50256);
  assert.equal(tok.decode([50256]), '<|endoftext|>');
  assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
});

test('State of the Union: all 233 addresses (10.7 MB) match gpt-tokenizer, every 8th js-tiktoken', () => {
  const all = sotuTexts();
  assert.equal(all.length, 233);
  compare(all, 'sotu', { tiktoken: false, gptTokenizer: true });
  compare(all.filter((_, i) => i % 8 === 0), 'sotu', { tiktoken: true, gptTokenizer: false });
});

test('SpamAssassin mails (300 sampled): headers, HTML, odd encodings', () => {
  compare(spamTexts(300), 'spam', { tiktoken: true, gptTokenizer: true });
});

test('edge cases and 3,000 generated mixed-script strings', () => {
  compare(EDGE_CASES, 'edge', { tiktoken: true, gptTokenizer: true });
  const generated = generatedTexts(3000);
  compare(generated, 'generated', { tiktoken: false, gptTokenizer: true });
  compare(generated.slice(0, 200), 'generated', { tiktoken: true, gptTokenizer: false }); // js-tiktoken is slow on repeats
});

test('long pieces (heap merge path) equal the reference', () => {
  const long = ['a'.repeat(5000), ' '.repeat(2000) + 'x', 'ab'.repeat(3000), '9'.repeat(4000), '👍🏽'.repeat(700), 'ﬀ'.repeat(900),
    'x' + '\u0301'.repeat(1000), Array.from({ length: 2000 }, (_, i) => String.fromCharCode(0x4e00 + (i * 7919) % 20000)).join('')];
  compare(long, 'long', { tiktoken: false, gptTokenizer: true });
  compare(['a'.repeat(1500), 'ab'.repeat(700)], 'long', { tiktoken: true, gptTokenizer: false });
});

test('the piece cache stays right when it fills up and starts over', () => {
  // 70,000 distinct pieces overflow the 65,536-entry cache; the second pass hits and misses it.
  const words = Array.from({ length: 70000 }, (_, i) => ' w' + (i * 7919).toString(36));
  const text = words.join('');
  const ref = gtEncode(text, { disallowedSpecial: new Set() });
  const fresh = loadTokenizer('gpt2');
  assert.deepEqual(fresh.encode(text), ref);
  assert.deepEqual(fresh.encode(text), ref);
});

test('U+0085 and U+FEFF follow Unicode White_Space, not JavaScript \\s', () => {
  // NEL is whitespace (a run of its own), BOM is not (it joins the symbols after it).
  // 'a \u0085b': the space and NEL form a whitespace run ([64, 220, 126, 227, 65]); JavaScript's \s
  // puts ' \u0085' in a symbol piece instead, which merges to ' Â' (1587).
  assert.deepEqual(tok.encode('a \u0085b'), [64, 220, 126, 227, 65]);
  assert.deepEqual(tok.encode('a \u0085b'), tiktokenUnicodeWs.encode('a \u0085b', [], []));
  assert.deepEqual(tiktoken.encode('a \u0085b', [], []), [64, 1587, 227, 65]);
  // ' \ufeff!': BOM is a symbol, so the space joins it (27332 = ' ï').
  assert.deepEqual(tok.encode(' \ufeff!'), [27332, 119, 123, 0]);
  assert.deepEqual(tok.encode(' \ufeff!'), tiktokenUnicodeWs.encode(' \ufeff!', [], []));
  assert.equal(tok.decode(tok.encode('\ufeffx')), '\ufeffx', 'a leading BOM survives decode');
});

test('<|endoftext|> in text is plain text unless allowSpecial', () => {
  const s = 'end.<|endoftext|>Next doc <|endoftext|>';
  const plain = tok.encode(s);
  assert.ok(!plain.includes(50256));
  assert.deepEqual(plain, tiktoken.encode(s, [], []));
  const special = tok.encode(s, { allowSpecial: true });
  assert.deepEqual(special, tiktoken.encode(s, 'all'));
  assert.equal(special.filter((id) => id === 50256).length, 2);
  assert.equal(tok.decode(special), s);
  assert.equal(tok.decode(plain), s);
});

test('decodeBytes streams partial UTF-8 that a streaming decoder reassembles', () => {
  const s = 'naïve 👩‍👩‍👧 日本語 ok';
  const ids = tok.encode(s);
  assert.ok(ids.length > s.length / 4);
  const dec = new TextDecoder('utf-8', { ignoreBOM: true });
  let out = '';
  let sawPartial = false;
  for (const id of ids) {
    const bytes = tok.decodeBytes([id]);
    try { new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { sawPartial = true; }
    out += dec.decode(bytes, { stream: true });
  }
  out += dec.decode();
  assert.ok(sawPartial, 'some token should hold part of a character');
  assert.equal(out, s);
  assert.deepEqual(Buffer.from(tok.decodeBytes(ids)), Buffer.from(s, 'utf8'));
});

test('encode rejects what is not a string', () => {
  for (const bad of [undefined, null, 42, ['a']]) {
    assert.throws(() => tok.encode(bad as unknown as string), (e: unknown) => e instanceof MugptError && /encode: expected a string/.test(e.message));
  }
});

test('decode rejects ids outside the vocabulary', () => {
  for (const bad of [50257, -1, 1.5, Number.NaN]) {
    assert.throws(() => tok.decode([1, bad]), (e: unknown) => e instanceof MugptError && /outside the vocabulary/.test(e.message) && /position 1/.test(e.message));
  }
});
