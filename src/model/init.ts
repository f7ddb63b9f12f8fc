// Fresh parameters for a gpt2/btlm config, as Cerebras initialised them: truncated normal at ±2σ
// for matrices, zero biases, unit LayerNorm gains, and the stored ALiBi slopes.
//   SP (σ = initializer_range):  wte, wpe, c_attn, c_fc, c_fc2: σ;  attn.c_proj, mlp.c_proj: σ/√(2L)
//   μP (σ_base = initializer_range, m and m_f from mup.ts):
//        wte, wpe: σ_base;  c_attn, c_fc, c_fc2: σ_base/√m;
//        attn.c_proj: σ_base/√m/√(2L);  mlp.c_proj: σ_base/√m_f/√(2L)
import { check } from '../errors.js';
import { Rng } from '../rng.js';
import { alibiSlopes } from './alibi.js';
import type { ModelConfig } from './config.js';
import { mupGroup, mupMultipliers, type MupBase } from './mup.js';
import { expectedTensors } from './params.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export type Parameterization = 'sp' | 'mup';

export interface InitOptions {
  seed: number;
  /** Default 'mup' when the config carries μP fields (mup_width_scale ≠ 1), else 'sp'. */
  parameterization?: Parameterization;
  /** μP base widths; default m = 1/mup_width_scale, m_f = m. */
  mupBase?: MupBase;
}

/** The init standard deviation of each matrix (before the ±2σ truncation), by parameterization. */
export function initStd(cfg: ModelConfig, name: string, opts: Omit<InitOptions, 'seed'> = {}): number {
  const p = opts.parameterization ?? (cfg.mup_width_scale !== 1 ? 'mup' : 'sp');
  const sigma = cfg.initializer_range;
  const outScale = 1 / Math.sqrt(2 * cfg.n_layer);
  const g = mupGroup(name);
  const isAttnOut = /\.attn\.c_proj\.weight$/.test(name);
  if (p === 'sp') {
    if (g === 'embedding') return sigma;
    return g === 'ffn_output' || isAttnOut ? sigma * outScale : sigma;
  }
  const m = mupMultipliers(cfg, opts.mupBase);
  if (g === 'embedding') return sigma;
  if (g === 'ffn_output') return (sigma / Math.sqrt(m.ffn)) * outScale;
  return isAttnOut ? (sigma / Math.sqrt(m.width)) * outScale : sigma / Math.sqrt(m.width);
}

/** Fresh parameters (deterministic from the seed) for a config, in SP or μP. */
export function initModel(cfg: ModelConfig, opts: InitOptions): NamedTensor[] {
  check(opts.parameterization === undefined || opts.parameterization === 'sp' || opts.parameterization === 'mup',
    `initModel: parameterization must be 'sp' or 'mup', got ${JSON.stringify(opts.parameterization)}`);
  const rng = new Rng(opts.seed);
  return expectedTensors(cfg).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const g = mupGroup(name);
    if (g === 'frozen') data.set(alibiSlopes(cfg.n_head));
    else if (g === 'vector') { if (/\.weight$/.test(name)) data.fill(1); }
    else {
      const std = initStd(cfg, name, opts);
      for (let i = 0; i < n; i++) data[i] = rng.truncNormal(std);
    }
    return { name, shape, data };
  });
}
