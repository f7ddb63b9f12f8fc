import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dedup, resolveDedupOptions } from '../src/data/dedup.js';
import { jaccard, ngramSet } from '../src/data/jaccard.js';
import { MugptError } from '../src/errors.js';
import { rng, words } from './data-dedup-testlib.js';

/** A copy of text with `edits` words replaced (near duplicate for small edits). */
function edit(r: () => number, text: string, edits: number): string {
  const w = text.split(' ');
  for (let k = 0; k < edits; k++) w[Math.floor(r() * w.length)] = words(r, 1)[0];
  return w.join(' ');
}

test('exact and near duplicates are removed, the first of each component kept, counts and bytes reported', async () => {
  const r = rng(11);
  const a = words(r, 400).join(' ');
  const b = words(r, 400).join(' ');
  const docs = [
    a,                                  // 0 kept
    b,                                  // 1 kept
    a,                                  // 2 exact duplicate of 0
    edit(r, a, 2),                      // 3 near duplicate of 0 (J ≈ 0.95)
    b.toUpperCase() + '!!!',            // 4 same cleaned text as 1: near duplicate (J = 1), not exact
    words(r, 400).join(' '),            // 5 kept
    'Cafe\u0301 ' + b,                  // 6 near duplicate of 1 (one word added)
    'Caf\u00e9 ' + b,                   // 7 equal to 6 after NFC: exact duplicate
  ];
  const { keep, stats } = await dedup(docs, { threads: 0 });
  assert.deepEqual([...keep], [1, 1, 0, 0, 0, 1, 0, 0]);
  assert.equal(stats.documents, 8);
  assert.equal(stats.exactDuplicates, 2);
  assert.equal(stats.nearDuplicates, 3);  // 3 (joined to 0), 4 and 6 (joined to 1); 7 is an exact copy of 6
  assert.equal(stats.kept, 3);
  assert.equal(stats.clusters, 2);
  const bytes = docs.map((d) => Buffer.byteLength(d));
  assert.equal(stats.bytes, bytes.reduce((s, v) => s + v, 0));
  assert.equal(stats.keptBytes, bytes[0] + bytes[1] + bytes[5]);
  assert.equal(stats.exactDuplicateBytes, bytes[2] + bytes[7]);
  assert.equal(stats.bands * stats.rows, 117);
  assert.ok(jaccard(ngramSet(docs[0]), ngramSet(docs[3])) > 0.9);
});

test('identical documents always collide; disjoint documents never do', async () => {
  const r = rng(12);
  const base = Array.from({ length: 60 }, () => words(r, 120).join(' '));
  const edges: Array<[number, number]> = [];
  // Each base document twice, the copy differing only in case and punctuation (so not an exact duplicate).
  const docs = [...base, ...base.map((t) => t.toUpperCase().replace(/ /g, ', '))];
  const { keep, stats } = await dedup(docs, { threads: 0, onCandidate: (x, y) => edges.push([x, y]) });
  assert.equal(stats.exactDuplicates, 0);
  assert.equal(stats.nearDuplicates, 60);
  assert.equal(stats.clusters, 60);
  for (let i = 0; i < 60; i++) assert.equal(keep[i], 1);
  // Every band of each copy hits its original: 9 edges per pair, none between different base documents.
  assert.equal(edges.length, 60 * 9);
  for (const [later, earlier] of edges) assert.equal(later - 60, earlier);
});

test('components are transitive: a chain A~B~C forms one cluster even without an A–C candidate pair', async () => {
  // B shares the first two thirds of its segments with A and the last two thirds with C, so J(A,B) and
  // J(B,C) are high and J(A,C) lower; with 256 permutations at threshold 0.5 (bands × rows chosen)
  // the LSH connects A–B and B–C. Look over seeds for a chain where A–C is not a candidate pair.
  let found = false;
  for (let seed = 1; seed <= 40 && !found; seed++) {
    const r = rng(100 + seed);
    const seg = Array.from({ length: 10 }, () => words(r, 30).join(' '));
    const A = seg.slice(0, 7).join(' ');
    const B = seg.slice(1, 8).join(' ');
    const C = seg.slice(2, 9).join(' ');
    const edges = new Set<string>();
    const docs = [A, words(r, 200).join(' '), B, C];
    const { keep, stats } = await dedup(docs, { threads: 0, threshold: 0.5, permutations: 256, onCandidate: (x, y) => edges.add(`${y}-${x}`) });
    if (!edges.has('0-2') || !edges.has('2-3') || edges.has('0-3')) continue;
    found = true;
    assert.ok(jaccard(ngramSet(A), ngramSet(C)) < jaccard(ngramSet(A), ngramSet(B)));
    assert.deepEqual([...keep], [1, 1, 0, 0]);
    assert.equal(stats.clusters, 1);
    assert.equal(stats.nearDuplicates, 2);
  }
  assert.ok(found, 'no seed gave a chain without an A–C edge');
});

test('results are identical with worker threads and in-process, and do not depend on batching', async () => {
  const r = rng(13);
  const docs: string[] = [];
  for (let i = 0; i < 300; i++) {
    const pick = r();
    if (pick < 0.2 && docs.length > 0) docs.push(docs[Math.floor(r() * docs.length)]);
    else if (pick < 0.45 && docs.length > 0) docs.push(edit(r, docs[Math.floor(r() * docs.length)], 1 + Math.floor(r() * 3)));
    else docs.push(words(r, 50 + Math.floor(r() * 300)).join(' '));
  }
  async function* stream(): AsyncGenerator<string> { for (const d of docs) yield d; }
  const inline = await dedup(docs, { threads: 0 });
  const threaded = await dedup(stream(), { threads: 2, batchChars: 5000 });
  assert.deepEqual(threaded.keep, inline.keep);
  const { seconds: _a, stageSeconds: _b, threads: _c, ...s1 } = inline.stats;
  const { seconds: _d, stageSeconds: _e, threads: _f, ...s2 } = threaded.stats;
  assert.deepEqual(s2, s1);
  assert.ok(inline.stats.exactDuplicates > 30 && inline.stats.nearDuplicates > 30, JSON.stringify(inline.stats));
  let progressCalls = 0;
  await dedup(docs, { threads: 0, batchChars: 10_000, onProgress: () => { progressCalls++; } });
  assert.ok(progressCalls > 5);
});

test("keep: 'longest' keeps the longest document of each component", async () => {
  const r = rng(14);
  const a = words(r, 300).join(' ');
  const longer = a + ' ' + words(r, 3).join(' ');
  const { keep } = await dedup([a, longer, a], { threads: 0, keep: 'longest' });
  assert.deepEqual([...keep], [0, 1, 0]);
});

test('documents with no n-grams take part in exact dedup only; exact and near can be switched off', async () => {
  const r = rng(15);
  const t = words(r, 200).join(' ');
  const res = await dedup(['...', '!!!', '...', t, t.toUpperCase()], { threads: 0 });
  assert.deepEqual([...res.keep], [1, 1, 0, 1, 0]);
  assert.equal(res.stats.emptyAfterCleaning, 2);
  const exactOnly = await dedup([t, t, t.toUpperCase()], { threads: 0, near: false });
  assert.deepEqual([...exactOnly.keep], [1, 0, 1]);
  const nearOnly = await dedup([t, t, t.toUpperCase()], { threads: 0, exact: false });
  assert.deepEqual([...nearOnly.keep], [1, 0, 0]);
  assert.equal(nearOnly.stats.exactDuplicates, 0);
});

test('bad options and non-string documents raise MugptErrors naming the flag', async () => {
  assert.throws(() => resolveDedupOptions({ threshold: 1.5 }), /--threshold/);
  assert.throws(() => resolveDedupOptions({ ngram: 0 }), /--ngram/);
  assert.throws(() => resolveDedupOptions({ permutations: 2.5 }), /--permutations/);
  assert.throws(() => resolveDedupOptions({ bands: 9 }), /--bands and --rows/);
  assert.throws(() => resolveDedupOptions({ bands: 20, rows: 13 }), /must not exceed --permutations/);
  assert.deepEqual(
    (({ bands, rows }) => ({ bands, rows }))(resolveDedupOptions({ threshold: 0.7 })), { bands: 14, rows: 9 });
  await assert.rejects(dedup(['ok', 42 as unknown as string], { threads: 0 }), (e) => e instanceof MugptError && /document 1/.test(e.message));
  await assert.rejects(dedup((async function* () { yield 'x'; throw new MugptError('reader failed'); })(), { threads: 1 }), /reader failed/);
});

test('an empty stream gives no documents', async () => {
  const { keep, stats } = await dedup([], { threads: 0 });
  assert.equal(keep.length, 0);
  assert.equal(stats.documents, 0);
});
