// Generates assets/gpt2-bpe.bin, the bundled GPT-2 vocabulary, from the GPT-2 ranks that the dev
// package js-tiktoken ships (base64 token bytes → id, ids 0…50255; `<|endoftext|>` = 50256).
// tiktoken's rank files hold tokens, not merges; the merge behind token r is recovered as HF's
// tiktoken converter does: run BPE on the token's bytes using only tokens of lower rank, which
// stops at exactly two parts. Run: node dist/tools/gpt2-asset.js
import gpt2 from 'js-tiktoken/ranks/gpt2';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic.js';
import { encodeAsset } from '../src/tokenizer/asset.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

const rankOf = new Map<string, number>();   // token bytes (latin1 string) → rank
const tokens: string[] = [];
for (const line of gpt2.bpe_ranks.split('\n').filter(Boolean)) {
  const [, offset, ...b64] = line.split(' ');
  b64.forEach((t, i) => {
    const bytes = Buffer.from(t, 'base64').toString('latin1');
    rankOf.set(bytes, Number(offset) + i);
    tokens[Number(offset) + i] = bytes;
  });
}
const eos = gpt2.special_tokens['<|endoftext|>'];
if (tokens.length !== 50256 || eos !== 50256) throw new Error(`unexpected gpt2 ranks: ${tokens.length} tokens, eos ${eos}`);

const byteOrder: number[] = [];
for (let id = 0; id < 256; id++) {
  if (tokens[id].length !== 1) throw new Error(`id ${id} is not a single byte`);
  byteOrder.push(tokens[id].charCodeAt(0));
}

/** BPE over tokens of rank < maxRank, tiktoken-style (merge the adjacent pair whose concatenation ranks lowest). */
function splitBelow(token: string, maxRank: number): string[] {
  const parts = [...token];
  for (;;) {
    let best = maxRank, bi = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rankOf.get(parts[i] + parts[i + 1]);
      if (r !== undefined && r < best) { best = r; bi = i; }
    }
    if (bi < 0) return parts;
    parts.splice(bi, 2, parts[bi] + parts[bi + 1]);
  }
}

const nMerges = tokens.length - 256;
const mergePairs = new Int32Array(2 * nMerges);
for (let r = 256; r < tokens.length; r++) {
  const parts = splitBelow(tokens[r], r);
  if (parts.length !== 2) throw new Error(`token ${r} does not split into two lower-ranked tokens`);
  mergePairs[2 * (r - 256)] = rankOf.get(parts[0])!;
  mergePairs[2 * (r - 256) + 1] = rankOf.get(parts[1])!;
}

const out = join(root, 'assets', 'gpt2-bpe.bin');
const data = encodeAsset(byteOrder, mergePairs, [{ id: eos, content: '<|endoftext|>', special: true }], eos);
writeFileAtomic(out, data);
console.log(`wrote ${out}: ${tokens.length + 1} tokens, ${nMerges} merges, ${data.length} bytes`);
