import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanCodePoints } from '../src/data/clean.js';
import { estimateJaccard, fmix32, minhashFromHashes, minhashFromHashesJs, minhashParams, shingleHashes } from '../src/data/minhash.js';
import { simdMinhash } from '../src/data/minhash-simd.js';
import { jaccard, ngramSet } from '../src/data/jaccard.js';
import { rng, words } from './data-dedup-testlib.js';

function signature(text: string, ngram = 13, permutations = 128, seed = 1): Uint32Array {
  const { cps, length } = cleanCodePoints(text, new Uint32Array(16));
  const { hashes, count } = shingleHashes(cps, length, ngram, new Int32Array(16));
  const sig = new Uint32Array(permutations);
  minhashFromHashes(hashes, count, minhashParams(ngram, permutations, seed), sig);
  return sig;
}

test('minhashFromHashes equals the definition min_x (a_i·x + b_i) mod 2^32 (the unrolled loop and the tail)', () => {
  const p = minhashParams(13, 131, 7);  // 131 = 4·32 + 3 exercises the remainder loop
  const hashes = Int32Array.from({ length: 300 }, (_, i) => fmix32(i * 7919 + 1));
  const sig = new Uint32Array(131);
  minhashFromHashes(hashes, hashes.length, p, sig);
  for (let i = 0; i < 131; i++) {
    let m = 2 ** 32;
    for (const x of hashes) {
      // exact modular arithmetic in BigInt, independent of Math.imul
      const v = Number((BigInt.asUintN(32, BigInt(p.a[i])) * BigInt.asUintN(32, BigInt(x)) + BigInt.asUintN(32, BigInt(p.b[i]))) % 2n ** 32n);
      if (v < m) m = v;
    }
    assert.equal(sig[i], m, `permutation ${i}`);
  }
  for (let i = 0; i < 131; i++) assert.equal(p.a[i] & 1, 1, 'multipliers are odd (bijections mod 2^32)');
});

test('the WebAssembly SIMD kernel is available on Node 20 and equals the JS loop bit for bit', () => {
  assert.ok(simdMinhash(), 'WebAssembly SIMD assembled and instantiated');
  for (const [P, n] of [[128, 1000], [131, 77], [8, 50], [256, 3], [128, 0], [32, 70_000]]) {
    const p = minhashParams(13, P, P + n);
    const hashes = Int32Array.from({ length: n }, (_, i) => fmix32(i ^ (P << 20)));
    const viaSimd = new Uint32Array(P), viaJs = new Uint32Array(P);
    minhashFromHashes(hashes, n, p, viaSimd);
    minhashFromHashesJs(hashes, n, p, viaJs);
    assert.deepEqual(viaSimd, viaJs, `P = ${P}, n = ${n}`);
  }
});

test('the shingle hashes equal a direct hash of each n-gram window (rolling update is exact)', () => {
  const text = 'the rolling hash must agree with recomputing every window from scratch 😀 ok';
  const { cps, length } = cleanCodePoints(text, new Uint32Array(4));
  const { hashes, count } = shingleHashes(cps, length, 5, new Int32Array(4));
  assert.equal(count, length - 4);
  // Same n-gram text → same hash; different n-grams → different hashes (no collisions in this small set).
  const byGram = new Map<string, number>();
  const chars = Array.from(String.fromCodePoint(...cps.subarray(0, length)));
  for (let k = 0; k < count; k++) {
    const g = chars.slice(k, k + 5).join('');
    if (byGram.has(g)) assert.equal(hashes[k], byGram.get(g));
    byGram.set(g, hashes[k]);
  }
  assert.equal(new Set(byGram.values()).size, byGram.size);
  // Texts shorter than n are one shingle; empty text has none.
  assert.equal(shingleHashes(cps, 3, 5, new Int32Array(1)).count, 1);
  assert.equal(shingleHashes(cps, 0, 5, new Int32Array(1)).count, 0);
});

test('identical texts give identical signatures; the family is deterministic per seed', () => {
  const r = rng(1);
  const t = words(r, 200).join(' ');
  assert.deepEqual(signature(t), signature(t));
  assert.deepEqual(signature(t), signature(t.toUpperCase().replace(/ /g, ' ,  ')));  // same cleaned text
  assert.notDeepEqual(signature(t, 13, 128, 1), signature(t, 13, 128, 2));
});

test('disjoint texts share (almost) no signature values', () => {
  const r = rng(2);
  let equal = 0;
  for (let k = 0; k < 50; k++) {
    const a = signature(words(r, 150).join(' '));
    const b = signature(words(r, 150).join(' ').toUpperCase().replace(/[aeiou]/gi, 'Q'));
    equal += Math.round(estimateJaccard(a, b) * 128);
  }
  assert.ok(equal <= 2, `${equal} equal values over 50 × 128`);
});

test('the Jaccard estimate is unbiased with binomial spread sqrt(J(1−J)/128) on constructed pairs', () => {
  const r = rng(3);
  const z: number[] = [];
  let bias = 0;
  for (let k = 0; k < 240; k++) {
    // B keeps a random fraction of A's words (in runs) and adds new ones: J spreads over (0, 1).
    const a = words(r, 300);
    const keepFrac = 0.2 + 0.75 * r();
    const b: string[] = [];
    for (let i = 0; i < a.length; i += 10) {
      if (r() < keepFrac) b.push(...a.slice(i, i + 10)); else b.push(...words(r, 10));
    }
    const ta = a.join(' ');
    const tb = b.join(' ');
    const J = jaccard(ngramSet(ta), ngramSet(tb));
    if (J <= 0.02 || J >= 0.98) continue;
    const est = estimateJaccard(signature(ta), signature(tb));
    const sd = Math.sqrt((J * (1 - J)) / 128);
    z.push((est - J) / sd);
    bias += est - J;
  }
  assert.ok(z.length > 150, `${z.length} usable pairs`);
  const mean = z.reduce((s, v) => s + v, 0) / z.length;
  const sd = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / (z.length - 1));
  // For n ≈ 200 standardized errors: mean within ±0.25 (≈3.5 standard errors), spread 0.8–1.2, no outlier past 4.5.
  assert.ok(Math.abs(mean) < 0.25, `mean z ${mean.toFixed(3)}, mean error ${(bias / z.length).toFixed(4)}`);
  assert.ok(sd > 0.8 && sd < 1.2, `sd of z ${sd.toFixed(3)}`);
  assert.ok(Math.max(...z.map(Math.abs)) < 4.5, `max |z| ${Math.max(...z.map(Math.abs)).toFixed(2)}`);
});

test('the estimate on integer sets with known overlap (A = 0..999, B = 500..1499, J = 1/3) over many seeds', () => {
  const hashesOf = (lo: number, hi: number): Int32Array => Int32Array.from({ length: hi - lo }, (_, i) => fmix32(lo + i));
  const A = hashesOf(0, 1000);
  const B = hashesOf(500, 1500);
  const ests: number[] = [];
  for (let seed = 1; seed <= 60; seed++) {
    const p = minhashParams(13, 128, seed);
    const sa = new Uint32Array(128), sb = new Uint32Array(128);
    minhashFromHashes(A, A.length, p, sa);
    minhashFromHashes(B, B.length, p, sb);
    ests.push(estimateJaccard(sa, sb));
  }
  const mean = ests.reduce((s, v) => s + v, 0) / ests.length;
  const variance = ests.reduce((s, v) => s + (v - mean) ** 2, 0) / (ests.length - 1);
  const binomial = ((1 / 3) * (2 / 3)) / 128;
  assert.ok(Math.abs(mean - 1 / 3) < 4 * Math.sqrt(binomial / 60), `mean ${mean}`);
  assert.ok(variance / binomial > 0.6 && variance / binomial < 1.5, `variance ratio ${(variance / binomial).toFixed(2)}`);
});

test('minhashParams rejects invalid sizes', () => {
  assert.throws(() => minhashParams(0, 128), /ngram/);
  assert.throws(() => minhashParams(13, 0), /permutations/);
});
