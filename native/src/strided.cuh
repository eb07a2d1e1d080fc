/*
 * strided.cuh: strided index spaces shared by the broadcasting binary ops, where and copy_strided.
 *
 * An index space is a shape (rank <= 8) and, per operand, a stride per dimension (0 = broadcast,
 * negative allowed). The host first drops size-1 dimensions and merges neighbours that are
 * contiguous for every operand (a bias add [n, c, h, w] + [1, c, 1, 1] becomes [n, c, h*w] with
 * strides [0, 1, 0]), then passes the layout to the kernel by value, with 32-bit index math when
 * every offset fits (64-bit division is ~4x the instructions of 32-bit).
 */
#ifndef CN_STRIDED_CUH
#define CN_STRIDED_CUH

#include <string.h>

#include "common.h"

#define CN_MAX_RANK 8

/* A validated, collapsed index space for NOPS operands (host side). */
template <int NOPS>
struct StridedLayout {
  int rank;
  int64_t size;
  int64_t shape[CN_MAX_RANK];
  int64_t strides[NOPS][CN_MAX_RANK];
  bool fits32; /* the size and every operand's offsets fit in int32 */
};

/* Checks rank, shape and strides (strides[p] is operand p's array, named names[p] in messages) and
   collapses them into L. */
template <int NOPS>
static int make_strided_layout(StridedLayout<NOPS> *L, const char *fn, int32_t rank, const int64_t *shape,
                               const int64_t *const (&strides)[NOPS], const char *const (&names)[NOPS]) {
  CN_REQUIRE(rank >= 0 && rank <= CN_MAX_RANK, "%s: rank must be in [0, %d], got %d", fn, CN_MAX_RANK, rank);
  CN_REQUIRE(rank == 0 || shape != NULL, "%s: shape is NULL (rank %d)", fn, rank);
  for (int p = 0; p < NOPS; ++p) {
    CN_REQUIRE(rank == 0 || strides[p] != NULL, "%s: %s is NULL (rank %d)", fn, names[p], rank);
  }
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
    const int r = L->rank;
    bool merge = r > 0;
    for (int p = 0; p < NOPS && merge; ++p) merge = L->strides[p][r - 1] == strides[p][d] * shape[d];
    if (merge) { /* contiguous with the previous dimension for every operand */
      L->shape[r - 1] *= shape[d];
      for (int p = 0; p < NOPS; ++p) L->strides[p][r - 1] = strides[p][d];
    } else {
      L->shape[r] = shape[d];
      for (int p = 0; p < NOPS; ++p) L->strides[p][r] = strides[p][d];
      L->rank++;
    }
  }
  if (L->rank == 0) { /* one element */
    L->rank = 1;
    L->shape[0] = 1;
    for (int p = 0; p < NOPS; ++p) L->strides[p][0] = 0;
  }
  L->fits32 = size < INT32_MAX;
  for (int p = 0; p < NOPS; ++p) {
    int64_t reach = 0;
    for (int d = 0; d < L->rank; ++d) {
      const int64_t s = L->strides[p][d] < 0 ? -L->strides[p][d] : L->strides[p][d];
      CN_REQUIRE(s <= ((int64_t)1 << 53) / L->shape[d], "%s: %s[...] = %lld is too large for the shape", fn, names[p],
                 (long long)L->strides[p][d]);
      reach += s * (L->shape[d] - 1);
    }
    if (reach >= INT32_MAX) L->fits32 = false;
  }
  return CN_OK;
}

/* True when the collapsed space is one dense run for every operand (a flat loop does it). */
template <int NOPS>
static bool strided_is_flat(const StridedLayout<NOPS> &L) {
  if (L.rank != 1) return false;
  for (int p = 0; p < NOPS; ++p) {
    if (L.strides[p][0] != 1) return false;
  }
  return true;
}

/* The layout as a kernel argument, in index type IDX (int32_t when L.fits32). */
template <class IDX, int NOPS>
struct DevLayout {
  int rank;
  IDX shape[CN_MAX_RANK];
  IDX strides[NOPS][CN_MAX_RANK];
};

template <class IDX, int NOPS>
static DevLayout<IDX, NOPS> to_device(const StridedLayout<NOPS> &L) {
  DevLayout<IDX, NOPS> g;
  memset(&g, 0, sizeof g);
  g.rank = L.rank;
  for (int d = 0; d < CN_MAX_RANK; ++d) g.shape[d] = 1; /* unused dimensions: never divided by, but sane */
  for (int d = 0; d < L.rank; ++d) {
    g.shape[d] = (IDX)L.shape[d];
    for (int p = 0; p < NOPS; ++p) g.strides[p][d] = (IDX)L.strides[p][d];
  }
  return g;
}

/* The offset of each operand at the index of linear position i (the last dimension fastest). The
   loop is unrolled with constant indices so that g stays in the parameter bank (a dynamic index
   would copy it to local memory). */
template <class IDX, int NOPS>
__device__ __forceinline__ void strided_offsets(const DevLayout<IDX, NOPS> &g, IDX i, IDX (&off)[NOPS]) {
#pragma unroll
  for (int p = 0; p < NOPS; ++p) off[p] = 0;
  IDX r = i;
#pragma unroll
  for (int k = 0; k < CN_MAX_RANK; ++k) {
    const int d = CN_MAX_RANK - 1 - k;
    if (d < g.rank) {
      const IDX q = r / g.shape[d];
      const IDX c = r - q * g.shape[d];
      r = q;
#pragma unroll
      for (int p = 0; p < NOPS; ++p) off[p] += c * g.strides[p][d];
    }
  }
}

#endif /* CN_STRIDED_CUH */
