// SlimPajama-style deduplication of a document stream: exact duplicates by SHA-256 of the NFC text,
// near duplicates by MinHash-LSH on character n-grams of the cleaned text, connected components across
// all documents, one document kept per component.
//
// Library API (what `mugpt data dedup` and the corpus build call):
//
//   const { keep, stats } = await dedup(docs, { threshold: 0.8, ngram: 13, permutations: 128 });
//
//   docs      AsyncIterable<string> (or Iterable): the texts, in input order; document i is the i-th text.
//   options   ngram (13), permutations (128), threshold (0.8), bands × rows (default: chosen for the
//             threshold and permutations as datasketch does; 9 × 13 for 0.8 / 128; give both to override),
//             seed (1) of the hash family, keep ('first': the earliest document of each component,
//             SlimPajama's rule; 'longest': the one with most UTF-8 bytes, earliest on ties),
//             exact / near (true: run that step), threads (worker threads; default all cores;
//             0 = in this thread), onProgress({documents, bytes}) after each batch, onCandidate(later,
//             earlier) for each LSH candidate edge.
//   result    keep: Uint8Array[documents], 1 = keep, by input index; stats: counts and bytes per step.
//
// Memory: the texts are not kept. Per document the main thread holds its byte length, a 128-bit exact
// hash and one 64-bit key per band in open-addressing tables, and a union-find parent: about 270 bytes
// for 9 bands, whatever the document's size. Signatures are computed and banded in the workers, on
// batches of about 1 MB, with at most two batches in flight per worker.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { MugptError, check } from '../errors.js';
import { KeyTable, optimalBandsRows } from './lsh.js';
import { UnionFind } from './components.js';
import { signBatch, WORKER_KIND, type SignedBatch, type SignParams } from './dedup-worker.js';

export interface DedupProgress {
  documents: number;
  bytes: number;
}

export interface DedupOptions {
  ngram?: number;
  permutations?: number;
  threshold?: number;
  bands?: number;
  rows?: number;
  seed?: number;
  keep?: 'first' | 'longest';
  /** Detect exact duplicates (default true) / near duplicates (default true). */
  exact?: boolean;
  near?: boolean;
  threads?: number;
  /** Target UTF-16 length of a batch sent to a worker (default 1 Mi). */
  batchChars?: number;
  onProgress?: (p: DedupProgress) => void;
  onCandidate?: (later: number, earlier: number) => void;
}

export interface DedupStats {
  documents: number;
  bytes: number;
  /** Documents whose normalized text equals an earlier one's (removed, one copy of each text kept). */
  exactDuplicates: number;
  exactDuplicateBytes: number;
  /** Other documents removed because they share a component with a kept one. */
  nearDuplicates: number;
  nearDuplicateBytes: number;
  kept: number;
  keptBytes: number;
  /** Components of two or more documents. */
  clusters: number;
  /** LSH candidate edges (a band key already seen); SlimPajama's "duplicate pairs". */
  candidatePairs: number;
  /** Documents whose cleaned text is empty (no n-grams: only exact dedup applies). */
  emptyAfterCleaning: number;
  ngram: number;
  permutations: number;
  threshold: number;
  bands: number;
  rows: number;
  threads: number;
  seconds: number;
  /** Summed over workers: normalize + SHA-256 + clean; n-grams + MinHash + band keys. Main thread: LSH tables + union-find. */
  stageSeconds: { normalizeClean: number; signatures: number; lshComponents: number };
  /** Bytes of the main thread's per-document tables at the end. */
  indexBytes: number;
}

export interface DedupResult {
  keep: Uint8Array;
  stats: DedupStats;
}

/** Options after validation, with bands × rows chosen. */
export interface ResolvedDedupOptions {
  ngram: number;
  permutations: number;
  threshold: number;
  bands: number;
  rows: number;
  seed: number;
  keep: 'first' | 'longest';
  exact: boolean;
  near: boolean;
  threads: number;
}

function checkInt(v: number, name: string, lo: number, hi: number): void {
  check(Number.isInteger(v) && v >= lo && v <= hi, `${name} must be an integer in [${lo}, ${hi}], got ${v}`);
}

/** Validates dedup options (names as the CLI flags) and fills the defaults, choosing bands × rows when not given. */
export function resolveDedupOptions(opts: DedupOptions = {}): ResolvedDedupOptions {
  const ngram = opts.ngram ?? 13;
  const permutations = opts.permutations ?? 128;
  const threshold = opts.threshold ?? 0.8;
  const seed = opts.seed ?? 1;
  const keep = opts.keep ?? 'first';
  const threads = opts.threads ?? availableParallelism();
  checkInt(ngram, '--ngram', 1, 1000);
  checkInt(permutations, '--permutations', 1, 4096);
  check(typeof threshold === 'number' && threshold > 0 && threshold < 1, `--threshold must be a number in (0, 1), got ${threshold}`);
  checkInt(seed, 'seed', 0, 0xffffffff);
  check(keep === 'first' || keep === 'longest', `--keep must be 'first' or 'longest', got ${String(keep)}`);
  checkInt(threads, '--threads', 0, 256);
  let bands: number;
  let rows: number;
  if (opts.bands !== undefined || opts.rows !== undefined) {
    check(opts.bands !== undefined && opts.rows !== undefined, '--bands and --rows must be given together');
    bands = opts.bands;
    rows = opts.rows;
    checkInt(bands, '--bands', 1, permutations);
    checkInt(rows, '--rows', 1, permutations);
    check(bands * rows <= permutations, `--bands × --rows (${bands} × ${rows}) must not exceed --permutations (${permutations})`);
  } else {
    ({ bands, rows } = optimalBandsRows(threshold, permutations));
  }
  return { ngram, permutations, threshold, bands, rows, seed, keep, exact: opts.exact ?? true, near: opts.near ?? true, threads };
}

/** A growable typed array of per-document values. */
class Column<T extends Float64Array | Uint8Array> {
  n = 0;
  constructor(public data: T, private readonly make: (n: number) => T) {}
  push(v: number): void {
    if (this.n === this.data.length) {
      const grown = this.make(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.n++] = v;
  }
}

/** A pool of dedup workers; run() resolves with a batch's results, in any order. */
class WorkerPool {
  private workers: Array<{ w: Worker; busy: number }> = [];
  private waiting = new Map<number, { resolve: (r: SignedBatch) => void; reject: (e: unknown) => void; worker: Worker }>();
  private nextId = 0;

  constructor(threads: number) {
    const url = new URL('./dedup-worker.js', import.meta.url);
    for (let i = 0; i < threads; i++) {
      const w = new Worker(url, { workerData: { kind: WORKER_KIND } });
      const entry = { w, busy: 0 };
      w.on('message', (msg: { id: number; result: SignedBatch }) => {
        const job = this.waiting.get(msg.id);
        if (!job) return;
        this.waiting.delete(msg.id);
        entry.busy--;
        job.resolve(msg.result);
      });
      const fail = (err: unknown): void => {
        for (const [id, job] of this.waiting) {
          if (job.worker !== w) continue;
          this.waiting.delete(id);
          job.reject(err);
        }
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`dedup worker exited with code ${code}`)));
      this.workers.push(entry);
    }
  }

  run(texts: string[], params: SignParams): Promise<SignedBatch> {
    const entry = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    entry.busy++;
    const id = this.nextId++;
    return new Promise<SignedBatch>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: entry.w });
      entry.w.postMessage({ id, texts, params });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((e) => e.w.terminate()));
  }
}

/** The documents in batches of about batchChars characters (at most maxDocs each); a non-string is refused. */
async function* batches(docs: AsyncIterable<string> | Iterable<string>, batchChars: number, maxDocs: number): AsyncGenerator<string[]> {
  let batch: string[] = [];
  let chars = 0;
  let index = 0;
  for await (const text of docs) {
    if (typeof text !== 'string') throw new MugptError(`dedup: document ${index} is not a string (got ${typeof text})`);
    index++;
    batch.push(text);
    chars += text.length;
    if (chars >= batchChars || batch.length >= maxDocs) {
      yield batch;
      batch = [];
      chars = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Components → the document each keeps (the first, or the longest under keep 'longest'), with the
 * counts of the stats: components of two or more documents, kept documents and bytes, exact duplicates.
 */
function keptDocuments(uf: UnionFind, bytes: Float64Array, exactFlag: Uint8Array, rule: 'first' | 'longest'): {
  keep: Uint8Array; clusters: number; kept: number; keptBytes: number; exactDuplicates: number; exactDuplicateBytes: number;
} {
  const n = uf.size;
  const keep = new Uint8Array(n);
  const size = new Int32Array(n);
  const best = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    size[r]++;
    const b = best[r];
    if (b < 0 || (rule === 'longest' && bytes[i] > bytes[b])) best[r] = i;
  }
  let clusters = 0;
  let kept = 0, keptBytes = 0, exactDuplicates = 0, exactDuplicateBytes = 0;
  for (let i = 0; i < n; i++) {
    if (size[i] >= 2) clusters++;
    if (best[i] >= 0) { keep[best[i]] = 1; kept++; keptBytes += bytes[best[i]]; }
    if (exactFlag[i]) { exactDuplicates++; exactDuplicateBytes += bytes[i]; }
  }
  return { keep, clusters, kept, keptBytes, exactDuplicates, exactDuplicateBytes };
}

/**
 * Deduplicates a stream of documents (see the comment at the top of this file).
 * Throws MugptError on invalid options or a non-string document.
 */
export async function dedup(docs: AsyncIterable<string> | Iterable<string>, opts: DedupOptions = {}): Promise<DedupResult> {
  const o = resolveDedupOptions(opts);
  const started = performance.now();
  const params: SignParams = { ngram: o.ngram, permutations: o.permutations, seed: o.seed, bands: o.bands, rows: o.rows, near: o.near };
  const batchChars = opts.batchChars ?? 1 << 20;
  const maxBatchDocs = 4096;

  const uf = new UnionFind(1 << 12);
  const exactTable = new KeyTable(4, 1 << 12);
  const bandTable = new KeyTable(2, (1 << 12) * o.bands);
  const bytes = new Column(new Float64Array(1 << 12), (n) => new Float64Array(n));
  const exactFlag = new Column(new Uint8Array(1 << 12), (n) => new Uint8Array(n));
  let totalBytes = 0;
  let candidatePairs = 0;
  let emptyAfterCleaning = 0;
  let cleanMs = 0;
  let signMs = 0;
  let lshMs = 0;

  // Folds a signed batch into the tables; batches are applied in input order.
  const apply = (r: SignedBatch): void => {
    const t0 = performance.now();
    cleanMs += r.cleanMs;
    signMs += r.signMs;
    const stride = o.bands * 2;
    for (let d = 0; d < r.count; d++) {
      const doc = uf.add();
      bytes.push(r.bytes[d]);
      totalBytes += r.bytes[d];
      const first = o.exact ? exactTable.insertOrGet(r.exact, d * 4, doc) : -1;
      exactFlag.push(first >= 0 ? 1 : 0);
      if (first >= 0) { uf.union(doc, first); continue; }
      if (!o.near) continue;
      if (r.shingles[d] === 0) { emptyAfterCleaning++; continue; }
      for (let j = 0; j < o.bands; j++) {
        const earlier = bandTable.insertOrGet(r.keys, d * stride + 2 * j, doc);
        if (earlier < 0) continue;
        candidatePairs++;
        opts.onCandidate?.(doc, earlier);
        uf.union(doc, earlier);
      }
    }
    lshMs += performance.now() - t0;
    opts.onProgress?.({ documents: uf.size, bytes: totalBytes });
  };

  const pool = o.threads > 0 ? new WorkerPool(o.threads) : null;
  const inflight: Array<Promise<SignedBatch>> = [];
  const maxInflight = Math.max(1, 2 * o.threads);
  const submit = async (texts: string[]): Promise<void> => {
    if (!pool) { apply(signBatch(texts, params)); return; }
    const p = pool.run(texts, params);
    p.catch(() => { /* awaited in order below; this only keeps an early failure from being "unhandled" */ });
    inflight.push(p);
    while (inflight.length >= maxInflight) apply(await inflight.shift()!);
  };

  try {
    for await (const batch of batches(docs, batchChars, maxBatchDocs)) await submit(batch);
    while (inflight.length > 0) apply(await inflight.shift()!);
  } finally {
    await pool?.close();
  }

  const t0 = performance.now();
  const n = uf.size;
  const { keep, clusters, kept, keptBytes, exactDuplicates, exactDuplicateBytes } = keptDocuments(uf, bytes.data, exactFlag.data, o.keep);
  lshMs += performance.now() - t0;

  return {
    keep,
    stats: {
      documents: n,
      bytes: totalBytes,
      exactDuplicates,
      exactDuplicateBytes,
      nearDuplicates: n - kept - exactDuplicates,
      nearDuplicateBytes: totalBytes - keptBytes - exactDuplicateBytes,
      kept,
      keptBytes,
      clusters,
      candidatePairs,
      emptyAfterCleaning,
      ngram: o.ngram,
      permutations: o.permutations,
      threshold: o.threshold,
      bands: o.bands,
      rows: o.rows,
      threads: o.threads,
      seconds: (performance.now() - started) / 1000,
      stageSeconds: { normalizeClean: cleanMs / 1000, signatures: signMs / 1000, lshComponents: lshMs / 1000 },
      indexBytes: uf.bytes + exactTable.bytes + bandTable.bytes + bytes.data.byteLength + exactFlag.data.byteLength,
    },
  };
}
