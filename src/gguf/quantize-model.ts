// `mugpt quantize`: an HF model folder or a GGUF file → a GGUF file of the chosen weight type,
// loadable by llama.cpp and by mugpt. Tensors stream one at a time from the source.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../errors.js';
import { openCheckpoint, readConfigJson } from '../io/hf.js';
import { parseConfig } from '../model/config.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { exportGguf, type GgufWeightType, type GgufExportOptions } from './export.js';
import { importGguf } from './import.js';
import { GgmlType, readGguf } from './file.js';
import type { GgufPlan } from './name-map.js';

export const QUANT_TYPES: readonly GgufWeightType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export interface QuantizeOptions {
  type: GgufWeightType;
  embedType?: GgufWeightType;
  name?: string;
  /**
   * Let a GGUF source whose matrices are already Q8_0/Q4_0 be written as another type than F32
   * (default false: refused, as llama.cpp's quantizer does without --allow-requantize).
   */
  allowRequantize?: boolean;
}

/**
 * Refuses to re-quantize: the blocks of a quantized source dequantize exactly only to F32; any other
 * output type rounds the already-rounded weights a second time (Q4_0 → Q8_0 keeps Q4_0's error and
 * adds Q8_0's), so the file looks like Q8_0 but has Q4_0's quality. llama.cpp refuses the same
 * without --allow-requantize.
 */
function checkRequantize(src: string, opts: QuantizeOptions): void {
  if (opts.allowRequantize) return;
  const embedType = opts.embedType ?? (opts.type === 'q8_0' || opts.type === 'q4_0' ? 'q8_0' : opts.type);
  if (opts.type === 'f32' && embedType === 'f32') return;
  // named in the message: a block's matrix (the file's type) before the embedding (Q8_0 in most files)
  const quantized = [...readGguf(src).tensors].filter(([, t]) => t.type === GgmlType.Q8_0 || t.type === GgmlType.Q4_0)
    .sort(([a], [b]) => Number(b.startsWith('blk.')) - Number(a.startsWith('blk.')));
  for (const [name, t] of quantized.slice(0, 1)) {
    const from = t.type === GgmlType.Q8_0 ? 'Q8_0' : 'Q4_0';
    throw new MugptError(`${src}: already quantized (${name} is ${from}); writing it as ${opts.type}`
      + `${embedType !== opts.type ? ` (embeddings ${embedType})` : ''} would round the rounded weights again and lose precision silently. `
      + 'Quantize from the original F32/F16/BF16 model instead, convert it with --type f32 (exact), or pass --allow-requantize to do it anyway');
  }
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
  checkRequantize(src, opts);
  const m = importGguf(src, { dequantizeAll: true });
  if (!m.tokenizer) throw new MugptError(`${src}: GGUF has no tokenizer (tokenizer.ggml.tokens)`);
  return exportGguf(out, m.config, (name) => {
    const t = m.tensors.get(name);
    if (!t || t.kind !== 'f32') throw new MugptError(`${src}: tensor for "${name}" is missing`);
    return t.data;
  }, m.tokenizer, exportOpts);
}
