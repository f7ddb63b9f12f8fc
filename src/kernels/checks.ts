// Argument checks of every kernel, run by every backend (js, native, wasm) in front of the call, so a
// bad call is the same MugptError on each, never a read past an array. Shapes as in kernels.ts.
import { check } from '../errors.js';
import { BLOCK_BYTES, QK } from '../quant/blocks.js';
import type {
  AttentionArgs, AttentionBackwardArgs, AttentionF16Args, AttentionF16BatchArgs, AttentionQ8Args, GeluKind, QuantLayout, QuantMatrix,
} from './kernels.js';

/** The compiled kernels' code for a GELU kind. */
export const GELU_KIND: Record<GeluKind, number> = { erf: 0, tanh: 1 };

export function need(arr: ArrayLike<number>, n: number, what: string, kernel: string): void {
  check(arr.length >= n, () => `${kernel}: ${what} has ${arr.length} elements, needs at least ${n}`);
}

function dims(kernel: string, ...ds: Array<readonly [string, number]>): void {
  for (const [name, v] of ds) {
    check(Number.isInteger(v) && v >= 0, () => `${kernel}: ${name} must be a non-negative integer, got ${v}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Forward

export function checkGemm(M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array): void {
  dims('gemm', ['M', M], ['N', N], ['K', K]);
  need(A, M * K, 'A', 'gemm');
  need(B, K * N, 'B', 'gemm');
  need(C, M * N, 'C', 'gemm');
}

export function checkLinear(out: Float32Array, x: Float32Array, W: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): void {
  dims('linear', ['M', M], ['K', K], ['N', N]);
  need(out, M * N, 'out', 'linear');
  need(x, M * K, 'x', 'linear');
  need(W, K * N, 'W', 'linear');
  if (bias) need(bias, N, 'bias', 'linear');
}

export function checkBias(out: Float32Array, b: Float32Array, M: number, N: number): void {
  dims('bias', ['M', M], ['N', N]);
  need(out, M * N, 'out', 'bias');
  need(b, N, 'b', 'bias');
}

export function checkLayerNorm(out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, M: number, D: number, mean?: Float32Array, rstd?: Float32Array): void {
  dims('layerNorm', ['M', M], ['D', D]);
  need(out, M * D, 'out', 'layerNorm');
  need(x, M * D, 'x', 'layerNorm');
  need(w, D, 'w', 'layerNorm');
  need(b, D, 'b', 'layerNorm');
  if (mean) need(mean, M, 'mean', 'layerNorm');
  if (rstd) need(rstd, M, 'rstd', 'layerNorm');
}

export function checkGeluKind(kind: GeluKind, kernel: string): void {
  check(kind === 'erf' || kind === 'tanh', `${kernel}: kind must be 'erf' or 'tanh', got '${String(kind)}'`);
}

/** n ≥ 0 and every array at least n long (pointwise kernels). */
export function checkPointwise(kernel: string, n: number, arrays: ReadonlyArray<readonly [string, ArrayLike<number>]>): void {
  dims(kernel, ['n', n]);
  for (const [name, arr] of arrays) need(arr, n, name, kernel);
}

/** A cached-attention call: the AttentionArgs sizes with k and v of any element type. */
type CachedAttentionArgs = Omit<AttentionArgs, 'k' | 'v' | 'probs'> & { k: ArrayLike<number>; v: ArrayLike<number> };

/** The sizes of an attention call (float or over a cache), naming `kernel`; probs checked when given. */
function checkAttentionSizes(kernel: string, a: CachedAttentionArgs & { probs?: Float32Array | null }): void {
  const { Tq, Tk, H, d, qStride, kvStride } = a;
  dims(kernel, ['Tq', Tq], ['Tk', Tk], ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride]);
  check(Tq <= Tk, () => `${kernel}: Tq (${Tq}) must not exceed Tk (${Tk})`);
  check(qStride >= H * d && kvStride >= H * d, () => `${kernel}: qStride (${qStride}) and kvStride (${kvStride}) must be at least H·d = ${H * d}`);
  if (Tq === 0) return;
  need(a.out, Tq * H * d, 'out', kernel);
  need(a.q, (Tq - 1) * qStride + H * d, 'q', kernel);
  need(a.k, (Tk - 1) * kvStride + H * d, 'k', kernel);
  need(a.v, (Tk - 1) * kvStride + H * d, 'v', kernel);
  if (a.slopes) need(a.slopes, H, 'slopes', kernel);
  if (a.probs) need(a.probs, H * Tq * Tk, 'probs', kernel);
}

export function checkAttention(a: AttentionArgs): void {
  checkAttentionSizes('attention', a);
  if (a.kNew === undefined && a.vNew === undefined) return;
  check(a.kNew instanceof Float32Array && a.vNew instanceof Float32Array && a.newStride !== undefined,
    'attention: kNew, vNew and newStride come together (Float32Arrays and a stride)');
  const D = a.H * a.d;
  dims('attention', ['newStride', a.newStride]);
  check(a.newStride >= D, () => `attention: newStride (${a.newStride}) must be at least H·d = ${D}`);
  check(a.probs === undefined, 'attention: probs is for training, without new rows (kNew)');
  if (a.Tq === 0) return;
  need(a.kNew, (a.Tq - 1) * a.newStride + D, 'kNew', 'attention');
  need(a.vNew, (a.Tq - 1) * a.newStride + D, 'vNew', 'attention');
}

/** Checks the sizes of an f16 attention call, the new rows included. */
export function checkAttentionF16(a: AttentionF16Args): void {
  check(a.k instanceof Uint16Array && a.v instanceof Uint16Array, 'attentionF16: k and v must be Uint16Arrays of half bits');
  check(a.kNew instanceof Float32Array && a.vNew instanceof Float32Array, 'attentionF16: kNew and vNew must be Float32Arrays');
  checkAttentionSizes('attentionF16', a);
  const D = a.H * a.d;
  dims('attentionF16', ['newStride', a.newStride]);
  check(a.newStride >= D, () => `attentionF16: newStride (${a.newStride}) must be at least H·d = ${D}`);
  if (a.Tq === 0) return;
  need(a.kNew, (a.Tq - 1) * a.newStride + D, 'kNew', 'attentionF16');
  need(a.vNew, (a.Tq - 1) * a.newStride + D, 'vNew', 'attentionF16');
}

/** Checks the sizes of a several-sequence f16 attention call: each sequence's cache, rows and slopes. */
export function checkAttentionF16Batch(a: AttentionF16BatchArgs): void {
  const kernel = 'attentionF16Batch';
  check(a.Tk instanceof Int32Array, `${kernel}: Tk must be an Int32Array`);
  const S = a.Tk.length, { H, d, qStride, kvStride, newStride } = a, D = H * d;
  check(Array.isArray(a.k) && Array.isArray(a.v) && a.k.length === S && a.v.length === S,
    () => `${kernel}: k and v must be arrays of one Uint16Array a sequence (${S}, Tk.length)`);
  dims(kernel, ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride], ['newStride', newStride]);
  check(qStride >= D && kvStride >= D && newStride >= D,
    () => `${kernel}: qStride (${qStride}), kvStride (${kvStride}) and newStride (${newStride}) must be at least H·d = ${D}`);
  if (S === 0) return;
  need(a.out, S * D, 'out', kernel);
  need(a.q, (S - 1) * qStride + D, 'q', kernel);
  need(a.kNew, (S - 1) * newStride + D, 'kNew', kernel);
  need(a.vNew, (S - 1) * newStride + D, 'vNew', kernel);
  if (a.slopes) need(a.slopes, S * H, 'slopes', kernel);
  for (let s = 0; s < S; s++) {
    const Tk = a.Tk[s];
    check(Tk >= 1, () => `${kernel}: Tk[${s}] is ${Tk}, expected at least 1 (the new position)`);
    check(a.k[s] instanceof Uint16Array && a.v[s] instanceof Uint16Array, () => `${kernel}: k[${s}] and v[${s}] must be Uint16Arrays of half bits`);
    need(a.k[s], (Tk - 1) * kvStride + D, `k[${s}]`, kernel);
    need(a.v[s], (Tk - 1) * kvStride + D, `v[${s}]`, kernel);
  }
}

/**
 * attentionF16Batch as one attentionF16 call a sequence (the backends without a batched kernel), on
 * views of the sequence's rows.
 */
export function attentionF16EachSequence(attentionF16: (a: AttentionF16Args) => void, a: AttentionF16BatchArgs): void {
  checkAttentionF16Batch(a);
  const { H, d, qStride, newStride } = a, D = H * d;
  for (let s = 0; s < a.Tk.length; s++) {
    attentionF16({
      out: a.out.subarray(s * D, (s + 1) * D), q: a.q.subarray(s * qStride), qStride,
      k: a.k[s], v: a.v[s], kvStride: a.kvStride,
      kNew: a.kNew.subarray(s * newStride), vNew: a.vNew.subarray(s * newStride), newStride,
      Tq: 1, Tk: a.Tk[s], H, d, scale: a.scale, slopes: a.slopes ? a.slopes.subarray(s * H, (s + 1) * H) : null,
    });
  }
}

/** Checks the sizes of an int8 attention call, scales included. */
export function checkAttentionQ8(a: AttentionQ8Args): void {
  check(a.k instanceof Int8Array && a.v instanceof Int8Array, 'attentionQ8: k and v must be Int8Arrays');
  check(a.kScale instanceof Float32Array && a.vScale instanceof Float32Array, 'attentionQ8: kScale and vScale must be Float32Arrays');
  checkAttentionSizes('attentionQ8', a);
  if (a.Tq === 0) return;
  need(a.kScale, a.Tk * a.H, 'kScale', 'attentionQ8');
  need(a.vScale, a.Tk * a.H, 'vScale', 'attentionQ8');
}

/** Checks a quantizeHeads call. */
export function checkQuantizeHeads(q: Int8Array, scale: Float32Array, x: Float32Array, H: number, d: number): void {
  check(Number.isInteger(H) && H >= 0 && Number.isInteger(d) && d >= 0, () => `quantizeHeads: H and d must be non-negative integers, got ${H}, ${d}`);
  check(q instanceof Int8Array && scale instanceof Float32Array && x instanceof Float32Array,
    'quantizeHeads: q must be an Int8Array, scale and x Float32Arrays');
  check(x.length >= H * d && q.length >= H * d && scale.length >= H,
    () => `quantizeHeads: x (${x.length}) and q (${q.length}) need H·d = ${H * d} elements, scale (${scale.length}) needs H = ${H}`);
}

// ---------------------------------------------------------------------------------------------
// Quantized matrices

/** Checks a quantized matrix: block type, layout, size, and that data holds its blocks. */
export function checkQuantMatrix(W: QuantMatrix, what: string): void {
  const { N, K, data, type } = W;
  check(type === 'q8_0' || type === 'q4_0', () => `${what}: unknown block type '${String(type)}'`);
  check(W.layout === undefined || W.layout === 'rows' || W.layout === 'x16' || W.layout === 'x4',
    () => `${what}: unknown layout '${String(W.layout)}' (rows, x16 or x4)`);
  check(Number.isInteger(K) && K > 0 && K % QK === 0 && Number.isInteger(N) && N > 0, () => `${what}: bad matrix size [${N}, ${K}] (K a multiple of ${QK})`);
  check(data.length >= (N * K / QK) * BLOCK_BYTES[type], () => `${what}: ${type} data has ${data.length} bytes, [${N}, ${K}] needs ${(N * K / QK) * BLOCK_BYTES[type]}`);
}

/** Checks that a backend reads W's layout: GGUF's rows, or the grouped layout it makes itself (own). */
export function checkLayout(W: QuantMatrix, what: string, backend: string, own: QuantLayout | null): void {
  const layout = W.layout ?? 'rows';
  check(layout === 'rows' || layout === own, () => `${what}: this matrix was rearranged (${layout} layout) for another backend's kernels; ` +
    `the ${backend} backend reads ${own ? `the rows and ${own} layouts` : 'the rows layout only'}`);
}

/** Checks a quantized matrix and the operands of a product with it. */
export function checkQlinear(out: Float32Array, x: Float32Array, W: QuantMatrix, bias: Float32Array | null, M: number): void {
  checkQuantMatrix(W, 'qlinear');
  const { N, K } = W;
  check(Number.isInteger(M) && M >= 0 && x.length >= M * K && out.length >= M * N, () => `qlinear: x or out too short for M = ${M}`);
  if (bias) check(bias.length >= N, () => `qlinear: bias has ${bias.length} elements, needs ${N}`);
}

/** Checks a qlinearPair call: each product as checkQlinear, the two matrices of one shape. */
export function checkQlinearPair(outA: Float32Array, outB: Float32Array, x: Float32Array, WA: QuantMatrix, WB: QuantMatrix,
  biasA: Float32Array | null, biasB: Float32Array | null, M: number): void {
  checkQlinear(outA, x, WA, biasA, M);
  checkQlinear(outB, x, WB, biasB, M);
  check(WA.N === WB.N && WA.K === WB.K, () => `qlinearPair: the matrices differ in shape ([${WA.N}, ${WA.K}] and [${WB.N}, ${WB.K}])`);
}

/** Checks a qrow call: the block type, the row length, the row index and that data holds the row. */
export function checkQrow(out: Float32Array, W: QuantMatrix, r: number): void {
  check(W.type === 'q8_0' || W.type === 'q4_0', () => `qrow: unknown block type '${String(W.type)}'`);
  check(Number.isInteger(W.K) && W.K > 0 && W.K % QK === 0, () => `qrow: bad row length ${W.K} (a multiple of ${QK})`);
  check(Number.isInteger(r) && r >= 0 && r < W.N && out.length >= W.K, () => `qrow: row ${r} of [${W.N}, ${W.K}]`);
  const rows = W.layout === 'x16' || W.layout === 'x4' ? W.N : r + 1; // a grouped row is spread over its group
  check(W.data.length >= rows * (W.K / QK) * BLOCK_BYTES[W.type], () => `qrow: ${W.type} data too short for row ${r}`);
}

// ---------------------------------------------------------------------------------------------
// Backward

export function checkAttentionBackward(a: AttentionBackwardArgs): void {
  const { T, H, d, qStride, kvStride } = a;
  dims('attentionBackward', ['T', T], ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride]);
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

// ---------------------------------------------------------------------------------------------
// Dropout (kernels/dropout.ts, built on the kernels, run by every backend)

/** The sizes of an attention-dropout call: the [H, T, T] probabilities and mask, the rows it reads and writes. */
export function checkAttentionDropout(kernel: string, a: {
  T: number; H: number; d: number; kvStride: number; probs: Float32Array; mask: Float32Array; v: Float32Array;
  out?: Float32Array; dout?: Float32Array; qStride?: number; q?: Float32Array; k?: Float32Array;
  dq?: Float32Array; dk?: Float32Array; dv?: Float32Array;
}): void {
  const { T, H, d, kvStride } = a;
  const qStride = a.qStride ?? H * d;
  dims(kernel, ['T', T], ['H', H], ['d', d], ['qStride', qStride], ['kvStride', kvStride]);
  check(qStride >= H * d && kvStride >= H * d, () => `${kernel}: qStride (${qStride}) and kvStride (${kvStride}) must be at least H·d = ${H * d}`);
  if (T === 0) return;
  const rows = (stride: number): number => (T - 1) * stride + H * d;
  for (const [name, arr, n] of [['probs', a.probs, H * T * T], ['mask', a.mask, H * T * T], ['v', a.v, rows(kvStride)],
    ['out', a.out, T * H * d], ['dout', a.dout, T * H * d], ['q', a.q, rows(qStride)], ['dq', a.dq, rows(qStride)],
    ['k', a.k, rows(kvStride)], ['dk', a.dk, rows(kvStride)], ['dv', a.dv, rows(kvStride)]] as const) {
    if (arr) need(arr, n, name, kernel);
  }
}
