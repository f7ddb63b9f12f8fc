// Argument checks the backends that call compiled code (native, wasm) run in front of each call, so
// a bad call is a MugptError, never a read past an array.
import { check } from '../errors.js';
import type { AttentionBackwardArgs, GeluKind } from './kernels.js';

/** The compiled kernels' code for a GELU kind. */
export const GELU_KIND: Record<GeluKind, number> = { erf: 0, tanh: 1 };

export function need(arr: Float32Array, n: number, what: string, kernel: string): void {
  check(arr.length >= n, () => `${kernel}: ${what} has ${arr.length} elements, needs at least ${n}`);
}

export function checkCount(n: number, kernel: string): void {
  check(Number.isInteger(n) && n >= 0, `${kernel}: n must be a non-negative integer, got ${n}`);
}

export function checkAttentionBackward(a: AttentionBackwardArgs): void {
  const { T, H, d, qStride, kvStride } = a;
  for (const [name, v] of [['T', T], ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride]] as const) {
    check(Number.isInteger(v) && v >= 0, `attentionBackward: ${name} must be a non-negative integer, got ${v}`);
  }
  check(qStride >= H * d && kvStride >= H * d, () => `attentionBackward: qStride (${qStride}) and kvStride (${kvStride}) must be at least H·d = ${H * d}`);
  if (T === 0) return;
  const rows = (stride: number): number => (T - 1) * stride + H * d;
  for (const [name, arr, n] of [['dq', a.dq, rows(qStride)], ['q', a.q, rows(qStride)], ['dk', a.dk, rows(kvStride)],
    ['dv', a.dv, rows(kvStride)], ['k', a.k, rows(kvStride)], ['v', a.v, rows(kvStride)], ['dout', a.dout, T * H * d],
    ['probs', a.probs, H * T * T]] as const) {
    need(arr, n, name, 'attentionBackward');
  }
}

export function checkLayerNormBackward(dx: Float32Array, dw: Float32Array, db: Float32Array, dout: Float32Array, x: Float32Array,
  mean: Float32Array, rstd: Float32Array, w: Float32Array, M: number, D: number): void {
  check(Number.isInteger(M) && M >= 0 && Number.isInteger(D) && D >= 0,
    `layerNormBackward: M and D must be non-negative integers, got M=${M}, D=${D}`);
  for (const [name, arr, n] of [['dx', dx, M * D], ['dout', dout, M * D], ['x', x, M * D], ['dw', dw, D], ['db', db, D],
    ['w', w, D], ['mean', mean, M], ['rstd', rstd, M]] as const) {
    need(arr, n, name, 'layerNormBackward');
  }
}

export function checkGeluKind(kind: GeluKind, kernel: string): void {
  check(kind === 'erf' || kind === 'tanh', `${kernel}: kind must be 'erf' or 'tanh', got '${String(kind)}'`);
}

/** n ≥ 0 and every array at least n long (pointwise kernels). */
export function checkPointwise(kernel: string, n: number, arrays: ReadonlyArray<readonly [string, Float32Array]>): void {
  checkCount(n, kernel);
  for (const [name, arr] of arrays) need(arr, n, name, kernel);
}

/** The targets as an Int32Array, after checking M, V and each target (an id in [0, V) or negative: ignored). */
export function checkSoftmaxCrossEntropy(logits: Float32Array, targets: ArrayLike<number>, M: number, V: number): Int32Array {
  check(Number.isInteger(M) && M >= 0 && Number.isInteger(V) && V > 0,
    `softmaxCrossEntropy: M must be a non-negative and V a positive integer, got M=${M}, V=${V}`);
  need(logits, M * V, 'logits', 'softmaxCrossEntropy');
  check(targets.length >= M, () => `softmaxCrossEntropy: targets has ${targets.length} entries, needs at least ${M}`);
  for (let i = 0; i < M; i++) {
    const ti = targets[i];
    check(Number.isInteger(ti) && ti < V, () => `softmaxCrossEntropy: target ${ti} of row ${i} is not an id in [0, ${V}) nor negative (ignored)`);
  }
  return targets instanceof Int32Array ? targets : Int32Array.from({ length: M }, (_, i) => targets[i]);
}
