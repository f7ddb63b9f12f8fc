// Memory and decode speed of a GGUF model at a given context, in this process:
//   node dist/tools/quant-memory.js FILE.gguf CONTEXT [--kv-cache f16|f32] [--pad-to-blocks q4_0|q8_0|none] [--no-mmap]
// The cache is filled with CONTEXT − 8 positions of random keys and values (not computed: a prefill
// of thousands of tokens takes minutes on a small machine), then 8 tokens are decoded (the first
// one untimed). Prints one JSON line: weights in memory, cache size, RSS after loading, peak RSS, tokens/s.
import { loadModel } from '../src/index.js';
import type { LayerKVCache } from '../src/model/kvcache.js';
import type { Weight } from '../src/model/params.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const [file, ctxArg] = args;
if (!file || !ctxArg) throw new Error('usage: quant-memory FILE.gguf CONTEXT [--kv-cache f16|f32] [--pad-to-blocks q4_0|q8_0|none] [--no-mmap]');
const ctx = Number(ctxArg), decode = 8;
const kvCache = flag('--kv-cache', 'f16') as 'f16' | 'f32';
const pad = flag('--pad-to-blocks', 'q4_0');
const mmap = !args.includes('--no-mmap');

const t0 = performance.now();
const model = loadModel(file, { kvCache, padToBlocks: pad === 'none' ? false : (pad as 'q4_0' | 'q8_0'), mmap });
const loadSeconds = (performance.now() - t0) / 1000;
const rssAfterLoad = process.memoryUsage().rss;

let weightBytes = 0;
const seen = new Set<Weight>();
const add = (w: Weight | null): void => {
  if (!w || seen.has(w)) return;
  seen.add(w);
  weightBytes += w instanceof Float32Array ? w.byteLength : w.data.byteLength;
};
add(model.params.wte); add(model.params.lmHead); add(model.params.wpe);
for (const l of model.params.layers) for (const w of Object.values(l)) add(w as Weight | null);
for (const w of model.params.tensors.values()) add(w);

const cache = model.newCache() as LayerKVCache;
cache.reserve(ctx);
for (const a of [...cache.k, ...cache.v]) {
  // |values| < 0.5, as halves or floats
  if (a instanceof Uint16Array) for (let i = 0; i < a.length; i++) a[i] = ((i * 2654435761) >>> 20) & 0xb7ff;
  else for (let i = 0; i < a.length; i++) a[i] = Math.sin(i) * 0.5;
}
cache.length = ctx - decode;
let last = 1;
const argmax = (l: Float32Array): number => l.reduce((b, v, i) => (v > l[b] ? i : b), 0);
last = argmax(model.step(cache, [last])); // first touch of every weight page
const d0 = performance.now();
for (let i = 1; i < decode; i++) last = argmax(model.step(cache, [last]));
const tokensPerSecond = (decode - 1) / ((performance.now() - d0) / 1000);

const GB = (b: number): number => Number((b / 1e9).toFixed(3));
console.log(JSON.stringify({
  file, context: ctx, kvCache, padToBlocks: pad, mmap, loadSeconds: Number(loadSeconds.toFixed(1)),
  weightsGB: GB(weightBytes), cacheGB: GB(cache.bytes), rssAfterLoadGB: GB(rssAfterLoad),
  peakRssGB: GB(process.resourceUsage().maxRSS * 1024), decodeTokensPerSecond: Number(tokensPerSecond.toFixed(2)),
}));
