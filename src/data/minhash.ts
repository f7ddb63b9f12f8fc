// MinHash signatures over character n-grams of cleaned text (SlimPajama: 13-grams, 128 permutations).
//
// Hashing scheme, chosen for speed in JS (no 64-bit integer multiply without BigInt):
//  1. Each code point c is mixed once to a pseudo-random 32-bit word u = mix32(c).
//  2. The n-gram ending at position k is hashed by a rolling polynomial over those words,
//     H = Σ_j u_{k-n+1+j}·B^(n-1-j) mod 2^32, updated in O(1) per position, then finalized with
//     murmur3's fmix32 → x, a 32-bit shingle hash. Because the u are pseudo-random, two different
//     n-grams collide with probability ≈ 2^-32.
//  3. Permutation i is the affine map h_i(x) = (a_i·x + b_i) mod 2^32 with a_i odd (a bijection of
//     32-bit words): one multiply and one add (Math.imul in JS, i32x4.mul in the WebAssembly SIMD kernel). datasketch uses (a·x + b) mod (2^61−1) on a
//     SHA-1 value; a Mersenne-prime modulus needs 64-bit products that JS lacks, and applying the
//     affine maps to an already well-mixed x makes the argmin a uniformly random element of the set for
//     each i. The Jaccard estimate's spread matches the binomial sqrt(J(1−J)/P) (test/data-dedup-minhash).
//  sig[i] = min over shingles of h_i(x), as unsigned 32-bit values (Uint32Array of P words).
// Values differ from datasketch's, the statistics (P(sig_a[i] = sig_b[i]) = Jaccard) are the same.
import { simdMinhash } from './minhash-simd.js';

/** Parameters of a MinHash family: n-gram width, permutation count and the affine coefficients. */
export interface MinHashParams {
  ngram: number;
  permutations: number;
  /** Odd multipliers a_i, one per permutation (Int32Array: Math.imul wants signed words). */
  a: Int32Array;
  /** Offsets b_i. */
  b: Int32Array;
}

/** splitmix32: a deterministic stream of well-mixed 32-bit words from a seed. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** The MinHash family for (ngram, permutations, seed); the same arguments always give the same family. */
export function minhashParams(ngram = 13, permutations = 128, seed = 1): MinHashParams {
  if (!Number.isInteger(ngram) || ngram < 1) throw new RangeError(`ngram must be an integer ≥ 1, got ${ngram}`);
  if (!Number.isInteger(permutations) || permutations < 1) throw new RangeError(`permutations must be an integer ≥ 1, got ${permutations}`);
  const next = splitmix32(seed);
  const a = new Int32Array(permutations);
  const b = new Int32Array(permutations);
  for (let i = 0; i < permutations; i++) { a[i] = next() | 1; b[i] = next() | 0; }
  return { ngram, permutations, a, b };
}

/** murmur3's 32-bit finalizer: a bijection with full avalanche. */
export function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

const ROLL_BASE = 0x01000193 | 0;  // odd base of the rolling polynomial (FNV prime)
const CP_SEED = 0x5bd1e995 | 0;

const simd = simdMinhash();

/** mix32 of the first 256 code points, precomputed (most text is Latin-1). */
const MIX_LATIN1 = Int32Array.from({ length: 256 }, (_, c) => fmix32(c ^ CP_SEED));

let mixed: Int32Array = new Int32Array(4096);

/**
 * Writes the shingle hashes of cps[0..length) into out (grown if needed) and returns how many:
 * length − n + 1 for length ≥ n; a text shorter than n (but not empty) is one shingle, the whole text;
 * an empty text has none.
 */
export function shingleHashes(cps: Uint32Array, length: number, ngram: number, out: Int32Array): { hashes: Int32Array; count: number } {
  if (length === 0) return { hashes: out, count: 0 };
  const n = Math.min(ngram, length);
  const count = length - n + 1;
  if (out.length < count) out = new Int32Array(Math.max(count, out.length * 2));
  if (mixed.length < length) mixed = new Int32Array(Math.max(length, mixed.length * 2));
  const u = mixed;
  for (let k = 0; k < length; k++) {
    const c = cps[k];
    u[k] = c < 256 ? MIX_LATIN1[c] : fmix32(c ^ CP_SEED);
  }
  let pow = 1;  // B^n mod 2^32, to drop the word leaving the window
  for (let j = 0; j < n; j++) pow = Math.imul(pow, ROLL_BASE);
  let h = 0;
  for (let k = 0; k < n; k++) h = (Math.imul(h, ROLL_BASE) + u[k]) | 0;
  out[0] = fmix32(h ^ n);
  for (let k = n; k < length; k++) {
    h = (Math.imul(h, ROLL_BASE) + u[k] - Math.imul(u[k - n], pow)) | 0;
    out[k - n + 1] = fmix32(h ^ n);
  }
  return { hashes: out, count };
}

/**
 * sig[i] = min over the shingle hashes x of (a_i·x + b_i) mod 2^32, for i < P (sig: Uint32Array[P]).
 * With no shingles every value is 0xffffffff. Runs the WebAssembly SIMD kernel (minhash-simd.ts, ~4×
 * faster) on the first 16·⌊P/16⌋ permutations where available, and the JS loop on the rest.
 */
export function minhashFromHashes(hashes: Int32Array, count: number, p: MinHashParams, sig: Uint32Array): void {
  const done = simd ? simd.run(hashes, count, p.a, p.b, sig) : 0;
  minhashFromHashesJs(hashes, count, p, sig, done);
}

/**
 * The JS loop of minhashFromHashes, for permutations from..P−1.
 *
 * Speed: the loop runs four permutations per pass over the hashes (a_i, b_i and four running minima stay
 * in registers; 4 measured ~1.8× faster than 1, 8 no better), all in int32 arithmetic: adding 2^31 to b_i
 * flips the top bit of the result, which turns the unsigned order into the signed order, so the minimum
 * is a signed compare and the bias is removed once at the end.
 */
export function minhashFromHashesJs(hashes: Int32Array, count: number, p: MinHashParams, sig: Uint32Array, from = 0): void {
  const P = p.permutations;
  const a = p.a;
  const b = p.b;
  const BIAS = 0x80000000 | 0;
  let i = from;
  for (; i + 4 <= P; i += 4) {
    const a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
    const b0 = (b[i] + BIAS) | 0, b1 = (b[i + 1] + BIAS) | 0, b2 = (b[i + 2] + BIAS) | 0, b3 = (b[i + 3] + BIAS) | 0;
    let m0 = 0x7fffffff, m1 = m0, m2 = m0, m3 = m0;
    for (let k = 0; k < count; k++) {
      const x = hashes[k];
      const v0 = (Math.imul(a0, x) + b0) | 0; if (v0 < m0) m0 = v0;
      const v1 = (Math.imul(a1, x) + b1) | 0; if (v1 < m1) m1 = v1;
      const v2 = (Math.imul(a2, x) + b2) | 0; if (v2 < m2) m2 = v2;
      const v3 = (Math.imul(a3, x) + b3) | 0; if (v3 < m3) m3 = v3;
    }
    sig[i] = (m0 ^ BIAS) >>> 0; sig[i + 1] = (m1 ^ BIAS) >>> 0; sig[i + 2] = (m2 ^ BIAS) >>> 0; sig[i + 3] = (m3 ^ BIAS) >>> 0;
  }
  for (; i < P; i++) {
    const ai = a[i];
    const bi = (b[i] + BIAS) | 0;
    let m = 0x7fffffff;
    for (let k = 0; k < count; k++) {
      const v = (Math.imul(ai, hashes[k]) + bi) | 0;
      if (v < m) m = v;
    }
    sig[i] = (m ^ BIAS) >>> 0;
  }
}

/** Estimated Jaccard similarity: the fraction of equal signature positions. */
export function estimateJaccard(s1: Uint32Array, s2: Uint32Array): number {
  if (s1.length !== s2.length) throw new RangeError(`signature lengths differ: ${s1.length} vs ${s2.length}`);
  let eq = 0;
  for (let i = 0; i < s1.length; i++) if (s1[i] === s2[i]) eq++;
  return eq / s1.length;
}
