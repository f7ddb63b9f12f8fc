// mugpt in a browser page: `import { loadModel, loadTokenizer } from 'mugpt/web'` (an ES module with
// no Node imports, bundled by tools/build-web.mjs). loadModel starts a Web Worker (worker.ts) that
// streams a GGUF file into the kernels' memory and generates there, so the page stays responsive;
// tokens come back as they are sampled.
import { MugptError } from '../errors.js';
import type { GeneratedToken, GenerationStats } from '../generate/generate.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import { gpt2Tokenizer } from './gpt2.js';
import type { FromWorker, HfFiles, ModelInfo, ModelSource, ToWorker, WebGenerateOptions, WebLoadOptions, WorkerSource } from './protocol.js';

export type { HfFiles, ModelInfo, ModelSource, WebBackend, WebGenerateOptions, WebLoadOptions } from './protocol.js';
export type { GeneratedToken, GenerationStats } from '../generate/generate.js';
export { MugptError } from '../errors.js';

/** The bundled GPT-2 tokenizer (Cerebras-GPT's and BTLM's vocabulary), on the calling thread. */
export function loadTokenizer(): Promise<Tokenizer> {
  return gpt2Tokenizer();
}

/** A generation in the worker: an async iterator of tokens; stats once it has ended. */
export interface WebGeneration extends AsyncIterableIterator<GeneratedToken> {
  /** null until the last token has come. */
  readonly stats: GenerationStats | null;
  /** Bytes of the kernels' memory when it ended. */
  readonly memoryBytes: number;
  /** Stops after the token being computed. */
  stop(): void;
}

/** A model loaded in its own Web Worker. */
export class WebModel {
  private nextId = 1;
  private busy = false;
  private constructor(private readonly worker: Worker, readonly info: ModelInfo) {}

  /** Loads a model (see ModelSource) in a new worker; rejects with the worker's message when it cannot. */
  static async load(src: ModelSource, opts: WebLoadOptions = {}): Promise<WebModel> {
    const { source, name } = workerSource(src);
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const info = await new Promise<ModelInfo>((resolve, reject) => {
      worker.onerror = (e) => reject(new MugptError(`the model worker failed to start (${e.message})`));
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === 'progress') opts.onProgress?.(m.loaded, m.total);
        else if (m.type === 'loaded') resolve(m.info);
        else if (m.type === 'error') reject(new MugptError(m.message));
      };
      const msg: ToWorker = { type: 'load', source, name, backend: opts.backend, threads: opts.threads, kvCache: opts.kvCache };
      worker.postMessage(msg);
    }).catch((e: unknown) => {
      worker.terminate();
      throw e;
    });
    return new WebModel(worker, info);
  }

  /** Streams a continuation of prompt (text or token ids); one generation at a time. */
  generate(prompt: string | number[], options: WebGenerateOptions = {}): WebGeneration {
    if (this.busy) throw new MugptError('generate: a generation is already running on this model');
    this.busy = true;
    const id = this.nextId++;
    const queue: GeneratedToken[] = [];
    let waiting: { resolve: (r: IteratorResult<GeneratedToken>) => void; reject: (e: unknown) => void } | null = null;
    let ended = false;
    let failure: MugptError | null = null;
    const state = { stats: null as GenerationStats | null, memoryBytes: 0 };
    const settle = (): void => {
      if (!waiting) return;
      const w = waiting;
      if (queue.length > 0) { waiting = null; w.resolve({ value: queue.shift()!, done: false }); }
      else if (failure) { waiting = null; w.reject(failure); }
      else if (ended) { waiting = null; w.resolve({ value: undefined, done: true }); }
    };
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (!('id' in m) || m.id !== id) {
        if (m.type === 'error') { failure = new MugptError(m.message); this.busy = false; settle(); }
        return;
      }
      if (m.type === 'token') queue.push(m.token);
      else if (m.type === 'done') { state.stats = m.stats; state.memoryBytes = m.memoryBytes; ended = true; this.busy = false; }
      else if (m.type === 'error') { failure = new MugptError(m.message); this.busy = false; }
      settle();
    };
    const msg: ToWorker = { type: 'generate', id, prompt, options };
    this.worker.postMessage(msg);
    const gen: WebGeneration = {
      get stats() { return state.stats; },
      get memoryBytes() { return state.memoryBytes; },
      stop: () => this.worker.postMessage({ type: 'stop', id } satisfies ToWorker),
      next: () => new Promise<IteratorResult<GeneratedToken>>((resolve, reject) => { waiting = { resolve, reject }; settle(); }),
      [Symbol.asyncIterator]() { return gen; },
    };
    return gen;
  }

  /** Ends the worker and frees its memory. */
  dispose(): void {
    this.worker.terminate();
  }
}

/** A source as the worker takes it, and the name errors give it. */
function workerSource(src: ModelSource): { source: WorkerSource; name: string } {
  if (typeof src === 'string') {
    if (!src.endsWith('/')) return { source: src, name: src };
    return { source: { config: `${src}config.json`, weights: `${src}model.safetensors`, tokenizer: `${src}tokenizer.json` }, name: `${src}model.safetensors` };
  }
  if (src instanceof Blob) return { source: src, name: (src as File).name ?? 'model' };
  if ('config' in src && 'weights' in src) return { source: src, name: typeof src.config === 'string' ? src.config : 'config.json' };
  const files = Array.from(src as ArrayLike<File>);
  const find = (n: string): File | undefined => files.find((f) => f.name === n);
  const gguf = files.filter((f) => f.name.toLowerCase().endsWith('.gguf'));
  if (gguf.length === 1 && files.length === 1) return { source: gguf[0], name: gguf[0].name };
  const config = find('config.json'), weights = find('model.safetensors');
  if (!config || !weights) {
    throw new MugptError(`expected one .gguf file, or a Hugging Face folder's config.json and model.safetensors (and tokenizer.json); got ${
      files.map((f) => f.name).join(', ') || 'no files'}`);
  }
  const hf: HfFiles = { config, weights, tokenizer: find('tokenizer.json') };
  return { source: hf, name: 'model.safetensors' };
}

/** Loads a model (a GGUF file or an HF folder's files, by URL or File) into a Web Worker; see WebModel. */
export function loadModel(source: ModelSource, opts: WebLoadOptions = {}): Promise<WebModel> {
  return WebModel.load(source, opts);
}
