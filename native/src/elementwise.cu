/*
 * elementwise.cu: fill, cast, unary, binary (with broadcasting), scalar, add_inplace, expand.
 *
 * Semantics are the TypeScript backend's (src/backend/ts/elementwise.ts) to the bit where it is
 * cheap: float32 ops on float32 operands round once, as TS's double op then fround does; ops with
 * a double scalar run in double and round once (x * 0.1 is not x * 0.1f); int32 results wrap like
 * a store into an Int32Array (JavaScript's ToInt32: truncate, NaN and infinities to 0, modulo 2^32).
 * exp and log use CUDA's expf/logf (within 2 ulp of the rounded double result TS computes).
 *
 * All kernels are memory-bound grid-stride loops of 256 threads (napkin math: an H100 moves ~3 TB/s,
 * so a 1M-float unary op is 8 MB, about 3 us; launch overhead dominates below ~100K elements).
 * Contiguous float32 operands go through float4 loads and stores when 16-byte aligned (cn_alloc
 * blocks are 256-byte aligned): 4x fewer memory instructions.
 *
 * Broadcasting: the host first drops size-1 dimensions and merges neighbours that are contiguous
 * for both operands (a bias add [n, c, h, w] + [1, c, 1, 1] becomes [n, c, h*w] with b strides
 * [0, 1, 0]); the shape and strides go to the kernel by value, with 32-bit index math when every
 * offset fits (64-bit division is ~4x the instructions of 32-bit).
 */
#include <string.h>

#include <type_traits>

#include "common.h"

#define EW_THREADS 256
#define EW_MAX_RANK 8

/* ------------------------------------------------------------------ device helpers */

/* JavaScript's ToInt32, what storing a number into an Int32Array does. */
__device__ __forceinline__ int32_t js_int32(double v) {
  if (!(fabs(v) <= 1.7976931348623157e308)) return 0; /* NaN, +-Inf */
  const double t = trunc(v);
  if (t >= -2147483648.0 && t < 2147483648.0) return (int32_t)t;
  double m = fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (int32_t)(uint32_t)m;
}

__device__ __forceinline__ int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
__device__ __forceinline__ int32_t wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* ---- unary ops (float32; NEG and ABS also int32) */
struct NegOp {
  __device__ float operator()(float v) const { return -v; }
  __device__ int32_t operator()(int32_t v) const { return wrap_sub(0, v); }
};
struct ExpOp {
  __device__ float operator()(float v) const { return expf(v); }
};
struct LogOp {
  __device__ float operator()(float v) const { return logf(v); }
};
struct ReluOp { /* NaN stays NaN, as in PyTorch */
  __device__ float operator()(float v) const { return (v > 0.0f || v != v) ? v : 0.0f; }
};
struct SqrtOp {
  __device__ float operator()(float v) const { return sqrtf(v); }
};
struct AbsOp {
  __device__ float operator()(float v) const { return fabsf(v); }
  __device__ int32_t operator()(int32_t v) const { return v < 0 ? wrap_sub(0, v) : v; }
};
/* ---- casts */
struct F2I {
  __device__ int32_t operator()(float v) const { return js_int32((double)v); }
};
struct I2F {
  __device__ float operator()(int32_t v) const { return (float)v; }
};

/* ---- binary ops */
struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
  __device__ int32_t operator()(int32_t a, int32_t b) const { return wrap_add(a, b); }
};
struct SubOp {
  __device__ float operator()(float a, float b) const { return a - b; }
  __device__ int32_t operator()(int32_t a, int32_t b) const { return wrap_sub(a, b); }
};
struct MulOp {
  __device__ float operator()(float a, float b) const { return a * b; }
  __device__ int32_t operator()(int32_t a, int32_t b) const { return js_int32((double)a * (double)b); }
};
struct DivOp { /* int32: truncates; x / 0 gives 0 (Infinity and NaN store as 0 in an Int32Array) */
  __device__ float operator()(float a, float b) const { return a / b; }
  __device__ int32_t operator()(int32_t a, int32_t b) const { return js_int32((double)a / (double)b); }
};
struct EqOp {
  template <class T>
  __device__ int32_t operator()(T a, T b) const { return a == b ? 1 : 0; }
};
struct ReluGradOp { /* b > 0 ? a : 0 (TS's form: a NaN gradient where b <= 0 gives 0) */
  template <class T>
  __device__ T operator()(T a, T b) const { return b > 0 ? a : (T)0; }
};
struct TakeA { /* expand */
  template <class T>
  __device__ T operator()(T a, T) const { return a; }
};

/* ---- scalar ops: computed in double with the double scalar, rounded once */
struct ScalarOp {
  int op;
  double s;
  __device__ double apply(double x) const {
    switch (op) {
      case CN_S_ADD: return x + s;
      case CN_S_SUB: return x - s;
      case CN_S_RSUB: return s - x;
      case CN_S_MUL: return x * s;
      case CN_S_DIV: return x / s;
      case CN_S_RDIV: return s / x;
      default: /* CN_S_POW: JavaScript's x ** s (NaN for 1 ** Infinity and x ** NaN, unlike C's pow) */
        if (s == 2.0) return x * x;
        if (s == 1.0) return x;
        if (s != s || (fabs(x) == 1.0 && fabs(s) == INFINITY)) return (double)NAN;
        return pow(x, s);
    }
  }
  __device__ float operator()(float x) const { return (float)apply((double)x); }
  __device__ int32_t operator()(int32_t x) const { return js_int32(apply((double)x)); }
};

/* ------------------------------------------------------------------ kernels */

#define EW_GRID_STRIDE(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

template <class T>
__global__ void __launch_bounds__(EW_THREADS) fill_kernel(T *out, T v, int64_t n) {
  EW_GRID_STRIDE(i, n) out[i] = v;
}

/* 16-byte stores: the first n/4 * 4 elements as uint4, the rest one by one. */
__global__ void __launch_bounds__(EW_THREADS) fill4_kernel(uint32_t *out, uint32_t bits, int64_t n) {
  const int64_t n4 = n >> 2;
  uint4 *o4 = (uint4 *)out;
  const uint4 v = make_uint4(bits, bits, bits, bits);
  EW_GRID_STRIDE(i, n4) o4[i] = v;
  const int64_t t = (n4 << 2) + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t < n) out[t] = bits;
}

template <class TO, class TA, class F>
__global__ void __launch_bounds__(EW_THREADS) map1_kernel(TO *out, const TA *x, int64_t n, F f) {
  EW_GRID_STRIDE(i, n) out[i] = f(x[i]);
}

template <class F>
__global__ void __launch_bounds__(EW_THREADS) map1_f4_kernel(float *out, const float *x, int64_t n, F f) {
  const int64_t n4 = n >> 2;
  const float4 *x4 = (const float4 *)x;
  float4 *o4 = (float4 *)out;
  EW_GRID_STRIDE(i, n4) {
    const float4 v = x4[i];
    o4[i] = make_float4(f(v.x), f(v.y), f(v.z), f(v.w));
  }
  const int64_t t = (n4 << 2) + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t < n) out[t] = f(x[t]);
}

template <class TO, class T, class F>
__global__ void __launch_bounds__(EW_THREADS) map2_kernel(TO *out, const T *a, const T *b, int64_t n, F f) {
  EW_GRID_STRIDE(i, n) out[i] = f(a[i], b[i]);
}

template <class F>
__global__ void __launch_bounds__(EW_THREADS) map2_f4_kernel(float *out, const float *a, const float *b, int64_t n,
                                                             F f) {
  const int64_t n4 = n >> 2;
  const float4 *a4 = (const float4 *)a, *b4 = (const float4 *)b;
  float4 *o4 = (float4 *)out;
  EW_GRID_STRIDE(i, n4) {
    const float4 u = a4[i], v = b4[i];
    o4[i] = make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
  }
  const int64_t t = (n4 << 2) + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t < n) out[t] = f(a[t], b[t]);
}

/* A broadcast layout after collapsing: dimensions 0..rank-1, the last fastest. */
template <class IDX>
struct Bcast {
  int rank;
  IDX shape[EW_MAX_RANK], sa[EW_MAX_RANK], sb[EW_MAX_RANK];
};

/* out[i] = f(a[ia], b[ib]) for the contiguous output index i. The dimension loop is unrolled with
   constant indices so that g stays in the parameter bank (a dynamic index would copy it to local memory). */
template <class TO, class T, class F, class IDX, bool HAS_B>
__global__ void __launch_bounds__(EW_THREADS) bcast_kernel(TO *out, const T *a, const T *b, Bcast<IDX> g, IDX n, F f) {
  for (IDX i = (IDX)blockIdx.x * (IDX)blockDim.x + (IDX)threadIdx.x; i < n; i += (IDX)blockDim.x * (IDX)gridDim.x) {
    IDX r = i, ia = 0, ib = 0;
#pragma unroll
    for (int k = 0; k < EW_MAX_RANK; ++k) {
      const int d = EW_MAX_RANK - 1 - k;
      if (d < g.rank) {
        const IDX q = r / g.shape[d];
        const IDX c = r - q * g.shape[d];
        r = q;
        ia += c * g.sa[d];
        if (HAS_B) ib += c * g.sb[d];
      }
    }
    out[i] = HAS_B ? f(a[ia], b[ib]) : f(a[ia], a[ia]);
  }
}

/* ------------------------------------------------------------------ host helpers */

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

static const char *dtype_name(int32_t dt) { return dt == CN_F32 ? "float32" : dt == CN_I32 ? "int32" : "?"; }

#define EW_CHECK_DTYPE(fn, dt) \
  CN_REQUIRE((dt) == CN_F32 || (dt) == CN_I32, fn ": dtype %d is not CN_F32 (0) or CN_I32 (1)", (int)(dt))

template <class TO, class TA, class F>
static int launch_map1(TO *out, const TA *x, int64_t n, F f, const char *what) {
  if constexpr (std::is_same<TO, float>::value && std::is_same<TA, float>::value) {
    if (aligned16(out) && aligned16(x) && n >= 4) {
      auto k = map1_f4_kernel<F>;
      CN_LAUNCH(k, cn_blocks((n + 3) / 4, EW_THREADS), EW_THREADS, out, x, n, f);
      return CN_CHECK_LAUNCH(what);
    }
  }
  auto k = map1_kernel<TO, TA, F>;
  CN_LAUNCH(k, cn_blocks(n, EW_THREADS), EW_THREADS, out, x, n, f);
  return CN_CHECK_LAUNCH(what);
}

template <class TO, class T, class F>
static int launch_map2(TO *out, const T *a, const T *b, int64_t n, F f, const char *what) {
  /* Not for DIV: four inlined divisions and their slow-path calls spill 16 bytes; division is
     ALU-bound enough that the scalar loop loses nothing. */
  if constexpr (std::is_same<TO, float>::value && std::is_same<T, float>::value && !std::is_same<F, DivOp>::value) {
    if (aligned16(out) && aligned16(a) && aligned16(b) && n >= 4) {
      auto k = map2_f4_kernel<F>;
      CN_LAUNCH(k, cn_blocks((n + 3) / 4, EW_THREADS), EW_THREADS, out, a, b, n, f);
      return CN_CHECK_LAUNCH(what);
    }
  }
  auto k = map2_kernel<TO, T, F>;
  CN_LAUNCH(k, cn_blocks(n, EW_THREADS), EW_THREADS, out, a, b, n, f);
  return CN_CHECK_LAUNCH(what);
}

/* A validated, collapsed broadcast layout. */
struct Layout {
  int rank;
  int64_t size;
  int64_t shape[EW_MAX_RANK], sa[EW_MAX_RANK], sb[EW_MAX_RANK];
  bool fits32;
};

/* Checks rank/shape/strides (b_strides may be NULL: one operand) and collapses them into L. */
static int make_layout(Layout *L, const char *fn, int32_t rank, const int64_t *shape, const int64_t *a_strides,
                       const int64_t *b_strides) {
  CN_REQUIRE(rank >= 0 && rank <= EW_MAX_RANK, "%s: rank must be in [0, %d], got %d", fn, EW_MAX_RANK, rank);
  CN_REQUIRE(rank == 0 || (shape != NULL && a_strides != NULL), "%s: %s is NULL (rank %d)", fn,
             shape ? "the strides array" : "shape", rank);
  int64_t size = 1;
  for (int d = 0; d < rank; ++d) {
    CN_REQUIRE(shape[d] >= 0, "%s: shape[%d] must be >= 0, got %lld", fn, d, (long long)shape[d]);
    if (shape[d] == 0) size = 0;
    else if (size > 0) {
      CN_REQUIRE(size <= ((int64_t)1 << 53) / shape[d], "%s: the shape has too many elements (dimension %d is %lld)",
                 fn, d, (long long)shape[d]);
      size *= shape[d];
    }
  }
  L->size = size;
  L->rank = 0;
  if (size == 0) return CN_OK;
  for (int d = 0; d < rank; ++d) {
    if (shape[d] == 1) continue; /* its strides never matter */
    const int64_t sa = a_strides[d], sb = b_strides ? b_strides[d] : 0;
    const int r = L->rank;
    if (r > 0 && L->sa[r - 1] == sa * shape[d] && L->sb[r - 1] == sb * shape[d]) {
      L->shape[r - 1] *= shape[d]; /* contiguous with the previous dimension: merge */
      L->sa[r - 1] = sa;
      L->sb[r - 1] = sb;
    } else {
      L->shape[r] = shape[d], L->sa[r] = sa, L->sb[r] = sb;
      L->rank++;
    }
  }
  if (L->rank == 0) { /* one element */
    L->rank = 1;
    L->shape[0] = 1, L->sa[0] = 0, L->sb[0] = 0;
  }
  int64_t reach_a = 0, reach_b = 0;
  for (int d = 0; d < L->rank; ++d) {
    reach_a += (L->sa[d] < 0 ? -L->sa[d] : L->sa[d]) * (L->shape[d] - 1);
    reach_b += (L->sb[d] < 0 ? -L->sb[d] : L->sb[d]) * (L->shape[d] - 1);
  }
  L->fits32 = size < INT32_MAX && reach_a < INT32_MAX && reach_b < INT32_MAX;
  return CN_OK;
}

template <class IDX>
static Bcast<IDX> to_bcast(const Layout &L) {
  Bcast<IDX> g;
  memset(&g, 0, sizeof g);
  g.rank = L.rank;
  for (int d = 0; d < EW_MAX_RANK; ++d) g.shape[d] = 1; /* unused dimensions: never divided by, but keep them sane */
  for (int d = 0; d < L.rank; ++d) g.shape[d] = (IDX)L.shape[d], g.sa[d] = (IDX)L.sa[d], g.sb[d] = (IDX)L.sb[d];
  return g;
}

template <class TO, class T, class F, bool HAS_B>
static int launch_bcast(TO *out, const T *a, const T *b, const Layout &L, F f, const char *what) {
  if (L.fits32) {
    auto k = bcast_kernel<TO, T, F, int32_t, HAS_B>;
    CN_LAUNCH(k, cn_blocks(L.size, EW_THREADS), EW_THREADS, out, a, b, to_bcast<int32_t>(L), (int32_t)L.size, f);
  } else {
    auto k = bcast_kernel<TO, T, F, int64_t, HAS_B>;
    CN_LAUNCH(k, cn_blocks(L.size, EW_THREADS), EW_THREADS, out, a, b, to_bcast<int64_t>(L), L.size, f);
  }
  return CN_CHECK_LAUNCH(what);
}

/* ------------------------------------------------------------------ the ABI */

extern "C" int cn_fill(int32_t dtype, void *out, double value, int64_t n) {
  EW_CHECK_DTYPE("fill", dtype);
  CN_REQUIRE(n >= 0, "fill: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL, "fill: out is NULL (n=%lld)", (long long)n);
  CN_TRY(cn_init());
  uint32_t bits;
  if (dtype == CN_F32) {
    const float v = (float)value;
    memcpy(&bits, &v, 4);
  } else {
    /* ToInt32 on the host, as Int32Array.fill does. */
    double t = value != value || value == INFINITY || value == -INFINITY ? 0.0 : trunc(value);
    t = fmod(t, 4294967296.0);
    if (t < 0) t += 4294967296.0;
    bits = (uint32_t)t;
  }
  if (bits == 0) return cn_cuda_status(cudaMemsetAsync(out, 0, (size_t)n * 4, cn_stream()), "fill: memset");
  if (aligned16(out)) {
    CN_LAUNCH(fill4_kernel, cn_blocks((n + 3) / 4, EW_THREADS), EW_THREADS, (uint32_t *)out, bits, n);
  } else {
    auto k = fill_kernel<uint32_t>;
    CN_LAUNCH(k, cn_blocks(n, EW_THREADS), EW_THREADS, (uint32_t *)out, bits, n);
  }
  return CN_CHECK_LAUNCH("fill");
}

extern "C" int cn_cast(int32_t out_dtype, void *out, int32_t x_dtype, const void *x, int64_t n) {
  EW_CHECK_DTYPE("cast: out_dtype", out_dtype);
  EW_CHECK_DTYPE("cast: x_dtype", x_dtype);
  CN_REQUIRE(n >= 0, "cast: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "cast: %s is NULL (n=%lld)", out ? "x" : "out", (long long)n);
  CN_TRY(cn_init());
  if (out_dtype == x_dtype) {
    return cn_cuda_status(cudaMemcpyAsync(out, x, (size_t)n * 4, cudaMemcpyDeviceToDevice, cn_stream()), "cast: copy");
  }
  if (out_dtype == CN_I32) return launch_map1((int32_t *)out, (const float *)x, n, F2I(), "cast: float32 to int32");
  return launch_map1((float *)out, (const int32_t *)x, n, I2F(), "cast: int32 to float32");
}

extern "C" int cn_unary(int32_t op, int32_t dtype, void *out, const void *x, int64_t n) {
  static const char *names[] = {"NEG", "EXP", "LOG", "RELU", "SQRT", "ABS"};
  CN_REQUIRE(op >= CN_NEG && op <= CN_ABS, "unary: op %d is not a unary op (expected 0..5: NEG EXP LOG RELU SQRT ABS)",
             op);
  EW_CHECK_DTYPE("unary", dtype);
  CN_REQUIRE(dtype == CN_F32 || op == CN_NEG || op == CN_ABS,
             "unary: %s takes float32 only (got dtype %s; int32 is accepted by NEG and ABS)", names[op],
             dtype_name(dtype));
  CN_REQUIRE(n >= 0, "unary: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "unary: %s is NULL (op %s, n=%lld)", out ? "x" : "out", names[op],
             (long long)n);
  CN_TRY(cn_init());
  if (dtype == CN_I32) {
    int32_t *o = (int32_t *)out;
    const int32_t *xi = (const int32_t *)x;
    return op == CN_NEG ? launch_map1(o, xi, n, NegOp(), "unary: NEG int32")
                        : launch_map1(o, xi, n, AbsOp(), "unary: ABS int32");
  }
  float *o = (float *)out;
  const float *xf = (const float *)x;
  switch (op) {
    case CN_NEG: return launch_map1(o, xf, n, NegOp(), "unary: NEG");
    case CN_EXP: return launch_map1(o, xf, n, ExpOp(), "unary: EXP");
    case CN_LOG: return launch_map1(o, xf, n, LogOp(), "unary: LOG");
    case CN_RELU: return launch_map1(o, xf, n, ReluOp(), "unary: RELU");
    case CN_SQRT: return launch_map1(o, xf, n, SqrtOp(), "unary: SQRT");
    default: return launch_map1(o, xf, n, AbsOp(), "unary: ABS");
  }
}

template <class T, class F>
static int binary_typed(void *out, const void *a, const void *b, const Layout &L, F f, const char *what) {
  typedef typename std::conditional<std::is_same<F, EqOp>::value, int32_t, T>::type TO;
  TO *o = (TO *)out;
  const T *pa = (const T *)a, *pb = (const T *)b;
  if (L.rank == 1 && L.sa[0] == 1 && L.sb[0] == 1) return launch_map2(o, pa, pb, L.size, f, what);
  return launch_bcast<TO, T, F, true>(o, pa, pb, L, f, what);
}

template <class T>
static int binary_dispatch(int32_t op, void *out, const void *a, const void *b, const Layout &L) {
  switch (op) {
    case CN_ADD: return binary_typed<T>(out, a, b, L, AddOp(), "binary: ADD");
    case CN_SUB: return binary_typed<T>(out, a, b, L, SubOp(), "binary: SUB");
    case CN_MUL: return binary_typed<T>(out, a, b, L, MulOp(), "binary: MUL");
    case CN_DIV: return binary_typed<T>(out, a, b, L, DivOp(), "binary: DIV");
    case CN_EQ: return binary_typed<T>(out, a, b, L, EqOp(), "binary: EQ");
    default: return binary_typed<T>(out, a, b, L, ReluGradOp(), "binary: RELU_GRAD");
  }
}

extern "C" int cn_binary(int32_t op, int32_t dtype, void *out, const void *a, const void *b, int32_t rank,
                         const int64_t *shape, const int64_t *a_strides, const int64_t *b_strides) {
  CN_REQUIRE(op >= CN_ADD && op <= CN_RELU_GRAD,
             "binary: op %d is not a binary op (expected 0..5: ADD SUB MUL DIV EQ RELU_GRAD)", op);
  EW_CHECK_DTYPE("binary", dtype);
  CN_REQUIRE(rank == 0 || b_strides != NULL, "binary: b_strides is NULL (rank %d)", rank);
  Layout L;
  CN_TRY(make_layout(&L, "binary", rank, shape, a_strides, b_strides));
  if (L.size == 0) return CN_OK;
  CN_REQUIRE(out && a && b, "binary: %s is NULL (%lld elements)", !out ? "out" : !a ? "a" : "b", (long long)L.size);
  CN_TRY(cn_init());
  return dtype == CN_F32 ? binary_dispatch<float>(op, out, a, b, L) : binary_dispatch<int32_t>(op, out, a, b, L);
}

extern "C" int cn_scalar(int32_t op, int32_t dtype, void *out, const void *x, double s, int64_t n) {
  CN_REQUIRE(op >= CN_S_ADD && op <= CN_S_POW,
             "scalar: op %d is not a scalar op (expected 0..6: ADD SUB RSUB MUL DIV RDIV POW)", op);
  EW_CHECK_DTYPE("scalar", dtype);
  CN_REQUIRE(n >= 0, "scalar: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "scalar: %s is NULL (n=%lld)", out ? "x" : "out", (long long)n);
  CN_TRY(cn_init());
  ScalarOp f;
  f.op = op;
  f.s = s;
  if (dtype == CN_I32) return launch_map1((int32_t *)out, (const int32_t *)x, n, f, "scalar: int32");
  return launch_map1((float *)out, (const float *)x, n, f, "scalar");
}

extern "C" int cn_add_inplace(int32_t dtype, void *out, const void *x, int64_t n) {
  EW_CHECK_DTYPE("add_inplace", dtype);
  CN_REQUIRE(n >= 0, "add_inplace: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "add_inplace: %s is NULL (n=%lld)", out ? "x" : "out", (long long)n);
  CN_TRY(cn_init());
  if (dtype == CN_I32) {
    return launch_map2((int32_t *)out, (const int32_t *)out, (const int32_t *)x, n, AddOp(), "add_inplace: int32");
  }
  return launch_map2((float *)out, (const float *)out, (const float *)x, n, AddOp(), "add_inplace");
}

extern "C" int cn_expand(int32_t dtype, void *out, const void *x, int32_t rank, const int64_t *shape,
                         const int64_t *x_strides) {
  EW_CHECK_DTYPE("expand", dtype);
  Layout L;
  CN_TRY(make_layout(&L, "expand", rank, shape, x_strides, NULL));
  if (L.size == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "expand: %s is NULL (%lld elements)", out ? "x" : "out", (long long)L.size);
  CN_TRY(cn_init());
  if (L.rank == 1 && L.sa[0] == 1) {
    return cn_cuda_status(cudaMemcpyAsync(out, x, (size_t)L.size * 4, cudaMemcpyDeviceToDevice, cn_stream()),
                          "expand: copy");
  }
  if (dtype == CN_I32) {
    return launch_bcast<int32_t, int32_t, TakeA, false>((int32_t *)out, (const int32_t *)x, (const int32_t *)x, L,
                                                         TakeA(), "expand: int32");
  }
  return launch_bcast<float, float, TakeA, false>((float *)out, (const float *)x, (const float *)x, L, TakeA(),
                                                   "expand");
}
