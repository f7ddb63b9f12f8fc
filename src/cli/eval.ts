// `mugpt eval MODEL …`: evaluate an HF folder, a GGUF file (quantized too) or a Hub id, in one of three modes:
//   --task NAME=PATH … --output DIR   lm-eval-compatible tasks: results.json, the Markdown table, samples
//   --text FILE                       a whole text scored with rolling windows (perplexities)
//   --run RUN.yaml | --shards DIR     held-out loss on the split a run trained against
//   --position-loss                   mean loss per token position (src/cli/eval-position.ts)
//   --longeval FILE                   line retrieval; `eval make-longeval` writes FILE (src/cli/eval-longeval.ts)
import type { Command } from 'commander';
import { countBar } from '../report/progress.js';
import { check } from '../errors.js';
import { parseIntFlag } from './flags.js';
import { evaluate } from '../eval/harness.js';
import { EvalLM } from '../eval/lm.js';
import { heldOutLoss, textPerplexity } from '../eval/perplexity.js';
import { markdownTable, resultsJson, writeResults } from '../eval/results.js';
import { loadTask, parseTaskSpec } from '../eval/tasks/index.js';
import { readText } from '../eval/tasks/files.js';
import { loadModel, type Model } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { loadRunConfig, type DataSpec } from '../train/runconfig.js';
import { openRunData } from '../train/loader.js';
import { threadsOption } from './threads.js';
import { modelFromArg } from './hub-progress.js';
import { runPositionLoss, type PositionFlags } from './eval-position.js';
import { registerMakeLongEval, runLongEval } from './eval-longeval.js';

interface EvalFlags extends PositionFlags {
  positionLoss?: boolean; longeval?: string;
  task: string[]; numFewshot: string; limit?: string; maxLength?: string; batchSize: string; logSamples?: boolean; output?: string;
  run?: string; shards?: string; text?: string; tokenizer?: string; seqLen?: string; maxTokens?: string; json?: boolean;
}

function evalLM(model: Model, o: EvalFlags): EvalLM {
  return new EvalLM(model, model.tokenizer, {
    maxLength: o.maxLength === undefined ? undefined : parseIntFlag('--max-length', o.maxLength, 1),
    batchSize: parseIntFlag('--batch-size', o.batchSize, 1),
  });
}

function runTasks(modelPath: string, o: EvalFlags, local: string): void {
  check(o.output !== undefined, 'eval: --task needs --output DIR (where results.json goes)');
  const numFewshot = parseIntFlag('--num-fewshot', o.numFewshot, 0);
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    check(o.limit.trim() !== '' && Number.isFinite(limit) && limit > 0 && (limit < 1 || Number.isInteger(limit)),
      `--limit: expected an integer ≥ 1 or a fraction in (0, 1), got "${o.limit}"`);
  }
  // Tasks first: a bad file is reported before the model loads.
  const tasks = o.task.map((spec) => { const { name, path } = parseTaskSpec(spec); return loadTask(name, path); });
  const model = loadModel(local);
  const lm = evalLM(model, o);
  const t0 = Date.now();
  const bar = countBar('requests');
  let results;
  try {
    results = evaluate(lm, tasks, { numFewshot, limit, onProgress: bar.onProgress });
  } finally {
    bar.stop();
  }
  const json = resultsJson(results, {
    model: modelPath, maxLength: lm.maxLength, batchSize: lm.batchSize, numFewshot, limit: limit ?? null, fewshotSeed: 1234,
  }, (Date.now() - t0) / 1000);
  const files = writeResults(o.output, results, json, o.logSamples === true);
  process.stdout.write(markdownTable(results));
  process.stderr.write(`wrote ${files.join(', ')}\n`);
}

function runText(modelPath: string, o: EvalFlags, local: string): void {
  const text = readText(o.text!);
  const model = loadModel(local);
  const tokenizer = o.tokenizer === undefined ? model.tokenizer : loadTokenizer(o.tokenizer);
  const maxLength = o.maxLength ?? o.seqLen;
  const lm = new EvalLM(model, tokenizer, {
    maxLength: maxLength === undefined ? undefined : parseIntFlag(o.maxLength !== undefined ? '--max-length' : '--seq-len', maxLength, 1),
    batchSize: parseIntFlag('--batch-size', o.batchSize, 1),
  });
  const bar = countBar('windows');
  let r;
  try {
    r = textPerplexity(lm, text, bar.onProgress);
  } finally {
    bar.stop();
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ model: modelPath, text: o.text, ...r })}\n`);
  else process.stdout.write(`${modelPath}: ${o.text}: loss ${r.loss.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(2)}, `
    + `word perplexity ${r.word_perplexity.toFixed(2)}, bits per byte ${r.bits_per_byte.toFixed(4)} `
    + `(${r.tokens} tokens in ${r.windows} rolling windows of at most ${r.maxLength})\n`);
}

function runHeldOut(modelPath: string, o: EvalFlags, local: string): void {
  let spec: DataSpec, seed = 0;
  if (o.run) {
    const run = loadRunConfig(o.run);
    spec = run.data;
    seed = run.seed;
  } else {
    spec = { kind: 'shards', dir: o.shards! };
  }
  const model = loadModel(local);
  const seqLen = o.seqLen === undefined ? Math.min(256, model.maxContext) : parseIntFlag('--seq-len', o.seqLen, 2);
  const maxTokens = o.maxTokens === undefined ? undefined : parseIntFlag('--max-tokens', o.maxTokens, seqLen);
  const data = openRunData(spec, model.vocabSize, seed);
  const bar = countBar('windows');
  try {
    const r = heldOutLoss(model, data.val, { seqLen, maxTokens, onProgress: bar.onProgress });
    bar.stop();
    if (o.json) process.stdout.write(`${JSON.stringify({ model: modelPath, data: data.val.describe, seqLen, ...r })}\n`);
    else process.stdout.write(`${modelPath}: held-out loss ${r.loss.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(2)} `
      + `(${r.predictions} predictions in ${r.windows} windows of ${seqLen}, ${data.val.describe})\n`);
  } finally {
    bar.stop();
    data.close();
  }
}

export function register(program: Command): void {
  const command = threadsOption(program.command('eval'))
    .description('evaluate a model (HF folder or .gguf): lm-eval-compatible tasks, the perplexity of a text, or held-out loss')
    .argument('<model>', 'an HF model folder, a .gguf file, or a Hub id OWNER/NAME[@REVISION]')
    .option('--task <NAME=PATH>', 'a task (repeatable): a built-in name (hellaswag, lambada_openai, piqa, arc_easy, arc_challenge, '
      + 'openbookqa, winogrande, boolq, wikitext) with its release file or folder, sotu_cloze or sotu_next with a run config on the '
      + 'sotu corpus (built from the speeches it held out), or any name with a JSON-lines file', (v: string, acc: string[]) => [...acc, v], [])
    .option('--num-fewshot <k>', 'solved examples before each document (drawn with a fixed seed)', '0')
    .option('--limit <n>', 'only the first N documents of each task (or a fraction < 1)')
    .option('--max-length <n>', 'tokens a request may see (default: the config\'s n_positions; ALiBi models may go past it); '
      + '--position-loss: tokens per window (default: 4 × the training length, n_positions at most with learned positions); '
      + '--longeval: default the longest prompt')
    .option('--batch-size <n>', 'rows per forward pass for requests that share no context', '1')
    .option('--log-samples', 'also write DIR/samples_NAME.jsonl, one line per document')
    .option('--output <dir>', 'where results.json (and the samples) go; --position-loss: position-loss.json and .svg')
    .option('--text <file>', 'score this whole text with rolling windows (--max-length each)')
    .option('--tokenizer <name>', 'tokenizer for --text (default: the model\'s)')
    .option('--run <file>', 'held-out loss on the held-out split of this run config')
    .option('--shards <dir>', 'held-out loss on the val split of a shard folder')
    .option('--seq-len <n>', 'tokens per window of the held-out loss (default 256, at most the model\'s context)')
    .option('--max-tokens <n>', 'held-out loss: score at most this many tokens')
    .option('--json', 'print the --text or held-out result as JSON')
    .option('--position-loss', 'mean loss per token position up to --max-length on --run, --shards or --text data (BTLM\'s long-context figure)')
    .option('--bucket-size <n>', '--position-loss: positions per bucket (default: max-length / 64)')
    .option('--max-windows <n>', '--position-loss: score at most this many windows')
    .option('--longeval <file>', 'LongEval-style line retrieval prompts (from `mugpt eval make-longeval`): greedy, exact match; with --output: longeval.json and samples')
    .action(async (modelPath: string, o: EvalFlags) => {
      if (o.positionLoss) { await runPositionLoss(await modelFromArg(modelPath), o); return; }
      if (o.longeval !== undefined) { await runLongEval(await modelFromArg(modelPath), { longeval: o.longeval, maxLength: o.maxLength, output: o.output }); return; }
      const modes = [o.task.length > 0, o.text !== undefined, o.run !== undefined || o.shards !== undefined];
      check(modes.filter(Boolean).length === 1 && !(o.run !== undefined && o.shards !== undefined),
        'eval: give exactly one of --task NAME=PATH, --text, --run or --shards');
      const local = await modelFromArg(modelPath); // a Hub id is pulled (or found in the cache) first
      if (o.task.length > 0) runTasks(modelPath, o, local);
      else if (o.text !== undefined) runText(modelPath, o, local);
      else runHeldOut(modelPath, o, local);
    });
  command.enablePositionalOptions(); // make-longeval's own --output, not eval's
  registerMakeLongEval(command);
}
