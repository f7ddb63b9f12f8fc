// Unicode normalization, the first SlimPajama step. SlimPajama runs ftfy.fix_text(text, normalization="NFC"),
// which also repairs mojibake; mugpt applies the NFC part only (no JS port of ftfy's heuristics exists).

/** The text in Unicode Normalization Form C (canonical composition). */
export function normalizeText(text: string): string {
  return text.normalize('NFC');
}
