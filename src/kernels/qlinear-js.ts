// Quantized linear layers, JS reference: y[M,N] = x[M,K] · Wᵀ + bias, with W stored as ggml blocks
// [N rows, K] (Q8_0 or Q4_0, K % 32 == 0). As llama.cpp does, x is first quantized to Q8_0 per
// 32-element block, and each block product is an integer dot product scaled by d_w·d_x:
//   Q8_0 · Q8_0:  d_w·d_x·Σ q_w·q_x          Q4_0 · Q8_0:  d_w·d_x·Σ (q_w − 8)·q_x
// (dequantize-then-float would be compute-bound; int8 keeps decode bandwidth-bound).
import { HALF_TABLE } from '../quant/half.js';
import { BLOCK_BYTES, QK, dequantize, quantize } from '../quant/blocks.js';
import type { QuantMatrix } from './kernels.js';
import { checkLayout, checkQlinear, checkQrow } from './checks.js';

export type { QuantMatrix } from './kernels.js';

/** x[M,K] → Q8_0 blocks; scales as floats (f16-rounded, like ggml's block_q8_0) and int8 values. */
export function quantizeActivations(x: Float32Array, M: number, K: number): { d: Float32Array; q: Int8Array } {
  const blocks = quantize('q8_0', x, M, K);
  const nb = (M * K) / QK;
  const d = new Float32Array(nb);
  const q = new Int8Array(M * K);
  for (let b = 0; b < nb; b++) {
    d[b] = HALF_TABLE[blocks[b * 34] | (blocks[b * 34 + 1] << 8)];
    for (let i = 0; i < QK; i++) q[b * QK + i] = (blocks[b * 34 + 2 + i] << 24) >> 24;
  }
  return { d, q };
}

/** The JS kernels read GGUF's rows layout only. */
function rowsLayout(W: QuantMatrix, what: string): void {
  checkLayout(W, what, 'JS', null);
}

/** out[K] = row r of W, dequantized. */
export function qrowJs(out: Float32Array, W: QuantMatrix, r: number): void {
  checkQrow(out, W, r);
  rowsLayout(W, 'qrow');
  const bytes = (W.K / QK) * BLOCK_BYTES[W.type];
  dequantize(W.type, W.data.subarray(r * bytes, (r + 1) * bytes), 1, W.K, out);
}

/** out[M,N] (+)= alpha·(x[M,K] · Wᵀ) + bias[N] (bias may be null). */
export function qlinearJs(out: Float32Array, x: Float32Array, W: QuantMatrix, bias: Float32Array | null, M: number, alpha = 1, accumulate = false): void {
  checkQlinear(out, x, W, bias, M);
  rowsLayout(W, 'qlinear');
  const { N, K, data, type } = W;
  const nbk = K / QK;
  const bytes = BLOCK_BYTES[type];
  const xa = quantizeActivations(x, M, K);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let b = 0; b < nbk; b++) {
        const w0 = (n * nbk + b) * bytes;
        const xb = m * nbk + b;
        const xq = xb * QK;
        let s = 0;
        if (type === 'q8_0') {
          for (let i = 0; i < QK; i++) s += ((data[w0 + 2 + i] << 24) >> 24) * xa.q[xq + i];
        } else {
          for (let j = 0; j < QK / 2; j++) {
            const byte = data[w0 + 2 + j];
            s += ((byte & 0xf) - 8) * xa.q[xq + j] + ((byte >> 4) - 8) * xa.q[xq + j + QK / 2];
          }
        }
        acc += HALF_TABLE[data[w0] | (data[w0 + 1] << 8)] * xa.d[xb] * s;
      }
      const y = alpha * acc + (bias ? bias[n] : 0);
      out[m * N + n] = accumulate ? out[m * N + n] + y : y;
    }
  }
}
