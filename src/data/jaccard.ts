// Exact Jaccard similarity of character n-gram sets, the quantity MinHash estimates. Kept as sets of
// n-gram strings (no hashing), so it is an independent reference for evaluating the MinHash-LSH dedup.
import { cleanText } from './clean.js';

/** The set of character n-grams of the SlimPajama-cleaned text (the whole text when shorter than n, none when empty). */
export function ngramSet(text: string, n = 13): Set<string> {
  const s = Array.from(cleanText(text));  // code points
  const out = new Set<string>();
  if (s.length === 0) return out;
  if (s.length < n) { out.add(s.join('')); return out; }
  for (let i = 0; i + n <= s.length; i++) out.add(s.slice(i, i + n).join(''));
  return out;
}

/** |A ∩ B| / |A ∪ B| (0 for two empty sets). */
export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size > b.size) [a, b] = [b, a];
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  const union = a.size + b.size - inter;
  return union === 0 ? 0 : inter / union;
}
