// Reads a GGUF file from disk into an HF-equivalent model (gguf/hf-model.ts), memory-mapped
// through the native addon where it loads, and registers that reader for Model.loadGguf (the model
// does not import this folder: the dependency runs one way, gguf → model).
import { mapGguf, readGguf, type GgufFile } from './file.js';
import { loadNativeAddon, type NativeAddon } from '../native/addon.js';
import { registerGgufReader } from '../model/model.js';
import type { Weight } from '../model/params.js';
import type { Kernels, QuantMatrix } from '../kernels/kernels.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { quantizedBytes } from '../quant/blocks.js';
import { ggufModel, padTypeOf, type ImportOptions, type ImportedModel } from './hf-model.js';
import { layoutCacheKey, startLayoutCache, writeLayoutCache, type PendingLayoutCache } from './layout-cache.js';

export type { ImportOptions, ImportedModel, ImportedTensor } from './hf-model.js';

/**
 * The layout cache (gguf/layout-cache.ts) for a load on these kernels: they must be the native ones
 * that pack (x16), and the file mapped; log hears why a cache is not used or saved.
 */
export interface LayoutCacheUse { kernels: Kernels; log: (line: string) => void }

/** Reads a GGUF model (see ImportOptions), through the layout cache when `cache` is given and applies. */
export function importGguf(path: string, opts: ImportOptions = {}, cache?: LayoutCacheUse): ImportedModel {
  const addon = loadNativeAddon();
  const mmap = opts.mmap !== false && !opts.dequantizeAll;
  const useCache = cache && addon && mmap && cache.kernels.name === 'native' && addon.info().x16 ? cache : undefined;
  // first: from a cold page cache, reading the cache file overlaps all that follows
  const pending = useCache && addon ? startLayoutCache(path, addon, useCache.log) : null;
  try {
    const file = readGguf(path);
    const mapped = mmap && mapGguf(file);
    const quantizeRows = addon ? (src: Uint8Array, srcType: number, rows: number, K: number, Kp: number, type: number): Uint8Array => {
      const out = addon.allocWeights(quantizedBytes(type === 8 ? 'q8_0' : 'q4_0', rows, Kp));
      addon.quantizeRows(out, src, srcType, rows, K, Kp, type);
      return out;
    } : undefined;
    if (!useCache || !addon || !mapped || !file.map) return ggufModel(file, opts, quantizeRows);
    return cachedModel(file as GgufFile & { map: Uint8Array }, opts, addon, useCache, pending, quantizeRows);
  } finally {
    pending?.cancel(); // a load that failed (a malformed GGUF file) leaves no check reading the cache behind it
  }
}

/**
 * ggufModel with its block matrices from the layout cache when it was made for this load, or packed now
 * and saved there. The cache's checksums are computed while the model is built from the file's
 * metadata; should one differ, the model is built again from the file.
 */
function cachedModel(file: GgufFile & { map: Uint8Array }, opts: ImportOptions, addon: NativeAddon, cache: LayoutCacheUse,
  pending: PendingLayoutCache | null, quantizeRows: Parameters<typeof ggufModel>[2]): ImportedModel {
  const key = layoutCacheKey(file, addon.info().simd, padTypeOf(file, opts));
  const matrices = pending?.matricesFor(key);
  if (pending && matrices) {
    const model = ggufModel(file, opts, quantizeRows, matrices);
    if (pending.verify()) {
      // The F32 tensors (norms, biases) are views of the mapping, scattered through the file: from a cold page
      // cache the first fault on each would read megabytes around it (read-around), the whole file in all.
      // Read each one exactly instead.
      for (const t of model.tensors.values()) {
        if (t.kind === 'f32' && t.data.buffer === file.map.buffer) t.data = new Float32Array(file.read(t.data.byteOffset, t.data.byteLength).buffer);
      }
      return model;
    }
  }
  const model = ggufModel(file, opts, quantizeRows);
  // what the model's constructor would do (Kernels.qprepare), done here so the packed bytes can be saved
  const packed = new Map<string, QuantMatrix>();
  for (const [name, t] of model.tensors) {
    if (t.kind !== 'quant') continue;
    cache.kernels.qprepare(t.matrix);
    if (t.matrix.layout === 'x16') packed.set(name, t.matrix);
  }
  if (packed.size > 0) writeLayoutCache(file.path, key, packed, addon, cache.log);
  return model;
}

registerGgufReader((path, opts) => {
  const m = importGguf(path, { mmap: opts.mmap, padToBlocks: opts.padToBlocks, conv1dOutIn: true }, opts.layoutCache);
  const weights = new Map<string, Weight>();
  for (const [name, t] of m.tensors) weights.set(name, t.kind === 'f32' ? t.data : t.matrix);
  return { config: m.config, weights, tokenizer: m.tokenizer ? new BpeTokenizer(m.tokenizer) : null, conv1dOutIn: true };
});
