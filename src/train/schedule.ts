// Learning-rate schedules of the Cerebras-GPT and BTLM recipes: linear warmup from 0 to the peak,
// then linear or cosine decay to endRatio·peak at totalSteps, constant after that.
//
// `step` is the 0-based index of the optimizer update about to be taken (Cerebras' LinearLR form,
// so the first update of a warmup uses lr 0). With W warmup steps, D = totalSteps − W, s = step − W:
//   warmup  (step < W): lr = peak · step / W
//   linear:             lr = peak + (end − peak) · min(s, D) / D
//   cosine:             lr = end + (peak − end) · (1 + cos(π · min(s, D) / D)) / 2
//   constant:           lr = peak
import { check } from '../errors.js';

export type DecayKind = 'linear' | 'cosine' | 'constant';

export interface LrSchedule {
  peakLr: number;
  warmupSteps: number;
  /** Warmup plus decay steps: the step at which lr reaches endRatio·peakLr. */
  totalSteps: number;
  decay: DecayKind;
  /** Final lr as a fraction of the peak (Cerebras-GPT 0.1, BTLM ≈ 0.0085). */
  endRatio: number;
}

export function validateSchedule(s: LrSchedule, where = 'schedule'): void {
  check(Number.isFinite(s.peakLr) && s.peakLr >= 0, `${where}: peak lr must be ≥ 0, got ${s.peakLr}`);
  check(Number.isInteger(s.warmupSteps) && s.warmupSteps >= 0, `${where}: warmup steps must be an integer ≥ 0, got ${s.warmupSteps}`);
  check(Number.isInteger(s.totalSteps) && s.totalSteps >= s.warmupSteps,
    `${where}: total steps must be an integer ≥ warmup steps (${s.warmupSteps}), got ${s.totalSteps}`);
  check(s.endRatio >= 0 && s.endRatio <= 1, `${where}: end ratio must be in [0, 1], got ${s.endRatio}`);
}

/** The learning rate for the update with 0-based index `step`. */
export function lrAt(s: LrSchedule, step: number): number {
  const peak = s.peakLr;
  if (step < s.warmupSteps) return (peak * step) / s.warmupSteps;
  if (s.decay === 'constant') return peak;
  const end = peak * s.endRatio;
  const D = s.totalSteps - s.warmupSteps;
  if (D <= 0) return end;
  const frac = Math.min(step - s.warmupSteps, D) / D;
  if (s.decay === 'linear') return peak + (end - peak) * frac;
  return end + ((peak - end) * (1 + Math.cos(Math.PI * frac))) / 2;
}
