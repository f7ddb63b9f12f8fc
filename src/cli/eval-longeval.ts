// `mugpt eval make-longeval --lines N[,N…] [--count K] [--seed S] --output FILE.jsonl`: writes
// LongEval-style line-retrieval prompts; `mugpt eval MODEL --longeval FILE [--output DIR]`
// scores a model on them (lm-eval's greedy generate_until, exact match), per record length.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { countBar } from '../report/progress.js';
import { MugptError, check } from '../errors.js';
import { parseIntFlag } from './flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../model/model.js';
import { EvalLM } from '../eval/lm.js';
import { LONGEVAL_MAX_NEW_TOKENS, makeLongEval, parseLongEvalDoc, scoreLongEval, type LongEvalDoc } from '../eval/longeval.js';
import { loadTokenizer } from '../tokenizer/load.js';

export function registerMakeLongEval(evalCommand: Command): void {
  evalCommand
    .command('make-longeval')
    .description('write LongEval-style line-retrieval prompts (JSONL; 70 lines ≈ 1K GPT-2 tokens, 560 ≈ 8K)')
    .option('--lines <n,…>', 'lines per record, one or more (comma-separated)', '70,140,280,560')
    .option('--count <k>', 'prompts per record length', '20')
    .option('--seed <s>', 'seed of the line values and the line asked about', '0')
    .option('--tokenizer <name>', 'tokenizer that counts the prompt lengths it prints', 'gpt2')
    .requiredOption('--output <file>', 'the JSONL file to write')
    .action((o: { lines: string; count: string; seed: string; tokenizer: string; output: string }) => {
      const lines = o.lines.split(',').map((s) => parseIntFlag('--lines', s.trim(), 1));
      const docs = makeLongEval({ lines, count: parseIntFlag('--count', o.count, 1), seed: parseIntFlag('--seed', o.seed, 0) });
      writeFileAtomic(o.output, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
      const tok = loadTokenizer(o.tokenizer);
      for (const n of lines) {
        const lens = docs.filter((d) => d.num_lines === n).map((d) => tok.encode(d.context).length);
        process.stdout.write(`${n} lines: ${lens.length} prompts of ${Math.min(...lens)}–${Math.max(...lens)} tokens (${o.tokenizer})\n`);
      }
      process.stderr.write(`wrote ${o.output}\n`);
    });
}

function readLongEval(path: string): LongEvalDoc[] {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new MugptError(`--longeval: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const docs: LongEvalDoc[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try { v = JSON.parse(line); } catch { throw new MugptError(`${path}:${i + 1}: not valid JSON`); }
    docs.push(parseLongEvalDoc(v, `${path}:${i + 1}`));
  });
  check(docs.length > 0, `${path}: no prompts (an empty file)`);
  return docs;
}

export async function runLongEval(modelPath: string, o: { longeval: string; maxLength?: string; output?: string }): Promise<void> {
  const docs = readLongEval(o.longeval);
  const model = loadModel(modelPath);
  const need = docs.map((d) => model.tokenizer.encode(d.context).length + LONGEVAL_MAX_NEW_TOKENS);
  need.forEach((n, i) => check(n <= model.maxContext, () => `${o.longeval}:${i + 1}: the prompt and its answer take ${n} tokens, more than ${modelPath} can see: `
    + `it has learned position embeddings for ${model.maxContext} positions (n_positions); make shorter records (--lines)`));
  // lm-eval's generate_until keeps the context's last max_length − max_gen_toks tokens: by default
  // nothing is cut (ALiBi models see the whole prompt, however long)
  const maxLength = o.maxLength === undefined ? Math.min(model.maxContext, Math.max(...need)) : parseIntFlag('--max-length', o.maxLength, LONGEVAL_MAX_NEW_TOKENS + 1);
  const lm = new EvalLM(model, model.tokenizer, { maxLength });
  const bar = countBar('prompts');
  bar.onProgress(0, docs.length);
  let r;
  try {
    r = await scoreLongEval(docs, (context, g) => lm.generateUntil(context, g), (done) => bar.onProgress(done, docs.length));
  } finally {
    bar.stop();
  }
  process.stdout.write('| lines | prompts | exact match | stderr |\n|---|---|---|---|\n');
  for (const b of r.byLines) process.stdout.write(`| ${b.num_lines} | ${b.n} | ${b.exact_match.toFixed(4)} | ${Number.isFinite(b.exact_match_stderr) ? b.exact_match_stderr.toFixed(4) : '—'} |\n`);
  if (o.output) {
    mkdirSync(o.output, { recursive: true });
    writeFileAtomic(join(o.output, 'longeval.json'), `${JSON.stringify({ model: modelPath, file: o.longeval, maxLength, byLines: r.byLines, exact_match: r.exact_match }, null, 2)}\n`);
    writeFileAtomic(join(o.output, 'samples_longeval.jsonl'), r.samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
    process.stderr.write(`wrote ${join(o.output, 'longeval.json')} and samples_longeval.jsonl\n`);
  }
}
