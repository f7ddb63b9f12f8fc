// Batched decode speed of llama.cpp (node-llama-cpp) in its own process: S sequences of one context
// evaluated together (node-llama-cpp puts the sequences' pending tokens into one llama_decode batch),
// for each S asked:
//   node dist/bench/engine-serve-llamacpp.js '{"path":"model.gguf","prompt":32,"decode":32,"streams":[1,8],"rounds":3,"threads":2,"vocab":50257}'
// Prompts are prefilled first (untimed); then every sequence generates `decode` greedy tokens at once,
// timed from the first to the last: aggregate decode tokens/s, the median of `rounds` runs with the S
// interleaved (common.ts interleavedRates). Prints one JSON line.
import type { Token } from 'node-llama-cpp';
import { getLlamaCpp } from '../tools/llamacpp.js';
import { interleavedRates, peakRssMiB, promptIds } from './common.js';

interface Args { path: string; prompt: number; decode: number; streams: number[]; rounds?: number; threads: number; vocab: number }

const a = JSON.parse(process.argv[2]) as Args;
const llama = await getLlamaCpp();
const model = await llama.loadModel({ modelPath: a.path, gpuLayers: 0 });

async function run(S: number, decode: number): Promise<number> {
  const context = await model.createContext({
    sequences: S, contextSize: S * (a.prompt + decode + 8), batchSize: Math.max(S * a.prompt, 64),
    threads: { ideal: a.threads, min: a.threads },
  });
  try {
    const seqs = Array.from({ length: S }, () => context.getSequence());
    const prompts = seqs.map((_, s) => promptIds(a.prompt, a.vocab, 100 + s) as Token[]);
    await Promise.all(seqs.map((q, s) => q.evaluateWithoutGeneratingNewTokens(prompts[s].slice(0, -1))));
    const t0 = performance.now();
    const counts = await Promise.all(seqs.map(async (q, s) => {
      let n = 0;
      for await (const _ of q.evaluate([prompts[s][a.prompt - 1]], { temperature: 0 })) if (++n >= decode) break;
      return n;
    }));
    return (counts.reduce((x, y) => x + y, 0) * 1000) / (performance.now() - t0);
  } finally {
    await context.dispose();
  }
}

await run(2, 4); // warm-up
const { rates, runs } = await interleavedRates(a.streams, a.rounds ?? 1, (S) => run(S, a.decode));
await model.dispose();
console.log(JSON.stringify({ engine: 'llama.cpp', rates, runs, peakRssMiB: peakRssMiB() }));
