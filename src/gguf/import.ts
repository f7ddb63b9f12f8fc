// Reads a GGUF file from disk into an HF-equivalent model (gguf/hf-model.ts), memory-mapped
// through the native addon where it loads, and registers that reader for Model.loadGguf (the model
// does not import this folder: the dependency runs one way, gguf → model).
import { mapGguf, readGguf } from './file.js';
import { loadNativeAddon } from '../native/addon.js';
import { registerGgufReader } from '../model/model.js';
import type { Weight } from '../model/params.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { quantizedBytes } from '../quant/blocks.js';
import { ggufModel, type ImportOptions, type ImportedModel } from './hf-model.js';

export type { ImportOptions, ImportedModel, ImportedTensor } from './hf-model.js';

/** Reads a GGUF model (see ImportOptions). */
export function importGguf(path: string, opts: ImportOptions = {}): ImportedModel {
  const file = readGguf(path);
  if (opts.mmap !== false && !opts.dequantizeAll) mapGguf(file);
  const addon = loadNativeAddon();
  const quantizeRows = addon ? (src: Uint8Array, srcType: number, rows: number, K: number, Kp: number, type: number): Uint8Array => {
    const out = addon.allocWeights(quantizedBytes(type === 8 ? 'q8_0' : 'q4_0', rows, Kp));
    addon.quantizeRows(out, src, srcType, rows, K, Kp, type);
    return out;
  } : undefined;
  return ggufModel(file, opts, quantizeRows);
}

registerGgufReader((path, opts) => {
  const m = importGguf(path, { ...opts, conv1dOutIn: true });
  const weights = new Map<string, Weight>();
  for (const [name, t] of m.tensors) weights.set(name, t.kind === 'f32' ? t.data : t.matrix);
  return { config: m.config, weights, tokenizer: m.tokenizer ? new BpeTokenizer(m.tokenizer) : null, conv1dOutIn: true };
});
