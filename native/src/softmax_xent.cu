/*
 * softmax_xent.cu: fused log-softmax + NLL (cross-entropy, mean over the batch), forward and
 * backward, as the TypeScript backend computes them (src/backend/ts/softmax_xent.ts): the row's max,
 * the sum of exp(x - max) and log-sum-exp in double, logp = x - lse rounded once, the loss summed in
 * double and divided by n. Double costs nothing here: the kernel reads n*c floats (640 for the seed's
 * batch of 64 x 10 classes) and is launch-bound.
 *
 * Forward: one warp per row (lanes stride the classes), 8 warps per block. Each warp adds up the
 * losses of its rows in row order, each block its warps' sums in warp order; with one block (n*c up
 * to ~16K elements per block of work, so every training batch of a classifier) that block writes the
 * mean. Larger inputs write one partial per block and a one-block kernel adds them in block order.
 * No atomics touch the sum: the loss is the same on every run.
 *
 * A target of -100 (PyTorch's default ignore_index) adds nothing: the mean is over the rows kept
 * (0 / 0 = NaN when none is). Any other target outside [0, c) makes the row's loss NaN and is
 * recorded with atomicCAS in the kernel error record (the first recording wins); the next call
 * that waits reports it.
 */
#include "common.h"

#define XENT_THREADS 256
#define XENT_WARPS (XENT_THREADS / 32)
#define XENT_BLOCK_WORK 16384 /* logits per block before the batch is split across blocks */
#define XENT_MAX_BLOCKS 4096
#define XENT_IGNORE (-100) /* PyTorch's default ignore_index */

__device__ __forceinline__ void record_target_error(int32_t *slot, int64_t row, int32_t t, int32_t c) {
  cn_record_kernel_error(slot, CN_KE_TARGET_RANGE, row, t, c);
}

/* The gradient at logit j (log-probability *logp) of a row with `target`: (softmax - onehot) * scale,
   0 on an ignored row. The backward kernel and the forward's fused unit gradient both use it: the
   same bits by construction. */
__device__ __forceinline__ float xent_grad(const float *logp, int j, int32_t target, double scale) {
  if (target == XENT_IGNORE) return 0.0f; /* *logp is not read */
  float g = (float)(exp((double)*logp) * scale);
  if (j == target) g = (float)((double)g - scale);
  return g;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v; /* lane 0 holds the sum */
}

/* Rows [blockIdx.x * rows_per_block, ...) of this block; warp w takes rows w, w + 8, ... of them.
   Writes the block's loss sum to partial[blockIdx.x] and its count of kept rows to
   partial[gridDim.x + blockIdx.x], or, when `loss` is not NULL (a single block), the mean over the
   kept rows to loss[0]; then, when `dunit` is not NULL too, the gradient for a loss gradient of 1
   (xent_backward_kernel's bits with dloss = 1: the launch and the fill of backward() saved). */
__global__ void __launch_bounds__(XENT_THREADS)
    xent_forward_kernel(float *loss, double *partial, float *logp, float *dunit, const float *logits,
                        const int32_t *targets, int n, int c, int rows_per_block, int32_t *err) {
  __shared__ double warp_loss[XENT_WARPS];
  __shared__ double warp_kept[XENT_WARPS];
  __shared__ double kept_all;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t r0 = (int64_t)blockIdx.x * rows_per_block;
  const int64_t r1 = min(r0 + rows_per_block, (int64_t)n);
  double mine = 0.0, kept = 0.0; /* lane 0: this warp's rows */
  for (int64_t r = r0 + warp; r < r1; r += XENT_WARPS) {
    const float *x = logits + r * c;
    float m = -INFINITY; /* TS's `if (x > max)`: NaN never becomes the max */
    for (int j = lane; j < c; j += 32) m = x[j] > m ? x[j] : m;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float o = __shfl_xor_sync(0xffffffffu, m, off);
      m = o > m ? o : m;
    }
    double s = 0.0;
    for (int j = lane; j < c; j += 32) s += exp((double)x[j] - (double)m);
    s = warp_sum(s);
    const double lse = (double)m + log(__shfl_sync(0xffffffffu, s, 0));
    float *lp = logp + r * c;
    for (int j = lane; j < c; j += 32) lp[j] = (float)((double)x[j] - lse);
    if (lane == 0) {
      const int32_t t = targets[r];
      if (t >= 0 && t < c) {
        mine -= (double)x[t] - lse;
        kept += 1.0;
      } else if (t != XENT_IGNORE) {
        record_target_error(err, r, t, c);
        mine += (double)NAN;
        kept += 1.0;
      }
    }
  }
  if (lane == 0) {
    warp_loss[warp] = mine;
    warp_kept[warp] = kept;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0, rows = 0.0;
    for (int w = 0; w < XENT_WARPS; ++w) total += warp_loss[w], rows += warp_kept[w];
    if (loss) {
      loss[0] = (float)(total / rows);
      kept_all = rows;
    } else {
      partial[blockIdx.x] = total;
      partial[gridDim.x + blockIdx.x] = rows;
    }
  }
  if (!dunit || !loss) return; /* uniform across the block */
  __syncthreads(); /* logp and kept_all are visible to the whole block */
  const double scale = 1.0 / kept_all;
  const int64_t total = (int64_t)n * c;
  for (int64_t t = threadIdx.x; t < total; t += XENT_THREADS) {
    const int64_t i = t / c;
    const int j = (int)(t - i * c);
    dunit[t] = xent_grad(logp + t, j, targets[i], scale);
  }
}

/* One block: loss[0] = (sum of the blocks' partial sums) / (their kept rows), in a fixed order. */
__global__ void __launch_bounds__(XENT_THREADS) xent_finish_kernel(float *loss, const double *partial, int blocks) {
  __shared__ double part[XENT_WARPS], part_kept[XENT_WARPS];
  double s = 0.0, k = 0.0;
  for (int b = threadIdx.x; b < blocks; b += XENT_THREADS) s += partial[b], k += partial[blocks + b];
  s = warp_sum(s);
  k = warp_sum(k);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s, part_kept[threadIdx.x >> 5] = k;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0, rows = 0.0;
    for (int w = 0; w < XENT_WARPS; ++w) total += part[w], rows += part_kept[w];
    loss[0] = (float)(total / rows);
  }
}

/* Up to this many rows the backward's blocks count the kept rows themselves (xent_backward_kernel). */
#define XENT_INLINE_COUNT 16384

/* The rows of `targets` that are not XENT_IGNORE, counted by the whole block in a fixed order (the
   warps' sums in `part`, shared); the count is returned to thread 0 only. */
__device__ __forceinline__ double block_kept_rows(const int32_t *targets, int n, double *part) {
  double k = 0.0;
  for (int i = threadIdx.x; i < n; i += XENT_THREADS) k += targets[i] != XENT_IGNORE ? 1.0 : 0.0;
  k = warp_sum(k);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = k;
  __syncthreads();
  double rows = 0.0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < XENT_WARPS; ++w) rows += part[w];
  }
  return rows;
}

/* One block: kept[0] = the rows whose target is not XENT_IGNORE (the backward's denominator). */
__global__ void __launch_bounds__(XENT_THREADS) xent_count_kernel(int32_t *kept, const int32_t *targets, int n) {
  __shared__ double part[XENT_WARPS];
  const double rows = block_kept_rows(targets, n, part);
  if (threadIdx.x == 0) kept[0] = (int32_t)rows;
}

/* dlogits = (exp(logp) - onehot(t)) * dloss[0] / kept, rounded as TS rounds it (the product, then the
   subtraction at the target); 0 on the ignored rows. kept NULL: each block counts the kept rows itself
   (n <= XENT_INLINE_COUNT: a few loads per thread instead of a launch of xent_count_kernel). */
template <class IDX>
__global__ void __launch_bounds__(XENT_THREADS)
    xent_backward_kernel(float *dlogits, const float *logp, const int32_t *targets, const float *dloss,
                         const int32_t *kept, int n, int c, IDX total, int32_t *err) {
  __shared__ double part[XENT_WARPS];
  __shared__ int32_t kept_here;
  if (!kept) { /* uniform: every thread of the block takes this branch or none */
    const double rows = block_kept_rows(targets, n, part);
    if (threadIdx.x == 0) kept_here = (int32_t)rows;
    __syncthreads();
  }
  const double scale = (dloss ? (double)dloss[0] : 1.0) / (kept ? kept[0] : kept_here); /* NULL: 1 */
  for (IDX t = (IDX)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (IDX)blockDim.x * gridDim.x) {
    const IDX i = t / c;
    const int j = (int)(t - i * c);
    const int32_t target = targets[i];
    if (j == 0 && target != XENT_IGNORE && !(target >= 0 && target < c)) record_target_error(err, i, target, c);
    dlogits[t] = xent_grad(logp + t, j, target, scale);
  }
}

/* ------------------------------------------------------------------ launchers */

static int nll_backward(float *dlogits, const float *logp, const int32_t *targets, const float *dloss, int32_t n,
                        int32_t c);

/* dunit (may be NULL): receives the gradient for a loss gradient of 1, in the forward's launch when one
   block does the batch (n*c up to ~16K), else by the backward kernel right after. */
extern "C" int cn_log_softmax_nll_forward_grad(float *loss, float *logp, float *dunit, const float *logits,
                                               const int32_t *targets, int32_t n, int32_t c) {
  CN_REQUIRE(n >= 0 && c > 0, "log_softmax_nll_forward: sizes must be n >= 0 and c > 0, got n=%d c=%d", n, c);
  CN_REQUIRE(loss != NULL, "log_softmax_nll_forward: loss is NULL (n=%d, c=%d)", n, c);
  CN_TRY(cn_init());
  if (n == 0) return cn_fill(CN_F32, loss, NAN, 1); /* the mean of nothing, as 0 / 0 in TS */
  CN_REQUIRE(logp && logits && targets, "log_softmax_nll_forward: %s is NULL (n=%d, c=%d)",
             !logp ? "logp" : !logits ? "logits" : "targets", n, c);
  int64_t rows = (XENT_BLOCK_WORK + c - 1) / c;
  rows = (rows + XENT_WARPS - 1) / XENT_WARPS * XENT_WARPS;
  int64_t blocks = (n + rows - 1) / rows;
  if (blocks > XENT_MAX_BLOCKS) {
    blocks = XENT_MAX_BLOCKS;
    rows = (n + blocks - 1) / blocks;
    blocks = (n + rows - 1) / rows;
  }
  int32_t *err = cn_kernel_error_slot();
  if (blocks == 1) {
    CN_LAUNCH(xent_forward_kernel, 1, XENT_THREADS, loss, (double *)NULL, logp, dunit, logits, targets, n, c,
              (int)rows, err);
    return CN_CHECK_LAUNCH("log_softmax_nll_forward");
  }
  double *partial = NULL; /* the blocks' sums, then their kept-row counts */
  CN_TRY(cn_alloc((void **)&partial, 2 * blocks * (int64_t)sizeof(double)));
  CN_LAUNCH(xent_forward_kernel, (unsigned)blocks, XENT_THREADS, (float *)NULL, partial, logp, (float *)NULL, logits,
            targets, n, c, (int)rows, err);
  int st = CN_CHECK_LAUNCH("log_softmax_nll_forward: rows");
  if (st == CN_OK) {
    CN_LAUNCH(xent_finish_kernel, 1, XENT_THREADS, loss, (const double *)partial, (int)blocks);
    st = CN_CHECK_LAUNCH("log_softmax_nll_forward: mean");
  }
  /* Reused only by work queued later on the one stream, which runs after these kernels. */
  const int fs = cn_free(partial);
  if (st == CN_OK && fs == CN_OK && dunit) return nll_backward(dunit, logp, targets, (const float *)NULL, n, c);
  return st ? st : fs;
}

extern "C" int cn_log_softmax_nll_forward(float *loss, float *logp, const float *logits, const int32_t *targets,
                                          int32_t n, int32_t c) {
  return cn_log_softmax_nll_forward_grad(loss, logp, (float *)NULL, logits, targets, n, c);
}

extern "C" int cn_log_softmax_nll_backward(float *dlogits, const float *logp, const int32_t *targets,
                                           const float *dloss, int32_t n, int32_t c) {
  CN_REQUIRE(n >= 0 && c > 0, "log_softmax_nll_backward: sizes must be n >= 0 and c > 0, got n=%d c=%d", n, c);
  if (n == 0) return CN_OK;
  CN_REQUIRE(dloss, "log_softmax_nll_backward: dloss is NULL (n=%d, c=%d)", n, c);
  return nll_backward(dlogits, logp, targets, dloss, n, c);
}

/* dloss NULL: a loss gradient of 1. */
static int nll_backward(float *dlogits, const float *logp, const int32_t *targets, const float *dloss, int32_t n,
                        int32_t c) {
  if (n == 0) return CN_OK;
  CN_REQUIRE(dlogits && logp && targets, "log_softmax_nll_backward: %s is NULL (n=%d, c=%d)",
             !dlogits ? "dlogits" : !logp ? "logp" : "targets", n, c);
  CN_TRY(cn_init());
  const int64_t total = (int64_t)n * c;
  int32_t *err = cn_kernel_error_slot();
  int32_t *kept = NULL;
  int st = CN_OK;
  if (n > XENT_INLINE_COUNT) {
    CN_TRY(cn_alloc((void **)&kept, sizeof(int32_t)));
    CN_LAUNCH(xent_count_kernel, 1, XENT_THREADS, kept, targets, n);
    st = CN_CHECK_LAUNCH("log_softmax_nll_backward: kept rows");
  }
  if (st == CN_OK && total < INT32_MAX) {
    auto k = xent_backward_kernel<int32_t>;
    CN_LAUNCH(k, cn_blocks(total, XENT_THREADS), XENT_THREADS, dlogits, logp, targets, dloss, (const int32_t *)kept, n,
              c, (int32_t)total, err);
    st = CN_CHECK_LAUNCH("log_softmax_nll_backward");
  } else if (st == CN_OK) {
    auto k = xent_backward_kernel<int64_t>;
    CN_LAUNCH(k, cn_blocks(total, XENT_THREADS), XENT_THREADS, dlogits, logp, targets, dloss, (const int32_t *)kept, n,
              c, total, err);
    st = CN_CHECK_LAUNCH("log_softmax_nll_backward");
  }
  /* Reused only by work queued later on the one stream, which runs after these kernels. */
  const int fs = cn_free(kept);
  return st ? st : fs;
}
