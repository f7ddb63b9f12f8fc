// BPE training: hand-checked first merges, the incremental pair counts against a naive trainer that
// recounts every pair each step, and a tokenizer trained on State of the Union text that
// round-trips, compresses, saves as tokenizer.json and loads back with identical ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTokenizer, MugptError, saveTokenizerJson, trainBpe } from '../src/index.js';
import { tokenizerJson } from '../src/tokenizer/save.js';
import { gpt2ByteOrder } from '../src/tokenizer/bytes.js';
import { gpt2Regex } from '../src/tokenizer/pretokenize.js';
import { scratch } from './helpers.js';
import { EDGE_CASES, generatedTexts, sotuTexts } from './tokenizer-texts.js';

const mergesOf = (tok: unknown): string[] => (tokenizerJson(tok as never) as { model: { merges: string[] } }).model.merges;

test('tiny corpus: the expected first merges, in order', async () => {
  // Words: "ab" ×1, " ab" ×2, " abc" ×1. Pair counts: (a,b) 4, (Ġ,a) 3, (b,c) 1 → merge "a b";
  // then (Ġ,ab) 3, (ab,c) 1 → "Ġ ab"; then (Ġab,c) 1 → "Ġab c".
  const tok = await trainBpe(['ab ab ab abc'], { vocabSize: 256 + 3 + 1, minFrequency: 1 });
  assert.deepEqual(mergesOf(tok), ['a b', 'Ġ ab', 'Ġab c']);
  assert.equal(tok.vocabSize, 260);
  assert.equal(tok.eosTokenId, 259);
  assert.deepEqual(tok.encode(' abc ab'), [258, 257]);
  assert.deepEqual(tok.encode('x<|endoftext|>', { allowSpecial: true }), [87, 259]);
  // minFrequency 3 stops before the pair seen once.
  const t3 = await trainBpe(['ab ab ab abc'], { vocabSize: 300, minFrequency: 3 });
  assert.deepEqual(mergesOf(t3), ['a b', 'Ġ ab']);
  assert.equal(t3.vocabSize, 259);
});

test('ties go to the smaller pair of ids', async () => {
  // "xy" and " yx": (x,y), (Ġ,y), (y,x) all occur once; ids x=87, y=88, Ġ=220.
  const tok = await trainBpe(['xy yx'], { vocabSize: 256 + 2 + 1, minFrequency: 1 });
  assert.deepEqual(mergesOf(tok), ['x y', 'y x']);
});

/** A reference trainer that recounts every pair at every step (same tie rule). */
function naiveMerges(texts: string[], nMerges: number): string[] {
  const idOf = new Map<number, number>(gpt2ByteOrder.map((b, id) => [b, id]));
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of t.match(gpt2Regex()) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].map(([w, c]) => ({ s: [...Buffer.from(w, 'utf8')].map((b) => idOf.get(b)!), c }));
  const out: Array<[number, number]> = [];
  for (let r = 0; r < nMerges; r++) {
    const pc = new Map<number, number>();
    for (const { s, c } of words) for (let i = 0; i + 1 < s.length; i++) pc.set(s[i] * 65536 + s[i + 1], (pc.get(s[i] * 65536 + s[i + 1]) ?? 0) + c);
    let bestK = -1, bestC = 1; // minFrequency 2
    for (const [k, c] of pc) if (c > bestC || (c === bestC && k < bestK)) { bestK = k; bestC = c; }
    if (bestK < 0) break;
    const a = Math.floor(bestK / 65536), b = bestK % 65536, id = 256 + r;
    out.push([a, b]);
    for (const w of words) {
      const s: number[] = [];
      for (let i = 0; i < w.s.length;) if (i + 1 < w.s.length && w.s[i] === a && w.s[i + 1] === b) { s.push(id); i += 2; } else s.push(w.s[i++]);
      w.s = s;
    }
  }
  return out.map(([a, b]) => `${a} ${b}`);
}

test('incremental pair counts give the same merges as recounting every step', async () => {
  const texts = [sotuTexts(50)[1].slice(0, 60000), ...EDGE_CASES.filter((t) => !t.includes('<|endoftext|>')), ...generatedTexts(100, 3)];
  const tok = await trainBpe(texts, { vocabSize: 256 + 300 + 1 });
  const spec = (tok as unknown as { spec: { mergePairs: Int32Array } }).spec;
  const ours: string[] = [];
  for (let r = 0; r < spec.mergePairs.length / 2; r++) ours.push(`${spec.mergePairs[2 * r]} ${spec.mergePairs[2 * r + 1]}`);
  assert.equal(ours.length, 300);
  assert.deepEqual(ours, naiveMerges(texts, 300));
});

test('trained on State of the Union text: round-trips, compresses, saves and reloads', async () => {
  const all = sotuTexts();
  const train = all.filter((_, i) => i % 10 === 0);   // 24 addresses, ~1.1 MB
  const heldOut = all.filter((_, i) => i % 10 === 5);
  async function* stream(): AsyncGenerator<string> { for (const t of train) yield t + '<|endoftext|>'; }
  const phases = new Set<string>();
  const tok = await trainBpe(stream(), { vocabSize: 2048, onProgress: (p) => phases.add(p.phase) });
  assert.deepEqual([...phases], ['count', 'merge']);
  assert.equal(tok.vocabSize, 2048);
  assert.equal(tok.eosTokenId, 2047);
  let bytes = 0, tokens = 0;
  for (const t of [...heldOut, ...EDGE_CASES, ...generatedTexts(200, 5)]) {
    const ids = tok.encode(t);
    assert.equal(tok.decode(ids), t);
    bytes += Buffer.byteLength(t, 'utf8');
    tokens += ids.length;
  }
  const gpt2Tokens = heldOut.reduce((s, t) => s + loadTokenizer('gpt2').encode(t).length, 0);
  const heldTokens = heldOut.reduce((s, t) => s + tok.encode(t).length, 0);
  assert.ok(tokens < 0.5 * bytes, `compression ${tokens} tokens for ${bytes} bytes`);
  assert.ok(heldTokens < 1.6 * gpt2Tokens, `held-out: ${heldTokens} tokens vs GPT-2's ${gpt2Tokens}`);
  assert.ok(mergesOf(tok).slice(0, 20).some((m) => m.replace(' ', '') === 'Ġthe'), 'an early merge builds " the"');

  const dir = scratch();
  saveTokenizerJson(tok, join(dir, 'tokenizer.json'));
  const back = loadTokenizer(join(dir, 'tokenizer.json'));
  assert.equal(back.vocabSize, 2048);
  assert.equal(back.eosTokenId, 2047);
  for (const t of heldOut.slice(0, 5)) assert.deepEqual(back.encode(t), tok.encode(t));
  assert.deepEqual(back.encode('a<|endoftext|>b', { allowSpecial: true }), tok.encode('a<|endoftext|>b', { allowSpecial: true }));
});

test('bad options are MugptErrors naming the option', async () => {
  const bad = async (opts: Parameters<typeof trainBpe>[1], pattern: RegExp, texts: unknown[] = ['x']): Promise<void> => {
    await assert.rejects(trainBpe(texts as string[], opts), (e: unknown) => e instanceof MugptError && pattern.test(e.message));
  };
  await bad({ vocabSize: 100 }, /vocabSize 100 must be an integer from 257/);
  await bad({ vocabSize: 1000.5 }, /vocabSize/);
  await bad({ vocabSize: 1000, minFrequency: 0 }, /minFrequency 0/);
  await bad({ vocabSize: 1000, specialTokens: [''] }, /specialTokens\[1\]/);
  await bad({ vocabSize: 1000 }, /text 1 is number/, ['ok', 5]);
});
