// The kernel interface: the one seam between the model and the hot loops.
//
// Every tensor is a row-major Float32Array (or a subarray view of one). Shapes are written
// [rows, cols]. Kernels never allocate in the hot path and never keep references to their
// arguments. A backend may implement a kernel natively or inherit the JS reference.

/** Which implementation runs the hot loops. */
export type BackendName = 'js' | 'native' | 'wasm';

export type GeluKind = 'erf' | 'tanh';

/** The arrangements of a quantized matrix's blocks (QuantMatrix.layout). */
export type QuantLayout = 'rows' | 'x16' | 'x4';

/** A weight matrix in GGUF's block layout: N rows (output features) of K inputs, K % 32 == 0. */
export interface QuantMatrix {
  type: 'q8_0' | 'q4_0';
  /** N rows of K/32 blocks each (34 bytes per Q8_0 block, 18 per Q4_0 block). */
  data: Uint8Array;
  N: number;
  K: number;
  /**
   * How data is arranged: 'rows' (absent: GGUF's, row after row), or the same bytes rearranged by a
   * backend's qprepare for its kernels: 'x16' by the native backend (native/quant.h), 'x4' by the
   * WebAssembly one (native/wasm/quant_wasm.inc); only the backend that made it reads such a matrix.
   */
  layout?: QuantLayout;
}

/** Arguments of causal multi-head attention for one sequence (one batch row). */
export interface AttentionArgs {
  /** [Tq, D] output rows, heads merged (head h at columns h·d … (h+1)·d). */
  out: Float32Array;
  /** Query rows: q[t·qStride + h·d + i], t < Tq. Query t sits at absolute position Tk − Tq + t. */
  q: Float32Array;
  qStride: number;
  /** Key and value rows for absolute positions 0 … Tk−1: k[j·kvStride + h·d + i]. */
  k: Float32Array;
  v: Float32Array;
  kvStride: number;
  Tq: number;
  Tk: number;
  H: number;
  d: number;
  /** Multiplies q·k (1/√d, or 1/d under μP). */
  scale: number;
  /** ALiBi: per-head slope already divided by the alibi scaling factor; bias = −slope·|j − i|. null: none. */
  slopes: Float32Array | null;
  /** Optional [H, Tq, Tk] softmax probabilities, written for the backward pass. */
  probs?: Float32Array;
  /**
   * Optional, with vNew and newStride (a float32 KV cache): the keys and values of positions Tk − Tq … Tk − 1
   * (kNew[t·newStride + h·d + i], t < Tq), which the kernel copies into k and v at those positions before it
   * attends, as attentionF16 stores its new rows.
   */
  kNew?: Float32Array;
  vNew?: Float32Array;
  newStride?: number;
}

/**
 * Attention over an f16 KV cache (inference) that first stores its Tq positions' keys and values there:
 * as AttentionArgs, with k and v holding IEEE half bits in the same layout (k[j·kvStride + h·d + i]) and no
 * probabilities. kNew and vNew hold the float32 keys and values of positions Tk − Tq … Tk − 1
 * (kNew[t·newStride + h·d + i], t < Tq), which the kernel writes into k and v at those positions as half
 * bits rounded to nearest even (IEEE 754's default rounding, as floatToHalf), then attends over all Tk.
 */
export interface AttentionF16Args extends Omit<AttentionArgs, 'k' | 'v' | 'probs' | 'kNew' | 'vNew' | 'newStride'> {
  k: Uint16Array;
  v: Uint16Array;
  kNew: Float32Array;
  vNew: Float32Array;
  newStride: number;
}

/**
 * attentionF16 with one new position (Tq = 1) for each of S = Tk.length sequences, each with its own cache:
 * sequence s's query, new key and new value are rows s of q, kNew and vNew (qStride, newStride apart), its
 * output row s of out [S, H·d]; k[s] and v[s] are its cache (rows kvStride apart), holding Tk[s] positions
 * once the new one is stored; its ALiBi slopes are row s of slopes [S, H] (null: none). Each sequence's row
 * is what attentionF16 gives it alone.
 */
export interface AttentionF16BatchArgs {
  out: Float32Array;
  q: Float32Array;
  qStride: number;
  k: readonly Uint16Array[];
  v: readonly Uint16Array[];
  kvStride: number;
  kNew: Float32Array;
  vNew: Float32Array;
  newStride: number;
  Tk: Int32Array;
  H: number;
  d: number;
  scale: number;
  slopes: Float32Array | null;
}

/**
 * Attention over an int8 KV cache (inference): k and v hold int8 values in the AttentionArgs layout,
 * and each position's head slice has one scale, [Tk, H] row-major: key j of head h is
 * kScale[j·H + h] · k[j·kvStride + h·d + i]. No probabilities.
 */
export interface AttentionQ8Args extends Omit<AttentionArgs, 'k' | 'v' | 'probs' | 'kNew' | 'vNew' | 'newStride'> {
  k: Int8Array;
  v: Int8Array;
  kScale: Float32Array;
  vScale: Float32Array;
}

/** Arguments of the causal self-attention backward for one sequence (queries = keys = positions 0…T−1). */
export interface AttentionBackwardArgs {
  /** Gradients of q, k, v rows (strides as q / k,v); ACCUMULATED into. */
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
  /** [T, D] gradient of the merged attention output. */
  dout: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qStride: number;
  kvStride: number;
  /** [H, T, T] softmax probabilities the forward wrote (zero above the diagonal). */
  probs: Float32Array;
  T: number;
  H: number;
  d: number;
  scale: number;
}

/** Kernel calls recorded by Kernels.record, replayed natively. */
export interface KernelPlan {
  /**
   * Makes the recorded calls again, in order, with their recorded arguments, except that each attention call
   * (attention, attentionF16) sees Tk + tkShift keys and stores its new rows at positions Tk + tkShift − Tq …:
   * a decode step recorded at one position replays at a later one.
   */
  run(tkShift: number): void;
}

/** The kernels Kernels.record records; a call of any other kernel while recording throws. */
export const RECORDABLE_KERNELS = [
  'gemm', 'linear', 'bias', 'qlinear', 'qlinearPair', 'layerNorm', 'gelu', 'swiglu', 'attention', 'attentionF16',
] as const;

export interface Kernels {
  readonly name: BackendName;

  /**
   * Optional (native): records the kernel calls `body` makes (RECORDABLE_KERNELS) without running them, as a
   * plan that makes them again in one call from JavaScript (a decode step: dozens of calls a token, each of which
   * costs microseconds of JavaScript and argument handling when made one by one). The arrays passed are bound by
   * reference: their contents at run time are what the calls read; the plan keeps them alive. ALiBi slopes are
   * copied at recording. Throws (recording nothing) when body calls another kernel or throws itself.
   */
  record?(body: () => void): KernelPlan;

  /**
   * C[M,N] = alpha · op(A) · op(B) + beta · C.
   * op(A) is [M,K]: A is stored [M,K], or [K,M] when transA.
   * op(B) is [K,N]: B is stored [K,N], or [N,K] when transB.
   * beta = 0 overwrites C (whatever it held, NaN included). M = 1 must use a matrix-vector path.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
  ): void;

  /** Each of out's M rows of N set to b[N] (add false), or increased by it (add true). */
  bias(out: Float32Array, b: Float32Array, M: number, N: number, add: boolean): void;

  /** out[M,N] = x[M,K] · W[K,N] + bias[N] (HF Conv1D layout: W stored [in, out]). bias may be null. */
  linear(out: Float32Array, x: Float32Array, W: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): void;

  /**
   * out[M,N] = alpha·(x[M,K] · Wᵀ) + bias[N] with W quantized [N, K] (see QuantMatrix), through Q8_0
   * activations and integer block dot products as llama.cpp does; with accumulate, out += instead.
   */
  qlinear(out: Float32Array, x: Float32Array, W: QuantMatrix, bias: Float32Array | null, M: number, alpha: number, accumulate: boolean): void;

  /**
   * qlinear of one input by two quantized matrices of one shape [N, K] (SwiGLU's up and gate projections):
   * outA = x·WAᵀ + biasA and outB = x·WBᵀ + biasB (alpha 1, no accumulation), each exactly as qlinear gives
   * it, in one call (native and wasm: x quantized once, one parallel job).
   */
  qlinearPair(outA: Float32Array, outB: Float32Array, x: Float32Array, WA: QuantMatrix, WB: QuantMatrix,
    biasA: Float32Array | null, biasB: Float32Array | null, M: number): void;

  /** out[K] = row r of W, dequantized (embedding lookups from a quantized table). */
  qrow(out: Float32Array, W: QuantMatrix, r: number): void;

  /**
   * Lets the backend rearrange W.data into the layout its qlinear reads fastest, recorded in W.layout
   * (the values are unchanged): in place, or into new memory when W.data is a view of a memory-mapped
   * file (native: the file is never written); or move it where it reads it in place (wasm: W.data
   * becomes a view of its memory). Called once per matrix when a model is loaded.
   */
  qprepare(W: QuantMatrix): void;

  /**
   * Optional, for a backend that reads only its own memory in place (wasm: its linear memory): a copy of x
   * there, which the backend then reads without copying; models adopt their float weights once at load.
   * Absent: every Float32Array is read where it is.
   */
  adopt?(x: Float32Array): Float32Array;

  /**
   * Optional: maps now the memory under x, which the kernels are about to write (KV cache rows a little
   * ahead of the decode, new activations), so no kernel call stops at a first-touch page fault (native:
   * MADV_POPULATE_WRITE from src/kernels/native.ts POPULATE_MIN bytes up). The contents are unchanged.
   */
  populate?(x: Float32Array | Uint16Array | Int8Array): void;

  /** out[M,D] = (x − mean) · rstd · w + b per row; mean[M], rstd[M] are written when given (for backward). */
  layerNorm(
    out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, M: number, D: number, eps: number,
    mean?: Float32Array, rstd?: Float32Array,
  ): void;

  /** out[n] = gelu(x[n]); 'erf' is the exact GELU, 'tanh' GPT-2's gelu_new. out may alias x. */
  gelu(out: Float32Array, x: Float32Array, n: number, kind: GeluKind): void;

  /** out[n] = a[n] · silu(g[n]) (BTLM: a = c_fc(x), g = c_fc2(x)). out may alias a. */
  swiglu(out: Float32Array, a: Float32Array, g: Float32Array, n: number): void;

  /** Causal attention with optional ALiBi; see AttentionArgs. */
  attention(args: AttentionArgs): void;

  /** Causal attention over an f16 KV cache, storing the new positions' keys and values first; see AttentionF16Args. */
  attentionF16(args: AttentionF16Args): void;

  /** attentionF16 for S sequences of one new position each, in one call; see AttentionF16BatchArgs. */
  attentionF16Batch(args: AttentionF16BatchArgs): void;

  /** Causal attention reading an int8 KV cache; see AttentionQ8Args. */
  attentionQ8(args: AttentionQ8Args): void;

  /**
   * A row of H heads of d values entering an int8 cache: per head, scale[h] = max|x_h| / 127 and
   * q[h·d + i] = x[h·d + i] / scale[h] rounded half away from zero (float32 arithmetic, as roundf).
   */
  quantizeHeads(q: Int8Array, scale: Float32Array, x: Float32Array, H: number, d: number): void;

  // ---- backward (training). Input gradients that feed a residual stream or a shared buffer
  // accumulate (+=); pointwise input gradients overwrite.

  /** dx[M,D] += ∂/∂x, dw[D] += Σ dy·x̂, db[D] += Σ dy, from the mean and rstd the forward wrote. */
  layerNormBackward(
    dx: Float32Array, dw: Float32Array, db: Float32Array, dout: Float32Array, x: Float32Array,
    mean: Float32Array, rstd: Float32Array, w: Float32Array, M: number, D: number,
  ): void;

  /** dx[n] = dout[n] · gelu'(x[n]) (overwrites; dx may alias dout). */
  geluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number, kind: GeluKind): void;

  /** For out = a·silu(g): da = dout·silu(g), dg = dout·a·silu'(g) (overwrite). */
  swigluBackward(da: Float32Array, dg: Float32Array, a: Float32Array, g: Float32Array, dout: Float32Array, n: number): void;

  /** Causal self-attention backward; see AttentionBackwardArgs. */
  attentionBackward(args: AttentionBackwardArgs): void;

  /**
   * Fused softmax cross-entropy over logits[M, V], in place: returns Σ −log softmax[target] over rows
   * with target ≥ 0 and overwrites each row with gradScale·(softmax − onehot) (zeros where target < 0).
   */
  softmaxCrossEntropy(logits: Float32Array, targets: ArrayLike<number>, M: number, V: number, gradScale: number): number;
}
