// Locality-sensitive hashing of MinHash signatures (banding), datasketch MinHashLSH semantics.
// A signature of P values is cut into b bands of r rows (b·r ≤ P, the rest unused); two documents are
// candidates when all r values of at least one band agree, which for Jaccard similarity s happens with
// probability 1 − (1 − s^r)^b (the S-curve, 50% point ≈ (1/b)^(1/r)).
import { fmix32 } from './minhash.js';

/** Probability that a pair with Jaccard similarity s shares at least one band: 1 − (1 − s^r)^b. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(s, rows), bands);
}

/** ∫_lo^hi f(s) ds by composite Simpson (smooth polynomials in s; 128 intervals choose the same (b, r) as 2048 for P ≤ 256, t ∈ [0.3, 0.95]). */
function integrate(f: (s: number) => number, lo: number, hi: number, intervals = 128): number {
  const h = (hi - lo) / intervals;
  let sum = f(lo) + f(hi);
  for (let k = 1; k < intervals; k++) sum += (k % 2 ? 4 : 2) * f(lo + k * h);
  return (sum * h) / 3;
}

/** Expected false-positive mass ∫_0^t P(candidate | s) ds (datasketch _false_positive_probability). */
export function falsePositiveProbability(threshold: number, bands: number, rows: number): number {
  return integrate((s) => candidateProbability(s, bands, rows), 0, threshold);
}

/** Expected false-negative mass ∫_t^1 (1 − P(candidate | s)) ds (datasketch _false_negative_probability). */
export function falseNegativeProbability(threshold: number, bands: number, rows: number): number {
  return integrate((s) => 1 - candidateProbability(s, bands, rows), threshold, 1);
}

/**
 * The (bands, rows) that minimise wFp·FP + wFn·FN over all b ≤ P, r ≤ ⌊P/b⌋, as datasketch's
 * _optimal_param does (same search order, first minimum kept). t = 0.8, P = 128 gives (9, 13).
 */
export function optimalBandsRows(threshold: number, permutations: number, wFp = 0.5, wFn = 0.5): { bands: number; rows: number } {
  if (!(threshold > 0 && threshold < 1)) throw new RangeError(`threshold must be in (0, 1), got ${threshold}`);
  let best = Infinity;
  let opt = { bands: 0, rows: 0 };
  for (let b = 1; b <= permutations; b++) {
    const maxR = Math.floor(permutations / b);
    for (let r = 1; r <= maxR; r++) {
      const err = wFp * falsePositiveProbability(threshold, b, r) + wFn * falseNegativeProbability(threshold, b, r);
      if (err < best) { best = err; opt = { bands: b, rows: r }; }
    }
  }
  return opt;
}

/**
 * Hashes each band of sig (bands × rows values) to a 64-bit key, written as two words per band into
 * out[2·j], out[2·j+1]. The band index seeds the hash, so one table can hold the keys of all bands.
 * Two different bands of r values share a key with probability ≈ 2^-64.
 */
export function bandKeys(sig: Uint32Array, bands: number, rows: number, out: Int32Array, outOffset = 0): void {
  for (let j = 0; j < bands; j++) {
    let h1 = fmix32(Math.imul(j + 1, 0x9e3779b1));
    let h2 = fmix32(Math.imul(j + 1, 0x7feb352d) ^ 0x27d4eb2f);
    const base = j * rows;
    for (let k = 0; k < rows; k++) {
      const v = sig[base + k] | 0;
      h1 = fmix32(h1 ^ v);
      h2 = fmix32(Math.imul(h2 + ((v << 16) | (v >>> 16)), 0xcc9e2d51));
    }
    out[outOffset + 2 * j] = h1;
    out[outOffset + 2 * j + 1] = h2;
  }
}

/**
 * An open-addressing hash table from fixed-width keys (`width` 32-bit words, assumed already well
 * mixed, e.g. hash outputs) to the first document index stored under them. Typed arrays instead of a
 * Map<string, number>: about 12–20 bytes per entry instead of ~100, which is what bounds dedup memory.
 */
export class KeyTable {
  private keys: Int32Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  constructor(readonly width: number, capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Int32Array(cap * width);
    this.vals = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
  }

  /** Stores value under key src[off..off+width) unless the key is present; returns the stored value, or −1 when inserted. */
  insertOrGet(src: Int32Array, off: number, value: number): number {
    const w = this.width;
    let slot = (src[off] ^ Math.imul(src[off + w - 1], 0x9e3779b1)) & this.mask;
    for (;;) {
      const v = this.vals[slot];
      if (v < 0) break;
      let same = true;
      for (let k = 0; k < w; k++) if (this.keys[slot * w + k] !== src[off + k]) { same = false; break; }
      if (same) return v;
      slot = (slot + 1) & this.mask;
    }
    for (let k = 0; k < w; k++) this.keys[slot * w + k] = src[off + k];
    this.vals[slot] = value;
    if (++this.size * 2 > this.mask + 1) this.grow();
    return -1;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const cap = (this.mask + 1) * 2;
    this.keys = new Int32Array(cap * this.width);
    this.vals = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.size = 0;
    for (let s = 0; s < oldVals.length; s++) if (oldVals[s] >= 0) this.insertOrGet(oldKeys, s * this.width, oldVals[s]);
  }
}
