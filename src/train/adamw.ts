// AdamW with torch.optim.AdamW's exact update order, per-tensor learning-rate multipliers (μP
// parameter groups) and exportable state; plus torch.nn.utils.clip_grad_norm_.
//
// One step for a tensor p with gradient g, group learning rate η = lr · multiplier, step count t:
//   p ← p · (1 − η·λ)                       (decoupled weight decay; λ = 0 for tensors of < 2 dims)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   p ← p − η/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
// Written in plain loops (not a kernel): one pass per tensor, memory-bound, no library does it on
// Float32Arrays.
import { MugptError, check } from '../errors.js';

/** What the optimizer needs of a model: its live parameter arrays, keyed by HF name. */
export interface HasParameters {
  parameters(): Record<string, Float32Array>;
  /** Optional tensor shapes by HF name; without them the rank is inferred from the name. */
  shapes?(): Record<string, number[]>;
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Per-tensor learning-rate multipliers (μP groups); tensors not listed get 1. */
  lrMultipliers?: Record<string, number>;
  /** Tensor shapes by name (decides which tensors decay: rank ≥ 2). Default: model.shapes?.() or names. */
  shapes?: Record<string, number[]>;
}

/** Optimizer state for checkpoints: step count and the two moment buffers per tensor. */
export interface AdamWState {
  step: number;
  lr: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/** Non-trainable HF tensors (stored ALiBi slopes): never updated, no optimizer state. */
export function isTrainableName(name: string): boolean {
  return !/(^|\.)relative_pe\.slopes$/.test(name);
}

/**
 * Rank of an HF GPT-2/BTLM tensor from its name: biases and LayerNorm weights are vectors, every
 * other tensor (wte, wpe, Conv1D weights, lm_head) is a matrix.
 */
export function rankFromHfName(name: string): number {
  if (/\.bias$/.test(name)) return 1;
  if (/(^|\.)ln_(1|2|f)\.weight$/.test(name)) return 1;
  return 2;
}

export class AdamW {
  private lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private t = 0;
  private readonly params: Record<string, Float32Array>;
  private readonly names: string[];
  private readonly mult: Record<string, number> = {};
  private readonly decays: Record<string, boolean> = {};
  private readonly m: Record<string, Float32Array> = {};
  private readonly v: Record<string, Float32Array> = {};

  constructor(model: HasParameters, opts: AdamWOptions) {
    const [b1, b2] = opts.betas ?? [0.9, 0.999];
    check(Number.isFinite(opts.lr) && opts.lr >= 0, `AdamW: lr must be a number ≥ 0, got ${opts.lr}`);
    check(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1, `AdamW: betas must be in [0, 1), got [${b1}, ${b2}]`);
    this.lr = opts.lr;
    this.beta1 = b1;
    this.beta2 = b2;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    check(this.eps >= 0, `AdamW: eps must be ≥ 0, got ${this.eps}`);
    check(this.weightDecay >= 0, `AdamW: weightDecay must be ≥ 0, got ${this.weightDecay}`);
    this.params = model.parameters();
    const shapes = opts.shapes ?? model.shapes?.();
    this.names = Object.keys(this.params).filter(isTrainableName);
    for (const name of Object.keys(opts.lrMultipliers ?? {})) {
      check(name in this.params, `AdamW: lrMultipliers names an unknown tensor '${name}'`);
    }
    for (const name of this.names) {
      const n = this.params[name].length;
      const mult = opts.lrMultipliers?.[name] ?? 1;
      check(Number.isFinite(mult) && mult >= 0, `AdamW: lr multiplier of '${name}' must be ≥ 0, got ${mult}`);
      this.mult[name] = mult;
      const rank = shapes?.[name]?.length ?? rankFromHfName(name);
      this.decays[name] = rank >= 2;
      this.m[name] = new Float32Array(n);
      this.v[name] = new Float32Array(n);
    }
  }

  /** The base learning rate (before per-tensor multipliers). */
  getLr(): number { return this.lr; }
  setLr(lr: number): void {
    check(Number.isFinite(lr) && lr >= 0, `AdamW: lr must be a number ≥ 0, got ${lr}`);
    this.lr = lr;
  }
  /** Number of steps taken. */
  get stepCount(): number { return this.t; }
  /** The learning-rate multiplier of one tensor. */
  multiplier(name: string): number { return this.mult[name]; }
  /** Whether a tensor gets weight decay (rank ≥ 2). */
  decayed(name: string): boolean { return this.decays[name]; }

  /** One update of every trainable tensor from grads (same names and lengths; gradients of frozen tensors are ignored). */
  step(grads: Record<string, Float32Array>): void {
    for (const name of Object.keys(grads)) {
      if (!(name in this.params)) throw new MugptError(`AdamW.step: gradient for unknown tensor '${name}'`);
    }
    for (const name of this.names) {
      const g = grads[name];
      check(g !== undefined, `AdamW.step: no gradient for '${name}'`);
      check(g.length === this.params[name].length,
        `AdamW.step: gradient of '${name}' has ${g.length} elements, the parameter ${this.params[name].length}`);
    }
    this.t += 1;
    const t = this.t;
    const b1 = this.beta1, b2 = this.beta2, eps = this.eps;
    const bc1 = 1 - b1 ** t;
    const invBc2Sqrt = 1 / Math.sqrt(1 - b2 ** t);
    const c1 = 1 - b1, c2 = 1 - b2;
    for (const name of this.names) {
      const lr = this.lr * this.mult[name];
      const decay = this.decays[name] ? 1 - lr * this.weightDecay : 1;
      const stepSize = lr / bc1;
      const p = this.params[name], g = grads[name], m = this.m[name], v = this.v[name];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + c1 * gi);
        const vi = (v[i] = b2 * v[i] + c2 * gi * gi);
        p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
      }
    }
  }

  /** The state to save with a checkpoint (references to the live buffers; copy before mutating). */
  exportState(): AdamWState {
    return { step: this.t, lr: this.lr, m: { ...this.m }, v: { ...this.v } };
  }

  /** Restores a saved state; every trainable tensor must be present with the right length. */
  importState(state: AdamWState): void {
    check(Number.isInteger(state.step) && state.step >= 0, `AdamW state: step must be an integer ≥ 0, got ${state.step}`);
    for (const name of this.names) {
      for (const [key, buf] of [['m', state.m[name]], ['v', state.v[name]]] as const) {
        check(buf !== undefined, `AdamW state: no '${key}' buffer for tensor '${name}'`);
        check(buf.length === this.params[name].length,
          `AdamW state: '${key}' buffer of '${name}' has ${buf.length} elements, the parameter ${this.params[name].length}`);
      }
    }
    for (const name of Object.keys(state.m)) {
      check(name in this.m, `AdamW state: buffer for unknown tensor '${name}'`);
    }
    for (const name of this.names) {
      this.m[name].set(state.m[name]);
      this.v[name].set(state.v[name]);
    }
    this.t = state.step;
    this.lr = state.lr;
  }
}

/**
 * torch.nn.utils.clip_grad_norm_(params, maxNorm): scales every gradient in place by
 * min(1, maxNorm / (‖g‖₂ + 1e-6)), ‖g‖₂ the norm over all tensors together. Returns ‖g‖₂ before
 * clipping (NaN or Infinity when a gradient is not finite; the gradients are then left as they are).
 */
export function clipGradNorm(grads: Record<string, Float32Array>, maxNorm: number): number {
  check(maxNorm > 0, `clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  let sumSq = 0;
  for (const g of Object.values(grads)) {
    for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
  }
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm)) return norm;
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef < 1) {
    for (const g of Object.values(grads)) {
      for (let i = 0; i < g.length; i++) g[i] *= coef;
    }
  }
  return norm;
}
