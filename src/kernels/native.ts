// The native backend: the C++ N-API addon (src/native/addon.ts loads it) adapted to the Kernels
// interface; argument sizes are checked here, in front of the native call, so a bad call is a
// MugptError, never a read past an array.

import { check, MugptError } from '../errors.js';
import type { NativeAddon, NativePlan } from '../native/addon.js';
import {
  RECORDABLE_KERNELS, type AttentionArgs, type AttentionBackwardArgs, type AttentionF16Args, type AttentionF16BatchArgs, type AttentionQ8Args,
  type KernelPlan, type Kernels,
} from './kernels.js';
import {
  GELU_KIND, checkAttention, checkBias, checkAttentionBackward, checkAttentionF16, checkAttentionF16Batch, checkAttentionQ8, checkGeluKind, checkGemm, checkLayerNorm,
  checkLayerNormBackward, checkLayout, checkLinear, checkPointwise, checkQlinear, checkQlinearPair, checkQrow, checkQuantMatrix, checkQuantizeHeads,
  checkSoftmaxCrossEntropy,
} from './checks.js';

const GGML_TYPE = { q8_0: 8, q4_0: 2 } as const;

/**
 * Kernels.populate maps arrays from this size up (one system call; smaller ones fault in as written): a
 * page's first-touch fault cost ~11 µs on the virtual machines measured, populating 0.7–0.8 µs where the
 * guest already holds the page.
 */
export const POPULATE_MIN = 16 * 1024;

/** Wraps a loaded addon as Kernels. */
export function nativeKernels(addon: NativeAddon): Kernels {
  return {
    name: 'native',
    qlinear(out, x, W, bias, M, alpha, accumulate) {
      checkQlinear(out, x, W, bias, M);
      checkLayout(W, 'qlinear', 'native', 'x16');
      addon.qlinear(out, x, W.data, GGML_TYPE[W.type], W.N, W.K, bias, M, alpha, accumulate, W.layout === 'x16');
    },
    qlinearPair(outA, outB, x, WA, WB, biasA, biasB, M) {
      checkQlinearPair(outA, outB, x, WA, WB, biasA, biasB, M);
      checkLayout(WA, 'qlinearPair', 'native', 'x16');
      checkLayout(WB, 'qlinearPair', 'native', 'x16');
      addon.qlinearPair(outA, outB, x, WA.data, GGML_TYPE[WA.type], WA.layout === 'x16', biasA, WB.data, GGML_TYPE[WB.type],
        WB.layout === 'x16', biasB, WA.N, WA.K, M);
    },
    qprepare(W) {
      if (W.layout === 'x16') return;
      checkQuantMatrix(W, 'qprepare');
      checkLayout(W, 'qprepare', 'native', 'x16');
      const packed = addon.qpack(W.data, GGML_TYPE[W.type], W.N, W.K, false);
      if (packed) {
        W.data = packed;
        W.layout = 'x16';
      }
    },
    populate(x) {
      check(ArrayBuffer.isView(x), 'populate: x must be a typed array');
      if (x.byteLength >= POPULATE_MIN) addon.populate(x);
    },
    qrow(out, W, r) {
      checkQrow(out, W, r);
      checkLayout(W, 'qrow', 'native', 'x16');
      addon.qrow(out, W.data, GGML_TYPE[W.type], W.N, W.K, r, W.layout === 'x16');
    },
    attentionQ8(args: AttentionQ8Args) {
      checkAttentionQ8(args);
      const { out, q, qStride, k, v, kScale, vScale, kvStride, Tq, Tk, H, d, scale, slopes } = args;
      addon.attentionQ8(out, q, qStride, k, v, kScale, vScale, kvStride, Tq, Tk, H, d, scale, slopes);
    },
    quantizeHeads(q, scale, x, H, d) {
      checkQuantizeHeads(q, scale, x, H, d);
      addon.quantizeHeads(q, scale, x, H, d);
    },
    attentionF16(args: AttentionF16Args) {
      checkAttentionF16(args);
      const { out, q, qStride, k, v, kvStride, kNew, vNew, newStride, Tq, Tk, H, d, scale, slopes } = args;
      addon.attentionF16(out, q, qStride, k, v, kvStride, kNew, vNew, newStride, Tq, Tk, H, d, scale, slopes);
    },
    attentionF16Batch(args: AttentionF16BatchArgs) {
      checkAttentionF16Batch(args);
      const { out, q, qStride, k, v, kvStride, kNew, vNew, newStride, Tk, H, d, scale, slopes } = args;
      addon.attentionF16Batch(out, q, qStride, k, v, kvStride, kNew, vNew, newStride, Tk, H, d, scale, slopes);
    },
    layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D) {
      checkLayerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D);
      addon.layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D);
    },
    geluBackward(dx, x, dout, n, kind) {
      checkGeluKind(kind, 'geluBackward');
      checkPointwise('geluBackward', n, [['dx', dx], ['x', x], ['dout', dout]]);
      addon.geluBackward(dx, x, dout, n, GELU_KIND[kind]);
    },
    swigluBackward(da, dg, a, g, dout, n) {
      checkPointwise('swigluBackward', n, [['da', da], ['dg', dg], ['a', a], ['g', g], ['dout', dout]]);
      addon.swigluBackward(da, dg, a, g, dout, n);
    },
    softmaxCrossEntropy(logits, targets, M, V, gradScale) {
      const t = checkSoftmaxCrossEntropy(logits, targets, M, V);
      return addon.softmaxCrossEntropy(logits, t, M, V, gradScale);
    },
    attentionBackward(args: AttentionBackwardArgs) {
      checkAttentionBackward(args);
      const { dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale } = args;
      addon.attentionBackward(dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale);
    },
    gemm(transA, transB, M, N, K, alpha, A, B, beta, C) {
      checkGemm(M, N, K, A, B, C);
      addon.gemm(transA, transB, M, N, K, alpha, A, B, beta, C);
    },
    linear(out, x, W, bias, M, K, N) {
      checkLinear(out, x, W, bias, M, K, N);
      addon.linear(out, x, W, bias, M, K, N);
    },
    layerNorm(out, x, w, b, M, D, eps, mean, rstd) {
      checkLayerNorm(out, x, w, b, M, D, mean, rstd);
      addon.layerNorm(out, x, w, b, M, D, eps, mean ?? null, rstd ?? null);
    },
    gelu(out, x, n, kind) {
      checkGeluKind(kind, 'gelu');
      checkPointwise('gelu', n, [['out', out], ['x', x]]);
      addon.gelu(out, x, n, GELU_KIND[kind]);
    },
    swiglu(out, a, g, n) {
      checkPointwise('swiglu', n, [['out', out], ['a', a], ['g', g]]);
      addon.swiglu(out, a, g, n);
    },
    attention(args: AttentionArgs) {
      checkAttention(args);
      const { out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes, probs, kNew, vNew, newStride } = args;
      addon.attention(out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes, probs ?? null, kNew ?? null, vNew ?? null, newStride ?? 0);
    },
    bias(out, b, M, N, add) {
      checkBias(out, b, M, N);
      addon.bias(out, b, M, N, add);
    },
    record(body) {
      return recordPlan(this, addon, body);
    },
  };
}

/**
 * Kernels.record for the native kernels: the addon appends the recordable bindings' calls to a plan (native/addon.cc
 * run_or_record); while body runs, every kernel method of k is wrapped so that the recordable ones note their array
 * arguments (the plan holds them, so their memory outlives it) and the others throw.
 */
function recordPlan(k: Kernels, addon: NativeAddon, body: () => void): KernelPlan {
  const obj = k as unknown as Record<string, unknown>;
  const own = new Map<string, unknown>();
  const keep: unknown[] = [];
  const recordable = new Set<string>(RECORDABLE_KERNELS);
  for (const name of Object.keys(obj)) {
    const f = obj[name];
    if (typeof f !== 'function' || name === 'record') continue;
    own.set(name, f);
    obj[name] = recordable.has(name)
      ? (...args: unknown[]): unknown => {
        for (const a of args) {
          if (ArrayBuffer.isView(a)) keep.push(a);
          else if (a !== null && typeof a === 'object') keep.push(...Object.values(a).filter((x) => ArrayBuffer.isView(x)));
        }
        return (f as (...a: unknown[]) => unknown).apply(k, args);
      }
      : (): never => { throw new MugptError(`record: kernels.${name} cannot be recorded (recordable: ${RECORDABLE_KERNELS.join(', ')})`); };
  }
  addon.planBegin();
  let plan: NativePlan;
  try {
    body();
    plan = addon.planEnd();
  } catch (e) {
    addon.planAbort();
    throw e;
  } finally {
    for (const [name, f] of own) obj[name] = f;
  }
  return new NativeKernelPlan(addon, plan, keep);
}

class NativeKernelPlan implements KernelPlan {
  /** arrays: those the recorded calls read and write, kept alive as long as the plan. */
  constructor(private readonly addon: NativeAddon, private readonly plan: NativePlan, readonly arrays: readonly unknown[]) {}
  run(tkShift: number): void {
    check(Number.isInteger(tkShift) && tkShift >= 0, () => `plan.run: tkShift must be an integer ≥ 0, got ${tkShift}`);
    this.addon.planRun(this.plan, tkShift);
  }
}
