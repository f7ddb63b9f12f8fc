// The WebAssembly backend: the kernels of native/wasm/ (WebAssembly SIMD, the native backend's
// drivers) adapted to the Kernels interface. Arrays that live in the module's memory (a model's
// weights, adopted at load, and quantized matrices, moved there by qprepare) are read in place; any
// other argument is copied into the module's heap for the call, and outputs copied back.
// Arguments are checked here, in front of the call, as the native backend does.
import { check, MugptError } from '../errors.js';
import {
  GELU_KIND, attentionF16EachSequence, checkAttention, checkAttentionBackward, checkAttentionF16, checkAttentionQ8, checkBias, checkGeluKind,
  checkGemm, checkLayerNorm, checkLayerNormBackward, checkLayout, checkLinear, checkPointwise, checkQlinear, checkQlinearPair, checkQrow, checkQuantMatrix, checkQuantizeHeads, checkSoftmaxCrossEntropy,
} from './checks.js';
import type { Kernels, QuantMatrix } from './kernels.js';
import { BLOCK_BYTES } from '../quant/blocks.js';
import type { WasmRuntime } from './wasm-runtime.js';
import { biasRows, storeNewRows } from './rows-js.js';

type Typed = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array;
type TypedClass = typeof Float32Array | typeof Uint16Array | typeof Int8Array | typeof Uint8Array | typeof Int32Array;

const GGML_TYPE = { q8_0: 8, q4_0: 2 } as const;

/** arr, checked to be a T: the kernels read its bytes as T's. */
function typed(arr: Typed, T: TypedClass): Typed {
  check(arr instanceof T, () => `wasm kernels: an argument must be a ${T.name}, got ${(arr as object).constructor.name}`);
  return arr;
}

/** The pointers of one call: arrays in the module's memory as they are, others through heap blocks. */
class Call {
  private readonly temps: number[] = [];
  private readonly copies: Array<{ arr: Typed; ptr: number; bytes: number }> = [];
  constructor(private readonly rt: WasmRuntime) {}

  /** An input of n elements of type T (null: pointer 0). */
  in(arr: Typed | null | undefined, n: number, T: TypedClass = Float32Array): number {
    return arr ? this.place(typed(arr, T), n, true, false) : 0;
  }

  /** An output of n elements; copied in first when the kernel reads it too (accumulates, beta ≠ 0). */
  out(arr: Typed | null | undefined, n: number, reads = false, T: TypedClass = Float32Array): number {
    return arr ? this.place(typed(arr, T), n, reads, true) : 0;
  }

  /** An input of n elements of which the kernel writes elements from … n−1: copied in whole, copied back from `from`. */
  inOut(arr: Typed, n: number, from: number, T: TypedClass): number {
    const p = this.place(typed(arr, T), n, true, false);
    if (!this.rt.owns(arr) && n > from) {
      const e = arr.BYTES_PER_ELEMENT;
      this.copies.push({ arr: arr.subarray(from, n), ptr: p + from * e, bytes: (n - from) * e });
    }
    return p;
  }

  /**
   * Outputs that may overlap (views of one buffer, as dq, dk, dv of a fused [T, 3D] gradient): the views
   * of each buffer share one copy of the bytes they span, so no copy back undoes another's writes.
   */
  outs(reads: boolean, ...views: Array<readonly [Typed, number]>): number[] {
    const spans = new Map<ArrayBufferLike, { lo: number; hi: number; ptr: number }>();
    for (const [arr, n] of views) {
      if (this.rt.owns(arr) || n === 0) continue;
      const lo = arr.byteOffset, hi = lo + n * arr.BYTES_PER_ELEMENT, s = spans.get(arr.buffer);
      spans.set(arr.buffer, s ? { lo: Math.min(s.lo, lo), hi: Math.max(s.hi, hi), ptr: 0 } : { lo, hi, ptr: 0 });
    }
    for (const [arr] of views) typed(arr, Float32Array);
    for (const [buffer, s] of spans) s.ptr = this.place(new Uint8Array(buffer, s.lo, s.hi - s.lo), s.hi - s.lo, reads, true);
    return views.map(([arr, n]) => {
      const s = spans.get(arr.buffer);
      return s && !this.rt.owns(arr) && n > 0 ? s.ptr + arr.byteOffset - s.lo : this.out(arr, n, reads);
    });
  }

  /** A block of bytes of scratch for the call. */
  scratch(bytes: number): number {
    const p = this.rt.alloc(bytes);
    this.temps.push(p);
    return p;
  }

  private place(arr: Typed, n: number, copyIn: boolean, copyOut: boolean): number {
    if (this.rt.owns(arr)) return arr.byteOffset;
    const bytes = n * arr.BYTES_PER_ELEMENT;
    if (bytes === 0) return 0;
    const p = this.scratch(bytes);
    if (copyIn) new Uint8Array(this.rt.buffer(), p, bytes).set(new Uint8Array(arr.buffer, arr.byteOffset, bytes));
    if (copyOut) this.copies.push({ arr, ptr: p, bytes });
    return p;
  }

  /** Copies the outputs back (after a successful call) and frees the blocks. */
  finish(ok: boolean): void {
    if (ok) {
      const buf = this.rt.buffer();
      for (const { arr, ptr, bytes } of this.copies) new Uint8Array(arr.buffer, arr.byteOffset, bytes).set(new Uint8Array(buf, ptr, bytes));
    }
    for (const p of this.temps) this.rt.free(p);
  }
}

/** Bytes of a quantized matrix's blocks. */
const qbytes = (W: QuantMatrix): number => W.N * (W.K / 32) * BLOCK_BYTES[W.type];

/** The Kernels over a WebAssembly runtime (wasm-runtime.ts). */
export function wasmKernels(rt: WasmRuntime): Kernels {
  const ex = rt.exports;
  // Blocks that adopt / qprepare hand out live as long as their view; a subarray keeps the buffer, not the view,
  // so the views are the model's own arrays (Model keeps them for its lifetime).
  const owned = new FinalizationRegistry<number>((ptr) => rt.free(ptr));

  function run<T>(body: (c: Call) => T): T {
    const c = new Call(rt);
    let ok = false;
    try {
      const r = body(c);
      ok = true;
      return r;
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        throw new MugptError(`wasm kernels: ${e.message} (out of WebAssembly memory for scratch buffers?)`);
      }
      throw e;
    } finally {
      c.finish(ok);
    }
  }

  /** A heap block holding a copy of src's bytes, as a view of the given type that frees the block when collected. */
  function resident<T extends Typed>(src: T, make: (buf: ArrayBufferLike, ptr: number, n: number) => T): T {
    const ptr = rt.alloc(src.byteLength);
    const view = make(rt.buffer(), ptr, src.length);
    view.set(src as never);
    owned.register(view, ptr);
    return view;
  }

  return {
    name: 'wasm',

    adopt(x) {
      if (rt.owns(x) || x.length === 0) return x;
      return resident(x, (b, p, n) => new Float32Array(b, p, n));
    },

    qprepare(W) {
      checkQuantMatrix(W, 'qprepare');
      checkLayout(W, 'qprepare', 'wasm', 'x4');
      if (!rt.owns(W.data)) W.data = resident(W.data, (b, p, n) => new Uint8Array(b, p, n));
      if (W.layout !== 'x4') { // moved here, then rearranged where it lies
        run((c) => ex.qpack_x4(c.in(W.data, qbytes(W), Uint8Array), GGML_TYPE[W.type], W.N, W.K));
        W.layout = 'x4';
      }
    },

    qrow(out, W, r) {
      checkQrow(out, W, r);
      checkLayout(W, 'qrow', 'wasm', 'x4');
      run((c) => ex.qrow(c.out(out, W.K), c.in(W.data, qbytes(W), Uint8Array), GGML_TYPE[W.type], W.N, W.K, r, W.layout === 'x4' ? 1 : 0));
    },

    qlinear(out, x, W, bias, M, alpha, accumulate) {
      checkQlinear(out, x, W, bias, M);
      checkLayout(W, 'qlinear', 'wasm', 'x4');
      const { N, K } = W;
      run((c) => ex.qlinear(c.out(out, M * N, accumulate), c.in(x, M * K), c.in(W.data, qbytes(W), Uint8Array),
        GGML_TYPE[W.type], N, K, c.in(bias, N), M, alpha, accumulate ? 1 : 0, W.layout === 'x4' ? 1 : 0));
    },

    qlinearPair(outA, outB, x, WA, WB, biasA, biasB, M) {
      checkQlinearPair(outA, outB, x, WA, WB, biasA, biasB, M);
      checkLayout(WA, 'qlinearPair', 'wasm', 'x4');
      checkLayout(WB, 'qlinearPair', 'wasm', 'x4');
      const { N, K } = WA;
      run((c) => ex.qlinear_pair(c.out(outA, M * N), c.out(outB, M * N), c.in(x, M * K),
        c.in(WA.data, qbytes(WA), Uint8Array), GGML_TYPE[WA.type], WA.layout === 'x4' ? 1 : 0, c.in(biasA, N),
        c.in(WB.data, qbytes(WB), Uint8Array), GGML_TYPE[WB.type], WB.layout === 'x4' ? 1 : 0, c.in(biasB, N), N, K, M));
    },

    gemm(transA, transB, M, N, K, alpha, A, B, beta, C) {
      checkGemm(M, N, K, A, B, C);
      run((c) => ex.gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, c.in(A, M * K), c.in(B, K * N), beta,
        c.out(C, M * N, beta !== 0), ));
    },

    linear(out, x, W, bias, M, K, N) {
      checkLinear(out, x, W, bias, M, K, N);
      run((c) => ex.linear(c.out(out, M * N), c.in(x, M * K), c.in(W, K * N), c.in(bias, N), M, K, N));
    },

    layerNorm(out, x, w, b, M, D, eps, mean, rstd) {
      checkLayerNorm(out, x, w, b, M, D, mean, rstd);
      run((c) => ex.layer_norm(c.out(out, M * D), c.in(x, M * D), c.in(w, D), c.in(b, D), M, D, eps, c.out(mean, M), c.out(rstd, M)));
    },

    gelu(out, x, n, kind) {
      checkGeluKind(kind, 'gelu');
      checkPointwise('gelu', n, [['out', out], ['x', x]]);
      run((c) => ex.gelu(c.out(out, n), c.in(x, n), n, GELU_KIND[kind]));
    },

    bias(out, b, M, N, add) {
      checkBias(out, b, M, N);
      biasRows(out, b, M, N, add);
    },

    swiglu(out, a, g, n) {
      checkPointwise('swiglu', n, [['out', out], ['a', a], ['g', g]]);
      run((c) => ex.swiglu(c.out(out, n), c.in(a, n), c.in(g, n), n));
    },

    attention(args) {
      checkAttention(args);
      storeNewRows(args);
      const { out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes, probs } = args;
      if (Tq === 0) return;
      const D = H * d, kv = (Tk - 1) * kvStride + D;
      run((c) => ex.attention(c.out(out, Tq * D), c.in(q, (Tq - 1) * qStride + D), qStride, c.in(k, kv), c.in(v, kv), kvStride,
        Tq, Tk, H, d, scale, c.in(slopes, H), c.out(probs, H * Tq * Tk)));
    },

    attentionF16(args) {
      checkAttentionF16(args);
      const { out, q, qStride, k, v, kvStride, kNew, vNew, newStride, Tq, Tk, H, d, scale, slopes } = args;
      if (Tq === 0) return;
      const D = H * d, kv = (Tk - 1) * kvStride + D, from = (Tk - Tq) * kvStride, fresh = (Tq - 1) * newStride + D;
      run((c) => ex.attention_f16(c.out(out, Tq * D), c.in(q, (Tq - 1) * qStride + D), qStride,
        c.inOut(k, kv, from, Uint16Array), c.inOut(v, kv, from, Uint16Array), kvStride, c.in(kNew, fresh), c.in(vNew, fresh), newStride,
        Tq, Tk, H, d, scale, c.in(slopes, H)));
    },

    attentionF16Batch(args) {
      attentionF16EachSequence((s) => this.attentionF16(s), args);
    },

    attentionQ8(args) {
      checkAttentionQ8(args);
      const { out, q, qStride, k, v, kScale, vScale, kvStride, Tq, Tk, H, d, scale, slopes } = args;
      if (Tq === 0) return;
      const D = H * d, kv = (Tk - 1) * kvStride + D;
      run((c) => ex.attention_q8(c.out(out, Tq * D), c.in(q, (Tq - 1) * qStride + D), qStride, c.in(k, kv, Int8Array), c.in(v, kv, Int8Array),
        c.in(kScale, Tk * H), c.in(vScale, Tk * H), kvStride, Tq, Tk, H, d, scale, c.in(slopes, H)));
    },


    quantizeHeads(q, scale, x, H, d) {
      checkQuantizeHeads(q, scale, x, H, d);
      run((c) => ex.quantize_heads(c.out(q, H * d, false, Int8Array), c.out(scale, H), c.in(x, H * d), H, d));
    },

    layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D) {
      checkLayerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D);
      run((c) => ex.layer_norm_backward(c.out(dx, M * D, true), c.out(dw, D, true), c.out(db, D, true), c.in(dout, M * D),
        c.in(x, M * D), c.in(mean, M), c.in(rstd, M), c.in(w, D), M, D));
    },

    geluBackward(dx, x, dout, n, kind) {
      checkGeluKind(kind, 'geluBackward');
      checkPointwise('geluBackward', n, [['dx', dx], ['x', x], ['dout', dout]]);
      run((c) => ex.gelu_backward(c.out(dx, n), c.in(x, n), c.in(dout, n), n, GELU_KIND[kind]));
    },

    swigluBackward(da, dg, a, g, dout, n) {
      checkPointwise('swigluBackward', n, [['da', da], ['dg', dg], ['a', a], ['g', g], ['dout', dout]]);
      run((c) => ex.swiglu_backward(c.out(da, n), c.out(dg, n), c.in(a, n), c.in(g, n), c.in(dout, n), n));
    },

    softmaxCrossEntropy(logits, targets, M, V, gradScale) {
      const t = checkSoftmaxCrossEntropy(logits, targets, M, V);
      return run((c) => ex.softmax_xent(c.out(logits, M * V, true), c.in(t, M, Int32Array), M, V, gradScale, c.scratch(8 * M)));
    },

    attentionBackward(args) {
      checkAttentionBackward(args);
      const { dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale } = args;
      if (T === 0) return;
      const D = H * d, nq = (T - 1) * qStride + D, nkv = (T - 1) * kvStride + D;
      run((c) => {
        const [pq, pk, pv] = c.outs(true, [dq, nq], [dk, nkv], [dv, nkv]);
        ex.attention_backward(pq, pk, pv, c.in(dout, T * D), c.in(q, nq), c.in(k, nkv), c.in(v, nkv), qStride, kvStride,
          c.in(probs, H * T * T), T, H, d, scale);
      });
    },
  };
}
