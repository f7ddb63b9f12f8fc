// A task as lm-eval's ConfigurableTask defines one (lm_eval/api/task.py): documents mapped to a prompt
// text, choices and a target, an output type, a target delimiter and a few-shot delimiter. This file
// turns documents into (context, continuation) requests the way lm-eval's construct_requests and
// few-shot sampler do.

export type OutputType = 'multiple_choice' | 'loglikelihood' | 'loglikelihood_rolling';

/** One document after the task's preprocessing. */
export interface Doc {
  /** Where it came from, for errors and the samples file (`file:line`). */
  source: string;
  /** The row as read (written to the samples file). */
  raw: unknown;
  /**
   * multiple_choice: the query, or the gold index when the choices are the contexts (WinoGrande's
   * partial scoring: each choice is a context, and `target` the shared continuation).
   * loglikelihood: the context. loglikelihood_rolling: unused ('').
   */
  text: string | number;
  /** multiple_choice: the choices (without the delimiter). */
  choices: string[];
  /** multiple_choice: the gold index, or the continuation with per-choice contexts; loglikelihood: the continuation; rolling: the text scored. */
  target: number | string;
  /** loglikelihood_rolling: the text the word and byte counts come from (wikitext: the page before detokenization). */
  countText?: string;
  /** This document's target delimiter, when it has its own (generic files' "target_delimiter"). */
  delimiter?: string;
}

export type MetricName = 'acc' | 'acc_norm' | 'perplexity' | 'word_perplexity' | 'byte_perplexity' | 'bits_per_byte';

export interface Task {
  name: string;
  /** lm-eval's task version (the table's Version column). */
  version: number;
  outputType: OutputType;
  metrics: readonly MetricName[];
  /** Between the context and each continuation (" " by default). */
  targetDelimiter: string;
  /** Between few-shot examples ("\n\n"). */
  fewshotDelimiter: string;
  docs: Doc[];
  /** The training split few-shot examples come from, or null: then from the other documents. */
  fewshotDocs: Doc[] | null;
  /** The files read, for results.json's config. */
  files: string[];
}

export const HIGHER_IS_BETTER: Record<MetricName, boolean> = {
  acc: true, acc_norm: true, perplexity: false, word_perplexity: false, byte_perplexity: false, bits_per_byte: false,
};

/** A multiple-choice document's gold index. */
export function goldIndex(doc: Doc): number {
  return typeof doc.text === 'number' ? doc.text : doc.target as number;
}

/** A solved example as lm-eval writes it into a few-shot prompt: text + delimiter + target. */
function example(task: Task, doc: Doc): string {
  const delim = doc.delimiter ?? task.targetDelimiter;
  if (task.outputType === 'multiple_choice') {
    if (typeof doc.text === 'number') return doc.choices[doc.text] + delim + String(doc.target);
    return doc.text + delim + doc.choices[doc.target as number];
  }
  return String(doc.text) + delim + String(doc.target);
}

/** The few-shot prefix: the examples, each followed by the few-shot delimiter ('' without examples). */
export function fewshotPrefix(task: Task, examples: readonly Doc[]): string {
  return examples.map((d) => example(task, d) + task.fewshotDelimiter).join('');
}

/** The (context, continuation) requests of a document after a few-shot prefix. */
export function docRequests(task: Task, doc: Doc, prefix: string): Array<[string, string]> {
  const delim = doc.delimiter ?? task.targetDelimiter;
  switch (task.outputType) {
    case 'multiple_choice':
      if (typeof doc.text === 'number') return doc.choices.map((c) => [prefix + c, delim + String(doc.target)]);
      return doc.choices.map((c) => [prefix + (doc.text as string), delim + c]);
    case 'loglikelihood':
      return [[prefix + (doc.text as string), delim + String(doc.target)]];
    case 'loglikelihood_rolling':
      return [['', String(doc.target)]];
  }
}
