// Small models with GPT-2's vocabulary for the batching and server tests: a Cerebras-GPT-shaped gpt2
// (learned positions, GELU) and a BTLM-shaped one (ALiBi, SwiGLU, μP multipliers), random weights,
// as tensors or written to a GGUF file of a given type (with the bundled GPT-2 tokenizer).
import { join } from 'node:path';
import { exportGguf, type GgufWeightType } from '../src/gguf/export.js';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { Model, type ModelOptions } from '../src/index.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { scratch } from './helpers.js';

export const SMALL: Record<'gpt2' | 'btlm', ModelConfig> = {
  gpt2: makeConfig({ model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, activation_function: 'gelu', initializer_range: 0.2 }),
  btlm: makeConfig({
    model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, n_inner: 192, activation_function: 'swiglu',
    position_embedding_type: 'alibi', mup_embeddings_scale: 2, mup_output_alpha: 2, mup_width_scale: 0.5,
    mup_scale_qk_dot_by_d: true, initializer_range: 0.2,
  }),
};

const tensorCache = new Map<string, Map<string, Float32Array>>();
const fileCache = new Map<string, string>();

/** The random weights of a small model by HF name (seeded; made once a process, so not to be modified). */
export function smallTensors(arch: keyof typeof SMALL): Map<string, Float32Array> {
  let t = tensorCache.get(arch);
  if (!t) tensorCache.set(arch, t = new Map(initModel(SMALL[arch], { seed: 7, parameterization: 'sp' }).map((x) => [x.name, x.data])));
  return t;
}

export function smallModel(arch: keyof typeof SMALL, opts: ModelOptions = {}): Model {
  return Model.fromTensors(SMALL[arch], smallTensors(arch), opts);
}

/** The small model as a GGUF file of `type` in a scratch folder (written once a process); returns its path. */
export function smallGguf(arch: keyof typeof SMALL, type: GgufWeightType): string {
  let path = fileCache.get(`${arch}-${type}`);
  if (!path) {
    path = join(scratch(), `${arch}-${type}.gguf`);
    const t = smallTensors(arch);
    exportGguf(path, SMALL[arch], (n) => t.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type });
    fileCache.set(`${arch}-${type}`, path);
  }
  return path;
}
