// One mugpt evaluation measurement in its own process:
//   node dist/bench/engine-eval.js '{"dir": MODEL_DIR, "file": MC.jsonl, "batchSize": 1}'
// Loads the HF folder, reads a multiple-choice file in the generic layout ({"context", "choices",
// "gold"}), and scores its (context, " " + choice) requests with EvalLM (lm-eval's rules; the choices
// of a document share the context's forward through the KV cache). Prints one JSON line: requests/s
// of the scoring alone, and each request's log-likelihood and greedy flag (in file order) so the
// bench can compare them with the peer's.
import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { EvalLM } from '../src/eval/lm.js';
import { loadModel } from '../src/index.js';
import { peakRssMiB } from './common.js';

interface Args { dir: string; file: string; batchSize?: number }
const a = JSON.parse(process.argv[2]) as Args;

const t0 = performance.now();
const model = loadModel(a.dir);
const lm = new EvalLM(model, model.tokenizer, { batchSize: a.batchSize });
const docs = readFileSync(a.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { context: string; choices: string[] });
const requests = docs.flatMap((d) => d.choices.map((c): [string, string] => [d.context, ` ${c}`]));
const loadSeconds = (performance.now() - t0) / 1000;
lm.loglikelihood('Warm-up', ' run'); // thread pool, JIT, scratch buffers

const bar = new cliProgress.SingleBar({ format: 'mugpt {bar} {value}/{total} requests | {speed} req/s | ETA {eta_formatted}', stream: process.stderr },
  cliProgress.Presets.shades_classic);
bar.start(requests.length, 0, { speed: '-' });
const s0 = performance.now();
const results = lm.loglikelihoodBatch(requests, (done) => bar.update(done, { speed: (done / ((performance.now() - s0) / 1000)).toFixed(1) }));
const seconds = (performance.now() - s0) / 1000;
bar.stop();
console.log(JSON.stringify({
  engine: 'mugpt', requests: requests.length, seconds, requestsPerSecond: requests.length / seconds, loadSeconds,
  loglikelihoods: results.map((r) => r.logprob), isGreedy: results.map((r) => r.isGreedy), peakRssMiB: peakRssMiB(),
}));
