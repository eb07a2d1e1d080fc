/*
 * gather_rows.cu: cn_gather_rows, a batch's rows of one or two tensors in one launch, the row
 * indices passed by value in the launch's parameters (no index upload, no second launch):
 *   out0[r, i] = x0[index[r], i]   (i < row0),   out1[r, i] = x1[index[r], i]   (i < row1)
 * This is a DataLoader's step on a dataset resident on the device: images and labels of one
 * batch. Napkin math for MNIST at batch 64: 64 · (784 + 1) · 4 B = 200 KB moved, ~1 µs on an
 * H100; what it saves is a 256-byte copy and a launch (~2 × 3-5 µs of queueing).
 *
 * Indices travel in a struct of CN_GATHER_ROWS_CHUNK int32 (3 KiB: a kernel's parameters are
 * limited to 4 KiB before CUDA 12.1); a longer batch is gathered in chunks of that many rows, one
 * launch each. Elements are moved as 4-byte words (float32 and int32). An index outside [0, n)
 * writes 0 there and is recorded in the kernel error record like cn_gather's (its position in the
 * batch and its value), reported by the next call that waits.
 */
#include <string.h>

#include "common.h"

#define GATHER_ROWS_THREADS 256
#define CN_GATHER_ROWS_CHUNK 768

struct cn_row_indices {
  int32_t at[CN_GATHER_ROWS_CHUNK];
};

/* Threads [0, count·row0) write out0, the next count·row1 write out1. `first`: the chunk's first row in the batch. */
__global__ void __launch_bounds__(GATHER_ROWS_THREADS)
    gather_rows_kernel(uint32_t *out0, const uint32_t *x0, int64_t row0, uint32_t *out1, const uint32_t *x1,
                       int64_t row1, int64_t n, int32_t count, int64_t first, cn_row_indices index, int32_t *err) {
  const int64_t size0 = count * row0, total = size0 + count * row1;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)blockDim.x * gridDim.x) {
    const bool second = t >= size0;
    const int64_t row = second ? row1 : row0, local = second ? t - size0 : t;
    const int64_t r = local / row, i = local - r * row;
    const int32_t j = index.at[r];
    uint32_t *out = second ? out1 : out0;
    const int64_t at = (first + r) * row + i;
    if (j >= 0 && j < n) {
      out[at] = (second ? x1 : x0)[(int64_t)j * row + i];
    } else {
      out[at] = 0u;
      cn_record_kernel_error(err, CN_KE_GATHER_INDEX, first + r, j, n);
    }
  }
}

extern "C" int cn_gather_rows(void *out0, const void *x0, int64_t row0, void *out1, const void *x1, int64_t row1,
                              int64_t n, const int32_t *index, int64_t count) {
  const char *fn = "cn_gather_rows";
  CN_REQUIRE(row0 >= 0 && row1 >= 0 && n >= 0 && count >= 0,
             "%s: sizes must be >= 0, got row0=%lld row1=%lld n=%lld count=%lld", fn, (long long)row0,
             (long long)row1, (long long)n, (long long)count);
  CN_REQUIRE(count == 0 || index, "%s: index is NULL (%lld rows)", fn, (long long)count);
  CN_REQUIRE(row0 == 0 || (out0 && x0), "%s: %s is NULL (rows of %lld elements)", fn, !out0 ? "out0" : "x0",
             (long long)row0);
  CN_REQUIRE(row1 == 0 || (out1 && x1), "%s: %s is NULL (rows of %lld elements)", fn, !out1 ? "out1" : "x1",
             (long long)row1);
  const int64_t limit = (int64_t)1 << 53;
  CN_REQUIRE(row0 + row1 == 0 || (count <= limit / (row0 + row1) && n <= limit / (row0 + row1)),
             "%s: sizes are too large (row0=%lld row1=%lld n=%lld count=%lld)", fn, (long long)row0, (long long)row1,
             (long long)n, (long long)count);
  if (count == 0 || row0 + row1 == 0) return CN_OK;
  CN_TRY(cn_init());
  int32_t *err = cn_kernel_error_slot();
  for (int64_t first = 0; first < count; first += CN_GATHER_ROWS_CHUNK) {
    const int32_t chunk = (int32_t)(count - first < CN_GATHER_ROWS_CHUNK ? count - first : CN_GATHER_ROWS_CHUNK);
    cn_row_indices rows;
    memset(&rows, 0, sizeof rows);
    memcpy(rows.at, index + first, (size_t)chunk * sizeof(int32_t));
    CN_LAUNCH(gather_rows_kernel, cn_blocks(chunk * (row0 + row1), GATHER_ROWS_THREADS), GATHER_ROWS_THREADS,
              (uint32_t *)out0, (const uint32_t *)x0, row0, (uint32_t *)out1, (const uint32_t *)x1, row1, n, chunk,
              first, rows, err);
    CN_TRY(CN_CHECK_LAUNCH(fn));
  }
  return CN_OK;
}
