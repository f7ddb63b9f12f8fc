// Held-out split after a shuffle. The mixed stream is shuffled in two passes (the Pile / Jane Street
// method, as SlimPajama does): pass 1 deals every document to one of k piles at random, pass 2 loads
// one pile at a time, shuffles it in memory (Fisher–Yates) and writes it out. Memory holds one pile,
// not the corpus. Each output position then goes to the held-out split with probability `fraction`.
import { hash32, rand01 } from './mix.js';

/** The pile (0..piles-1) that the i-th document of the mixed stream is dealt to. */
export function pileOf(seed: number, i: number, piles: number): number {
  return hash32(seed, 0x5111, i) % piles;
}

/** Fisher–Yates shuffle in place with a seeded generator (pile p of the build). */
export function shuffleInPlace<T>(items: T[], seed: number, pile: number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand01(seed, 0x5222, pile, i) * (i + 1));
    const t = items[i]; items[i] = items[j]; items[j] = t;
  }
  return items;
}

/** Whether the document at position i (of pile p) after the shuffle is held out. */
export function isHeldOut(seed: number, pile: number, i: number, fraction: number): boolean {
  return fraction > 0 && rand01(seed, 0x5333, pile, i) < fraction;
}

/** Number of piles so that one pile holds about pileBytes. */
export function pileCount(totalBytes: number, pileBytes = 64 * 1024 * 1024): number {
  return Math.max(1, Math.ceil(totalBytes / pileBytes));
}
