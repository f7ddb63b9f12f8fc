// One mugpt inference measurement in its own process (so its peak RSS is mugpt's alone):
//   node dist/bench/engine-mugpt.js '{"shape":"cerebras-gpt-111m","prompt":512,"decode":128}'
// Loads the random model (F32, built in memory) or a GGUF file (with the layout cache), prefills `prompt` tokens through
// step() (logits at the last position only), then decodes `decode` tokens greedily. With
// `fillContext`, the KV cache is instead filled with random keys/values up to that many positions
// and `decode` tokens are decoded after them: memory and speed at a long context without the prefill.
// With `bandwidthSegments` n, the timed decode runs in n segments with the machine's read bandwidth
// sampled before each and after the last (probe-bandwidth.ts, in its own process): the bound of the
// decode is then measured in the same minute as the decode itself. Each segment resumes with one untimed
// step after its probe (resumeAfterProbe).
// Prints one JSON line: tokens/s, peak RSS, and the per-kernel profile of each phase.
import { jsKernels } from '../src/kernels/js.js';
import { loadModel, Model } from '../src/index.js';
import { Q8LayerKV, type KVCacheType, type LayerKVCache } from '../src/model/kvcache.js';
import { peakRssMiB, promptIds, randomTensors, shapeConfig, type ShapeName } from './common.js';
import { sampleBandwidth } from './probe-bandwidth.js';
import { KernelProfiler } from './profile.js';

interface Args { shape: ShapeName; layers?: number; gguf?: string; prompt: number; decode: number; fillContext?: number; kvType?: KVCacheType; bandwidthSegments?: number }

function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}

const a = JSON.parse(process.argv[2]) as Args;
const t0 = performance.now();
const opts = { kvCache: a.kvType ?? 'f32' } as const;
// GGUF files load as `mugpt generate` and `serve` load them: through the layout cache (written by the first run)
const model = a.gguf ? loadModel(a.gguf, { ...opts, layoutCache: true, onLog: (line) => console.error(line) }) : Model.fromTensors(shapeConfig(a.shape, a.layers), randomTensors(shapeConfig(a.shape, a.layers)), opts);
const loadSeconds = (performance.now() - t0) / 1000;
const rssAfterLoadMiB = process.memoryUsage().rss / 2 ** 20;
const V = model.vocabSize;
const qlinear = model.kernels.qlinear === jsKernels.qlinear ? 'js' : 'native'; // before the profiler wraps it
const prof = new KernelProfiler(model.kernels);

// warm-up: thread pool, JIT, scratch buffers, and the model's activations for a prompt of the timed length,
// which every later call reuses (llama.cpp's compute buffers are made with its context, before its timing
// starts; a first prompt of 512 tokens took 233–249 ms against 182–211 for the next, 111M Q4_0)
const warm = model.newCache();
model.step(warm, promptIds(Math.max(16, a.prompt), V, 7));
for (let i = 0; i < 32; i++) model.step(warm, [1 + i]); // until the JIT has compiled the decode path

// The cache, as generate() makes it: room for the whole run at once; its allocation is timed with the
// prefill, as a generate() call pays for it (llama.cpp's context is made before its timing starts).
prof.reset();
const c0 = performance.now();
const cache = model.newCache(a.prompt + a.decode);
const cacheMs = performance.now() - c0;
let prefillTps: number | null = null;
let prefillMs = 0;
let last: number;
if (a.fillContext) {
  // a context of fillContext positions without computing it: random keys and values in every layer
  const c = cache as LayerKVCache;
  c.reserve(a.fillContext);
  for (const layer of c.layers()) {
    for (const arr of [layer.k, layer.v]) {
      // small values: floats, half-precision bit patterns (0x3000 = 0.125, varied in the mantissa), or int8
      if (arr instanceof Float32Array) for (let i = 0; i < arr.length; i++) arr[i] = Math.sin(i) * 0.5;
      else if (arr instanceof Uint16Array) for (let i = 0; i < arr.length; i++) arr[i] = 0x3000 + (i & 0x3ff);
      else for (let i = 0; i < arr.length; i++) arr[i] = (i % 201) - 100;
    }
    if (layer instanceof Q8LayerKV) { layer.kScale.fill(0.005); layer.vScale.fill(0.005); }
  }
  c.length = a.fillContext - a.decode;
  last = 1;
} else {
  const ids = promptIds(a.prompt, V);
  const p0 = performance.now();
  last = argmax(model.step(cache, ids));
  prefillMs = performance.now() - p0 + cacheMs;
  prefillTps = (a.prompt * 1000) / prefillMs;
}
const prefillProfile = prof.snapshot();
// The timed decode runs on the kernels' own methods (the timers off and unwrapped: tens of calls a token);
// then the cache is rewound and the same tokens are decoded again, timed per kernel, for the profile.
const start = { length: cache.length, last };
const logits = new Float32Array(V);  // the decode's logits, one array for every token (as generate() does)
prof.enabled = false;
const segments = Math.max(1, Math.min(a.decode, a.bandwidthSegments ?? 1));
/**
 * After a probe, one untimed step of the next token, then the cache rewound by it: the first token after any
 * pause of a second (the probe's, or a sleep) took 13–30 ms against 9–10 steady for the 111M F32 shape and
 * 56–65 against 44–47 for BTLM-3B Q4_0 (BENCHMARKS.md, session 11), and a user's decode follows its prefill
 * with no pause; the segments would otherwise charge the decode one such token each.
 */
function resumeAfterProbe(): void {
  const c = cache as LayerKVCache;
  model.step(c, [last], logits);
  c.length -= 1;
}
const bandwidthGBs: number[] = [];
let decodeMs = 0;
for (let seg = 0, done = 0; seg < segments; seg++) {
  if (a.bandwidthSegments) {
    bandwidthGBs.push(...sampleBandwidth());
    resumeAfterProbe();
  }
  const n = Math.round(((seg + 1) * a.decode) / segments) - done;
  const d0 = performance.now();
  for (let i = 0; i < n; i++) last = argmax(model.step(cache, [last], logits));
  decodeMs += performance.now() - d0;
  done += n;
}
if (a.bandwidthSegments) bandwidthGBs.push(...sampleBandwidth());
(cache as LayerKVCache).length = start.length;
last = start.last;
prof.enabled = true;
prof.reset();
const p0 = performance.now();
for (let i = 0; i < a.decode; i++) last = argmax(model.step(cache, [last], logits));
const decodeProfileMs = performance.now() - p0;

console.log(JSON.stringify({
  engine: 'mugpt',
  backend: model.kernels.name,
  qlinear,
  loadSeconds,
  rssAfterLoadMiB,
  prefillTokensPerSecond: prefillTps,
  decodeTokensPerSecond: (a.decode * 1000) / decodeMs,
  bandwidthGBs,
  contextAtEnd: cache.length,
  kvCacheMiB: (cache as LayerKVCache).bytes / 2 ** 20,
  peakRssMiB: peakRssMiB(),
  prefillMs,
  cacheMs,
  decodeMs,
  decodeProfileMs,
  prefillProfile,
  decodeProfile: prof.snapshot(),
}));
