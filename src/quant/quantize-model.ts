// `mugpt quantize`: an HF model folder or a GGUF file → a GGUF file of the chosen weight type,
// loadable by llama.cpp and by mugpt. Tensors stream one at a time from the source.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../errors.js';
import { openCheckpoint, readConfigJson } from '../io/hf.js';
import { parseConfig } from '../model/config.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { exportGguf, type GgufWeightType, type GgufExportOptions } from '../export/gguf-export.js';
import { importGguf } from '../export/gguf-import.js';
import type { GgufPlan } from '../export/gguf-map.js';

export const QUANT_TYPES: readonly GgufWeightType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export interface QuantizeOptions {
  type: GgufWeightType;
  embedType?: GgufWeightType;
  name?: string;
}

function hasTokenizerFiles(dir: string): boolean {
  return existsSync(join(dir, 'tokenizer.json')) || (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt')));
}

/** Quantizes src (HF folder or .gguf) into the GGUF file out; returns the export plan (with its notes). */
export function quantizeModel(src: string, out: string, opts: QuantizeOptions): GgufPlan {
  if (!QUANT_TYPES.includes(opts.type)) {
    throw new MugptError(`--type: "${opts.type}" is not supported (expected one of ${QUANT_TYPES.join(', ')})`);
  }
  if (opts.embedType !== undefined && !QUANT_TYPES.includes(opts.embedType)) {
    throw new MugptError(`--embed-type: "${opts.embedType}" is not supported (expected one of ${QUANT_TYPES.join(', ')})`);
  }
  if (!existsSync(src)) throw new MugptError(`${src}: no such file or folder (expected an HF model folder or a .gguf file)`);
  const exportOpts: GgufExportOptions = { type: opts.type, embedType: opts.embedType, name: opts.name };
  if (statSync(src).isDirectory()) {
    const cfg = parseConfig(readConfigJson(src), join(src, 'config.json'));
    const tok = loadTokenizer(hasTokenizerFiles(src) ? src : 'gpt2');
    if (!(tok instanceof BpeTokenizer)) throw new MugptError(`${src}: the tokenizer is not a byte-level BPE`);
    const ckpt = openCheckpoint(src);
    try {
      return exportGguf(out, cfg, (name) => ckpt.read(name), tok.spec, exportOpts);
    } finally {
      ckpt.close();
    }
  }
  const m = importGguf(src, { dequantizeAll: true });
  if (!m.tokenizer) throw new MugptError(`${src}: GGUF has no tokenizer (tokenizer.ggml.tokens)`);
  return exportGguf(out, m.config, (name) => {
    const t = m.tensors.get(name);
    if (!t || t.kind !== 'f32') throw new MugptError(`${src}: tensor for "${name}" is missing`);
    return t.data;
  }, m.tokenizer, exportOpts);
}
