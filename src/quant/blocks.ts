// GGUF's Q8_0 and Q4_0 block layouts (ggml-common.h), so one quantizer serves mugpt's runtime and
// GGUF export. A row of K weights (K a multiple of 32) is K/32 blocks:
//   Q8_0: 34 bytes = f16 d + int8 qs[32];   x̂ = q·d,       d = max|x| / 127, q = round(x/d)
//   Q4_0: 18 bytes = f16 d + uint8 qs[16];  x̂ = (q−8)·d,   d = m / −8 (m the signed value of largest |x|),
//         q = min(15, trunc(x/d + 8.5)); byte j holds element j (low nibble) and element j+16 (high nibble).
import { HALF_TABLE, floatToHalf } from './half.js';

export const QK = 32;

// ggml quantizes in float32 arithmetic and rounds half away from zero (roundf); so do we, bit for bit.
const fr = Math.fround;
const roundAway = (v: number): number => Math.sign(v) * Math.round(Math.abs(v));
export type BlockType = 'q8_0' | 'q4_0';
export const BLOCK_BYTES: Record<BlockType, number> = { q8_0: 34, q4_0: 18 };

/** Bytes of a [rows, K] matrix in the given block type. */
export function quantizedBytes(type: BlockType, rows: number, K: number): number {
  return rows * (K / QK) * BLOCK_BYTES[type];
}

/** Quantizes x[rows, K] (row-major, K % 32 == 0) into out (quantizedBytes long). */
export function quantize(type: BlockType, x: Float32Array, rows: number, K: number, out = new Uint8Array(quantizedBytes(type, rows, K))): Uint8Array {
  if (K % QK !== 0) throw new RangeError(`quantize ${type}: row length ${K} is not a multiple of ${QK}`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const nb = (rows * K) / QK;
  const bytes = BLOCK_BYTES[type];
  for (let b = 0; b < nb; b++) {
    const src = b * QK;
    const dst = b * bytes;
    if (type === 'q8_0') {
      let amax = 0;
      for (let i = 0; i < QK; i++) amax = Math.max(amax, Math.abs(x[src + i]));
      const d = fr(amax / 127);
      const id = d ? fr(1 / d) : 0;
      view.setUint16(dst, floatToHalf(d), true);
      for (let i = 0; i < QK; i++) view.setInt8(dst + 2 + i, roundAway(fr(x[src + i] * id)));
    } else {
      let amax = 0;
      let max = 0;
      for (let i = 0; i < QK; i++) {
        const v = x[src + i];
        if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
      }
      const d = fr(max / -8);
      const id = d ? fr(1 / d) : 0;
      view.setUint16(dst, floatToHalf(d), true);
      for (let j = 0; j < QK / 2; j++) {
        const lo = Math.min(15, Math.trunc(fr(fr(x[src + j] * id) + 8.5)));
        const hi = Math.min(15, Math.trunc(fr(fr(x[src + j + QK / 2] * id) + 8.5)));
        out[dst + 2 + j] = lo | (hi << 4);
      }
    }
  }
  return out;
}

/** Dequantizes blocks into out[rows, K]. */
export function dequantize(type: BlockType, q: Uint8Array, rows: number, K: number, out: Float32Array = new Float32Array(rows * K)): Float32Array {
  const nb = (rows * K) / QK;
  const bytes = BLOCK_BYTES[type];
  for (let b = 0; b < nb; b++) {
    const src = b * bytes;
    const dst = b * QK;
    const d = HALF_TABLE[q[src] | (q[src + 1] << 8)];
    if (type === 'q8_0') {
      for (let i = 0; i < QK; i++) out[dst + i] = ((q[src + 2 + i] << 24) >> 24) * d;
    } else {
      for (let j = 0; j < QK / 2; j++) {
        const byte = q[src + 2 + j];
        out[dst + j] = ((byte & 0xf) - 8) * d;
        out[dst + j + QK / 2] = ((byte >> 4) - 8) * d;
      }
    }
  }
  return out;
}
