// ALiBi (btlm, position_embedding_type "alibi"): per-head slopes and BTLM's position interpolation.
// bias[h, i, j] = −(s_h / scale)·|j − i| for query position i and key position j (the kernel adds it).
import type { ModelConfig } from './config.js';

/**
 * Press et al. slopes: s_i = r^(i+1), r = 2^(−8/H) for H a power of 2; otherwise the c = 2^⌊log2 H⌋
 * slopes followed by every other slope of 2c, H − c of them (H=6: ¼, 1/16, 1/64, 1/256, ½, ⅛).
 */
export function alibiSlopes(H: number): Float32Array {
  const pow2 = (n: number): number[] => {
    const r = 2 ** (-8 / n);
    return Array.from({ length: n }, (_, i) => r ** (i + 1));
  };
  const c = 2 ** Math.floor(Math.log2(H));
  const s = c === H ? pow2(H) : [...pow2(c), ...pow2(2 * c).filter((_, i) => i % 2 === 0).slice(0, H - c)];
  return Float32Array.from(s);
}

/**
 * The divisor of the slopes when the attention sees keyLen keys in total (past + new):
 * 1 without alibi_scaling; `factor` when fixed; keyLen / train_seq_len past train_seq_len when
 * dynamic (recomputed at every cached step, as HF does).
 */
export function alibiScale(cfg: ModelConfig, keyLen: number): number {
  const s = cfg.alibi_scaling;
  if (s === null) return 1;
  if ('factor' in s) return s.factor;
  return keyLen > s.train_seq_len ? keyLen / s.train_seq_len : 1;
}

/** out[h] = slopes[h] / scale: the slopes the attention kernel takes. */
export function scaledSlopes(out: Float32Array, slopes: Float32Array, scale: number): Float32Array {
  for (let h = 0; h < slopes.length; h++) out[h] = slopes[h] / scale;
  return out;
}
