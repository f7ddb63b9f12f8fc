// `--task NAME=PATH`: a built-in task read from its release files, or a generic JSON-lines file whose
// fields decide the kind:
//   {"context", "choices", "gold", "target_delimiter"?}  multiple choice, requests (context, delimiter + choice)
//   {"context", "continuation"}                          loglikelihood, the pair as given
//   {"text"}                                             rolling perplexity
import { MugptError, check } from '../../errors.js';
import { BUILTIN_TASKS } from './builtin.js';
import { index, readJsonl, str, strings, where, type Row } from './files.js';
import type { Doc, Task } from './task.js';

export { BUILTIN_TASKS, hellaswagPreprocess, wikitextDetokenize, wikitextPages } from './builtin.js';
export { docRequests, fewshotPrefix, goldIndex, HIGHER_IS_BETTER } from './task.js';
export type { Doc, MetricName, OutputType, Task } from './task.js';

/** Task names that are built in (the others name generic files). */
export const BUILTIN_NAMES = Object.keys(BUILTIN_TASKS);

/** Parses `NAME=PATH`. */
export function parseTaskSpec(spec: string): { name: string; path: string } {
  const eq = spec.indexOf('=');
  check(eq > 0 && eq < spec.length - 1, `--task: expected NAME=PATH, got ${JSON.stringify(spec)}`);
  const name = spec.slice(0, eq), path = spec.slice(eq + 1);
  check(/^[A-Za-z0-9_.-]+$/.test(name), `--task: the name ${JSON.stringify(name)} may use letters, digits, "_", "." and "-" only (it names the samples file)`);
  return { name, path };
}

/** Loads a task: built-in by name, else a generic file. */
export function loadTask(name: string, path: string): Task {
  const spec = BUILTIN_TASKS[name];
  if (spec !== undefined) {
    const { load, ...rest } = spec;
    return { name, ...rest, ...load(path) };
  }
  return loadGenericTask(name, path);
}

function genericDoc(row: Row, kind: Task['outputType']): Doc {
  const source = `${row.file}:${row.line}`;
  switch (kind) {
    case 'multiple_choice': {
      const choices = strings(row, 'choices');
      const d = row.value.target_delimiter;
      check(d === undefined || typeof d === 'string', () => `${where(row, 'target_delimiter')} is not a string`);
      return { source, raw: row.value, text: str(row, 'context'), choices, target: index(row, 'gold', choices.length), delimiter: d as string | undefined };
    }
    case 'loglikelihood':
      return { source, raw: row.value, text: str(row, 'context'), choices: [], target: str(row, 'continuation') };
    case 'loglikelihood_rolling': {
      const text = str(row, 'text');
      return { source, raw: row.value, text: '', choices: [], target: text, countText: text };
    }
  }
}

/** A generic JSON-lines task; its first row's fields decide the kind, and every row must have them. */
export function loadGenericTask(name: string, path: string): Task {
  const rows = readJsonl(path);
  const first = rows[0].value;
  const kind: Task['outputType'] | null = 'choices' in first ? 'multiple_choice' : 'continuation' in first ? 'loglikelihood' : 'text' in first ? 'loglikelihood_rolling' : null;
  if (kind === null) {
    throw new MugptError(`${path}:${rows[0].line}: "${name}" is not a built-in task (${BUILTIN_NAMES.join(', ')}), so it is read as a generic file, `
      + 'but the row has none of the fields that decide the kind: {"context", "choices", "gold"} (multiple choice), '
      + '{"context", "continuation"} (loglikelihood) or {"text"} (rolling perplexity)');
  }
  const metrics: Task['metrics'] = kind === 'multiple_choice' ? ['acc', 'acc_norm'] : kind === 'loglikelihood' ? ['perplexity', 'acc'] : ['word_perplexity', 'byte_perplexity', 'bits_per_byte'];
  return {
    name, version: 0, outputType: kind, metrics,
    targetDelimiter: kind === 'multiple_choice' ? ' ' : '', fewshotDelimiter: '\n\n',
    docs: rows.map((r) => genericDoc(r, kind)), fewshotDocs: null, files: [path],
  };
}
