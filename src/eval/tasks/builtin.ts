// The papers' tasks, read from their official release files with lm-eval's preprocessing and prompts
// (lm_eval/tasks/<task>/*.yaml and utils; versions as lm-eval numbers them), and two tasks built from
// the State of the Union speeches a run held out (sotu_cloze, sotu_next).
import { check } from '../../errors.js';
import { PY_WS, pyCapitalize, pyStrip } from '../text.js';
import { bool, findFile, index, obj, readJsonl, readText, str, strings, where, type Row } from './files.js';
import type { Doc, Task } from './task.js';
import { sotuCloze, sotuNext, sotuSplitOf, type ChoiceDoc, type ClozeDoc, type SotuSplit } from '../sotu-tasks.js';
import { loadRunConfig } from '../../train/runconfig.js';

type Split = { docs: Doc[]; files: string[] };

function source(row: Row): string {
  return `${row.file}:${row.line}`;
}

/** The evaluation split (required) and the training split (optional) of a task's release. */
function splits(path: string, evalNames: string[], trainNames: string[], what: string, toDoc: (row: Row) => Doc): { docs: Doc[]; fewshot: Doc[] | null; files: string[] } {
  const evalFile = findFile(path, evalNames, what)!;
  const trainFile = findFile(path, trainNames, 'training split', true);
  const docs = readJsonl(evalFile).map(toDoc);
  const fewshot = trainFile === null ? null : readJsonl(trainFile).map(toDoc);
  return { docs, fewshot, files: trainFile === null ? [evalFile] : [evalFile, trainFile] };
}

// ---- HellaSwag (lm_eval/tasks/hellaswag/utils.py) ----------------------------------------------

/** strip; " [title]" → ". "; drop [bracketed] WikiHow artifacts; "  " → " ". */
export function hellaswagPreprocess(text: string): string {
  return pyStrip(text).replaceAll(' [title]', '. ').replace(/\[[^\n]*?\]/g, '').replaceAll('  ', ' ');
}

function hellaswagDoc(row: Row): Doc {
  const endings = strings(row, 'endings');
  const ctx = str(row, 'ctx_a') + ' ' + pyCapitalize(str(row, 'ctx_b'));
  return {
    source: source(row), raw: row.value,
    text: hellaswagPreprocess(str(row, 'activity_label') + ': ' + ctx),
    choices: endings.map(hellaswagPreprocess),
    target: index(row, 'label', endings.length),
  };
}

// ---- LAMBADA (OpenAI's release; lm_eval/tasks/lambada/lambada_openai.yaml) ----------------------

function lambadaDoc(row: Row): Doc {
  const words = str(row, 'text').split(' ');
  return { source: source(row), raw: row.value, text: words.slice(0, -1).join(' '), choices: [], target: ' ' + words[words.length - 1] };
}

// ---- PIQA (valid.jsonl + valid-labels.lst; lm_eval/tasks/piqa/piqa.yaml) ----------------------

function piqaSplit(dir: string, jsonl: string, labels: string, optional: boolean): Split | null {
  const data = findFile(dir, [jsonl], `PIQA ${jsonl}`, optional);
  if (data === null) return null;
  const labelFile = findFile(dir, [labels], `PIQA ${labels} (the labels of ${jsonl})`)!;
  const rows = readJsonl(data);
  const lines = readText(labelFile).split('\n').filter((l, i, a) => !(i === a.length - 1 && l === ''));
  check(lines.length === rows.length, `${labelFile}: ${lines.length} labels for the ${rows.length} rows of ${data}`);
  const docs = rows.map((row, i): Doc => {
    const label = lines[i].trim();
    check(label === '0' || label === '1', () => `${labelFile}:${i + 1}: label ${JSON.stringify(lines[i])}, expected 0 or 1`);
    return {
      source: source(row), raw: row.value,
      text: `Question: ${str(row, 'goal')}\nAnswer:`, choices: [str(row, 'sol1'), str(row, 'sol2')], target: Number(label),
    };
  });
  return { docs, files: [data, labelFile] };
}

function loadPiqa(path: string): Pick<Task, 'docs' | 'fewshotDocs' | 'files'> {
  const valid = piqaSplit(path, 'valid.jsonl', 'valid-labels.lst', false)!;
  const train = piqaSplit(path, 'train.jsonl', 'train-labels.lst', true);
  return { docs: valid.docs, fewshotDocs: train?.docs ?? null, files: [...valid.files, ...(train?.files ?? [])] };
}

// ---- ARC and OpenBookQA (AI2's release rows: question.stem, question.choices[{text, label}], answerKey) ----

/** The question text and choices of an AI2 row, in the release's layout or HF's flattened one. */
function ai2Question(row: Row, flatStem: string): { stem: string; texts: string[]; labels: string[] } {
  const q = row.value.question;
  if (typeof q === 'object' && q !== null && !Array.isArray(q)) {
    const choices = (q as Record<string, unknown>).choices;
    check(Array.isArray(choices) && choices.length > 0, () => `${where(row, 'question.choices')} is missing or not a non-empty array`);
    const texts: string[] = [], labels: string[] = [];
    choices.forEach((c: unknown, i: number) => {
      const o = c as Record<string, unknown>;
      check(typeof o === 'object' && o !== null && typeof o.text === 'string' && typeof o.label === 'string',
        () => `${where(row, `question.choices[${i}]`)} must be {"text": string, "label": string}`);
      texts.push(o.text as string);
      labels.push(o.label as string);
    });
    const stem = (q as Record<string, unknown>).stem;
    check(typeof stem === 'string', () => `${where(row, 'question.stem')} is missing or not a string`);
    return { stem, texts, labels };
  }
  const c = obj(row, 'choices');
  const texts = strings(row, 'choices.text', c.text), labels = strings(row, 'choices.label', c.label);
  check(texts.length === labels.length, () => `${where(row, 'choices')}: ${texts.length} texts but ${labels.length} labels`);
  return { stem: str(row, flatStem), texts, labels };
}

function ai2Gold(row: Row, labels: string[], key: string): number {
  const i = labels.indexOf(key);
  check(i >= 0, () => `${where(row, 'answerKey')} is ${JSON.stringify(key)}, not one of the choice labels ${JSON.stringify(labels)}`);
  return i;
}

function arcDoc(row: Row): Doc {
  const { stem, texts, labels } = ai2Question(row, 'question');
  return { source: source(row), raw: row.value, text: `Question: ${stem}\nAnswer:`, choices: texts, target: ai2Gold(row, labels, str(row, 'answerKey')) };
}

function openbookqaDoc(row: Row): Doc {
  const { stem, texts, labels } = ai2Question(row, 'question_stem');
  return { source: source(row), raw: row.value, text: stem, choices: texts, target: ai2Gold(row, labels, str(row, 'answerKey').replace(new RegExp(`^[${PY_WS}]+`, 'u'), '')) };
}

// ---- WinoGrande (partial scoring; lm_eval/tasks/winogrande/preprocess_winogrande.py) -------------

function winograndeDoc(row: Row): Doc {
  const sentence = str(row, 'sentence');
  const blank = sentence.indexOf('_');
  check(blank >= 0, () => `${where(row, 'sentence')} has no "_" blank`);
  const answer = str(row, 'answer');
  check(answer === '1' || answer === '2', () => `${where(row, 'answer')} is ${JSON.stringify(answer)}, expected "1" or "2"`);
  return {
    source: source(row), raw: row.value,
    text: Number(answer) - 1, // the gold option: each option fills the blank as a context
    choices: [str(row, 'option1'), str(row, 'option2')].map((o) => sentence.slice(0, blank) + o),
    target: pyStrip(sentence.slice(blank + 1)), // the rest of the sentence, scored after each context
  };
}

// ---- BoolQ (BoolQ's release rows {question, passage, answer}, or SuperGLUE's {…, label}) ----------

function boolqDoc(row: Row): Doc {
  const yes = 'answer' in row.value ? bool(row, 'answer') : bool(row, 'label');
  return {
    source: source(row), raw: row.value,
    text: `${str(row, 'passage')}\nQuestion: ${str(row, 'question')}?\nAnswer:`, choices: ['no', 'yes'], target: yes ? 1 : 0,
  };
}

// ---- WikiText-2 (wiki.test.raw; pages as EleutherAI's wikitext_document_level, lm-eval's detokenizer) ----

/** The pages of a raw WikiText file: a new page at each top-level " = Title = " heading. */
export function wikitextPages(text: string): string[] {
  const pages: string[] = [];
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    const r = pyStrip(line.replaceAll('= = =', '===').replaceAll('= =', '=='));
    if (r.startsWith('= ') && r.endsWith(' =')) {
      const page = lines.join('\n');
      if (pyStrip(page) !== '') pages.push(page);
      lines = [];
    }
    lines.push(line);
  }
  pages.push(lines.join('\n'));
  return pages;
}

const S = `[${PY_WS}]*`;

/** lm-eval's wikitext_detokenizer (lm_eval/tasks/wikitext/preprocess_wikitext.py), rule for rule. */
export function wikitextDetokenize(page: string): string {
  let s = page.replaceAll("s '", "s'");
  s = s.replace(/\/' [0-9]\//g, "/'[0-9]/");
  for (const [a, b] of [[' @-@ ', '-'], [' @,@ ', ','], [' @.@ ', '.'], [' : ', ': '], [' ; ', '; '], [' . ', '. '], [' ! ', '! '], [' ? ', '? '], [' , ', ', ']]) {
    s = s.replaceAll(a, b);
  }
  s = s.replace(new RegExp(`\\(${S}([^\\)]*?)${S}\\)`, 'gu'), '($1)');
  s = s.replace(new RegExp(`\\[${S}([^\\]]*?)${S}\\]`, 'gu'), '[$1]');
  s = s.replace(new RegExp(`\\{${S}([^}]*?)${S}\\}`, 'gu'), '{$1}');
  s = s.replace(new RegExp(`"${S}([^"]*?)${S}"`, 'gu'), '"$1"');
  s = s.replace(new RegExp(`'${S}([^']*?)${S}'`, 'gu'), "'$1'");
  for (const [a, b] of [['= = = =', '===='], ['= = =', '==='], ['= =', '=='], [' \u00b0 ', '\u00b0'], [' \n', '\n'], ['\n ', '\n'], [' N ', ' 1 '], [" 's", "'s"]]) {
    s = s.replaceAll(a, b);
  }
  return s;
}

function loadWikitext(path: string): Pick<Task, 'docs' | 'fewshotDocs' | 'files'> {
  const file = findFile(path, ['wiki.test.raw'], 'WikiText test split')!;
  const text = readText(file);
  check(text.trim() !== '', `${file}: no documents (the file is empty)`);
  const docs = wikitextPages(text).map((page, i): Doc => ({
    source: `${file} page ${i + 1}`, raw: { page }, text: '', choices: [], target: wikitextDetokenize(page), countText: page,
  }));
  return { docs, fewshotDocs: null, files: [file] };
}

// ---- the registry --------------------------------------------------------------------------------

type Spec = Omit<Task, 'name' | 'docs' | 'fewshotDocs' | 'files'> & { load: (path: string) => Pick<Task, 'docs' | 'fewshotDocs' | 'files'> };

const MC = { outputType: 'multiple_choice', metrics: ['acc', 'acc_norm'], targetDelimiter: ' ', fewshotDelimiter: '\n\n' } as const;

function jsonlTask(evalNames: string[], trainNames: string[], what: string, toDoc: (row: Row) => Doc): Spec['load'] {
  return (path) => {
    const s = splits(path, evalNames, trainNames, what, toDoc);
    return { docs: s.docs, fewshotDocs: s.fewshot, files: s.files };
  };
}

const arc = (level: 'Easy' | 'Challenge'): Spec => ({
  ...MC, version: 1,
  load: jsonlTask([`ARC-${level}-Test.jsonl`], [`ARC-${level}-Train.jsonl`], `ARC-${level} test split`, arcDoc),
});

// ---- State of the Union tasks (src/eval/sotu-tasks.ts): PATH is the run config whose held-out speeches they come from ----

const SOTU_CLOZE = { outputType: 'loglikelihood', metrics: ['perplexity', 'acc'], targetDelimiter: '', fewshotDelimiter: '\n\n', version: 0 } as const;
const SOTU_NEXT = { ...MC, version: 0 } as const;

/** sotu_cloze's task over cloze documents (from a run's held-out speeches, or any held-out texts). */
export function sotuClozeTask(docs: ClozeDoc[], source: string, files: string[]): Task {
  return { name: 'sotu_cloze', ...SOTU_CLOZE, fewshotDocs: null, files, docs: docs.map((d, i): Doc => ({
    source: `${source} (held-out passage ${i + 1})`, raw: d, text: d.context, choices: [], target: d.continuation,
  })) };
}

/** sotu_next's task over next-sentence documents. */
export function sotuNextTask(docs: ChoiceDoc[], source: string, files: string[]): Task {
  return { name: 'sotu_next', ...SOTU_NEXT, fewshotDocs: null, files, docs: docs.map((d, i): Doc => ({
    source: `${source} (held-out sentence ${i + 1})`, raw: d, text: d.context, choices: d.choices, target: d.gold,
  })) };
}

const sotuSplit = (path: string): SotuSplit => sotuSplitOf(loadRunConfig(path));
const docsOf = (t: Task): Pick<Task, 'docs' | 'fewshotDocs' | 'files'> => ({ docs: t.docs, fewshotDocs: t.fewshotDocs, files: t.files });

export const BUILTIN_TASKS: Record<string, Spec> = {
  hellaswag: { ...MC, version: 1, load: jsonlTask(['hellaswag_val.jsonl'], ['hellaswag_train.jsonl'], 'HellaSwag validation split', hellaswagDoc) },
  lambada_openai: {
    outputType: 'loglikelihood', metrics: ['perplexity', 'acc'], targetDelimiter: '', fewshotDelimiter: '\n\n', version: 1,
    load: jsonlTask(['lambada_test.jsonl'], [], 'LAMBADA (OpenAI) test split', lambadaDoc),
  },
  piqa: { ...MC, version: 1, load: loadPiqa },
  arc_easy: arc('Easy'),
  arc_challenge: arc('Challenge'),
  openbookqa: { ...MC, version: 1, load: jsonlTask(['test.jsonl'], ['train.jsonl'], 'OpenBookQA test split', openbookqaDoc) },
  winogrande: { ...MC, metrics: ['acc'], version: 1, load: jsonlTask(['dev.jsonl'], ['train_xl.jsonl'], 'WinoGrande dev split', winograndeDoc) },
  boolq: { ...MC, metrics: ['acc'], version: 2, load: jsonlTask(['dev.jsonl', 'val.jsonl'], ['train.jsonl'], 'BoolQ dev split', boolqDoc) },
  wikitext: {
    outputType: 'loglikelihood_rolling', metrics: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'], targetDelimiter: ' ', fewshotDelimiter: '\n\n', version: 2,
    load: loadWikitext,
  },
  sotu_cloze: { ...SOTU_CLOZE, load: (path) => docsOf(sotuClozeTask(sotuCloze(sotuSplit(path)), path, [path])) },
  sotu_next: { ...SOTU_NEXT, load: (path) => docsOf(sotuNextTask(sotuNext(sotuSplit(path)), path, [path])) },
};
