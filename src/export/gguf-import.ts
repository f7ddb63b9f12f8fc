// Reads a GGUF file from disk into an HF-equivalent model (export/gguf-model.ts), memory-mapped
// through the native addon where it loads.
import { mapGguf, readGguf } from '../io/gguf.js';
import { loadNativeAddon } from '../native/addon.js';
import { ggufModel, type ImportOptions, type ImportedModel } from './gguf-model.js';

export type { ImportOptions, ImportedModel, ImportedTensor } from './gguf-model.js';

/** Reads a GGUF model (see ImportOptions). */
export function importGguf(path: string, opts: ImportOptions = {}): ImportedModel {
  const file = readGguf(path);
  if (opts.mmap !== false && !opts.dequantizeAll) mapGguf(file);
  const addon = loadNativeAddon();
  return ggufModel(file, opts, addon ? (...a) => addon.quantizeRows(...a) : undefined);
}
