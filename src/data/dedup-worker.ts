// The per-document work of the dedup, run on batches in worker threads (or inline when threads = 0):
// NFC-normalize, SHA-256 of the normalized text (first 128 bits, exact duplicates), SlimPajama cleaning,
// character n-gram shingle hashes, MinHash signature, LSH band keys. Only the fixed-size results go
// back to the main thread; the texts and signatures are dropped here.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { normalizeText } from './normalize.js';
import { cleanCodePoints } from './clean.js';
import { minhashParams, minhashFromHashes, shingleHashes, type MinHashParams } from './minhash.js';
import { bandKeys } from './lsh.js';

/** What a worker needs to sign documents. */
export interface SignParams {
  ngram: number;
  permutations: number;
  seed: number;
  bands: number;
  rows: number;
  /** false: skip the n-grams, MinHash and band keys (exact dedup only). */
  near: boolean;
}

/** The results for a batch of n documents. */
export interface SignedBatch {
  count: number;
  /** Int32Array[n × 4]: the first 128 bits of SHA-256 of each normalized text. */
  exact: Int32Array;
  /** Int32Array[n × bands × 2]: 64-bit key of each band. */
  keys: Int32Array;
  /** Int32Array[n]: number of shingles (0: the cleaned text is empty, the document takes no part in LSH). */
  shingles: Int32Array;
  /** Float64Array[n]: UTF-8 bytes of each original text. */
  bytes: Float64Array;
  /** Milliseconds spent normalizing + hashing + cleaning, and shingling + MinHash + band keys. */
  cleanMs: number;
  signMs: number;
}

let cached: { key: string; family: MinHashParams } | null = null;

function familyFor(p: SignParams): MinHashParams {
  const key = `${p.ngram}/${p.permutations}/${p.seed}`;
  if (!cached || cached.key !== key) cached = { key, family: minhashParams(p.ngram, p.permutations, p.seed) };
  return cached.family;
}

let cps: Uint32Array = new Uint32Array(1 << 16);
let hashes: Int32Array = new Int32Array(1 << 16);

/** Signs a batch of documents (see SignedBatch). */
export function signBatch(texts: string[], p: SignParams): SignedBatch {
  const n = texts.length;
  const family = familyFor(p);
  const exact = new Int32Array(n * 4);
  const keys = new Int32Array(n * p.bands * 2);
  const shingles = new Int32Array(n);
  const bytes = new Float64Array(n);
  const sig = new Uint32Array(p.permutations);
  let cleanMs = 0;
  let signMs = 0;
  for (let d = 0; d < n; d++) {
    const t0 = performance.now();
    const text = normalizeText(texts[d]);
    bytes[d] = Buffer.byteLength(texts[d], 'utf8');
    const digest = createHash('sha256').update(text, 'utf8').digest();
    for (let k = 0; k < 4; k++) exact[d * 4 + k] = digest.readInt32LE(4 * k);
    const cleaned = cleanCodePoints(text, cps);
    cps = cleaned.cps;
    const t1 = performance.now();
    if (!p.near) { cleanMs += t1 - t0; continue; }
    const sh = shingleHashes(cps, cleaned.length, p.ngram, hashes);
    hashes = sh.hashes;
    shingles[d] = sh.count;
    if (sh.count > 0) {
      minhashFromHashes(hashes, sh.count, family, sig);
      bandKeys(sig, p.bands, p.rows, keys, d * p.bands * 2);
    }
    signMs += performance.now() - t1;
    cleanMs += t1 - t0;
  }
  return { count: n, exact, keys, shingles, bytes, cleanMs, signMs };
}

/** Marker in workerData that makes this module serve dedup batches (and not when merely imported). */
export const WORKER_KIND = 'mugpt-dedup';

if (parentPort && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  const port = parentPort;
  port.on('message', (msg: { id: number; texts: string[]; params: SignParams }) => {
    const r = signBatch(msg.texts, msg.params);
    port.postMessage({ id: msg.id, result: r }, [r.exact.buffer, r.keys.buffer, r.shingles.buffer, r.bytes.buffer] as ArrayBuffer[]);
  });
}
