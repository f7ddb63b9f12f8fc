// `mugpt eval MODEL --position-loss --run RUN.yaml|--text FILE|--shards DIR [--max-length L]
// [--bucket-size S] [--max-windows N] [--output DIR]`: mean loss per position bucket (BTLM's
// long-context figure), printed as a table, and with --output written as DIR/position-loss.json and
// DIR/position-loss.svg.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countBar } from '../report/progress.js';
import { MugptError, check } from '../errors.js';
import { parseIntFlag } from './flags.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel, type Model } from '../model/model.js';
import { positionLoss, positionLossSvg } from '../eval/position-loss.js';
import { loadRunConfig } from '../train/runconfig.js';
import { ArrayStream, openRunData, openShards, type TokenStream } from '../train/loader.js';

export interface PositionFlags {
  run?: string; shards?: string; text?: string; maxLength?: string; bucketSize?: string; maxWindows?: string; output?: string;
}

/** The tokens to score and the length the model was trained at (when the source says it). */
function openSource(model: Model, o: PositionFlags): { stream: TokenStream; trainingLength: number; close(): void } {
  if (o.run) {
    const run = loadRunConfig(o.run);
    const data = openRunData(run.data, model.vocabSize, run.seed);
    return { stream: data.val, trainingLength: Math.max(...run.stages.map((s) => s.seqLen)), close: data.close };
  }
  if (o.shards) {
    const { train, val } = openShards(o.shards, model.vocabSize);
    train.close();
    return { stream: val, trainingLength: model.config.n_positions, close: () => val.close() };
  }
  let text: string;
  try { text = readFileSync(o.text!, 'utf8'); } catch (e) {
    throw new MugptError(`--text: cannot read ${o.text} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const ids = model.tokenizer.encode(text);
  for (const id of ids) check(id < model.vocabSize, `--text: the model's tokenizer gave id ${id}, outside its vocab_size ${model.vocabSize}`);
  return { stream: new ArrayStream(Uint32Array.from(ids), o.text!), trainingLength: model.config.n_positions, close: () => {} };
}

export async function runPositionLoss(modelPath: string, o: PositionFlags): Promise<void> {
  const given = [o.run, o.shards, o.text].filter((x) => x !== undefined).length;
  check(given === 1, 'eval --position-loss: give exactly one of --run (its held-out split), --shards (the val split) or --text (the whole file)');
  const explicit = o.maxLength === undefined ? undefined : parseIntFlag('--max-length', o.maxLength, 2);
  const bucketSize = o.bucketSize === undefined ? undefined : parseIntFlag('--bucket-size', o.bucketSize, 1);
  const maxWindows = o.maxWindows === undefined ? undefined : parseIntFlag('--max-windows', o.maxWindows, 1);
  const model = loadModel(modelPath);
  const src = openSource(model, o);
  try {
    // default: 4× the training length; learned positions stop at n_positions (an explicit L past it is refused)
    let maxLength = explicit ?? 4 * src.trainingLength;
    if (explicit === undefined && maxLength > model.maxContext) {
      process.stderr.write(`note: ${modelPath} has learned position embeddings for ${model.maxContext} positions and cannot be evaluated past them `
        + `(only ALiBi models extrapolate): --max-length ${model.maxContext} instead of 4 × ${src.trainingLength}\n`);
      maxLength = model.maxContext;
    }
    const S = bucketSize ?? Math.max(1, Math.round(maxLength / 64));
    const bar = countBar('positions', 'tok');
    let r;
    try {
      r = positionLoss(model, src.stream, { maxLength, bucketSize: S, maxWindows, onProgress: bar.onProgress });
    } finally {
      bar.stop();
    }
    const out = { model: modelPath, data: src.stream.describe, trainingLength: src.trainingLength, ...r };
    process.stdout.write(`${modelPath} on ${src.stream.describe}: ${r.windows} windows of ${maxLength} tokens, mean loss ${r.loss.toFixed(4)} nats/token\n`);
    process.stdout.write('| positions | mean loss | predictions |\n|---|---|---|\n');
    for (const b of r.buckets) process.stdout.write(`| ${b.start}–${b.end - 1} | ${b.loss.toFixed(4)} | ${b.count} |\n`);
    if (o.output) {
      mkdirSync(o.output, { recursive: true });
      const svg = await positionLossSvg(r, { model: modelPath, trainingLength: src.trainingLength });
      writeFileAtomic(join(o.output, 'position-loss.json'), `${JSON.stringify(out, null, 2)}\n`);
      writeFileAtomic(join(o.output, 'position-loss.svg'), svg);
      process.stderr.write(`wrote ${join(o.output, 'position-loss.json')} and ${join(o.output, 'position-loss.svg')}\n`);
    }
  } finally {
    src.close();
  }
}
