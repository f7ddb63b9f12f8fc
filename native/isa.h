// One set of kernels per instruction set; addon.cc picks one at load time.
#pragma once
#include <cstdint>

namespace mugpt {

struct Isa {
  const char* name;
  // C[M,N] = alpha·op(A)·op(B) + beta·C; beta = 0 overwrites C.
  void (*gemm)(bool tA, bool tB, int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C);
  // out[M,N] = x[M,K]·W[K,N] + bias[N] (bias may be null).
  void (*linear)(float* out, const float* x, const float* W, const float* bias, int M, int K, int N);
  void (*layer_norm)(float* out, const float* x, const float* w, const float* b, int M, int D, float eps,
                     float* mean, float* rstd);
  void (*gelu)(float* out, const float* x, long n, int kind);  // kind 0: erf, 1: tanh
  void (*swiglu)(float* out, const float* a, const float* g, long n);
  // Attention (src/kernels/kernels.ts) over a float KV cache, after storing the Tq new positions' keys and
  // values (k_new, v_new: rows new_stride apart; null: already stored) at Tk − Tq … Tk − 1.
  void (*attention)(float* out, const float* q, long q_stride, float* k, float* v, long kv_stride,
                    const float* k_new, const float* v_new, long new_stride, int Tq, int Tk, int H, int d, float scale,
                    const float* slopes, float* probs);
  // Backward kernels (see src/kernels/kernels.ts): dx = dout·gelu'(x); swiglu's da, dg; fused softmax
  // cross-entropy (returns Σ loss, row_loss is [M] scratch); attention dq/dk/dv accumulate.
  void (*layer_norm_backward)(float* dx, float* dw, float* db, const float* dout, const float* x, const float* mean,
                              const float* rstd, const float* w, int M, int D);
  void (*gelu_backward)(float* dx, const float* x, const float* dout, long n, int kind);
  void (*swiglu_backward)(float* da, float* dg, const float* a, const float* g, const float* dout, long n);
  double (*softmax_xent)(float* logits, const int* targets, int M, int V, float grad_scale, double* row_loss);
  void (*attention_backward)(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                             const float* v, long q_stride, long kv_stride, const float* probs, int T, int H, int d,
                             float scale);
  // Quantized linear: out[M,N] (+)= alpha·x[M,K]·Wᵀ + bias[N] (bias may be null), W [N, K/32] blocks of
  // ggml type `type` (8 = Q8_0, 2 = Q4_0) in the rows or x16 layout (quant.h), through Q8_0-quantized
  // activations (quant.inc).
  void (*qlinear)(float* out, const float* x, const uint8_t* W, int type, int N, int K, const float* bias, int M,
                  float alpha, bool accumulate, bool x16);
  // qlinear of one input by two [N, K] matrices (alpha 1, no accumulation) in one parallel job; each output as
  // qlinear gives it alone (quant.inc).
  void (*qlinear_pair)(float* out_a, float* out_b, const float* x, const uint8_t* Wa, int type_a, bool x16_a,
                       const float* bias_a, const uint8_t* Wb, int type_b, bool x16_b, const float* bias_b, int N, int K,
                       int M);
  // Whether qlinear reads the x16 layout faster than rows on this CPU (then loading packs matrices).
  bool (*x16_fast)();
  // attention() over a q8 KV cache (k, v: int8; ks, vs: [Tk, H] scales); no probabilities.
  void (*attention_q8)(float* out, const float* q, long q_stride, const int8_t* k, const int8_t* v, const float* ks,
                       const float* vs, long kv_stride, int Tq, int Tk, int H, int d, float scale, const float* slopes);
  // attention() over an f16 KV cache (k, v: IEEE half bits) after storing the Tq new positions' keys and
  // values (k_new, v_new: float rows new_stride apart) at Tk − Tq … Tk − 1 as half bits, rounded to nearest
  // even (float_to_half's results); no probabilities.
  void (*attention_f16)(float* out, const float* q, long q_stride, uint16_t* k, uint16_t* v, long kv_stride,
                        const float* k_new, const float* v_new, long new_stride, int Tq, int Tk, int H, int d,
                        float scale, const float* slopes);
  // attention_f16 with one new position for each of S sequences (their own caches k[s], v[s] of Tk[s]
  // positions with it): rows s of q, k_new, v_new and out; slopes [S, H] or null.
  void (*attention_f16_batch)(int S, float* out, const float* q, long q_stride, uint16_t* const* k,
                              uint16_t* const* v, long kv_stride, const float* k_new, const float* v_new,
                              long new_stride, const int* Tk, int H, int d, float scale, const float* slopes);
  // Microbenchmarks: FMA throughput (GFLOP/s) and streaming-read bandwidth (GB/s), all threads.
  double (*peak_gflops)(double seconds);
  double (*read_bandwidth)(const float* buf, long n, int reps);
};

extern const Isa kIsaPortable;
#if defined(MUGPT_HAVE_AVX2)
extern const Isa kIsaAvx2;
extern const Isa kIsaAvx512;
#endif

}  // namespace mugpt
