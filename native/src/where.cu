/*
 * where.cu: cn_where, out = cond ? a : b elementwise with three-way broadcasting.
 *
 * A selection moves bits: float32 and int32 share one kernel on 32-bit words. The output is
 * contiguous; each operand is read at its own strides (strided.cuh collapses the layout first, so
 * a mask over a whole tensor is one flat loop). Memory-bound: 16 bytes per element when nothing is
 * broadcast, ~5 us for 1M elements on an H100.
 */
#include "common.h"
#include "strided.cuh"

#define WHERE_THREADS 256

/* Dense operands: no index arithmetic. */
__global__ void __launch_bounds__(WHERE_THREADS) where_flat_kernel(uint32_t *out, const int32_t *cond,
                                                                   const uint32_t *a, const uint32_t *b, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)blockDim.x * gridDim.x) {
    out[i] = cond[i] ? a[i] : b[i];
  }
}

/* Operand 0 is cond, 1 is a, 2 is b. */
template <class IDX>
__global__ void __launch_bounds__(WHERE_THREADS)
    where_kernel(uint32_t *out, const int32_t *cond, const uint32_t *a, const uint32_t *b, DevLayout<IDX, 3> g, IDX n) {
  for (IDX i = (IDX)blockIdx.x * (IDX)blockDim.x + (IDX)threadIdx.x; i < n; i += (IDX)blockDim.x * (IDX)gridDim.x) {
    IDX off[3];
    strided_offsets(g, i, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

extern "C" int cn_where(int32_t dtype, void *out, const int32_t *cond, const void *a, const void *b, int32_t rank,
                        const int64_t *shape, const int64_t *cond_strides, const int64_t *a_strides,
                        const int64_t *b_strides) {
  CN_TRY(cn_require_arith_dtype("cn_where", dtype));
  StridedLayout<3> L;
  const int64_t *strides[3] = {cond_strides, a_strides, b_strides};
  const char *names[3] = {"cond_strides", "a_strides", "b_strides"};
  CN_TRY(make_strided_layout(&L, "cn_where", rank, shape, strides, names));
  if (L.size == 0) return CN_OK;
  CN_REQUIRE(out && cond && a && b, "cn_where: %s is NULL (%lld elements)",
             !out ? "out" : !cond ? "cond" : !a ? "a" : "b", (long long)L.size);
  CN_TRY(cn_init());
  uint32_t *o = (uint32_t *)out;
  const uint32_t *pa = (const uint32_t *)a, *pb = (const uint32_t *)b;
  if (strided_is_flat(L)) {
    CN_LAUNCH(where_flat_kernel, cn_blocks(L.size, WHERE_THREADS), WHERE_THREADS, o, cond, pa, pb, L.size);
  } else if (L.fits32) {
    auto k = where_kernel<int32_t>;
    CN_LAUNCH(k, cn_blocks(L.size, WHERE_THREADS), WHERE_THREADS, o, cond, pa, pb, to_device<int32_t>(L),
              (int32_t)L.size);
  } else {
    auto k = where_kernel<int64_t>;
    CN_LAUNCH(k, cn_blocks(L.size, WHERE_THREADS), WHERE_THREADS, o, cond, pa, pb, to_device<int64_t>(L), L.size);
  }
  return CN_CHECK_LAUNCH("cn_where");
}
