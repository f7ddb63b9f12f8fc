// N-API bindings of the kernels (node-addon-api, C++ exceptions off). The TypeScript wrapper
// (src/kernels/native.ts) validates sizes; this file checks argument types and dispatches to the
// instruction set chosen at load time: AVX-512F, else AVX2+FMA, else portable C++.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "checksum.h"
#include "isa.h"
#include "pool.h"
#include "quant.h"
#include "weights_memory.h"

namespace {

using mugpt::Isa;

const Isa* g_isa = &mugpt::kIsaPortable;
std::mutex g_mu;  // one kernel call at a time: the pool and its scratch buffers are process-wide

// Held while a kernel runs on the JS thread: the kernel lock, and denormals flushed to zero
// (restored on return, so JavaScript arithmetic keeps IEEE denormals).
struct KernelScope {
  std::lock_guard<std::mutex> lock{g_mu};
  unsigned fp = mugpt::denormals_off();
  ~KernelScope() { mugpt::restore_fp_state(fp); }
};

// A recorded sequence of kernel calls (Kernels.record, planBegin … planEnd): each call with its arguments
// bound, replayed in order by planRun under one KernelScope. Replays shift the attention calls' key count
// Tk (and with it where their new rows go) by planRun's tkShift: a decode step recorded at one position
// replays at any later one. Pointers are bound as they were: the caller keeps the arrays alive (native.ts);
// ALiBi slopes are copied (Slopes).
struct Plan {
  std::vector<std::function<void(int)>> ops;  // op(tkShift)
};
thread_local Plan* g_recording = nullptr;  // per thread: a worker_thread's kernels are never recorded here

// Runs op(0) now, or appends it to the plan being recorded.
template <class Op>
void run_or_record(Op&& op) {
  if (g_recording) {
    g_recording->ops.emplace_back(std::forward<Op>(op));
    return;
  }
  KernelScope scope;
  op(0);
}

// A call's ALiBi slopes [H] (or none): the caller's array when the call runs now, a copy when it is recorded
// (the array is scratch that later calls rewrite).
struct Slopes {
  std::vector<float> copy;
  const float* live;
  const float* get() const { return copy.empty() ? live : copy.data(); }
};
Slopes slopes_for(const float* p, int H) {
  if (g_recording && p) return {std::vector<float>(p, p + H), nullptr};
  return {{}, p};
}

bool cpu_has_avx2() {
#if defined(MUGPT_HAVE_AVX2)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(MUGPT_HAVE_AVX2)
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

// The instruction set called `name` if this CPU runs it, else null.
const Isa* isa_named(const std::string& name) {
  if (name == "portable") return &mugpt::kIsaPortable;
#if defined(MUGPT_HAVE_AVX2)
  if (name == "avx2" && cpu_has_avx2()) return &mugpt::kIsaAvx2;
  if (name == "avx512" && cpu_has_avx512()) return &mugpt::kIsaAvx512;
#endif
  return nullptr;
}

// Reads argument i as a Float32Array (its data pointer already includes the view's byteOffset).
bool f32(const Napi::CallbackInfo& info, size_t i, float** out, bool nullable = false) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) {
    *out = nullptr;
    return true;
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    Napi::TypeError::New(info.Env(), "mugpt native kernels: argument " + std::to_string(i) + " must be a Float32Array")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = v.As<Napi::Float32Array>().Data();
  return true;
}

// Reads argument i as a typed array of the given type (Uint8Array, Uint16Array).
template <class T>
bool typed(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* what, T** out) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    Napi::TypeError::New(info.Env(), "mugpt native kernels: argument " + std::to_string(i) + " must be a " + what)
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  *out = reinterpret_cast<T*>(static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
  return true;
}

bool nums(const Napi::CallbackInfo& info, std::initializer_list<size_t> idx) {
  for (size_t i : idx) {
    if (!info[i].IsNumber()) {
      Napi::TypeError::New(info.Env(), "mugpt native kernels: argument " + std::to_string(i) + " must be a number")
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

int I(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
long L(const Napi::CallbackInfo& info, size_t i) { return (long)info[i].As<Napi::Number>().Int64Value(); }
float F(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().FloatValue(); }

// gemm(transA, transB, M, N, K, alpha, A, B, beta, C)
void Gemm(const Napi::CallbackInfo& info) {
  float *A, *B, *C;
  if (!nums(info, {2, 3, 4, 5, 8}) || !f32(info, 6, &A) || !f32(info, 7, &B) || !f32(info, 9, &C)) return;
  const bool tA = info[0].ToBoolean(), tB = info[1].ToBoolean();
  const int M = I(info, 2), N = I(info, 3), K = I(info, 4);
  const float alpha = F(info, 5), beta = F(info, 8);
  const Isa* isa = g_isa;
  run_or_record([=](int) { isa->gemm(tA, tB, M, N, K, alpha, A, B, beta, C); });
}

// linear(out, x, W, bias | null, M, K, N)
void Linear(const Napi::CallbackInfo& info) {
  float *out, *x, *W, *bias;
  if (!f32(info, 0, &out) || !f32(info, 1, &x) || !f32(info, 2, &W) || !f32(info, 3, &bias, true) ||
      !nums(info, {4, 5, 6}))
    return;
  const int M = I(info, 4), K = I(info, 5), N = I(info, 6);
  const Isa* isa = g_isa;
  run_or_record([=](int) { isa->linear(out, x, W, bias, M, K, N); });
}

// layerNorm(out, x, w, b, M, D, eps, mean | null, rstd | null)
void LayerNorm(const Napi::CallbackInfo& info) {
  float *out, *x, *w, *b, *mean, *rstd;
  if (!f32(info, 0, &out) || !f32(info, 1, &x) || !f32(info, 2, &w) || !f32(info, 3, &b) ||
      !nums(info, {4, 5, 6}) || !f32(info, 7, &mean, true) || !f32(info, 8, &rstd, true))
    return;
  const int M = I(info, 4), D = I(info, 5);
  const float eps = F(info, 6);
  const Isa* isa = g_isa;
  run_or_record([=](int) { isa->layer_norm(out, x, w, b, M, D, eps, mean, rstd); });
}

// gelu(out, x, n, kind: 0 erf | 1 tanh)
void Gelu(const Napi::CallbackInfo& info) {
  float *out, *x;
  if (!f32(info, 0, &out) || !f32(info, 1, &x) || !nums(info, {2, 3})) return;
  const long n = L(info, 2);
  const int kind = I(info, 3);
  const Isa* isa = g_isa;
  run_or_record([=](int) { isa->gelu(out, x, n, kind); });
}

// swiglu(out, a, g, n)
void Swiglu(const Napi::CallbackInfo& info) {
  float *out, *a, *g;
  if (!f32(info, 0, &out) || !f32(info, 1, &a) || !f32(info, 2, &g) || !nums(info, {3})) return;
  const long n = L(info, 3);
  const Isa* isa = g_isa;
  run_or_record([=](int) { isa->swiglu(out, a, g, n); });
}

// attention(out, q, qStride, k, v, kvStride, Tq, Tk, H, d, scale, slopes | null, probs | null,
//           kNew | null, vNew | null, newStride): with kNew and vNew, their Tq rows are first stored at Tk − Tq …
void Attention(const Napi::CallbackInfo& info) {
  float *out, *q, *k, *v, *slopes, *probs, *k_new, *v_new;
  if (!f32(info, 0, &out) || !f32(info, 1, &q) || !f32(info, 3, &k) || !f32(info, 4, &v) ||
      !nums(info, {2, 5, 6, 7, 8, 9, 10}) || !f32(info, 11, &slopes, true) || !f32(info, 12, &probs, true) ||
      !f32(info, 13, &k_new, true) || !f32(info, 14, &v_new, true) || (k_new && !nums(info, {15})))
    return;
  const long q_stride = L(info, 2), kv_stride = L(info, 5), new_stride = k_new ? L(info, 15) : 0;
  const int Tq = I(info, 6), Tk = I(info, 7), H = I(info, 8), d = I(info, 9);
  const float scale = F(info, 10);
  const Isa* isa = g_isa;
  const Slopes sl = slopes_for(slopes, H);
  run_or_record([=](int shift) {
    isa->attention(out, q, q_stride, k, v, kv_stride, k_new && v_new ? k_new : nullptr, v_new, new_stride, Tq,
                   Tk + shift, H, d, scale, sl.get(), probs);
  });
}

// bias(out, b, M, N, add): each of out's M rows of N set to b (add false) or increased by it.
void Bias(const Napi::CallbackInfo& info) {
  float *out, *b;
  if (!f32(info, 0, &out) || !f32(info, 1, &b) || !nums(info, {2, 3})) return;
  const int M = I(info, 2), N = I(info, 3);
  const bool add = info[4].ToBoolean();
  run_or_record([=](int) {
    for (int r = 0; r < M; r++) {
      float* o = out + (long)r * N;
      if (add)
        for (int j = 0; j < N; j++) o[j] += b[j];
      else
        std::memcpy(o, b, sizeof(float) * N);
    }
  });
}

// qlinear(out, x, W: Uint8Array, type: 8 Q8_0 | 2 Q4_0, N, K, bias | null, M, alpha, accumulate, x16)
void QLinear(const Napi::CallbackInfo& info) {
  float *out, *x, *bias;
  uint8_t* W;
  if (!f32(info, 0, &out) || !f32(info, 1, &x) || !typed(info, 2, napi_uint8_array, "Uint8Array", &W) ||
      !nums(info, {3, 4, 5, 7, 8}) || !f32(info, 6, &bias, true))
    return;
  const int type = I(info, 3), N = I(info, 4), K = I(info, 5), M = I(info, 7);
  const float alpha = F(info, 8);
  const bool accumulate = info[9].ToBoolean(), x16 = info[10].ToBoolean();
  const Isa* isa = g_isa;
  run_or_record([=](int) { isa->qlinear(out, x, W, type, N, K, bias, M, alpha, accumulate, x16); });
}

// qlinearPair(outA, outB, x, WA, typeA, x16A, biasA | null, WB, typeB, x16B, biasB | null, N, K, M): qlinear of
// x by WA and by WB (alpha 1, no accumulation) in one parallel job.
void QLinearPair(const Napi::CallbackInfo& info) {
  float *out_a, *out_b, *x, *bias_a, *bias_b;
  uint8_t *Wa, *Wb;
  if (!f32(info, 0, &out_a) || !f32(info, 1, &out_b) || !f32(info, 2, &x) ||
      !typed(info, 3, napi_uint8_array, "Uint8Array", &Wa) || !nums(info, {4, 11, 12, 13}) || !f32(info, 6, &bias_a, true) ||
      !typed(info, 7, napi_uint8_array, "Uint8Array", &Wb) || !nums(info, {8}) || !f32(info, 10, &bias_b, true))
    return;
  const int type_a = I(info, 4), type_b = I(info, 8), N = I(info, 11), K = I(info, 12), M = I(info, 13);
  const bool x16_a = info[5].ToBoolean(), x16_b = info[9].ToBoolean();
  const Isa* isa = g_isa;
  run_or_record([=](int) {
    isa->qlinear_pair(out_a, out_b, x, Wa, type_a, x16_a, bias_a, Wb, type_b, x16_b, bias_b, N, K, M);
  });
}

// qrow(out, W: Uint8Array, type, N, K, r, x16): out[K] = row r dequantized (not speed-critical: one row).
void QRow(const Napi::CallbackInfo& info) {
  float* out;
  uint8_t* W;
  if (!f32(info, 0, &out) || !typed(info, 1, napi_uint8_array, "Uint8Array", &W) || !nums(info, {2, 3, 4, 5})) return;
  mugpt::qrow(out, W, I(info, 2), I(info, 3), I(info, 4), I(info, 5), info[6].ToBoolean());
}

// A Uint8Array over n fresh bytes of mugpt::alloc_weights, freed when it is collected;
// undefined with a JavaScript exception pending when the memory cannot be had.
Napi::Value weights_array(Napi::Env env, size_t n, const char* what) {
  void* p = mugpt::alloc_weights(n);
  if (!p) {
    Napi::Error::New(env, std::string(what) + ": cannot allocate " + std::to_string(n) + " bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
      env, p, n, [](Napi::Env, void* data, size_t* len) { mugpt::free_weights(data, *len); delete len; }, new size_t(n));
  return Napi::Uint8Array::New(env, n, buf, 0);
}

// populate(view) → maps now the whole pages under a typed array's bytes (weights_memory.h: populate).
void Populate(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(info.Env(), "populate: expected a typed array").ThrowAsJavaScriptException();
    return;
  }
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  mugpt::populate(static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(), a.ByteLength());
}

// allocWeights(bytes) → a zeroed Uint8Array for weights, in memory of its own (weights_memory.h).
Napi::Value AllocWeights(const Napi::CallbackInfo& info) {
  if (!nums(info, {0})) return info.Env().Undefined();
  return weights_array(info.Env(), (size_t)L(info, 0), "allocWeights");
}

// qpack(W: Uint8Array, type, N, K, force) → W [N, K/32] in the x16 layout, or null where the selected
// kernels read rows faster (AVX2 and AVX-512 read x16 faster; force packs anyway: tests, every
// instruction set reads x16; the portable kernels pack in plain C++, the others with SSE2). W itself is rearranged in place, except a view of a mapped file
// (mapFile), which is never written: its packed copy goes to new memory (allocWeights), and the
// file's pages it was read from leave the process (release_if_mapped).
Napi::Value QPack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* W;
  if (!typed(info, 0, napi_uint8_array, "Uint8Array", &W) || !nums(info, {1, 2, 3})) return env.Undefined();
  if (!g_isa->x16_fast() && !info[4].ToBoolean()) return env.Null();
  const int type = I(info, 1), N = I(info, 2), K = I(info, 3);
  const size_t bytes = (size_t)N * (K / mugpt::QK) * mugpt::qblock_bytes(type);
  if (!mugpt::in_mapped_file(W, bytes)) {
    KernelScope scope;
    mugpt::qpack_x16(W, W, type, N, K, g_isa != &mugpt::kIsaPortable);
    return info[0];
  }
  Napi::Value out = weights_array(env, bytes, "qpack");
  if (out.IsUndefined()) return out;
  {
    KernelScope scope;
    mugpt::qpack_x16(static_cast<uint8_t*>(out.As<Napi::Uint8Array>().ArrayBuffer().Data()), W, type, N, K,
                     g_isa != &mugpt::kIsaPortable);
  }
  mugpt::release_if_mapped(W, bytes);
  return out;
}

// quantizeRows(out: Uint8Array, src: Uint8Array, srcType: 0 F32 | 1 F16, rows, K, Kp, type: 8 Q8_0 | 2 Q4_0):
// src [rows, K] → blocks [rows, Kp/32], each row zero-padded from K to Kp (a multiple of 32) inputs, with
// ggml's reference arithmetic (quantize_rows; through AVX2 unless the portable kernels are selected); rows in parallel (loading BTLM-3B pads 560 M weights).
// A src in a mapped file has its pages released afterwards (weights_memory.h).
void QuantizeRows(const Napi::CallbackInfo& info) {
  uint8_t *out, *src;
  if (!typed(info, 0, napi_uint8_array, "Uint8Array", &out) || !typed(info, 1, napi_uint8_array, "Uint8Array", &src) ||
      !nums(info, {2, 3, 4, 5, 6}))
    return;
  const int src_type = I(info, 2), rows = I(info, 3), K = I(info, 4), Kp = I(info, 5), type = I(info, 6);
  {
    KernelScope scope;
    mugpt::quantize_rows(out, src, src_type, rows, K, Kp, type, g_isa != &mugpt::kIsaPortable);
  }
  mugpt::release_if_mapped(src, (size_t)(src_type == 1 ? 2 : 4) * rows * K);
}

// A checksum job (checksum.h) and the array of the Uint8Arrays it reads, kept alive until it is waited
// for or collected (the job's threads are joined before the arrays are let go).
struct PendingChecksums {
  std::unique_ptr<mugpt::ChecksumJob> job;
  Napi::ObjectReference arrays;
};

// Threads of a checksum job: from a cold page cache each one waits on the read of a 2 MiB page of the
// mapped layout cache, so more threads than cores keep more reads in flight (measured, BTLM-3B Q4_0's
// 1.97 GB cache read cold, ten rounds in random order: median 1.73 s on 2 threads, 0.92 on 4, 0.89 on 8,
// 0.94 on 16, `cat` of the same file 1.20; from a warm page cache 0.16–0.19 s on 2, 0.14–0.15 on 8). Whole
// cold loads of that model, twelve rounds in random order: 2 threads 0.91–1.67 s (median 1.56), 8 threads
// 0.79–1.49 (median 1.17): the disk's speed still moves each read by ×2.
static const int kChecksumThreads = 8;

// checksumsStart(arrays: Uint8Array[]) → a job computing their checksums on threads of its own.
Napi::Value ChecksumsStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Napi::TypeError::New(env, "checksumsStart: expected an array of Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array arrays = info[0].As<Napi::Array>();
  const uint32_t count = arrays.Length();
  std::vector<const uint8_t*> p(count);
  std::vector<size_t> n(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value v = arrays.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      Napi::TypeError::New(env, "checksumsStart: element " + std::to_string(i) + " is not a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    p[i] = a.Data();
    n[i] = a.ByteLength();
  }
  auto* pending = new PendingChecksums{std::make_unique<mugpt::ChecksumJob>(std::move(p), std::move(n), std::max(kChecksumThreads, mugpt::num_threads())),
                                       Napi::Persistent(arrays.As<Napi::Object>())};
  return Napi::External<PendingChecksums>::New(env, pending, [](Napi::Env, PendingChecksums* q) {
    q->job.reset();
    delete q;
  });
}

// checksumsWait(job, cancel) → the 16 hex digits of each array's checksum, once the job is done; with
// cancel, the job stops after the chunks under way and the result is null.
Napi::Value ChecksumsWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PendingChecksums* q = info[0].IsExternal() ? info[0].As<Napi::External<PendingChecksums>>().Data() : nullptr;
  if (!q || !q->job) {
    Napi::TypeError::New(env, "checksumsWait: expected a job of checksumsStart not yet waited for").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const bool cancel = info[1].ToBoolean();
  if (cancel) q->job->cancel();
  const std::vector<uint64_t> h = q->job->wait();
  q->job.reset();
  q->arrays.Reset();
  if (cancel) return env.Null();
  Napi::Array out = Napi::Array::New(env, h.size());
  for (size_t i = 0; i < h.size(); i++) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h[i]);
    out.Set((uint32_t)i, Napi::String::New(env, hex));
  }
  return out;
}

// attentionQ8(out, q, qStride, k: Int8Array, v: Int8Array, kScale, vScale, kvStride, Tq, Tk, H, d, scale, slopes | null)
void AttentionQ8(const Napi::CallbackInfo& info) {
  float *out, *q, *ks, *vs, *slopes;
  int8_t *k, *v;
  if (!f32(info, 0, &out) || !f32(info, 1, &q) || !typed(info, 3, napi_int8_array, "Int8Array", &k) ||
      !typed(info, 4, napi_int8_array, "Int8Array", &v) || !f32(info, 5, &ks) || !f32(info, 6, &vs) ||
      !nums(info, {2, 7, 8, 9, 10, 11, 12}) || !f32(info, 13, &slopes, true))
    return;
  KernelScope scope;
  g_isa->attention_q8(out, q, L(info, 2), k, v, ks, vs, L(info, 7), I(info, 8), I(info, 9), I(info, 10), I(info, 11),
                      F(info, 12), slopes);
}

// quantizeHeads(q: Int8Array, scale: Float32Array, x: Float32Array, H, d): per head, scale = max|x|/127 and
// q = roundf(x · (1/scale)) (float32 arithmetic, as the JS reference).
void QuantizeHeads(const Napi::CallbackInfo& info) {
  int8_t* q;
  float *scale, *x;
  if (!typed(info, 0, napi_int8_array, "Int8Array", &q) || !f32(info, 1, &scale) || !f32(info, 2, &x) || !nums(info, {3, 4}))
    return;
  const int H = I(info, 3), d = I(info, 4);
  for (int h = 0; h < H; h++) mugpt::q8_quantize(x + (long)h * d, d, q + (long)h * d, scale + h);
}

// attentionF16(out, q, qStride, k: Uint16Array, v: Uint16Array, kvStride, kNew, vNew, newStride, Tq, Tk, H, d, scale,
//              slopes | null): stores kNew, vNew's Tq rows at Tk − Tq … as halves, then attends
void AttentionF16(const Napi::CallbackInfo& info) {
  float *out, *q, *k_new, *v_new, *slopes;
  uint16_t *k, *v;
  if (!f32(info, 0, &out) || !f32(info, 1, &q) || !typed(info, 3, napi_uint16_array, "Uint16Array", &k) ||
      !typed(info, 4, napi_uint16_array, "Uint16Array", &v) || !f32(info, 6, &k_new) || !f32(info, 7, &v_new) ||
      !nums(info, {2, 5, 8, 9, 10, 11, 12, 13}) || !f32(info, 14, &slopes, true))
    return;
  const long q_stride = L(info, 2), kv_stride = L(info, 5), new_stride = L(info, 8);
  const int Tq = I(info, 9), Tk = I(info, 10), H = I(info, 11), d = I(info, 12);
  const float scale = F(info, 13);
  const Isa* isa = g_isa;
  const Slopes sl = slopes_for(slopes, H);
  run_or_record([=](int shift) {
    isa->attention_f16(out, q, q_stride, k, v, kv_stride, k_new, v_new, new_stride, Tq, Tk + shift, H, d, scale, sl.get());
  });
}

// attentionF16Batch(out, q, qStride, k: Uint16Array[S], v: Uint16Array[S], kvStride, kNew, vNew, newStride,
//                   Tk: Int32Array [S], H, d, scale, slopes | null): attentionF16 with Tq = 1 for S sequences
void AttentionF16Batch(const Napi::CallbackInfo& info) {
  float *out, *q, *k_new, *v_new, *slopes;
  int32_t* Tk;
  if (!f32(info, 0, &out) || !f32(info, 1, &q) || !f32(info, 6, &k_new) || !f32(info, 7, &v_new) ||
      !typed(info, 9, napi_int32_array, "Int32Array", &Tk) || !nums(info, {2, 5, 8, 10, 11, 12}) ||
      !f32(info, 13, &slopes, true))
    return;
  if (!info[3].IsArray() || !info[4].IsArray()) {
    Napi::TypeError::New(info.Env(), "mugpt native kernels: arguments 3 and 4 must be arrays of Uint16Arrays")
        .ThrowAsJavaScriptException();
    return;
  }
  const Napi::Array ka = info[3].As<Napi::Array>(), va = info[4].As<Napi::Array>();
  const int S = (int)info[9].As<Napi::TypedArray>().ElementLength();
  if ((int)ka.Length() != S || (int)va.Length() != S) {
    Napi::TypeError::New(info.Env(), "mugpt native kernels: k, v and Tk must have one element a sequence")
        .ThrowAsJavaScriptException();
    return;
  }
  std::vector<uint16_t*> k(S), v(S);
  for (int s = 0; s < S; s++) {
    const Napi::Value ks = ka[s], vs = va[s];
    if (!ks.IsTypedArray() || ks.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array || !vs.IsTypedArray() ||
        vs.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array) {
      Napi::TypeError::New(info.Env(), "mugpt native kernels: k and v must hold Uint16Arrays").ThrowAsJavaScriptException();
      return;
    }
    const Napi::TypedArray kt = ks.As<Napi::TypedArray>(), vt = vs.As<Napi::TypedArray>();
    k[s] = reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(kt.ArrayBuffer().Data()) + kt.ByteOffset());
    v[s] = reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(vt.ArrayBuffer().Data()) + vt.ByteOffset());
  }
  KernelScope scope;
  g_isa->attention_f16_batch(S, out, q, L(info, 2), k.data(), v.data(), L(info, 5), k_new, v_new, L(info, 8), Tk,
                             I(info, 10), I(info, 11), F(info, 12), slopes);
}

// layerNormBackward(dx, dw, db, dout, x, mean, rstd, w, M, D)
void LayerNormBackward(const Napi::CallbackInfo& info) {
  float *dx, *dw, *db, *dout, *x, *mean, *rstd, *w;
  if (!f32(info, 0, &dx) || !f32(info, 1, &dw) || !f32(info, 2, &db) || !f32(info, 3, &dout) || !f32(info, 4, &x) ||
      !f32(info, 5, &mean) || !f32(info, 6, &rstd) || !f32(info, 7, &w) || !nums(info, {8, 9}))
    return;
  KernelScope scope;
  g_isa->layer_norm_backward(dx, dw, db, dout, x, mean, rstd, w, I(info, 8), I(info, 9));
}

// geluBackward(dx, x, dout, n, kind)
void GeluBackward(const Napi::CallbackInfo& info) {
  float *dx, *x, *dout;
  if (!f32(info, 0, &dx) || !f32(info, 1, &x) || !f32(info, 2, &dout) || !nums(info, {3, 4})) return;
  KernelScope scope;
  g_isa->gelu_backward(dx, x, dout, L(info, 3), I(info, 4));
}

// swigluBackward(da, dg, a, g, dout, n)
void SwigluBackward(const Napi::CallbackInfo& info) {
  float *da, *dg, *a, *g, *dout;
  if (!f32(info, 0, &da) || !f32(info, 1, &dg) || !f32(info, 2, &a) || !f32(info, 3, &g) || !f32(info, 4, &dout) ||
      !nums(info, {5}))
    return;
  KernelScope scope;
  g_isa->swiglu_backward(da, dg, a, g, dout, L(info, 5));
}

// softmaxCrossEntropy(logits, targets: Int32Array, M, V, gradScale) → Σ loss
Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  float* logits;
  if (!f32(info, 0, &logits) || !nums(info, {2, 3, 4})) return info.Env().Undefined();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(info.Env(), "mugpt native kernels: argument 1 must be an Int32Array").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  const int* targets = info[1].As<Napi::Int32Array>().Data();
  const int M = I(info, 2);
  std::vector<double> row_loss(M > 0 ? M : 0);
  KernelScope scope;
  return Napi::Number::New(info.Env(), g_isa->softmax_xent(logits, targets, M, I(info, 3), F(info, 4), row_loss.data()));
}

// attentionBackward(dq, dk, dv, dout, q, k, v, qStride, kvStride, probs, T, H, d, scale)
void AttentionBackward(const Napi::CallbackInfo& info) {
  float *dq, *dk, *dv, *dout, *q, *k, *v, *probs;
  if (!f32(info, 0, &dq) || !f32(info, 1, &dk) || !f32(info, 2, &dv) || !f32(info, 3, &dout) || !f32(info, 4, &q) ||
      !f32(info, 5, &k) || !f32(info, 6, &v) || !f32(info, 9, &probs) || !nums(info, {7, 8, 10, 11, 12, 13}))
    return;
  KernelScope scope;
  g_isa->attention_backward(dq, dk, dv, dout, q, k, v, L(info, 7), L(info, 8), probs, I(info, 10), I(info, 11),
                            I(info, 12), F(info, 13));
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("simd", g_isa->name);
  o.Set("threads", mugpt::num_threads());
  o.Set("x16", g_isa->x16_fast());  // whether qpack packs (see QPack)
  return o;
}

// setSimd('avx512' | 'avx2' | 'portable') → whether that instruction set is available (and now selected).
Napi::Value SetSimd(const Napi::CallbackInfo& info) {
  const Isa* isa = isa_named(info[0].ToString().Utf8Value());
  std::lock_guard<std::mutex> lk(g_mu);
  if (isa) g_isa = isa;
  return Napi::Boolean::New(info.Env(), isa != nullptr);
}

Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  if (!nums(info, {0})) return info.Env().Undefined();
  KernelScope scope;
  return Napi::Number::New(info.Env(), g_isa->peak_gflops(info[0].As<Napi::Number>().DoubleValue()));
}

// stalls(seconds) → for each pool thread, the gaps (µs) of 5 µs or more in which it did not run while it
// spun on the clock for `seconds`: the CPU time a shared machine takes from busy threads (bench/stalls.ts).
Napi::Value Stalls(const Napi::CallbackInfo& info) {
  if (!nums(info, {0})) return info.Env().Undefined();
  const double seconds = info[0].As<Napi::Number>().DoubleValue();
  const int T = mugpt::num_threads();
  std::vector<std::vector<double>> gaps(T);
  for (auto& g : gaps) g.reserve(1 << 16);  // no allocation inside the timed loop (until then)
  {
    KernelScope scope;
    auto spin = [&](int task, int) {
      using clock = std::chrono::steady_clock;
      const auto end = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
      for (auto last = clock::now(); last < end;) {
        const auto now = clock::now();
        const double us = std::chrono::duration<double, std::micro>(now - last).count();
        if (us >= 5) gaps[task].push_back(us);
        last = now;
      }
    };
    mugpt::parallel(T, spin);
  }
  Napi::Array out = Napi::Array::New(info.Env(), T);
  for (int t = 0; t < T; t++) {
    Napi::Array a = Napi::Array::New(info.Env(), gaps[t].size());
    for (size_t i = 0; i < gaps[t].size(); i++) a.Set(i, Napi::Number::New(info.Env(), gaps[t][i]));
    out.Set(t, a);
  }
  return out;
}

// readBandwidth(bytes, reps, each?): allocates and fills a buffer, then times parallel streaming reads of it:
// the best of reps passes, or with each = true every pass's figure (an array) over the one buffer.
Napi::Value ReadBandwidth(const Napi::CallbackInfo& info) {
  if (!nums(info, {0, 1})) return info.Env().Undefined();
  const long chunk = 1 << 20;  // the benchmark reads whole 4 MiB chunks
  const long n = (long)(info[0].As<Napi::Number>().DoubleValue() / 4 / chunk) * chunk;
  if (n <= 0) return Napi::Number::New(info.Env(), 0);
  float* buf = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  if (!buf) {
    Napi::Error::New(info.Env(), "readBandwidth: cannot allocate the buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  for (long i = 0; i < n; i++) buf[i] = (float)(i & 1023);
  const int reps = I(info, 1);
  const bool each = info.Length() > 2 && info[2].ToBoolean().Value();
  std::vector<double> gbs;
  {
    KernelScope scope;
    if (each)
      for (int r = 0; r < reps; r++) gbs.push_back(g_isa->read_bandwidth(buf, n, 1));
    else
      gbs.push_back(g_isa->read_bandwidth(buf, n, reps));
  }
  std::free(buf);
  if (!each) return Napi::Number::New(info.Env(), gbs[0]);
  Napi::Array out = Napi::Array::New(info.Env(), gbs.size());
  for (size_t r = 0; r < gbs.size(); r++) out.Set(r, Napi::Number::New(info.Env(), gbs[r]));
  return out;
}

// mapFile(path, hugePages?) → an external ArrayBuffer over the whole file, mapped copy-on-write (MAP_PRIVATE:
// the file is never modified; a page written in memory becomes a private copy). Unmapped when the
// buffer is garbage-collected. Resident pages are the page cache's, shared, not a second copy; the
// converters (qpack, quantizeRows) release the pages of what they have converted (weights_memory.h).
// hugePages asks for huge pages where the page cache has them (map_file). Returns undefined where mmap
// is unavailable.
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(_WIN32)
  return env.Undefined();
#else
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "mapFile: the path must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  size_t size = 0;
  std::string err;
  void* p = mugpt::map_file(path, &size, &err, info.Length() > 1 && info[1].ToBoolean().Value());
  if (!p) {
    Napi::Error::New(env, "mapFile: " + path + ": " + err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::ArrayBuffer::New(
      env, p, size, [](Napi::Env, void* data, size_t* len) { mugpt::unmap_file(data, *len); delete len; }, new size_t(size));
#endif
}

// planBegin(): the recordable kernels' calls (run_or_record) are appended to a new plan instead of run.
void PlanBegin(const Napi::CallbackInfo& info) {
  if (g_recording) {
    Napi::Error::New(info.Env(), "planBegin: a plan is already being recorded").ThrowAsJavaScriptException();
    return;
  }
  g_recording = new Plan();
}

// planEnd() → the plan recorded since planBegin, freed when collected; planAbort() drops it.
Napi::Value PlanEnd(const Napi::CallbackInfo& info) {
  Plan* p = g_recording;
  g_recording = nullptr;
  if (!p) {
    Napi::Error::New(info.Env(), "planEnd: no plan is being recorded").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::External<Plan>::New(info.Env(), p, [](Napi::Env, Plan* q) { delete q; });
}
void PlanAbort(const Napi::CallbackInfo&) {
  delete g_recording;
  g_recording = nullptr;
}

// planRun(plan, tkShift): replays the plan's calls in order, attention calls with Tk + tkShift keys.
void PlanRun(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal() || !nums(info, {1})) {
    Napi::TypeError::New(info.Env(), "planRun: expected a plan of planEnd and a number").ThrowAsJavaScriptException();
    return;
  }
  const Plan* p = info[0].As<Napi::External<Plan>>().Data();
  const int shift = I(info, 1);
  KernelScope scope;
  for (const auto& op : p->ops) op(shift);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The widest instruction set the CPU runs; MUGPT_SIMD=avx2|portable picks a narrower one.
  for (const char* name : {"avx512", "avx2", "portable"}) {
    if (const Isa* isa = isa_named(name)) {
      g_isa = isa;
      break;
    }
  }
  const char* simd = std::getenv("MUGPT_SIMD");
  if (simd && isa_named(simd)) g_isa = isa_named(simd);
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("swiglu", Napi::Function::New(env, Swiglu));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("bias", Napi::Function::New(env, Bias));
  exports.Set("planBegin", Napi::Function::New(env, PlanBegin));
  exports.Set("planEnd", Napi::Function::New(env, PlanEnd));
  exports.Set("planAbort", Napi::Function::New(env, PlanAbort));
  exports.Set("planRun", Napi::Function::New(env, PlanRun));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward));
  exports.Set("geluBackward", Napi::Function::New(env, GeluBackward));
  exports.Set("swigluBackward", Napi::Function::New(env, SwigluBackward));
  exports.Set("softmaxCrossEntropy", Napi::Function::New(env, SoftmaxCrossEntropy));
  exports.Set("attentionBackward", Napi::Function::New(env, AttentionBackward));
  exports.Set("qlinear", Napi::Function::New(env, QLinear));
  exports.Set("qlinearPair", Napi::Function::New(env, QLinearPair));
  exports.Set("qrow", Napi::Function::New(env, QRow));
  exports.Set("qpack", Napi::Function::New(env, QPack));
  exports.Set("attentionF16", Napi::Function::New(env, AttentionF16));
  exports.Set("attentionF16Batch", Napi::Function::New(env, AttentionF16Batch));
  exports.Set("attentionQ8", Napi::Function::New(env, AttentionQ8));
  exports.Set("quantizeHeads", Napi::Function::New(env, QuantizeHeads));
  exports.Set("mapFile", Napi::Function::New(env, MapFile));
  exports.Set("allocWeights", Napi::Function::New(env, AllocWeights));
  exports.Set("populate", Napi::Function::New(env, Populate));
  exports.Set("quantizeRows", Napi::Function::New(env, QuantizeRows));
  exports.Set("checksumsStart", Napi::Function::New(env, ChecksumsStart));
  exports.Set("checksumsWait", Napi::Function::New(env, ChecksumsWait));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setSimd", Napi::Function::New(env, SetSimd));
  exports.Set("peakGflops", Napi::Function::New(env, PeakGflops));
  exports.Set("stalls", Napi::Function::New(env, Stalls));
  exports.Set("readBandwidth", Napi::Function::New(env, ReadBandwidth));
  return exports;
}

}  // namespace

NODE_API_MODULE(mugpt_native, Init)
