// GPT-2 encode/decode throughput of mugpt's tokenizer against js-tiktoken (`gpt2`) and
// gpt-tokenizer (`r50k_base`), same text, same process:  node dist/bench/tokenizer.js [passes]
// Text: all 233 State of the Union addresses, 500 SpamAssassin mails and 3,000 generated
// mixed-script strings. Each tokenizer is loaded fresh; the figure is the best of `passes` passes
// (the first also warms the JIT and the tokenizers' piece caches), in MB of UTF-8 input per second.
// Token counts are printed so that a mismatch between the tokenizers would show.
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { decode as gtDecode, encode as gtEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { GPT2_ASSET } from '../src/tokenizer/load.js';
import { readAsset } from '../src/tokenizer/asset.js';
import { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { generatedTexts, sotuTexts, spamTexts } from '../test/tokenizer-texts.js';

interface Peer { name: string; encode: (s: string) => number[]; decode: (ids: number[]) => string }

export async function main(passes = 3): Promise<void> {
  const texts = [...sotuTexts(), ...spamTexts(500), ...generatedTexts(3000)];
  const mb = texts.reduce((s, t) => s + Buffer.byteLength(t, 'utf8'), 0) / 1e6;
  const mugpt = new BpeTokenizer(readAsset(GPT2_ASSET));
  const tiktoken = getEncoding('gpt2');
  const peers: Peer[] = [
    { name: 'mugpt', encode: (s) => mugpt.encode(s), decode: (ids) => mugpt.decode(ids) },
    { name: 'gpt-tokenizer 4.0.0', encode: (s) => gtEncode(s, { disallowedSpecial: new Set() }), decode: (ids) => gtDecode(ids) },
    { name: 'js-tiktoken 1.0.21', encode: (s) => tiktoken.encode(s, [], []), decode: (ids) => tiktoken.decode(ids) },
  ];
  console.log(`GPT-2 tokenizer: ${texts.length} texts, ${mb.toFixed(2)} MB UTF-8; best of ${passes} passes; node ${process.version}`);
  // Passes interleave the tokenizers, so that load from other processes hits them alike.
  const te = peers.map(() => Infinity), td = peers.map(() => Infinity), tokens = peers.map(() => 0);
  const time = (fn: () => void): number => { const t0 = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t0) / 1e9; };
  for (let pass = 0; pass < passes; pass++) {
    peers.forEach((p, k) => {
      if (p.name.startsWith('js-tiktoken') && pass >= 2) return;   // ~20x slower: two passes are enough
      let ids: number[][] = [];
      te[k] = Math.min(te[k], time(() => { ids = texts.map((t) => p.encode(t)); }));
      td[k] = Math.min(td[k], time(() => { for (const a of ids) p.decode(a); }));
      tokens[k] = ids.reduce((s, a) => s + a.length, 0);
    });
  }
  const enc = te.map((t) => mb / t), dec = td.map((t) => mb / t);
  peers.forEach((p, k) => {
    console.log(`${p.name.padEnd(20)} encode ${enc[k].toFixed(2).padStart(6)} MB/s   decode ${dec[k].toFixed(1).padStart(6)} MB/s   ${tokens[k]} tokens`);
  });
  for (let i = 1; i < peers.length; i++) {
    console.log(`mugpt / ${peers[i].name}: encode ×${(enc[0] / enc[i]).toFixed(2)}, decode ×${(dec[0] / dec[i]).toFixed(2)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv[2] ? Number(process.argv[2]) : 3);
