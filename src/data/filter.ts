// SlimPajama's short-document filter (modelzoo slimpajama/preprocessing/filter.py, threshold 200 in main.py):
// a document whose cleaned text (lower-cased, punctuation removed, whitespace collapsed, stripped) has fewer
// than 200 characters is dropped. The README says whitespace is "removed"; the code collapses it, as here.
import { cleanCodePoints } from './clean.js';

/** SlimPajama's threshold, in characters (code points) of cleaned text. */
export const MIN_DOCUMENT_CHARS = 200;

let scratch: Uint32Array = new Uint32Array(4096);

/** The number of characters (code points) left after SlimPajama's cleaning. */
export function cleanedLength(text: string): number {
  const r = cleanCodePoints(text, scratch);
  scratch = r.cps;
  return r.length;
}

/** True when the document is too short to keep (cleaned length < minChars, default 200). */
export function isShortDocument(text: string, minChars = MIN_DOCUMENT_CHARS): boolean {
  return cleanedLength(text) < minChars;
}
