/*
 * elementwise.cu: fill, cast, unary, binary (with broadcasting), scalar, add_inplace.
 *
 * The ops and their formulas are the rows of native/ops.def (functors in ops.cuh); the launch
 * switches below are generated from the same rows, and a code that is not a row is CN_ERR_INVALID.
 *
 * Semantics are the TypeScript backend's to the bit where it is cheap: float32 ops on float32
 * operands round once, as TS's double op then the Float32Array store does; scalar ops run in double
 * with the double scalar and round once (x * 0.1 is not x * 0.1f); int32 ops compute in double and
 * store as an Int32Array does (JavaScript's ToInt32: truncate, NaN and infinities to 0, modulo 2^32).
 * exp, log, tanh use CUDA's float functions (within 2 ulp of the rounded double result TS computes).
 * int64 is storage: fill and cast take it, arithmetic refuses it (cn_require_arith_dtype).
 *
 * All kernels are memory-bound grid-stride loops of 256 threads (napkin math: an H100 moves ~3 TB/s,
 * so a 1M-float unary op is 8 MB, about 3 us; launch overhead dominates below ~100K elements).
 * Contiguous float32 operands go through float4 loads and stores when 16-byte aligned (cn_alloc
 * blocks are 256-byte aligned): 4x fewer memory instructions. Broadcasting layouts: strided.cuh.
 */
#include <string.h>

#include <type_traits>

#include "common.h"
#include "ops.cuh"
#include "strided.cuh"

#define EW_THREADS 256

/* ------------------------------------------------------------------ functors on stored types */

/* A unary row on float32 (in float) or int32 (in double, stored with ToInt32). */
template <class Op, class T>
struct UnaryOn {
  typedef T Out;
  __device__ __forceinline__ T operator()(T x) const {
    if constexpr (std::is_same<T, float>::value) return Op()(x);
    else return js_int32(Op()((double)x));
  }
};

/* A binary row on float32 or int32 operands; comparisons write int32. */
template <class Op, class T>
struct BinaryOn {
  typedef typename std::conditional<Op::cmp, int32_t, T>::type Out;
  __device__ __forceinline__ Out operator()(T a, T b) const {
    if constexpr (std::is_same<T, float>::value) return Op()(a, b);
    else if constexpr (Op::cmp) return Op()((double)a, (double)b);
    else return js_int32(Op()((double)a, (double)b));
  }
};

/* A scalar row: in double with the double scalar, rounded once (or ToInt32); comparisons write int32. */
template <class Op, class T>
struct ScalarOn {
  typedef typename std::conditional<Op::cmp, int32_t, T>::type Out;
  double s;
  __device__ __forceinline__ Out operator()(T x) const {
    if constexpr (Op::cmp) return Op()((double)x, s);
    else if constexpr (std::is_same<T, float>::value) return (float)Op()((double)x, s);
    else return js_int32(Op()((double)x, s));
  }
};

/* ---- casts */
struct F32ToI32 {
  __device__ __forceinline__ int32_t operator()(float v) const { return js_int32((double)v); }
};
struct I32ToF32 {
  __device__ __forceinline__ float operator()(int32_t v) const { return (float)v; }
};
/* A number as int64 the way the TypeScript backend stores one: truncated, wrapped modulo 2^64, NaN and
   infinities as 0. Exact: beyond 2^63 a double is a multiple of 2^11, so fmod and the 2^64 shifts
   stay representable. */
__host__ __device__ __forceinline__ int64_t to_int64(double v) {
  if (!(fabs(v) <= 1.7976931348623157e308)) return 0;
  double t = trunc(v);
  if (t >= -9223372036854775808.0 && t < 9223372036854775808.0) return (int64_t)t;
  t = fmod(t, 18446744073709551616.0);
  if (t >= 9223372036854775808.0) t -= 18446744073709551616.0;
  if (t < -9223372036854775808.0) t += 18446744073709551616.0;
  return (int64_t)t;
}

struct F32ToI64 {
  __device__ __forceinline__ int64_t operator()(float v) const { return to_int64((double)v); }
};
struct I64ToF32 { /* through double, as Number(bigint) then the Float32Array store */
  __device__ __forceinline__ float operator()(int64_t v) const { return (float)(double)v; }
};
struct I32ToI64 {
  __device__ __forceinline__ int64_t operator()(int32_t v) const { return (int64_t)v; }
};
struct I64ToI32 { /* the low 32 bits */
  __device__ __forceinline__ int32_t operator()(int64_t v) const { return (int32_t)(uint32_t)(uint64_t)v; }
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

/* out[i] = f(a[off_a], b[off_b]) for the contiguous output index i. */
template <class TO, class T, class F, class IDX>
__global__ void __launch_bounds__(EW_THREADS)
    bcast2_kernel(TO *out, const T *a, const T *b, DevLayout<IDX, 2> g, IDX n, F f) {
  for (IDX i = (IDX)blockIdx.x * (IDX)blockDim.x + (IDX)threadIdx.x; i < n; i += (IDX)blockDim.x * (IDX)gridDim.x) {
    IDX off[2];
    strided_offsets(g, i, off);
    out[i] = f(a[off[0]], b[off[1]]);
  }
}

/* ------------------------------------------------------------------ launchers */

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* VEC4: the float4 variant when both sides are float32 and aligned. */
template <bool VEC4 = true, class TO, class TA, class F>
static int launch_map1(TO *out, const TA *x, int64_t n, F f, const char *what) {
  if constexpr (VEC4 && std::is_same<TO, float>::value && std::is_same<TA, float>::value) {
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

template <bool VEC4 = true, class TO, class T, class F>
static int launch_map2(TO *out, const T *a, const T *b, int64_t n, F f, const char *what) {
  if constexpr (VEC4 && std::is_same<TO, float>::value && std::is_same<T, float>::value) {
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

template <class TO, class T, class F>
static int launch_bcast2(TO *out, const T *a, const T *b, const StridedLayout<2> &L, F f, const char *what) {
  if (L.fits32) {
    auto k = bcast2_kernel<TO, T, F, int32_t>;
    CN_LAUNCH(k, cn_blocks(L.size, EW_THREADS), EW_THREADS, out, a, b, to_device<int32_t>(L), (int32_t)L.size, f);
  } else {
    auto k = bcast2_kernel<TO, T, F, int64_t>;
    CN_LAUNCH(k, cn_blocks(L.size, EW_THREADS), EW_THREADS, out, a, b, to_device<int64_t>(L), L.size, f);
  }
  return CN_CHECK_LAUNCH(what);
}

/* Unary row `code` on dtype (checked by the caller). */
template <int CODE>
static int unary_typed(int32_t dtype, void *out, const void *x, int64_t n, const char *what) {
  if (dtype == CN_I32) {
    return launch_map1((int32_t *)out, (const int32_t *)x, n, UnaryOn<UnaryF<CODE>, int32_t>(), what);
  }
  return launch_map1((float *)out, (const float *)x, n, UnaryOn<UnaryF<CODE>, float>(), what);
}

/* Binary row `code`: a flat loop when both operands are dense, else the strided kernel. Not
   float4 for DIV: four inlined divisions and their slow-path calls spill; division is ALU-bound
   enough that the scalar loop loses nothing. */
template <int CODE, class T>
static int binary_typed(void *out, const void *a, const void *b, const StridedLayout<2> &L, const char *what) {
  typedef BinaryOn<BinaryF<CODE>, T> F;
  typedef typename F::Out TO;
  TO *o = (TO *)out;
  const T *pa = (const T *)a, *pb = (const T *)b;
  if (strided_is_flat(L)) return launch_map2<CODE != CN_DIV>(o, pa, pb, L.size, F(), what);
  return launch_bcast2(o, pa, pb, L, F(), what);
}

template <int CODE>
static int scalar_typed(int32_t dtype, void *out, const void *x, double s, int64_t n, const char *what) {
  if (dtype == CN_I32) {
    ScalarOn<ScalarF<CODE>, int32_t> f;
    f.s = s;
    return launch_map1((typename decltype(f)::Out *)out, (const int32_t *)x, n, f, what);
  }
  ScalarOn<ScalarF<CODE>, float> f;
  f.s = s;
  return launch_map1<CODE != CN_S_POW>((typename decltype(f)::Out *)out, (const float *)x, n, f, what);
}

/* ------------------------------------------------------------------ the ABI */

extern "C" int cn_fill(int32_t dtype, void *out, double value, int64_t n) {
  CN_REQUIRE(dtype == CN_F32 || dtype == CN_I32 || dtype == CN_I64,
             "cn_fill: dtype %d is not CN_F32 (0), CN_I32 (1) or CN_I64 (2)", (int)dtype);
  CN_REQUIRE(n >= 0, "cn_fill: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL, "cn_fill: out is NULL (n=%lld)", (long long)n);
  CN_TRY(cn_init());
  const int64_t bytes = n * cn_dtype_bytes(dtype);
  if (dtype == CN_I64) {
    const int64_t v = to_int64(value);
    if (v == 0) return cn_memset(out, 0, (int64_t)bytes, "cn_fill: memset");
    auto k = fill_kernel<int64_t>;
    CN_LAUNCH(k, cn_blocks(n, EW_THREADS), EW_THREADS, (int64_t *)out, v, n);
    return CN_CHECK_LAUNCH("cn_fill: int64");
  }
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
  if (bits == 0) return cn_memset(out, 0, (int64_t)bytes, "cn_fill: memset");
  if (aligned16(out)) {
    CN_LAUNCH(fill4_kernel, cn_blocks((n + 3) / 4, EW_THREADS), EW_THREADS, (uint32_t *)out, bits, n);
  } else {
    auto k = fill_kernel<uint32_t>;
    CN_LAUNCH(k, cn_blocks(n, EW_THREADS), EW_THREADS, (uint32_t *)out, bits, n);
  }
  return CN_CHECK_LAUNCH("cn_fill");
}

extern "C" int cn_cast(int32_t out_dtype, void *out, int32_t x_dtype, const void *x, int64_t n) {
  const bool known = cn_dtype_bytes(out_dtype) > 0;
  CN_REQUIRE(known && cn_dtype_bytes(x_dtype) > 0, "cn_cast: %s is not CN_F32 (0), CN_I32 (1) or CN_I64 (2), got %d",
             known ? "x_dtype" : "out_dtype", (int)(known ? x_dtype : out_dtype));
  CN_REQUIRE(n >= 0, "cn_cast: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "cn_cast: %s is NULL (n=%lld)", out ? "x" : "out", (long long)n);
  CN_TRY(cn_init());
  if (out_dtype == x_dtype) {
    return cn_cuda_status(
        cudaMemcpyAsync(out, x, (size_t)(n * cn_dtype_bytes(x_dtype)), cudaMemcpyDeviceToDevice, cn_stream()),
        "cn_cast: copy");
  }
  switch (out_dtype * 3 + x_dtype) { /* the six casts between float32, int32 and int64 */
    case CN_I32 * 3 + CN_F32:
      return launch_map1((int32_t *)out, (const float *)x, n, F32ToI32(), "cn_cast: float32 to int32");
    case CN_F32 * 3 + CN_I32:
      return launch_map1((float *)out, (const int32_t *)x, n, I32ToF32(), "cn_cast: int32 to float32");
    case CN_I64 * 3 + CN_F32:
      return launch_map1((int64_t *)out, (const float *)x, n, F32ToI64(), "cn_cast: float32 to int64");
    case CN_F32 * 3 + CN_I64:
      return launch_map1((float *)out, (const int64_t *)x, n, I64ToF32(), "cn_cast: int64 to float32");
    case CN_I64 * 3 + CN_I32:
      return launch_map1((int64_t *)out, (const int32_t *)x, n, I32ToI64(), "cn_cast: int32 to int64");
    case CN_I32 * 3 + CN_I64:
      return launch_map1((int32_t *)out, (const int64_t *)x, n, I64ToI32(), "cn_cast: int64 to int32");
  }
  return cn_fail(CN_ERR_INVALID, "cn_cast: no cast from %s to %s", cn_dtype_name(x_dtype), cn_dtype_name(out_dtype));
}

extern "C" int cn_unary(int32_t op, int32_t dtype, void *out, const void *x, int64_t n) {
  const char *name = unary_op_name(op);
  if (!name) return CN_UNKNOWN_OP("cn_unary", "unary", op, cn_unary_codes);
  CN_TRY(cn_require_arith_dtype("cn_unary", dtype));
  CN_REQUIRE(n >= 0, "cn_unary: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "cn_unary: %s is NULL (op %s, n=%lld)", out ? "x" : "out", name, (long long)n);
  CN_TRY(cn_init());
  switch (op) {
#define CN_UNARY_OP(NAME, ts, code, c_expr, ts_expr) \
  case code: return unary_typed<code>(dtype, out, x, n, "cn_unary: " #NAME);
#include "../ops.def"
  }
  return CN_UNKNOWN_OP("cn_unary", "unary", op, cn_unary_codes);
}

template <class T>
static int binary_dispatch(int32_t op, void *out, const void *a, const void *b, const StridedLayout<2> &L) {
  switch (op) {
#define CN_BINARY_OP(NAME, ts, code, c_expr, ts_expr) \
  case code: return binary_typed<code, T>(out, a, b, L, "cn_binary: " #NAME);
#include "../ops.def"
  }
  return CN_UNKNOWN_OP("cn_binary", "binary", op, cn_binary_codes);
}

extern "C" int cn_binary(int32_t op, int32_t dtype, void *out, const void *a, const void *b, int32_t rank,
                         const int64_t *shape, const int64_t *a_strides, const int64_t *b_strides) {
  if (!binary_op_name(op)) return CN_UNKNOWN_OP("cn_binary", "binary", op, cn_binary_codes);
  CN_TRY(cn_require_arith_dtype("cn_binary", dtype));
  StridedLayout<2> L;
  const int64_t *strides[2] = {a_strides, b_strides};
  const char *names[2] = {"a_strides", "b_strides"};
  CN_TRY(make_strided_layout(&L, "cn_binary", rank, shape, strides, names));
  if (L.size == 0) return CN_OK;
  CN_REQUIRE(out && a && b, "cn_binary: %s is NULL (%lld elements)", !out ? "out" : !a ? "a" : "b",
             (long long)L.size);
  CN_TRY(cn_init());
  return dtype == CN_F32 ? binary_dispatch<float>(op, out, a, b, L) : binary_dispatch<int32_t>(op, out, a, b, L);
}

extern "C" int cn_scalar(int32_t op, int32_t dtype, void *out, const void *x, double s, int64_t n) {
  const char *name = scalar_op_name(op);
  if (!name) return CN_UNKNOWN_OP("cn_scalar", "scalar", op, cn_scalar_codes);
  CN_TRY(cn_require_arith_dtype("cn_scalar", dtype));
  CN_REQUIRE(n >= 0, "cn_scalar: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "cn_scalar: %s is NULL (op %s, n=%lld)", out ? "x" : "out", name,
             (long long)n);
  CN_TRY(cn_init());
  switch (op) {
#define CN_SCALAR_OP(NAME, ts, code, c_expr, ts_expr) \
  case code: return scalar_typed<code>(dtype, out, x, s, n, "cn_scalar: " #NAME);
#include "../ops.def"
  }
  return CN_UNKNOWN_OP("cn_scalar", "scalar", op, cn_scalar_codes);
}

extern "C" int cn_add_inplace(int32_t dtype, void *out, const void *x, int64_t n) {
  CN_TRY(cn_require_arith_dtype("cn_add_inplace", dtype));
  CN_REQUIRE(n >= 0, "cn_add_inplace: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL && x != NULL, "cn_add_inplace: %s is NULL (n=%lld)", out ? "x" : "out", (long long)n);
  CN_TRY(cn_init());
  if (dtype == CN_I32) {
    return launch_map2((int32_t *)out, (const int32_t *)out, (const int32_t *)x, n,
                       BinaryOn<BinaryF<CN_ADD>, int32_t>(), "cn_add_inplace: int32");
  }
  return launch_map2((float *)out, (const float *)out, (const float *)x, n, BinaryOn<BinaryF<CN_ADD>, float>(),
                     "cn_add_inplace");
}
