// Fresh parameters for a gpt2/btlm config, as Cerebras initialised them: truncated normal at ±2σ
// for matrices, zero biases, unit LayerNorm gains, and the stored ALiBi slopes.
//   SP (σ = initializer_range):  wte, wpe, c_attn, c_fc, c_fc2: σ;  attn.c_proj, mlp.c_proj: σ/√(2L)
//   μP (σ_base = initializer_range, m and m_f from mup.ts):
//        wte, wpe: σ_base;  c_attn, c_fc, c_fc2: σ_base/√m;
//        attn.c_proj: σ_base/√m/√(2L);  mlp.c_proj: σ_base/√m_f/√(2L)
import { check } from '../errors.js';
import { Rng } from '../train/rng.js';
import { innerSize, usesAlibi, type ModelConfig } from './config.js';
import { mupGroup, mupMultipliers, type MupBase } from './mup.js';

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

/** The HF tensors of a config in checkpoint order, with shapes (Conv1D weights are [in, out]). */
export function hfTensorShapes(cfg: ModelConfig): Array<{ name: string; shape: number[] }> {
  const D = cfg.n_embd, I = innerSize(cfg), out: Array<{ name: string; shape: number[] }> = [];
  const add = (name: string, shape: number[]) => out.push({ name: `transformer.${name}`, shape });
  add('wte.weight', [cfg.vocab_size, D]);
  if (!usesAlibi(cfg)) add('wpe.weight', [cfg.n_positions, D]);
  for (let i = 0; i < cfg.n_layer; i++) {
    const h = `h.${i}`;
    add(`${h}.ln_1.weight`, [D]); add(`${h}.ln_1.bias`, [D]);
    add(`${h}.attn.c_attn.weight`, [D, 3 * D]); add(`${h}.attn.c_attn.bias`, [3 * D]);
    add(`${h}.attn.c_proj.weight`, [D, D]); add(`${h}.attn.c_proj.bias`, [D]);
    add(`${h}.ln_2.weight`, [D]); add(`${h}.ln_2.bias`, [D]);
    add(`${h}.mlp.c_fc.weight`, [D, I]); add(`${h}.mlp.c_fc.bias`, [I]);
    if (cfg.activation_function === 'swiglu') { add(`${h}.mlp.c_fc2.weight`, [D, I]); add(`${h}.mlp.c_fc2.bias`, [I]); }
    add(`${h}.mlp.c_proj.weight`, [I, D]); add(`${h}.mlp.c_proj.bias`, [D]);
  }
  add('ln_f.weight', [D]); add('ln_f.bias', [D]);
  if (usesAlibi(cfg)) add('relative_pe.slopes', [cfg.n_head, 1]);
  return out;
}

/** ALiBi slopes (Press et al.): r^(i+1), r = 2^(−8/H) for H a power of 2; else c = 2^⌊log2 H⌋ slopes plus every other one of 2c. */
export function alibiSlopes(H: number): Float32Array {
  const pow2 = (n: number) => Array.from({ length: n }, (_, i) => 2 ** ((-8 / n) * (i + 1)));
  const c = 2 ** Math.floor(Math.log2(H));
  const s = c === H ? pow2(H) : [...pow2(c), ...pow2(2 * c).filter((_, i) => i % 2 === 0).slice(0, H - c)];
  return Float32Array.from(s);
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
  return hfTensorShapes(cfg).map(({ name, shape }) => {
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
