// Mixing sources by proportion: each source is up- or down-sampled by a multiplier m so that its
// share of the mixed corpus's bytes matches its configured proportion, keeping the total size equal to
// the cleaned corpus's. A document of a source with multiplier m appears floor(m) times, plus once more
// with probability frac(m), decided by a seeded hash of (source, document), so the mix is reproducible.
import { MugptError } from '../errors.js';

/** A 32-bit mix of a seed and integers (murmur3's finaliser over an FNV-style fold). */
export function hash32(seed: number, ...xs: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** A uniform number in [0, 1) from a seed and integers. */
export function rand01(seed: number, ...xs: number[]): number {
  return hash32(seed, ...xs) / 4294967296;
}

export interface MixInput {
  name: string;
  /** Bytes of the source left after cleaning and dedup. */
  bytes: number;
  proportion?: number;
  weight?: number;
}

/**
 * The sampling multiplier of each source. With proportions p_i (summing to 1) and cleaned sizes B_i,
 * m_i = p_i · ΣB / B_i; with weights, m_i = weight (default 1). A source with a positive proportion
 * but no bytes left cannot be mixed in: that is an error, not a silently different mix.
 */
export function mixMultipliers(sources: MixInput[]): number[] {
  const total = sources.reduce((a, s) => a + s.bytes, 0);
  const byProportion = sources.some((s) => s.proportion !== undefined);
  return sources.map((s) => {
    if (!byProportion) return s.weight ?? 1;
    const p = s.proportion ?? 0;
    if (p === 0) return 0;
    if (s.bytes === 0) {
      throw new MugptError(`mix: source '${s.name}' has proportion ${p} but no documents are left after cleaning and dedup`);
    }
    return (p * total) / s.bytes;
  });
}

/** How many copies of document `doc` of source `source` the mix takes, for multiplier m. */
export function copiesOf(m: number, seed: number, source: number, doc: number): number {
  const whole = Math.floor(m);
  return whole + (rand01(seed, source, doc) < m - whole ? 1 : 0);
}
