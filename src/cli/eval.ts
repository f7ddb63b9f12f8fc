// `mugpt eval MODEL [--run RUN.yaml | --shards DIR | --text FILE]`: held-out loss and perplexity of an
// HF folder or a GGUF file (quantized too), on the held-out split a run trained against.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { check } from '../errors.js';
import { loadModel } from '../model/model.js';
import { heldOutLoss } from '../eval/perplexity.js';
import { loadRunConfig, type DataSpec } from '../train/runconfig.js';
import { openRunData } from '../train/loader.js';

interface EvalFlags { run?: string; shards?: string; text?: string; tokenizer: string; seqLen: string; maxTokens?: string; seed: string; json?: boolean }

export function register(program: Command): void {
  program
    .command('eval')
    .description('held-out loss (nats/token) and perplexity of a model (HF folder or .gguf) on a held-out split')
    .argument('<model>', 'an HF model folder or a .gguf file')
    .option('--run <file>', 'the held-out split of this run config (its data and seed)')
    .option('--shards <dir>', 'the val split of a shard folder')
    .option('--text <file>', 'a text file; its last 5% is held out')
    .option('--tokenizer <name>', 'tokenizer for --text', 'gpt2')
    .option('--seq-len <n>', 'tokens per window', '256')
    .option('--max-tokens <n>', 'score at most this many tokens')
    .option('--seed <n>', 'seed of the held-out draw for --text', '0')
    .option('--json', 'print the result as JSON')
    .action((modelPath: string, o: EvalFlags) => {
      const given = [o.run, o.shards, o.text].filter((x) => x !== undefined).length;
      check(given === 1, 'eval: give exactly one of --run, --shards or --text');
      const int = (flag: string, v: string, min: number): number => {
        const n = Number(v);
        check(Number.isInteger(n) && n >= min, `${flag}: expected an integer ≥ ${min}, got "${v}"`);
        return n;
      };
      const seqLen = int('--seq-len', o.seqLen, 2);
      const maxTokens = o.maxTokens === undefined ? undefined : int('--max-tokens', o.maxTokens, seqLen);
      let spec: DataSpec, seed: number;
      if (o.run) {
        const run = loadRunConfig(o.run);
        spec = run.data;
        seed = run.seed;
      } else {
        spec = o.shards ? { kind: 'shards', dir: o.shards } : { kind: 'text', path: o.text!, tokenizer: o.tokenizer, valFraction: 0.05 };
        seed = int('--seed', o.seed, 0);
      }
      const model = loadModel(modelPath);
      const data = openRunData(spec, model.vocabSize, seed);
      const bar = new cliProgress.SingleBar({ format: '{bar} {value}/{total} windows | ETA {eta_formatted}', stream: process.stderr },
        cliProgress.Presets.shades_classic);
      try {
        let started = false;
        const r = heldOutLoss(model, data.val, {
          seqLen, maxTokens,
          onProgress: (done, total) => { if (!started) { bar.start(total, 0); started = true; } bar.update(done); },
        });
        bar.stop();
        if (o.json) process.stdout.write(`${JSON.stringify({ model: modelPath, data: data.val.describe, seqLen, ...r })}\n`);
        else process.stdout.write(`${modelPath}: held-out loss ${r.loss.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(2)} `
          + `(${r.predictions} predictions in ${r.windows} windows of ${seqLen}, ${data.val.describe})\n`);
      } finally {
        bar.stop();
        data.close();
      }
    });
}
