// Batched decode speed of mugpt in its own process: S sequences decoded together through
// Model.stepBatch (the step `mugpt serve`'s scheduler runs), for each S asked:
//   node dist/bench/engine-serve-mugpt.js '{"gguf":"model.gguf","prompt":32,"decode":32,"streams":[1,8],"rounds":3,"kvType":"f16"}'
// Each sequence gets its own prompt, prefilled first (untimed); then `decode` steps of S tokens each
// are timed, greedy (argmax), so the figure is the aggregate decode tokens/s: the median of `rounds`
// runs, the S interleaved (common.ts interleavedRates). Prints one JSON line.
import { argmax } from '../src/generate/sampler.js';
import type { KVCache } from '../src/generate/decode-model.js';
import type { KVCacheType } from '../src/model/kvcache.js';
import { loadModel } from '../src/index.js';
import { interleavedRates, peakRssMiB, promptIds } from './common.js';

interface Args { gguf: string; prompt: number; decode: number; streams: number[]; rounds?: number; kvType?: KVCacheType }

const a = JSON.parse(process.argv[2]) as Args;
// loaded as `mugpt serve` loads it: through the layout cache (written by the first run)
const model = loadModel(a.gguf, { kvCache: a.kvType ?? 'f16', layoutCache: true, onLog: (line) => console.error(line) });
const V = model.vocabSize;

function run(S: number, decode: number): number {
  const caches: KVCache[] = [], last: number[] = [];
  for (let s = 0; s < S; s++) {
    const c = model.newCache(a.prompt + decode);
    last.push(argmax(model.step(c, promptIds(a.prompt, V, 100 + s))));
    caches.push(c);
  }
  const t0 = performance.now();
  for (let i = 0; i < decode; i++) {
    const logits = model.stepBatch(caches.map((cache, s) => ({ cache, ids: [last[s]] })));
    for (let s = 0; s < S; s++) last[s] = argmax(logits[s]);
  }
  return (S * decode * 1000) / (performance.now() - t0);
}

run(2, 8); // warm-up: thread pool, JIT, scratch buffers
const { rates, runs } = await interleavedRates(a.streams, a.rounds ?? 1, (S) => run(S, a.decode));
console.log(JSON.stringify({ engine: 'mugpt', rates, runs, peakRssMiB: peakRssMiB() }));
