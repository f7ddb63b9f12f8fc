// Evaluation speed against an lm-eval-style PyTorch loop, in one run:
//   node dist/bench/eval.js [--docs 32] [--torch-threads 2,1] [--batch-size 1] [--repeats 1] [--no-torch]
// One multiple-choice file (generic layout: the first --docs documents of sotu_next, four choices
// each, real State of the Union text) is scored on the Cerebras-GPT-111M shape with random F32
// weights, saved once as an HF folder that both engines load:
//   mugpt    bench/engine-eval.ts: EvalLM, lm-eval's rules; the four choices of a document share the
//            context's forward through the KV cache, and the LM head runs on the continuation's rows only;
//   PyTorch  bench/peers/torch_lmeval.py: HFLM's loop at batch size 1, one forward per request over
//            context + continuation, log_softmax over every position (OpenBLAS; each thread setting in
//            --torch-threads is tried, torch's and OpenBLAS's thread counts equal, and the best kept).
// Both score the same token ids (lm-eval's pair encoding, done here), and the table says how far their
// log-likelihoods and greedy flags agree. Target: mugpt ≥ 3× PyTorch's requests/s.
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePair } from '../src/eval/requests.js';
import { sotuNext } from '../src/eval/sotu-tasks.js';
import { Model } from '../src/model/model.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import {
  benchDir, fmt, machineLine, peerScript, printTable, randomTensors, ratio, runChild, runEngine, shapeConfig,
  type ChildFailure, type ChildResult, benchArgs, numberFlag,
} from './common.js';

const { values: opt } = benchArgs({
  options: {
    docs: { type: 'string', default: '32' },
    'torch-threads': { type: 'string', default: '2,1' },
    'batch-size': { type: 'string', default: '1' },
    repeats: { type: 'string', default: '1' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const nDocs = numberFlag('docs', opt.docs), repeats = numberFlag('repeats', opt.repeats);

/** The random 111M model as an HF folder, written once (its name carries the shape). */
function modelDir(): string {
  const dir = join(benchDir(), 'cerebras-gpt-111m-random-hf');
  if (existsSync(join(dir, 'config.json'))) return dir;
  const cfg = shapeConfig('cerebras-gpt-111m');
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  Model.fromTensors(cfg, randomTensors(cfg)).save(tmp);
  renameSync(tmp, dir);
  return dir;
}

console.log(machineLine());
const dir = modelDir();
const docs = sotuNext({ seed: 0, valFraction: 0.05 }).slice(0, nDocs);
const file = join(benchDir(), `sotu_next-${docs.length}.jsonl`);
writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
const tok = loadTokenizer('gpt2');
const eot = tok.eosTokenId!;
const tokenRequests = docs.flatMap((d) => d.choices.map((c) => encodePair(tok, eot, d.context, ` ${c}`)));
const requestsFile = join(benchDir(), `sotu_next-${docs.length}.requests.json`);
writeFileSync(requestsFile, JSON.stringify({ max_length: 2048, requests: tokenRequests.map((r) => [r.context, r.continuation]) }));
const tokens = tokenRequests.reduce((a, r) => a + r.context.length + r.continuation.length, 0);
console.log(`\n## Cerebras-GPT-111M shape, F32 random weights: ${docs.length} documents of sotu_next, ${tokenRequests.length} requests `
  + `(${(tokens / tokenRequests.length).toFixed(0)} tokens each on average), batch size ${opt['batch-size']}\n`);

interface Run { rps: number[]; last: Record<string, unknown> | null; error?: string }
async function measure(run: () => Promise<ChildResult | ChildFailure>): Promise<Run> {
  const out: Run = { rps: [], last: null };
  for (let i = 0; i < repeats; i++) {
    const r = await run();
    if (!r.ok) return { ...out, error: r.error };
    out.rps.push(r.json.requestsPerSecond as number);
    out.last = r.json;
  }
  return out;
}
const best = (r: Run): number | null => (r.rps.length ? Math.max(...r.rps) : null);
const range = (r: Run): string => {
  if (r.error) return `failed: ${r.error}`;
  const lo = Math.min(...r.rps), hi = Math.max(...r.rps);
  return lo === hi ? fmt(lo, 2) : `${fmt(lo, 2)}–${fmt(hi, 2)}`;
};

const mugpt = await measure(() => runEngine('engine-eval.js', { dir, file, batchSize: Number(opt['batch-size']) }));
const rows: Array<{ name: string; run: Run }> = [{ name: 'mugpt (native, F32, shared context through the KV cache)', run: mugpt }];
if (!opt['no-torch']) {
  for (const t of opt['torch-threads'].split(',')) {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: t, OMP_NUM_THREADS: t };
    rows.push({ name: `PyTorch 1.13 + OpenBLAS, lm-eval HFLM loop, ${t} thread${t === '1' ? '' : 's'}`,
      run: await measure(() => runChild('/usr/bin/python3', [peerScript('torch_lmeval.py'), dir, requestsFile, t], env)) });
  }
}

const m = best(mugpt);
printTable(['engine', 'requests/s', 'mugpt ÷ engine', 'seconds (last run)', 'peak RSS MiB'],
  rows.map(({ name, run }) => [name, range(run), run === mugpt ? '' : ratio(m, best(run)),
    run.last ? fmt(run.last.seconds as number, 1) : '—', run.last ? fmt(run.last.peakRssMiB as number, 0) : '—']));

// agreement of the two engines on every request
const torchRuns = rows.filter((r) => r.run !== mugpt && r.run.last);
if (mugpt.last && torchRuns.length) {
  const a = mugpt.last.loglikelihoods as number[], ga = mugpt.last.isGreedy as boolean[];
  const b = torchRuns[0].run.last!.loglikelihoods as number[], gb = torchRuns[0].run.last!.isGreedy as boolean[];
  const maxDiff = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  const greedySame = ga.filter((g, i) => g === gb[i]).length;
  const torchBest = Math.max(...torchRuns.map((r) => best(r.run) ?? 0));
  console.log(`\nagreement: max |Δ log-likelihood| ${maxDiff.toExponential(2)} nats over ${a.length} requests; greedy flags equal on ${greedySame}/${a.length}`);
  console.log(`mugpt ${fmt(m, 2)} requests/s against PyTorch's best ${fmt(torchBest, 2)}: ${ratio(m, torchBest)} (target ≥ ×3)`);
}
