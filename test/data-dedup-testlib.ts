// Helpers for the dedup tests: a seeded generator of random-word texts.

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` pseudo-random lower-case words (3–9 letters), space-separated. */
export function words(rand: () => number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = 3 + Math.floor(rand() * 7);
    let w = '';
    for (let k = 0; k < len; k++) w += String.fromCharCode(97 + Math.floor(rand() * 26));
    out.push(w);
  }
  return out;
}
