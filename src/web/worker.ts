// The model's Web Worker (bundled as worker.js beside mugpt.js): loads a GGUF file into the kernels'
// memory, then runs generate, posting each token as it comes (protocol.ts). Kernels: WebAssembly SIMD
// with a pool of Web Workers over a shared memory where the page is cross-origin isolated, else
// WebAssembly SIMD on this worker alone, else JavaScript where WebAssembly SIMD is missing.
import { MugptError } from '../errors.js';
import { ggufModel } from '../gguf/hf-model.js';
import { generate, type Generation } from '../generate/generate.js';
import { parseGguf } from '../gguf/parse.js';
import { jsKernels } from '../kernels/js.js';
import type { Kernels } from '../kernels/kernels.js';
import { wasmKernels } from '../kernels/wasm.js';
import { WasmRuntime, type WasmWorkerInit } from '../kernels/wasm-runtime.js';
import { Decoder } from '../model/decoder.js';
import { paramsFromTensors, type Weight } from '../model/params.js';
import { BpeTokenizer, type Tokenizer } from '../tokenizer/bpe.js';
import { readSource } from './bytes.js';
import { gpt2Tokenizer } from './gpt2.js';
import type { FromWorker, ModelInfo, ToWorker, WebBackend } from './protocol.js';
import { hfParams } from './hf-web.js';
import { parseTokenizerJson } from '../tokenizer/tokenizer-json.js';
import type { ModelConfig } from '../model/config.js';
import type { Params } from '../model/params.js';

interface WorkerScope {
  postMessage(m: FromWorker): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  crossOriginIsolated?: boolean;
  navigator: { hardwareConcurrency?: number };
}
const scope = globalThis as unknown as WorkerScope;

// A pool worker's body (runWasmWorker of wasm-runtime.ts, inlined: a blob worker has no module graph).
const POOL_WORKER = `onmessage = (e) => {
  const w = e.data;
  const i = new WebAssembly.Instance(w.module, { env: { memory: w.memory } });
  i.exports.__stack_pointer.value = w.stackTop;
  i.exports.worker_main(w.thread);
};`;

async function compile(variant: 'simd-threads' | 'simd'): Promise<WebAssembly.Module | null> {
  try {
    const res = await fetch(new URL(`./mugpt-${variant}.wasm`, import.meta.url));
    return res.ok ? await WebAssembly.compile(await res.arrayBuffer()) : null;
  } catch {
    return null; // no WebAssembly SIMD here (or the file is missing): the next backend
  }
}

/** The kernels of the wanted (else the best available) backend, and the runtime behind them. */
async function makeKernels(want: WebBackend | undefined, threads: number, fileBytes: number):
  Promise<{ backend: WebBackend; kernels: Kernels; rt: WasmRuntime | null }> {
  const isolated = scope.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
  if (want === 'wasm-simd-threads' && !isolated) {
    throw new MugptError("backend 'wasm-simd-threads' needs a cross-origin isolated page (COOP: same-origin, COEP: require-corp)");
  }
  if (want !== 'js') {
    const variant = (want ?? (isolated ? 'wasm-simd-threads' : 'wasm-simd')) === 'wasm-simd-threads' ? 'simd-threads' : 'simd';
    const module = await compile(variant);
    if (module) {
      const shared = variant === 'simd-threads';
      const blobUrl = shared ? URL.createObjectURL(new Blob([POOL_WORKER], { type: 'text/javascript' })) : '';
      const rt = new WasmRuntime({
        module, shared, threads,
        // a plain memory cannot grow under the model's views: the file, then room for activations and caches
        plainBytes: Math.min(2 ** 32 - 2 ** 16, fileBytes + Math.max(2 ** 28, fileBytes / 2)),
        startWorker: (init: WasmWorkerInit) => new Worker(blobUrl).postMessage(init),
      });
      return { backend: shared ? 'wasm-simd-threads' : 'wasm-simd', kernels: wasmKernels(rt), rt };
    }
    if (want) throw new MugptError(`backend '${want}': this browser has no WebAssembly SIMD`);
  }
  return { backend: 'js', kernels: jsKernels, rt: null };
}

let model: { decoder: Decoder; tokenizer: Tokenizer; rt: WasmRuntime | null } | null = null;
let running: { id: number; gen: Generation; abort: AbortController } | null = null;

const nameOf = (f: string | Blob, fallback: string): string => (typeof f === 'string' ? f : (f as File).name ?? fallback);

function parseJson(t: string, name: string): unknown {
  try {
    return JSON.parse(t);
  } catch (e) {
    throw new MugptError(`${name}: invalid JSON (${(e as Error).message})`);
  }
}

/** A small file's text; null for a URL that answers 404 when the file is optional. */
async function text(f: string | Blob, fallback: string, required: boolean): Promise<string | null> {
  if (typeof f !== 'string') return f.text();
  let res: Response;
  try {
    res = await fetch(f);
  } catch (e) {
    throw new MugptError(`${f}: cannot fetch ${fallback} (${(e as Error).message})`);
  }
  if (res.status === 404 && !required) return null;
  if (!res.ok) throw new MugptError(`${f}: the server answered ${res.status} ${res.statusText}`);
  return res.text();
}

async function load(m: Extract<ToWorker, { type: 'load' }>): Promise<void> {
  const threads = m.threads ?? scope.navigator.hardwareConcurrency ?? 1;
  let made: Awaited<ReturnType<typeof makeKernels>> | null = null;
  let lastPost = 0;
  const hf = typeof m.source === 'string' || m.source instanceof Blob ? null : m.source;
  const bytes = await readSource(hf ? hf.weights : m.source as string | Blob, m.name, async (n) => {
    // a plain memory is sized for the file before it arrives (it cannot grow under the model's views)
    made = await makeKernels(m.backend, threads, n);
    const rt = made.rt;
    if (!rt) return new Uint8Array(n);
    const ptr = rt.alloc(n); // first: it may grow the memory, and buffer() is then the grown one
    return new Uint8Array(rt.buffer(), ptr, n);
  }, (loaded, total) => {
    if (loaded === total || loaded - lastPost > total / 100) {
      lastPost = loaded;
      scope.postMessage({ type: 'progress', loaded, total });
    }
  });
  const { kernels, rt, backend } = made!;
  let config: ModelConfig, params: Params<Weight>, tokenizer: Tokenizer;
  if (hf) {
    ({ config, params } = hfParams(await text(hf.config, 'config.json', true) ?? '', bytes, { config: nameOf(hf.config, 'config.json'), weights: m.name }));
    const tj = hf.tokenizer === undefined ? null : await text(hf.tokenizer, 'tokenizer.json', false);
    tokenizer = tj === null ? await gpt2Tokenizer() : new BpeTokenizer(parseTokenizerJson(parseJson(tj, nameOf(hf.tokenizer!, 'tokenizer.json')), nameOf(hf.tokenizer!, 'tokenizer.json')));
  } else {
    const file = parseGguf({ size: bytes.length, read: (p, n) => bytes.slice(p, p + n) }, m.name);
    file.map = bytes;
    const imported = ggufModel(file);
    const named = new Map<string, Weight>();
    for (const [name, t] of imported.tensors) named.set(name, t.kind === 'f32' ? t.data : t.matrix);
    config = imported.config;
    params = paramsFromTensors(imported.config, named, m.name);
    tokenizer = imported.tokenizer ? new BpeTokenizer(imported.tokenizer) : await gpt2Tokenizer();
  }
  const decoder = new Decoder(config, params, kernels, m.kvCache);
  model = { decoder, tokenizer, rt };
  const c = config;
  const info: ModelInfo = {
    backend, threads: rt?.threads ?? 1, modelType: c.model_type, nLayer: c.n_layer, nEmbd: c.n_embd, vocabSize: c.vocab_size,
    fileBytes: bytes.length, memoryBytes: rt ? rt.memory.buffer.byteLength : 0,
  };
  scope.postMessage({ type: 'loaded', info });
}

async function run(m: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
  if (!model) throw new MugptError('generate: no model is loaded');
  if (running) throw new MugptError('generate: a generation is already running in this worker');
  const abort = new AbortController();
  const gen = generate(model.decoder, model.tokenizer, m.prompt, { ...m.options, signal: abort.signal });
  running = { id: m.id, gen, abort };
  try {
    for await (const token of gen) {
      scope.postMessage({ type: 'token', id: m.id, token }); // generate lets a stop message in between tokens
    }
    scope.postMessage({ type: 'done', id: m.id, stats: { ...gen.stats }, memoryBytes: model.rt ? model.rt.memory.buffer.byteLength : 0 });
  } finally {
    running = null;
  }
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'stop') {
    if (running?.id === m.id) running.abort.abort();
    return;
  }
  const job = m.type === 'load' ? load(m) : run(m);
  job.catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    scope.postMessage({ type: 'error', id: m.type === 'generate' ? m.id : undefined, message });
  });
};
