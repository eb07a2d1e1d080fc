/*
 * reduce.cu: cn_reduce, x viewed as [outer, n, inner] reduced over n into [outer, inner]:
 * the CN_REDUCE_OP rows of native/ops.def (sum, max, argmax, min, argmin) for float32 and int32.
 *
 * Semantics of the TypeScript backend (src/backend/ts/elementwise.ts):
 * - sum accumulates float32 in double (as TS's JavaScript numbers do) and rounds once; being
 *   memory-bound, the kernel gets the double adds for free (even at 1/64 rate a DADD per 4-byte
 *   element stays under the bandwidth ceiling). int32 sums accumulate in 64 bits and wrap.
 * - max / argmax (min / argmin) keep the first maximum (minimum); a NaN beats everything and the
 *   first NaN wins. As a (value, index) pair order this is a total order, so a tree of partial
 *   results gives exactly the sequential answer. n = 0 gives sum 0, max -Inf, min +Inf (0 for
 *   int32, as an Int32Array stores an infinity), argmax and argmin 0.
 * Every kernel combines in a fixed order: results are deterministic.
 *
 * Kernels (napkin math: an H100 needs ~100K loads in flight to saturate; a thread looping over n
 * serially does ~1 load per ~0.5 us of latency):
 * - simple: one thread per output looping over n. Coalesced across `inner`; used when there are
 *   enough outputs or n is short. It combines in index order, bit for bit TS's loop.
 * - warp_rows (inner == 1, 32 < n <= 4096): a warp per row, lanes stride the row, shuffle tree.
 * - block_rows (inner == 1, n > 4096): 256 threads per row, shuffles then a shared-memory step.
 * - cols (inner > 1, few outputs, long n): a 32 x 8 block, x along inner (coalesced), y splitting
 *   n eight ways, then a shared-memory step.
 */
#include <type_traits>

#include "common.h"
#include "ops.cuh"

#define RD_THREADS 256

/* ------------------------------------------------------------------ policies */

__device__ __forceinline__ bool is_nan(float v) { return v != v; }
__device__ __forceinline__ bool is_nan(int32_t) { return false; }

template <class T>
struct SumP {
  typedef T In;
  typedef T Out;
  typedef typename std::conditional<std::is_same<T, float>::value, double, long long>::type Acc;
  struct S {
    Acc v;
  };
  static __device__ __forceinline__ S init() { return S{(Acc)0}; }
  static __device__ __forceinline__ S make(T v, int64_t) { return S{(Acc)v}; }
  static __device__ __forceinline__ S combine(S a, S b) { return S{a.v + b.v}; }
  static __device__ __forceinline__ S shfl_down(S s, int off) { return S{__shfl_down_sync(0xffffffffu, s.v, off)}; }
  static __device__ __forceinline__ Out result(S s) {
    if constexpr (std::is_same<T, float>::value) return (Out)s.v;
    else return (Out)(int32_t)(uint32_t)(unsigned long long)s.v; /* wraps like an Int32Array store */
  }
};

/* max / min and their arg forms: (value, index) pairs; `b` wins when it is NaN and `a` is not, when
   it is larger (smaller for MIN), or on a tie (both NaN, or equal) when its index is smaller. */
template <class T, bool ARG, bool MIN>
struct ExtremeP {
  typedef T In;
  typedef typename std::conditional<ARG, int32_t, T>::type Out;
  struct S {
    T v;
    int32_t i;
  };
  static __device__ __forceinline__ S init() {
    if constexpr (std::is_same<T, float>::value) return S{MIN ? INFINITY : -INFINITY, INT32_MAX};
    else return S{MIN ? INT32_MAX : INT32_MIN, INT32_MAX};
  }
  static __device__ __forceinline__ S make(T v, int64_t j) { return S{v, (int32_t)j}; }
  static __device__ __forceinline__ S combine(S a, S b) {
    bool take;
    if (is_nan(b.v)) take = !is_nan(a.v) || b.i < a.i;
    else if (is_nan(a.v)) take = false;
    else take = (MIN ? b.v < a.v : b.v > a.v) || (b.v == a.v && b.i < a.i);
    return take ? b : a;
  }
  static __device__ __forceinline__ S shfl_down(S s, int off) {
    return S{__shfl_down_sync(0xffffffffu, s.v, off), __shfl_down_sync(0xffffffffu, s.i, off)};
  }
  static __device__ __forceinline__ Out result(S s) {
    if constexpr (ARG) return s.i;
    else return s.v;
  }
};

/* The policy names the CN_REDUCE_OP rows use. */
template <class T>
using MaxP = ExtremeP<T, false, false>;
template <class T>
using ArgMaxP = ExtremeP<T, true, false>;
template <class T>
using MinP = ExtremeP<T, false, true>;
template <class T>
using ArgMinP = ExtremeP<T, true, true>;

template <class P>
__device__ __forceinline__ typename P::S warp_reduce(typename P::S s) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) s = P::combine(s, P::shfl_down(s, off));
  return s;
}

/* ------------------------------------------------------------------ kernels */

template <class P>
__global__ void __launch_bounds__(RD_THREADS)
    reduce_simple_kernel(typename P::Out *out, const typename P::In *x, int64_t outer, int64_t n, int64_t inner) {
  const int64_t total = outer * inner;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)blockDim.x * gridDim.x) {
    const int64_t o = t / inner, i = t - o * inner;
    const typename P::In *p = x + o * n * inner + i;
    typename P::S s = P::init();
    for (int64_t j = 0; j < n; ++j) s = P::combine(s, P::make(p[j * inner], j));
    out[t] = P::result(s);
  }
}

/* One warp per row; the row loop is uniform per warp, so every lane reaches the shuffles. */
template <class P>
__global__ void __launch_bounds__(RD_THREADS)
    reduce_warp_rows_kernel(typename P::Out *out, const typename P::In *x, int64_t rows, int64_t n) {
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int64_t r = (int64_t)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (int64_t)gridDim.x * warps) {
    const typename P::In *p = x + r * n;
    typename P::S s = P::init();
    for (int64_t j = lane; j < n; j += 32) s = P::combine(s, P::make(p[j], j));
    s = warp_reduce<P>(s);
    if (lane == 0) out[r] = P::result(s);
  }
}

/* One block per row (blockDim.x a multiple of 32, at most 1024). */
template <class P>
__global__ void __launch_bounds__(RD_THREADS)
    reduce_block_rows_kernel(typename P::Out *out, const typename P::In *x, int64_t rows, int64_t n) {
  __shared__ typename P::S part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const typename P::In *p = x + r * n;
    typename P::S s = P::init();
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s = P::combine(s, P::make(p[j], j));
    s = warp_reduce<P>(s);
    if (lane == 0) part[warp] = s;
    __syncthreads();
    if (warp == 0) {
      s = lane < warps ? part[lane] : P::init();
      s = warp_reduce<P>(s);
      if (lane == 0) out[r] = P::result(s);
    }
    __syncthreads(); /* part is rewritten for the next row */
  }
}

#define RD_COLS_X 32
#define RD_COLS_Y 8

/* Block (32, 8): x walks inner, y splits n; grid (inner / 32, min(outer, 65535)). */
template <class P>
__global__ void __launch_bounds__(RD_COLS_X *RD_COLS_Y)
    reduce_cols_kernel(typename P::Out *out, const typename P::In *x, int64_t outer, int64_t n, int64_t inner) {
  __shared__ typename P::S part[RD_COLS_Y][RD_COLS_X];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i = (int64_t)blockIdx.x * RD_COLS_X + tx;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    typename P::S s = P::init();
    if (i < inner) {
      const typename P::In *p = x + o * n * inner + i;
      for (int64_t j = ty; j < n; j += RD_COLS_Y) s = P::combine(s, P::make(p[j * inner], j));
    }
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && i < inner) {
#pragma unroll
      for (int k = 1; k < RD_COLS_Y; ++k) s = P::combine(s, part[k][tx]);
      out[o * inner + i] = P::result(s);
    }
    __syncthreads();
  }
}

/* ------------------------------------------------------------------ launchers */

template <class P>
static int launch_reduce(void *out_, const void *x_, int64_t outer, int64_t n, int64_t inner, const char *what) {
  typename P::Out *out = (typename P::Out *)out_;
  const typename P::In *x = (const typename P::In *)x_;
  const int64_t outputs = outer * inner;
  if (inner == 1 && n > 32) {
    if (n <= 4096) {
      auto k = reduce_warp_rows_kernel<P>;
      CN_LAUNCH(k, cn_blocks(outer, RD_THREADS / 32), RD_THREADS, out, x, outer, n);
    } else {
      auto k = reduce_block_rows_kernel<P>;
      CN_LAUNCH(k, cn_blocks(outer, 1), RD_THREADS, out, x, outer, n);
    }
  } else if (inner > 1 && n > 64 && outputs < 32768) {
    const int64_t gx = (inner + RD_COLS_X - 1) / RD_COLS_X;
    CN_REQUIRE(gx <= INT32_MAX, "%s: inner=%lld is too large", what, (long long)inner);
    auto k = reduce_cols_kernel<P>;
    CN_LAUNCH(k, dim3((unsigned)gx, (unsigned)(outer < 65535 ? outer : 65535)), dim3(RD_COLS_X, RD_COLS_Y), out, x,
              outer, n, inner);
  } else {
    auto k = reduce_simple_kernel<P>;
    CN_LAUNCH(k, cn_blocks(outputs, RD_THREADS), RD_THREADS, out, x, outer, n, inner);
  }
  return CN_CHECK_LAUNCH(what);
}

template <class T>
static int reduce_typed(int32_t op, void *out, const void *x, int64_t outer, int64_t n, int64_t inner) {
  switch (op) {
#define CN_REDUCE_OP(NAME, ts, code, policy) \
  case code: return launch_reduce<policy<T>>(out, x, outer, n, inner, "cn_reduce: " #NAME);
#include "../ops.def"
  }
  return CN_UNKNOWN_OP("cn_reduce", "reduce", op, cn_reduce_codes);
}

extern "C" int cn_reduce(int32_t op, int32_t dtype, void *out, const void *x, int64_t outer, int64_t n,
                         int64_t inner) {
  if (!reduce_op_name(op)) return CN_UNKNOWN_OP("cn_reduce", "reduce", op, cn_reduce_codes);
  CN_TRY(cn_require_arith_dtype("cn_reduce", dtype));
  CN_REQUIRE(outer >= 0 && n >= 0 && inner >= 0, "cn_reduce: sizes must be >= 0, got outer=%lld n=%lld inner=%lld",
             (long long)outer, (long long)n, (long long)inner);
  const int64_t outputs = outer * inner;
  if (outputs == 0) return CN_OK;
  CN_REQUIRE(n <= INT32_MAX || op == CN_R_SUM, "cn_reduce: n=%lld is too long for an int32 index (at most %d)",
             (long long)n, INT32_MAX);
  CN_REQUIRE(out != NULL && (x != NULL || n == 0), "cn_reduce: %s is NULL (outer=%lld n=%lld inner=%lld)",
             out ? "x" : "out", (long long)outer, (long long)n, (long long)inner);
  CN_TRY(cn_init());
  if (n == 0) {
    const bool arg = op == CN_R_ARGMAX || op == CN_R_ARGMIN;
    if (dtype == CN_F32 && op == CN_R_MAX) return cn_fill(CN_F32, out, -INFINITY, outputs);
    if (dtype == CN_F32 && op == CN_R_MIN) return cn_fill(CN_F32, out, INFINITY, outputs);
    return cn_fill(arg ? CN_I32 : dtype, out, 0.0, outputs);
  }
  return dtype == CN_F32 ? reduce_typed<float>(op, out, x, outer, n, inner)
                         : reduce_typed<int32_t>(op, out, x, outer, n, inner);
}
