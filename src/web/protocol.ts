// The messages between the page-side API (index.ts) and the model's Web Worker (worker.ts).
import type { FinishReason, GeneratedToken, GenerationStats } from '../generate/generate.js';
import type { GenerateOptions } from '../generate/options.js';
import type { KVCacheType } from '../model/kvcache.js';

/** What runs the kernels: WebAssembly SIMD with a pool of workers, WebAssembly SIMD alone, or plain JavaScript. */
export type WebBackend = 'wasm-simd-threads' | 'wasm-simd' | 'js';

/** A Hugging Face folder's files, each a URL or a File: config.json, model.safetensors, optionally tokenizer.json. */
export interface HfFiles {
  config: string | Blob;
  weights: string | Blob;
  /** Absent (or a URL that answers 404): the bundled GPT-2 tokenizer. */
  tokenizer?: string | Blob;
}

/**
 * A model to load: a GGUF file (URL or File), an HF folder's files, a folder URL ending in '/' (its
 * config.json, model.safetensors and tokenizer.json), or the files of a folder (a multiple file picker).
 */
export type ModelSource = string | Blob | HfFiles | ArrayLike<File>;

/** What the worker is sent: a GGUF file or an HF folder's files. */
export type WorkerSource = string | Blob | HfFiles;

export interface WebLoadOptions {
  /** Kernels: the fastest this page can run by default ('wasm-simd-threads' needs cross-origin isolation). */
  backend?: WebBackend;
  /** Threads of the pool (default navigator.hardwareConcurrency). */
  threads?: number;
  kvCache?: KVCacheType;
  /** Called as the file streams in. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
}

export interface ModelInfo {
  backend: WebBackend;
  threads: number;
  /** config.json fields of the model. */
  modelType: string;
  nLayer: number;
  nEmbd: number;
  vocabSize: number;
  /** Bytes of the file. */
  fileBytes: number;
  /** Bytes the kernels' WebAssembly memory holds (0 for 'js'). */
  memoryBytes: number;
}

/** GenerateOptions without what cannot cross to a worker (signal). */
export type WebGenerateOptions = Omit<GenerateOptions, 'signal'>;

export type ToWorker =
  | { type: 'load'; source: WorkerSource; name: string; backend?: WebBackend; threads?: number; kvCache?: KVCacheType }
  | { type: 'generate'; id: number; prompt: string | number[]; options: WebGenerateOptions }
  | { type: 'stop'; id: number };

export type FromWorker =
  | { type: 'progress'; loaded: number; total: number }
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'token'; id: number; token: GeneratedToken }
  | { type: 'done'; id: number; stats: GenerationStats & { finishReason: FinishReason | null }; memoryBytes: number }
  | { type: 'error'; id?: number; message: string };
