import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, type GeneratedToken, type Generation, type GenerateTokenizer } from '../src/generate/generate.js';
import type { GenerateOptions } from '../src/generate/options.js';
import type { DecodeModel, KVCache } from '../src/generate/decode-model.js';
import { MugptError } from '../src/errors.js';
import { loadTokenizer } from '../src/tokenizer/load.js';

// A byte tokenizer: ids 0..255 are the bytes, 256 is <|endoftext|>. Multi-byte characters span
// several tokens, as in byte-level BPE.
const EOS = 256;
const EOS_TEXT = new TextEncoder().encode('<|endoftext|>');
const bytes: GenerateTokenizer = {
  eosTokenId: EOS,
  encode: (text) => Array.from(new TextEncoder().encode(text)),
  decodeBytes: (ids) => {
    const out: number[] = [];
    for (const id of Array.from(ids)) out.push(...(id === EOS ? EOS_TEXT : [id]));
    return Uint8Array.from(out);
  },
};
const decodeAll = (ids: number[]): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.decodeBytes(ids));

interface FakeCache extends KVCache {
  ids: number[];
}

/** A model whose logits are a known function of the whole context; it records every step call. */
class FakeModel implements DecodeModel {
  readonly calls: number[][] = [];
  constructor(
    readonly logitsOf: (context: number[]) => Float32Array, readonly maxContext = Infinity,
    readonly vocabSize = 257, readonly eosTokenId: number | null = EOS,
  ) {}
  newCache(): FakeCache {
    return { ids: [], get length() { return this.ids.length; } };
  }
  step(cache: KVCache, ids: number[]): Float32Array {
    const c = cache as FakeCache;
    assert.ok(c.ids.length + ids.length <= this.maxContext, 'fed past the context');
    c.ids.push(...ids);
    this.calls.push([...ids]);
    return this.logitsOf([...c.ids]);
  }
}

/** Plays back `script` after the prompt (one-hot logits), then EOS. */
function scripted(script: number[], promptLength: number, maxContext = Infinity, vocabSize = 257, eos = EOS): FakeModel {
  return new FakeModel((ctx) => {
    const logits = new Float32Array(vocabSize).fill(-5);
    logits[script[ctx.length - promptLength] ?? eos] = 5;
    return logits;
  }, maxContext, vocabSize, eos);
}

async function collect(g: Generation): Promise<GeneratedToken[]> {
  const out: GeneratedToken[] = [];
  for await (const t of g) out.push(t);
  return out;
}

const utf8 = (s: string): number[] => Array.from(new TextEncoder().encode(s));
const texts = (toks: GeneratedToken[]): string[] => toks.map((t) => t.text);

test('the prompt is prefilled in one step, then one token per step; greedy follows the argmax of the context', async () => {
  // Next-token logits peak at (sum of the context) mod 200: a function of every token seen.
  const model = new FakeModel((ctx) => {
    const l = new Float32Array(257);
    l[ctx.reduce((a, b) => a + b, 0) % 200] = 1;
    return l;
  });
  const prompt = [65, 66, 67];
  const g = generate(model, bytes, prompt, { maxNewTokens: 5, temperature: 0 });
  const toks = await collect(g);
  const expected: number[] = [];
  const ctx = [...prompt];
  for (let i = 0; i < 5; i++) {
    const next = ctx.reduce((a, b) => a + b, 0) % 200;
    expected.push(next);
    ctx.push(next);
  }
  assert.deepEqual(toks.map((t) => t.id), expected);
  assert.deepEqual(model.calls, [prompt, ...expected.slice(0, 4).map((id) => [id])]);
  assert.equal(g.stats.finishReason, 'length');
  assert.equal(g.stats.promptTokens, 3);
  assert.equal(g.stats.generatedTokens, 5);
  assert.equal(g.stats.decodeTokens, 4);
});

test('EOS ends the text and is yielded with empty text; ignoreEos carries on', async () => {
  const g = generate(scripted(utf8('Hi'), 1), bytes, [32], { maxNewTokens: 10 });
  const toks = await collect(g);
  assert.deepEqual(toks, [{ id: 72, text: 'H' }, { id: 105, text: 'i' }, { id: EOS, text: '' }]);
  assert.equal(g.stats.finishReason, 'eos');

  const h = generate(scripted([...utf8('Hi'), EOS, 33], 1), bytes, [32], { maxNewTokens: 4, ignoreEos: true });
  const all = await collect(h);
  assert.deepEqual(texts(all), ['H', 'i', '<|endoftext|>', '!']);
  assert.equal(h.stats.finishReason, 'length');
});

test('maxNewTokens bounds the tokens; 0 generates nothing and never runs the model', async () => {
  const model = scripted(utf8('abcdefgh'), 1);
  assert.equal((await collect(generate(model, bytes, [32], { maxNewTokens: 3 }))).length, 3);
  const idle = scripted(utf8('abc'), 1);
  const g = generate(idle, bytes, [32], { maxNewTokens: 0 });
  assert.deepEqual(await collect(g), []);
  assert.equal(idle.calls.length, 0);
  assert.equal(g.stats.finishReason, 'length');
});

test('a stop string spanning tokens ends the text before it; held-back text is released when it does not match', async () => {
  const g = generate(scripted(utf8('ab\n\ncd'), 1), bytes, [32], { stop: '\n\n', maxNewTokens: 20 });
  const toks = await collect(g);
  assert.deepEqual(toks.map((t) => t.id), utf8('ab\n\n'));
  assert.deepEqual(texts(toks), ['a', 'b', '', '']);
  assert.equal(g.stats.finishReason, 'stop');

  // "bc" could become "bcX": held back, then released with "d".
  const h = await collect(generate(scripted(utf8('abcd'), 1), bytes, [32], { stop: ['bcX'], maxNewTokens: 4 }));
  assert.deepEqual(texts(h), ['a', '', '', 'bcd']);

  // Held-back text at maxNewTokens is released with the last token.
  const m = await collect(generate(scripted(utf8('abc'), 1), bytes, [32], { stop: ['bcX'], maxNewTokens: 3 }));
  assert.deepEqual(texts(m), ['a', '', 'bc']);

  // Held-back text at EOS is released with the EOS token.
  const e = await collect(generate(scripted(utf8('ab'), 1), bytes, [32], { stop: ['bX'], maxNewTokens: 9 }));
  assert.deepEqual(e, [{ id: 97, text: 'a' }, { id: 98, text: '' }, { id: EOS, text: 'b' }]);

  // Of several stop strings the earliest in the text wins; the text before it in the same token is kept.
  const s = await collect(generate(scripted(utf8('xy END. STOP'), 1), bytes, [32], { stop: ['STOP', 'D.'], maxNewTokens: 30 }));
  assert.equal(texts(s).join(''), 'xy EN');
  assert.equal(s.length, utf8('xy END.').length);

  // A stop string in the first token.
  const f = await collect(generate(scripted(utf8('!go'), 1), bytes, [32], { stop: '!', maxNewTokens: 5 }));
  assert.deepEqual(f, [{ id: 33, text: '' }]);
});

test('multi-byte characters split across tokens are emitted whole, and the texts concatenate to decode(ids)', async () => {
  const s = 'a😀中b é🎉';
  const toks = await collect(generate(scripted(utf8(s), 1), bytes, [32], { maxNewTokens: 100 }));
  const ids = toks.map((t) => t.id).filter((id) => id !== EOS);
  assert.equal(texts(toks).join(''), s);
  assert.equal(texts(toks).join(''), decodeAll(ids));
  // The emoji's four bytes: three empty texts, then the character.
  assert.deepEqual(texts(toks).slice(1, 5), ['', '', '', '😀']);
  // Every text is well-formed (no lone surrogates, no replacement characters).
  for (const t of toks) {
    assert.ok(!t.text.includes('\uFFFD'), JSON.stringify(t.text));
    encodeURIComponent(t.text); // throws URIError on a lone surrogate
  }

  // Cut inside a character by maxNewTokens: the incomplete bytes decode as U+FFFD, as decode(ids) does.
  const cut = await collect(generate(scripted(utf8('x😀'), 1), bytes, [32], { maxNewTokens: 3 }));
  assert.equal(texts(cut).join(''), decodeAll(cut.map((t) => t.id)));
  assert.equal(texts(cut).join(''), 'x\uFFFD');

  // A stop string made of a multi-byte character.
  const st = await collect(generate(scripted(utf8('ab中cd'), 1), bytes, [32], { stop: '中', maxNewTokens: 20 }));
  assert.equal(texts(st).join(''), 'ab');
});

test('a prompt longer than the context is an error; generation stops when the context is full', async () => {
  assert.throws(() => generate(scripted([], 9, 8), bytes, new Array(9).fill(65)),
    (e: unknown) => e instanceof MugptError && /prompt has 9 tokens, more than the model's context of 8/.test(e.message));
  // Prompt 5 of 8 positions: prefill (5), then 3 one-token steps (8); the 4th token is sampled, not fed.
  const model = scripted(utf8('abcdefgh'), 5, 8);
  const g = generate(model, bytes, utf8('12345'), { maxNewTokens: 100 });
  const toks = await collect(g);
  assert.equal(toks.length, 4);
  assert.equal(g.stats.finishReason, 'context');
  const full = generate(scripted(utf8('z'), 8, 8), bytes, utf8('12345678'), { maxNewTokens: 100 });
  assert.deepEqual(await collect(full), [{ id: 122, text: 'z' }]);
  assert.equal(full.stats.finishReason, 'context');
});

test('prompts: text is encoded, ids are checked, an empty prompt starts from EOS', async () => {
  const model = scripted(utf8('ok'), 3);
  await collect(generate(model, bytes, 'abc', { maxNewTokens: 1 }));
  assert.deepEqual(model.calls[0], utf8('abc'));
  for (const bad of [[-1], [257], [1.5], [NaN]]) {
    assert.throws(() => generate(model, bytes, bad as number[]), /prompt token 0 is .*integers in \[0, 257\)/);
  }
  assert.throws(() => generate(model, bytes, 42 as unknown as string), /prompt must be a string or an array/);
  const small = new FakeModel(() => new Float32Array(100), Infinity, 100);
  assert.throws(() => generate(small, bytes, 'az'), /tokenizer gives token id 122 \(token 1\), outside the model's vocabulary \[0, 100\)/);
  const empty = scripted(utf8('x'), 1);
  await collect(generate(empty, bytes, '', { maxNewTokens: 1 }));
  assert.deepEqual(empty.calls[0], [EOS]);
});

test('bad options throw a MugptError naming the option, before any model step', () => {
  const model = scripted([], 1);
  const cases: Array<[GenerateOptions, RegExp]> = [
    [{ temperature: -0.1 }, /temperature must be/],
    [{ temperature: NaN }, /temperature must be/],
    [{ topP: 0 }, /topP must be a number in \(0, 1\]/],
    [{ topP: 1.01 }, /topP must be/],
    [{ topK: -1 }, /topK must be an integer/],
    [{ topK: 2.5 }, /topK must be/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty must be .* > 0/],
    [{ repetitionPenalty: -1 }, /repetitionPenalty must be/],
    [{ maxNewTokens: -1 }, /maxNewTokens must be an integer/],
    [{ maxNewTokens: 1.5 }, /maxNewTokens must be/],
    [{ seed: -3 }, /seed must be an integer/],
    [{ seed: 0.5 }, /seed must be/],
    [{ stop: '' }, /stop must be a non-empty string/],
    [{ stop: ['a', ''] }, /stop must be/],
    [{ stop: 7 as unknown as string }, /stop must be/],
    [{ ignoreEos: 'yes' as unknown as boolean }, /ignoreEos must be true or false/],
    [{ temperature: '1' as unknown as number }, /temperature must be .* got "1"/],
    [{ top_p: 0.9 } as unknown as GenerateOptions, /unknown generate option "top_p"/],
  ];
  for (const [opts, re] of cases) {
    assert.throws(() => generate(model, bytes, [32], opts), (e: unknown) => e instanceof MugptError && re.test(e.message),
      JSON.stringify(opts));
  }
  assert.equal(model.calls.length, 0);
});

test('sampling through generate is reproducible for a seed, and the seed is reported', async () => {
  // A flat distribution over the 26 letters.
  const model = new FakeModel(() => {
    const l = new Float32Array(257).fill(-Infinity);
    for (let i = 97; i < 123; i++) l[i] = 0;
    return l;
  });
  const run = async (seed?: number) => {
    const g = generate(model, bytes, [32], { maxNewTokens: 30, temperature: 1, seed });
    const ids = (await collect(g)).map((t) => t.id);
    return { ids, seed: g.stats.seed };
  };
  const a = await run(123), b = await run(123), c = await run(124);
  assert.deepEqual(a.ids, b.ids);
  assert.notDeepEqual(a.ids, c.ids);
  assert.equal(a.seed, 123);
  const r = await run();
  assert.deepEqual((await run(r.seed)).ids, r.ids, 'the reported random seed reproduces the run');
});

test('repetition penalty in generation covers the prompt and the generated tokens', async () => {
  // Fixed logits: a=3, b=2.5, c=2; penalty 2 steers greedy decoding away from what was seen.
  const model = new FakeModel(() => {
    const l = new Float32Array(257).fill(-10);
    l[97] = 3; l[98] = 2.5; l[99] = 2;
    return l;
  });
  const ids = async (prompt: number[]) =>
    (await collect(generate(model, bytes, prompt, { maxNewTokens: 4, repetitionPenalty: 2 }))).map((t) => t.id);
  // a (3) → then a 1.5 < b 2.5 → b → then b 1.25 < c 2 → c → then a 1.5 > b 1.25, c 1 → a.
  assert.deepEqual(await ids([32]), [97, 98, 99, 97]);
  // "a" already in the prompt: b first.
  assert.deepEqual(await ids([97]), [98, 99, 97, 97]);
});

test('an abort signal ends the iteration between tokens', async () => {
  const ac = new AbortController();
  const g = generate(scripted(utf8('abcdef'), 1), bytes, [32], { maxNewTokens: 6, signal: ac.signal });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const t of g) {
      seen.push(t.text);
      if (seen.length === 2) ac.abort();
    }
  }, (e: unknown) => e instanceof Error && e.name === 'AbortError');
  assert.deepEqual(seen, ['a', 'b']);
  const pre = generate(scripted(utf8('abc'), 1), bytes, [32], { signal: AbortSignal.abort() });
  await assert.rejects(collect(pre), { name: 'AbortError' });
});

test('with the GPT-2 tokenizer: emoji and CJK split across BPE tokens stream whole, texts concatenate to decode(ids)', async () => {
  const tok = loadTokenizer('gpt2');
  const text = ' Hello 😀 世界 🎉! naïve 🇫🇷 — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 鼹鼠';
  const script = tok.encode(text);
  // The case under test: some tokens end inside a character.
  const fatal = new TextDecoder('utf-8', { fatal: true });
  assert.ok(script.some((id) => { try { fatal.decode(tok.decodeBytes([id])); return false; } catch { return true; } }));
  const g = generate(scripted(script, 1, Infinity, tok.vocabSize, 50256), tok, 'A', { maxNewTokens: 200 });
  const toks = await collect(g);
  assert.equal(g.stats.finishReason, 'eos');
  assert.deepEqual(toks.map((t) => t.id), [...script, 50256]);
  assert.equal(texts(toks).join(''), text);
  assert.equal(texts(toks).join(''), tok.decode(script));
  for (const t of toks) assert.ok(!t.text.includes('\uFFFD'), JSON.stringify(t.text));

  // A stop string inside a run of multi-byte tokens.
  const s = await collect(generate(scripted(script, 1, Infinity, tok.vocabSize, 50256), tok, 'A', { stop: '界 🎉', maxNewTokens: 200 }));
  assert.equal(texts(s).join(''), ' Hello 😀 世');
});
