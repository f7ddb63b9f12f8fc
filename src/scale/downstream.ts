// Downstream accuracy of a study member: the evaluator of `mugpt eval --task NAME=PATH` (src/eval/) run
// on the member's final checkpoint with the study's own tokenizer (a checkpoint folder holds no
// tokenizer files). The score is the task's `acc`: multiple-choice and loglikelihood tasks have it.
import { MugptError } from '../errors.js';
import { evaluate } from '../eval/harness.js';
import { EvalLM } from '../eval/lm.js';
import { loadTask, parseTaskSpec } from '../eval/tasks/index.js';
import { loadModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/load.js';

/** Accuracy (0…1) of the model folder on a downstream task `NAME=PATH`. */
export type DownstreamEvaluator = (modelDir: string, task: string) => Promise<number>;

/** The evaluator of src/eval/ with the tokenizer at `tokenizerPath`. */
export function taskEvaluator(tokenizerPath: string): DownstreamEvaluator {
  const tokenizer = loadTokenizer(tokenizerPath);
  return async (modelDir, spec) => {
    const { name, path } = parseTaskSpec(spec);
    const task = loadTask(name, path);
    const lm = new EvalLM(loadModel(modelDir), tokenizer, { batchSize: 8 });
    const [result] = evaluate(lm, [task]);
    const acc = result.metrics.acc;
    if (acc === undefined) throw new MugptError(`downstream_tasks: ${name} has no accuracy (acc) metric; use a multiple-choice or loglikelihood task`);
    return acc.value;
  };
}
