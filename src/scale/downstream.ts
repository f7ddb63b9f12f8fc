// Downstream accuracy of a study member: the evaluator of `mugpt eval --task NAME=PATH` (src/eval/) run
// on the member's final checkpoint with the study's own tokenizer (a checkpoint folder holds no
// tokenizer files). The score is the task's `acc`: multiple-choice and loglikelihood tasks have it.
// A bare `sotu_cloze` / `sotu_next` (no =PATH) builds the State of the Union tasks from the study's own
// held-out documents: its val split decoded with its tokenizer and cut at <|endoftext|>, text no member
// trained on (the data build holds whole documents out, docs/scaling/README.md).
import { MugptError, check } from '../errors.js';
import { evaluate } from '../eval/harness.js';
import { EvalLM } from '../eval/lm.js';
import { clozeDocs, nextDocs, type HeldOutText } from '../eval/sotu-tasks.js';
import { loadTask, parseTaskSpec } from '../eval/tasks/index.js';
import { sotuClozeTask, sotuNextTask } from '../eval/tasks/builtin.js';
import type { Task } from '../eval/tasks/task.js';
import { loadModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import { openShards } from '../train/loader.js';

/** Accuracy (0…1) of the model folder on a downstream task (`NAME=PATH`, or a bare held-out task name). */
export type DownstreamEvaluator = (modelDir: string, task: string) => Promise<number>;

/** The held-out documents of a shard folder: its val tokens [n] cut at eos, decoded; empty pieces dropped. */
export function heldOutTexts(shardsDir: string, tokenizer: Tokenizer): HeldOutText[] {
  const eos = tokenizer.eosTokenId;
  check(eos !== null, `${shardsDir}: the study's tokenizer has no <|endoftext|> to cut the held-out split into documents`);
  const { train, val } = openShards(shardsDir, tokenizer.vocabSize);
  train.close();
  const ids = new Uint32Array(val.length); // [n] the val split in order: whole documents, each after an eos
  val.read(0, ids);
  val.close();
  const texts: HeldOutText[] = [];
  let start = 0;
  for (let i = 0; i <= ids.length; i++) {
    if (i < ids.length && ids[i] !== eos) continue;
    const text = tokenizer.decode(ids.subarray(start, i)).trim();
    if (text) texts.push({ index: texts.length, text });
    start = i + 1;
  }
  return texts;
}

/** The evaluator of src/eval/ with the tokenizer at `tokenizerPath`; held-out tasks from `shardsDir`'s val split. */
export function taskEvaluator(tokenizerPath: string, shardsDir: string): DownstreamEvaluator {
  const tokenizer = loadTokenizer(tokenizerPath);
  const heldOut = new Map<string, Task>();
  const taskOf = (spec: string): Task => {
    if (!spec.includes('=')) {
      if (!heldOut.has(spec)) {
        const texts = heldOutTexts(shardsDir, tokenizer);
        const source = `${shardsDir} (val split)`;
        heldOut.set(spec, spec === 'sotu_cloze' ? sotuClozeTask(clozeDocs(texts), source, [shardsDir]) : sotuNextTask(nextDocs(texts), source, [shardsDir]));
      }
      return heldOut.get(spec)!;
    }
    const { name, path } = parseTaskSpec(spec);
    return loadTask(name, path);
  };
  return async (modelDir, spec) => {
    const task = taskOf(spec);
    const lm = new EvalLM(loadModel(modelDir), tokenizer, { batchSize: 8 });
    const [result] = evaluate(lm, [task]);
    const acc = result.metrics.acc;
    if (acc === undefined) throw new MugptError(`downstream_tasks: ${task.name} has no accuracy (acc) metric; use a multiple-choice or loglikelihood task`);
    return acc.value;
  };
}
