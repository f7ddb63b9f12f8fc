// loadTokenizer on HF tokenizer.json (both merge spellings) and vocab.json + merges.txt written
// from the bundled vocabulary: identical ids; malformed files: MugptErrors naming file and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, MugptError, saveTokenizerJson } from '../src/index.js';
import { tokenizerJson } from '../src/tokenizer/save.js';
import { scratch } from './helpers.js';
import { EDGE_CASES, generatedTexts, sotuTexts } from './tokenizer-texts.js';

const gpt2 = loadTokenizer('gpt2');
const texts = [...EDGE_CASES, ...generatedTexts(500, 7), ...sotuTexts(40)];
const json = tokenizerJson(gpt2) as { model: { vocab: Record<string, number>; merges: string[] }; added_tokens: unknown[] };

function sameIds(tok: ReturnType<typeof loadTokenizer>, what: string): void {
  assert.equal(tok.vocabSize, 50257, what);
  assert.equal(tok.eosTokenId, 50256, what);
  for (const t of texts) {
    const ids = tok.encode(t);
    assert.deepEqual(ids, gpt2.encode(t), `${what}: ${JSON.stringify(t.slice(0, 60))}`);
    assert.equal(tok.decode(ids), t);
  }
  assert.deepEqual(tok.encode('a<|endoftext|>b', { allowSpecial: true }), [64, 50256, 65], what);
  assert.deepEqual(tok.encode('a<|endoftext|>b'), gpt2.encode('a<|endoftext|>b'), what);
}

test('the written tokenizer.json has GPT-2 token strings and merges', () => {
  assert.equal(json.model.vocab['Ġthe'], 262);
  assert.equal(json.model.vocab['<|endoftext|>'], 50256);
  assert.equal(json.model.merges[0], 'Ġ t');
  assert.equal(json.model.merges.length, 50000);
});

test('tokenizer.json (folder and file path, "a b" merges) gives the same ids', () => {
  const dir = scratch();
  saveTokenizerJson(gpt2, join(dir, 'tokenizer.json'));
  sameIds(loadTokenizer(dir), 'folder');
  sameIds(loadTokenizer(join(dir, 'tokenizer.json')), 'file');
});

test('tokenizer.json with [left, right] array merges gives the same ids', () => {
  const dir = scratch();
  const arr = { ...json, model: { ...json.model, merges: json.model.merges.map((m) => m.split(' ')) } };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(arr));
  sameIds(loadTokenizer(dir), 'array merges');
});

test('vocab.json + merges.txt gives the same ids', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(json.model.vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n' + json.model.merges.join('\n') + '\n');
  sameIds(loadTokenizer(dir), 'vocab+merges');
});

// A tiny valid byte-level tokenizer.json (the 256 byte tokens, one merge) to corrupt field by field.
const tinyJson = (() => {
  const vocab: Record<string, number> = {};
  for (const [k, v] of Object.entries(json.model.vocab)) if (v < 256) vocab[k] = v;
  vocab['Ġt'] = 256;
  vocab['<|endoftext|>'] = 257;
  return JSON.stringify({ ...json, model: { ...json.model, vocab, merges: ['Ġ t'] }, added_tokens: [{ id: 257, content: '<|endoftext|>', special: true }] });
})();
const tiny = (): Record<string, any> => JSON.parse(tinyJson) as Record<string, any>;

function rejects(mutate: (t: Record<string, any>) => unknown, pattern: RegExp): void {
  const dir = scratch();
  const t = tiny();
  const replaced = mutate(t);
  const file = join(dir, 'tokenizer.json');
  writeFileSync(file, typeof replaced === 'string' ? replaced : JSON.stringify(t));
  assert.throws(() => loadTokenizer(dir), (e: unknown) => {
    assert.ok(e instanceof MugptError, String(e));
    assert.match(e.message, /tokenizer\.json/);
    assert.match(e.message, pattern);
    return true;
  });
}

test('the tiny fixture itself loads and encodes', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tiny()));
  const tok = loadTokenizer(dir);
  assert.equal(tok.vocabSize, 258);
  assert.deepEqual(tok.encode(' to'), [256, 78]);
  assert.equal(tok.eosTokenId, 257);
  // tokenizer_config.json's eos_token names the EOS when present.
  const t = tiny();
  t.added_tokens.push({ id: 258, content: '</s>', special: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(t));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: { content: '</s>' } }));
  const withEos = loadTokenizer(dir);
  assert.equal(withEos.eosTokenId, 258);
  assert.deepEqual(withEos.encode('a</s>', { allowSpecial: true }), [64, 258]);
  assert.ok(!withEos.encode('a</s>').includes(258), 'plain text without allowSpecial');
  assert.equal(withEos.decode(withEos.encode('a</s>')), 'a</s>');
});

test('malformed tokenizer.json: each error names the file and the field', () => {
  rejects(() => '{"model": ', /invalid JSON/);
  rejects(() => '[1, 2]', /expected a JSON object/);
  rejects((t) => { delete t.model; }, /"model"/);
  rejects((t) => { t.model.type = 'WordPiece'; }, /model\.type.*WordPiece/);
  rejects((t) => { t.model.vocab = [1, 2]; }, /model\.vocab/);
  rejects((t) => { t.model.merges = 'Ġ t'; }, /model\.merges must be an array/);
  rejects((t) => { t.model.merges = ['Ġt']; }, /model\.merges\[0\]/);
  rejects((t) => { t.model.merges = [[1, 2]]; }, /model\.merges\[0\]/);
  rejects((t) => { t.model.merges.push('Ġ zz'); }, /model\.merges\[1\].*not in model\.vocab/);
  rejects((t) => { t.model.merges.push('Ġ o'); }, /merged token "Ġo" is not in model\.vocab/);
  rejects((t) => { t.model.vocab['Ġt'] = 5; }, /id 5 is used by both/);
  rejects((t) => { t.model.vocab['Ġt'] = 300; }, /no token with id 256/);
  rejects((t) => { t.model.vocab['Ġt'] = 'x'; }, /model\.vocab\["Ġt"\]/);
  rejects((t) => { delete t.model.vocab['a']; t.model.vocab['zz'] = 64; }, /lacks the byte-level token "a"/);
  rejects((t) => { t.pre_tokenizer = { type: 'Metaspace' }; }, /pre_tokenizer\.type "Metaspace"/);
  rejects((t) => { t.pre_tokenizer = null; }, /pre_tokenizer must be a ByteLevel/);
  rejects((t) => { t.normalizer = { type: 'NFC' }; }, /normalizer "NFC"/);
  rejects((t) => { t.model.continuing_subword_prefix = '##'; }, /continuing_subword_prefix/);
  rejects((t) => { t.added_tokens = [{ content: 'x' }]; }, /added_tokens\[0\]/);
  rejects((t) => { t.added_tokens = [{ id: 3, content: '<pad>' }]; }, /added token "<pad>" has id 3/);
});

test('missing paths and bad vocab.json / merges.txt are named', () => {
  const dir = scratch();
  const err = (path: string, pattern: RegExp): void => {
    assert.throws(() => loadTokenizer(path), (e: unknown) => e instanceof MugptError && pattern.test(e.message));
  };
  err(join(dir, 'nope'), /nope does not exist/);
  err(dir, /neither tokenizer\.json nor vocab\.json \+ merges\.txt/);
  const vm = join(dir, 'vm');
  mkdirSync(vm);
  const t = tiny();
  writeFileSync(join(vm, 'vocab.json'), JSON.stringify(t.model.vocab));
  writeFileSync(join(vm, 'merges.txt'), '#version: 0.2\nĠ t\nbad-line\n');
  err(vm, /merges\.txt:3: "bad-line" is not "left right"/);
  writeFileSync(join(vm, 'merges.txt'), '#version: 0.2\nĠ t\n');
  writeFileSync(join(vm, 'vocab.json'), '{"a": 0,');
  err(vm, /vocab\.json: invalid JSON/);
  writeFileSync(join(vm, 'vocab.json'), JSON.stringify(t.model.vocab));
  const tok = loadTokenizer(vm);
  assert.equal(tok.eosTokenId, 257);
  assert.deepEqual(tok.encode('x<|endoftext|>', { allowSpecial: true }), [87, 257]);
});
