/*
 * copy_strided.cu: cn_copy_strided, out[out_offset + i . out_strides] = (or +=) x[x_offset +
 * i . x_strides] for every index i of a shape: views, transposes, slices, concatenation and
 * broadcasting are all this one copy.
 *
 * A plain copy moves bits (one kernel per element size: 4 bytes for float32/int32, 8 for int64);
 * accumulate adds as the TypeScript backend does (float32 rounds once; int32 wraps like an
 * Int32Array store). Distinct indices never share an output element (the contract), so the adds
 * need no atomics. When the collapsed layout is one dense run for both sides it becomes a
 * cudaMemcpyAsync (or cn_add_inplace). Memory-bound: a transpose of 1M floats reads and writes
 * 8 MB, ~3 us on an H100 when the strided side still hits whole 32-byte sectors.
 */
#include <type_traits>

#include "common.h"
#include "strided.cuh"

#define COPY_THREADS 256

/* Operand 0 is out, 1 is x; both pointers already include their offsets. */
template <class T, class IDX, bool ACC>
__global__ void __launch_bounds__(COPY_THREADS) copy_strided_kernel(T *out, const T *x, DevLayout<IDX, 2> g, IDX n) {
  for (IDX i = (IDX)blockIdx.x * (IDX)blockDim.x + (IDX)threadIdx.x; i < n; i += (IDX)blockDim.x * (IDX)gridDim.x) {
    IDX off[2];
    strided_offsets(g, i, off);
    if (ACC) {
      if constexpr (std::is_same<T, int32_t>::value) {
        out[off[0]] = (int32_t)((uint32_t)out[off[0]] + (uint32_t)x[off[1]]);
      } else {
        out[off[0]] += x[off[1]];
      }
    } else {
      out[off[0]] = x[off[1]];
    }
  }
}

template <class T, bool ACC>
static int launch_copy(void *out, const void *x, const StridedLayout<2> &L, const char *what) {
  if (L.fits32) {
    auto k = copy_strided_kernel<T, int32_t, ACC>;
    CN_LAUNCH(k, cn_blocks(L.size, COPY_THREADS), COPY_THREADS, (T *)out, (const T *)x, to_device<int32_t>(L),
              (int32_t)L.size);
  } else {
    auto k = copy_strided_kernel<T, int64_t, ACC>;
    CN_LAUNCH(k, cn_blocks(L.size, COPY_THREADS), COPY_THREADS, (T *)out, (const T *)x, to_device<int64_t>(L),
              L.size);
  }
  return CN_CHECK_LAUNCH(what);
}

/* The lowest element a side reaches relative to its offset (<= 0; negative strides reach below). */
static int64_t lowest_reach(const StridedLayout<2> &L, int p) {
  int64_t r = 0;
  for (int d = 0; d < L.rank; ++d) {
    if (L.strides[p][d] < 0) r += L.strides[p][d] * (L.shape[d] - 1);
  }
  return r;
}

extern "C" int cn_copy_strided(int32_t dtype, void *out, const void *x, int32_t rank, const int64_t *shape,
                               const int64_t *out_strides, int64_t out_offset, const int64_t *x_strides,
                               int64_t x_offset, int32_t accumulate) {
  const int elem = cn_dtype_bytes(dtype);
  CN_REQUIRE(elem > 0, "cn_copy_strided: dtype %d is not CN_F32 (0), CN_I32 (1) or CN_I64 (2)", (int)dtype);
  if (accumulate) CN_TRY(cn_require_arith_dtype("cn_copy_strided (accumulate)", dtype));
  StridedLayout<2> L;
  const int64_t *strides[2] = {out_strides, x_strides};
  const char *names[2] = {"out_strides", "x_strides"};
  CN_TRY(make_strided_layout(&L, "cn_copy_strided", rank, shape, strides, names));
  if (L.size == 0) return CN_OK;
  CN_REQUIRE(out_offset >= 0 && x_offset >= 0,
             "cn_copy_strided: offsets must be >= 0, got out_offset=%lld x_offset=%lld", (long long)out_offset,
             (long long)x_offset);
  CN_REQUIRE(out_offset + lowest_reach(L, 0) >= 0 && x_offset + lowest_reach(L, 1) >= 0,
             "cn_copy_strided: negative strides reach before the start of %s (offset %lld, lowest step %lld)",
             out_offset + lowest_reach(L, 0) < 0 ? "out" : "x",
             (long long)(out_offset + lowest_reach(L, 0) < 0 ? out_offset : x_offset),
             (long long)(out_offset + lowest_reach(L, 0) < 0 ? lowest_reach(L, 0) : lowest_reach(L, 1)));
  CN_REQUIRE(out != NULL && x != NULL, "cn_copy_strided: %s is NULL (%lld elements)", out ? "x" : "out",
             (long long)L.size);
  CN_TRY(cn_init());
  char *o = (char *)out + out_offset * elem;
  const char *xs = (const char *)x + x_offset * elem;
  if (strided_is_flat(L)) {
    if (accumulate) return cn_add_inplace(dtype, o, xs, L.size);
    return cn_cuda_status(cudaMemcpyAsync(o, xs, (size_t)(L.size * elem), cudaMemcpyDeviceToDevice, cn_stream()),
                          "cn_copy_strided: copy");
  }
  if (accumulate) {
    return dtype == CN_F32 ? launch_copy<float, true>(o, xs, L, "cn_copy_strided: accumulate float32")
                           : launch_copy<int32_t, true>(o, xs, L, "cn_copy_strided: accumulate int32");
  }
  return elem == 8 ? launch_copy<uint64_t, false>(o, xs, L, "cn_copy_strided: 8-byte elements")
                   : launch_copy<uint32_t, false>(o, xs, L, "cn_copy_strided: 4-byte elements");
}
