/*
 * gather.cu: cn_gather and cn_scatter_add along one axis. The source (or destination) is viewed as
 * [outer, n, inner] and the index as [outer, m, inner]:
 *   gather:      out[o, j, i]              = x[o, index[o, j, i], i]
 *   scatter_add: out[o, index[o, j, i], i] += src[o, j, i]
 * One thread per index element (the index and out/src are read and written coalesced along
 * inner; the x side is a gather, coalesced when inner is large). Embedding lookups, batch
 * assembly from a dataset on the device, and their gradients are these two.
 *
 * An index outside [0, n) is a data error: gather writes 0 there, scatter_add skips it, and the
 * first one is recorded in the kernel error record (common.h), reported by the next call that
 * waits, with its flat position in the index and its value, as the cross-entropy target check is.
 *
 * Gather moves bits (one kernel for float32 and int32). scatter_add uses atomicAdd: with repeated
 * indices the float32 sum's rounding depends on the order the adds land in (int32 wraps, exact).
 */
#include <string.h>

#include "common.h"

#define GATHER_THREADS 256

template <class T, class IDX>
__global__ void __launch_bounds__(GATHER_THREADS) gather_kernel(T *out, const T *x, const int32_t *index, IDX n,
                                                                IDX m, IDX inner, IDX total, int32_t *err) {
  for (IDX t = (IDX)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (IDX)blockDim.x * gridDim.x) {
    const IDX q = t / inner, i = t - q * inner; /* q = o * m + j */
    const IDX o = q / m;
    const int32_t j = index[t];
    if (j >= 0 && (IDX)j < n) {
      out[t] = x[(o * n + j) * inner + i];
    } else {
      out[t] = (T)0;
      cn_record_kernel_error(err, CN_KE_GATHER_INDEX, (int64_t)t, j, (int64_t)n);
    }
  }
}

template <class T, class IDX>
__global__ void __launch_bounds__(GATHER_THREADS) scatter_add_kernel(T *out, const T *src, const int32_t *index, IDX n,
                                                                     IDX m, IDX inner, IDX total, int32_t *err) {
  for (IDX t = (IDX)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (IDX)blockDim.x * gridDim.x) {
    const IDX q = t / inner, i = t - q * inner;
    const IDX o = q / m;
    const int32_t j = index[t];
    if (j >= 0 && (IDX)j < n) {
      atomicAdd(&out[(o * n + j) * inner + i], src[t]);
    } else {
      cn_record_kernel_error(err, CN_KE_SCATTER_INDEX, (int64_t)t, j, (int64_t)n);
    }
  }
}

/* Checks the arguments shared by both ops; *total receives outer * m * inner. */
static int check_axis_args(const char *fn, int32_t dtype, const void *out, const void *x, const int32_t *index,
                           int64_t outer, int64_t n, int64_t m, int64_t inner, int64_t *total) {
  CN_TRY(cn_require_arith_dtype(fn, dtype));
  CN_REQUIRE(outer >= 0 && n >= 0 && m >= 0 && inner >= 0,
             "%s: sizes must be >= 0, got outer=%lld n=%lld m=%lld inner=%lld", fn, (long long)outer, (long long)n,
             (long long)m, (long long)inner);
  *total = 0;
  if (outer == 0 || m == 0 || inner == 0) return CN_OK;
  CN_REQUIRE(outer <= ((int64_t)1 << 53) / m / inner && outer <= ((int64_t)1 << 53) / (n > 0 ? n : 1) / inner,
             "%s: sizes are too large (outer=%lld n=%lld m=%lld inner=%lld)", fn, (long long)outer, (long long)n,
             (long long)m, (long long)inner);
  *total = outer * m * inner;
  CN_REQUIRE(out && x && index, "%s: %s is NULL (%lld index elements)", fn,
             !out ? "out" : !x ? (strcmp(fn, "cn_gather") == 0 ? "x" : "src") : "index", (long long)*total);
  return CN_OK;
}

extern "C" int cn_gather(int32_t dtype, void *out, const void *x, const int32_t *index, int64_t outer, int64_t n,
                         int64_t m, int64_t inner) {
  int64_t total;
  CN_TRY(check_axis_args("cn_gather", dtype, out, x, index, outer, n, m, inner, &total));
  if (total == 0) return CN_OK;
  CN_TRY(cn_init());
  int32_t *err = cn_kernel_error_slot();
  uint32_t *o = (uint32_t *)out;
  const uint32_t *xs = (const uint32_t *)x;
  if (total < INT32_MAX && outer * n * inner < INT32_MAX) {
    auto k = gather_kernel<uint32_t, int32_t>;
    CN_LAUNCH(k, cn_blocks(total, GATHER_THREADS), GATHER_THREADS, o, xs, index, (int32_t)n, (int32_t)m,
              (int32_t)inner, (int32_t)total, err);
  } else {
    auto k = gather_kernel<uint32_t, int64_t>;
    CN_LAUNCH(k, cn_blocks(total, GATHER_THREADS), GATHER_THREADS, o, xs, index, n, m, inner, total, err);
  }
  return CN_CHECK_LAUNCH("cn_gather");
}

template <class T>
static int launch_scatter_add(T *out, const T *src, const int32_t *index, int64_t outer, int64_t n, int64_t m,
                              int64_t inner, int64_t total, int32_t *err) {
  if (total < INT32_MAX && outer * n * inner < INT32_MAX) {
    auto k = scatter_add_kernel<T, int32_t>;
    CN_LAUNCH(k, cn_blocks(total, GATHER_THREADS), GATHER_THREADS, out, src, index, (int32_t)n, (int32_t)m,
              (int32_t)inner, (int32_t)total, err);
  } else {
    auto k = scatter_add_kernel<T, int64_t>;
    CN_LAUNCH(k, cn_blocks(total, GATHER_THREADS), GATHER_THREADS, out, src, index, n, m, inner, total, err);
  }
  return CN_CHECK_LAUNCH("cn_scatter_add");
}

extern "C" int cn_scatter_add(int32_t dtype, void *out, const void *src, const int32_t *index, int64_t outer,
                              int64_t n, int64_t m, int64_t inner) {
  int64_t total;
  CN_TRY(check_axis_args("cn_scatter_add", dtype, out, src, index, outer, n, m, inner, &total));
  if (total == 0) return CN_OK;
  CN_TRY(cn_init());
  int32_t *err = cn_kernel_error_slot();
  if (dtype == CN_F32) {
    return launch_scatter_add((float *)out, (const float *)src, index, outer, n, m, inner, total, err);
  }
  return launch_scatter_add((int *)out, (const int *)src, index, outer, n, m, inner, total, err);
}
