// tokenizer.json written by saveTokenizerJson, read by an independent HF-format consumer
// (@huggingface/tokenizers, the pure-JS port of HF tokenizers): same ids and the same decoded text,
// for the bundled GPT-2 vocabulary and for a trained one. HF always splits special added tokens,
// which is mugpt's allowSpecial mode. Its ByteLevel step runs the GPT-2 regex with JavaScript's \s,
// so texts with U+0085 / U+FEFF (where that differs from Unicode White_Space) are left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { loadTokenizer, trainBpe, type Tokenizer } from '../src/index.js';
import { tokenizerJson } from '../src/tokenizer/save.js';
import { EDGE_CASES, generatedTexts, sotuTexts } from './tokenizer-texts.js';

const texts = [...EDGE_CASES, ...generatedTexts(400, 11), ...sotuTexts(60)].filter((t) => !/[\u0085\ufeff]/.test(t));

function sameAsHf(tok: Tokenizer, what: string): void {
  const hf = new HfTokenizer(tokenizerJson(tok), {});
  for (const t of texts) {
    const ids = tok.encode(t, { allowSpecial: true });
    assert.deepEqual(hf.encode(t).ids, ids, `${what}: HF ids differ for ${JSON.stringify(t.slice(0, 60))}`);
    if (ids.length > 0) assert.equal(hf.decode(ids, { clean_up_tokenization_spaces: false }), tok.decode(ids), what); // HF refuses []
  }
}

test('the bundled GPT-2 vocabulary as tokenizer.json encodes the same in HF tokenizers.js', () => {
  sameAsHf(loadTokenizer('gpt2'), 'gpt2');
});

test('a trained tokenizer.json encodes the same in HF tokenizers.js', async () => {
  const tok = await trainBpe(sotuTexts(20), { vocabSize: 1500, specialTokens: ['<|pad|>'] });
  assert.equal(tok.vocabSize, 1500);
  sameAsHf(tok, 'trained');
});
