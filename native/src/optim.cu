/*
 * optim.cu: Adadelta, SGD and Adam steps over many tensors in few launches.
 *
 * Multi-tensor apply, as PyTorch's multi_tensor_apply does it: up to OPT_MAX_TENSORS tensors per
 * launch, their pointers and sizes packed into a kernel-argument struct (2.5 KB for Adam with AMSGrad,
 * under the 4 KB kernel parameter limit), each tensor cut into chunks of OPT_CHUNK elements, one
 * block per chunk. A block finds its tensor by binary search over the first-block table. The seed's
 * Net (8 tensors, 1.2M parameters) is one launch of ~300 blocks instead of 8 launches: a launch
 * costs ~3 us, while the whole update moves 1.2M * 28 bytes = 34 MB, ~10 us at H100 bandwidth.
 *
 * Formulas are PyTorch 1.13's single-tensor ones, as src/backend/ts/optim.ts writes them, and
 * computed as TS computes them: in double, rounding to float32 only where a tensor is stored (the
 * new square_avg is stored, then read back rounded). So the device agrees with the TS reference to the
 * last bit or so; float32 arithmetic would differ by several ulp wherever the update cancels (p - lr *
 * delta near 0, beta1 * m + (1 - beta1) * g with opposite signs). The cost: ~100 FP64 instructions per
 * element, nothing on H100/H200 (~4 us for 1.2M parameters at 34 FP64 TFLOP/s) and below the memory
 * time even on a 1/64-rate consumer card for models of this size.
 *
 * The hyperparameters live in device memory (a small double array per parameter group, `hyper`),
 * not in the kernel's arguments: a CUDA graph that captured the step reads the learning rate a
 * scheduler set since, and Adam's step count is advanced on the device by the launch that uses it
 * (the last block to finish writes count + 1), so a replayed step needs no host-to-device copy. Thread
 * 0 of each block reads them once (and forms Adam's bias corrections) into shared memory. The host
 * writes them as JavaScript's doubles, the values the TS reference computes with.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define OPT_THREADS 256
#define OPT_CHUNK 4096 /* elements per block: 16 per thread; ~300 blocks for the seed's 1.2M parameters */
#define OPT_MAX_TENSORS 48
#define OPT_LIVE 8 /* doubles of per-launch values a block derives from `hyper` */

template <int NP>
struct TensorList {
  float *p[NP][OPT_MAX_TENSORS];
  int64_t size[OPT_MAX_TENSORS];
  int32_t block_start[OPT_MAX_TENSORS + 1]; /* first block of each tensor; [count] = all blocks */
  int32_t count;
};

/* One block per chunk: find the tensor (largest k with block_start[k] <= block), then apply op to the
   chunk's elements with the values thread 0 derived from `hyper`. With `advance`, the last block to
   finish lets the op advance its device count (Op::advance): every block read `hyper` before taking
   its ticket (the fence orders that read before the atomic), so none reads the new count. */
template <int NP, class Op>
__global__ void __launch_bounds__(OPT_THREADS)
    multi_tensor_kernel(TensorList<NP> tl, Op op, double *hyper, unsigned *ticket, int advance) {
  __shared__ double live[OPT_LIVE];
  if (threadIdx.x == 0) Op::load(hyper, live);
  __syncthreads();
  const int32_t b = (int32_t)blockIdx.x;
  int lo = 0, hi = tl.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (tl.block_start[mid] <= b) lo = mid;
    else hi = mid - 1;
  }
  /* The pointers start at the chunk and the index is an int below OPT_CHUNK: the double division and
     sqrt slow paths are calls, and CUDA 11.8's ptxas spilled a 64-bit index and bound live across them
     (Adadelta: 40 bytes); the same loads and stores, in the same order. */
  const int64_t start = (int64_t)(b - tl.block_start[lo]) * OPT_CHUNK;
  const int n = (int)min(tl.size[lo] - start, (int64_t)OPT_CHUNK);
  float *ptr[NP];
#pragma unroll
  for (int j = 0; j < NP; ++j) ptr[j] = tl.p[j][lo] + start;
  for (int i = threadIdx.x; i < n; i += OPT_THREADS) op(live, ptr, i);
  if (advance && threadIdx.x == 0) {
    __threadfence();
    if (atomicAdd(ticket, 1u) == gridDim.x - 1) {
      Op::advance(hyper);
      *ticket = 0u;
    }
  }
}

/* ptr: param, grad, square_avg, acc_delta. hyper: lr, rho, eps, weight_decay. */
struct AdadeltaOp {
  enum { HYPER = 4 };
  static __device__ __forceinline__ void load(const double *h, double *live) {
    for (int k = 0; k < HYPER; ++k) live[k] = h[k];
  }
  static __device__ __forceinline__ void advance(double *) {}
  __device__ __forceinline__ void operator()(const double *live, float *const *ptr, int64_t i) const {
    const double lr = live[0], rho = live[1], eps = live[2], weight_decay = live[3];
    const double p = ptr[0][i];
    double g = ptr[1][i];
    if (weight_decay != 0.0) g += weight_decay * p;
    const float v = (float)(ptr[2][i] * rho + (1.0 - rho) * g * g);
    ptr[2][i] = v;
    const double u = ptr[3][i];
    const double delta = sqrt(u + eps) / sqrt((double)v + eps) * g;
    ptr[3][i] = (float)(u * rho + (1.0 - rho) * delta * delta);
    ptr[0][i] = (float)(p - lr * delta);
  }
};

/* ptr: param, grad[, momentum_buf]. hyper: lr, momentum, dampening, weight_decay, nesterov (0 or 1). */
template <bool MOMENTUM>
struct SgdOp {
  enum { HYPER = 5 };
  int first; /* the step that starts the momentum buffers: a structural switch, not a value */
  static __device__ __forceinline__ void load(const double *h, double *live) {
    for (int k = 0; k < HYPER; ++k) live[k] = h[k];
  }
  static __device__ __forceinline__ void advance(double *) {}
  __device__ __forceinline__ void operator()(const double *live, float *const *ptr, int64_t i) const {
    const double lr = live[0], momentum = live[1], dampening = live[2], weight_decay = live[3];
    const double p = ptr[0][i];
    double d = ptr[1][i];
    if (weight_decay != 0.0) d += weight_decay * p;
    if (MOMENTUM) {
      const float buf = first ? (float)d : (float)(ptr[2][i] * momentum + (1.0 - dampening) * d);
      ptr[2][i] = buf;
      d = live[4] != 0.0 ? d + momentum * (double)buf : (double)buf;
    }
    ptr[0][i] = (float)(p - lr * d);
  }
};

/* ptr: param, grad, exp_avg, exp_avg_sq[, max_exp_avg_sq]. hyper: lr, beta1, beta2, eps,
   weight_decay (L2, into the gradient), steps taken (this launch takes step + 1 and advances it),
   decoupled weight decay (AdamW's: the parameter is first scaled by 1 - lr * it, rounded to float as
   the separate scalar multiply that AdamW's composite runs rounds it; 0 for Adam). */
template <bool AMSGRAD>
struct AdamOp {
  enum { HYPER = 7 };
  /* live: beta1, beta2, eps, weight_decay, step_size, bc2_sqrt (PyTorch 1.13's single-tensor forms),
     the decay factor and the decoupled decay (its switch). */
  static __device__ __forceinline__ void load(const double *h, double *live) {
    const double b1 = h[1], b2 = h[2], step = h[5] + 1.0;
    live[0] = b1, live[1] = b2, live[2] = h[3], live[3] = h[4];
    live[4] = h[0] / (1.0 - pow(b1, step));
    live[5] = sqrt(1.0 - pow(b2, step));
    live[6] = 1.0 - h[0] * h[6];
    live[7] = h[6];
  }
  static __device__ __forceinline__ void advance(double *h) { h[5] += 1.0; }
  __device__ __forceinline__ void operator()(const double *live, float *const *ptr, int64_t i) const {
    const double beta1 = live[0], beta2 = live[1], eps = live[2], weight_decay = live[3];
    double p = ptr[0][i];
    if (live[7] != 0.0) p = (double)(float)(p * live[6]);
    double g = ptr[1][i];
    if (weight_decay != 0.0) g += weight_decay * p;
    const float m = (float)(ptr[2][i] * beta1 + (1.0 - beta1) * g);
    const float v2 = (float)(ptr[3][i] * beta2 + (1.0 - beta2) * g * g);
    ptr[2][i] = m;
    ptr[3][i] = v2;
    float v = v2;
    if (AMSGRAD) {
      const float mx = ptr[4][i];
      if (v > mx) ptr[4][i] = v; /* TS's rule: a NaN second moment does not replace the maximum */
      else v = mx;
    }
    const double denom = sqrt((double)v) / live[5] + eps;
    ptr[0][i] = (float)(p - live[4] * (double)m / denom);
  }
};

/* ------------------------------------------------------------------ launchers */

/* Checks the tables: the first `required` of the NP tables must be non-NULL, and so must their
   entries for every tensor with elements. */
template <int NP>
static int check_tables(const char *fn, int32_t count, float *const *const tables[NP], const char *const names[NP],
                        const int64_t *sizes) {
  CN_REQUIRE(count >= 0, "%s: count must be >= 0, got %d", fn, count);
  if (count == 0) return CN_OK;
  CN_REQUIRE(sizes != NULL, "%s: sizes is NULL (count %d)", fn, count);
  for (int j = 0; j < NP; ++j) CN_REQUIRE(tables[j] != NULL, "%s: %s is NULL (count %d)", fn, names[j], count);
  for (int32_t k = 0; k < count; ++k) {
    CN_REQUIRE(sizes[k] >= 0, "%s: sizes[%d] must be >= 0, got %lld", fn, k, (long long)sizes[k]);
    if (sizes[k] == 0) continue;
    for (int j = 0; j < NP; ++j) {
      CN_REQUIRE(tables[j][k] != NULL, "%s: %s[%d] is NULL (tensor of %lld elements)", fn, names[j], k,
                 (long long)sizes[k]);
    }
  }
  return CN_OK;
}

/* Launches op over every tensor with elements, OPT_MAX_TENSORS at a time. `hyper` is a device array
   of CN_OPT_HYPER_DOUBLES doubles: the op's values, then (in the last slot) the ticket a launch that
   advances a count uses. Only the last launch advances, so every launch sees the same count. */
template <int NP, class Op>
static int launch_multi(const char *fn, int32_t count, float *const *const tables[NP], const int64_t *sizes, Op op,
                        double *hyper, bool advance) {
  static_assert(Op::HYPER < CN_OPT_HYPER_DOUBLES && Op::HYPER <= OPT_LIVE, "hyper slots");
  CN_REQUIRE(hyper != NULL, "%s: hyper is NULL (expected a device array of %d doubles)", fn, CN_OPT_HYPER_DOUBLES);
  unsigned *ticket = (unsigned *)(hyper + CN_OPT_HYPER_DOUBLES - 1);
  int32_t last = count - 1; /* the last tensor with elements: its launch advances */
  while (last >= 0 && sizes[last] == 0) --last;
  TensorList<NP> tl;
  int32_t k = 0;
  while (k < count) {
    tl.count = 0;
    int64_t blocks = 0;
    for (; k < count && tl.count < OPT_MAX_TENSORS; ++k) {
      if (sizes[k] == 0) continue;
      const int64_t nb = (sizes[k] + OPT_CHUNK - 1) / OPT_CHUNK;
      if (tl.count > 0 && blocks + nb > INT32_MAX) break; /* next launch */
      CN_REQUIRE(nb <= INT32_MAX, "%s: sizes[%d] = %lld is too large", fn, k, (long long)sizes[k]);
      for (int j = 0; j < NP; ++j) tl.p[j][tl.count] = tables[j][k];
      tl.size[tl.count] = sizes[k];
      tl.block_start[tl.count] = (int32_t)blocks;
      blocks += nb;
      tl.count++;
    }
    if (tl.count == 0) break;
    tl.block_start[tl.count] = (int32_t)blocks;
    const int adv = advance && k > last ? 1 : 0;
    auto kern = multi_tensor_kernel<NP, Op>;
    CN_LAUNCH(kern, (unsigned)blocks, OPT_THREADS, tl, op, hyper, ticket, adv);
    CN_TRY(CN_CHECK_LAUNCH(fn));
  }
  return CN_OK;
}

#define OPT_TABLE(x) ((float *const *)(x))

extern "C" int cn_adadelta_step(int32_t count, float *const *params, const float *const *grads,
                                float *const *square_avg, float *const *acc_delta, const int64_t *sizes,
                                double *hyper) {
  float *const *const tables[4] = {params, OPT_TABLE(grads), square_avg, acc_delta};
  static const char *const names[4] = {"params", "grads", "square_avg", "acc_delta"};
  CN_TRY(check_tables<4>("adadelta_step", count, tables, names, sizes));
  if (count == 0) return CN_OK;
  CN_TRY(cn_init());
  return launch_multi<4>("adadelta_step", count, tables, sizes, AdadeltaOp(), hyper, false);
}

extern "C" int cn_sgd_step(int32_t count, float *const *params, const float *const *grads, float *const *momentum_buf,
                           const int64_t *sizes, double *hyper, int32_t first) {
  if (momentum_buf != NULL) {
    float *const *const tables[3] = {params, OPT_TABLE(grads), momentum_buf};
    static const char *const names[3] = {"params", "grads", "momentum_buf"};
    CN_TRY(check_tables<3>("sgd_step", count, tables, names, sizes));
    if (count == 0) return CN_OK;
    CN_TRY(cn_init());
    SgdOp<true> op;
    op.first = first != 0;
    return launch_multi<3>("sgd_step", count, tables, sizes, op, hyper, false);
  }
  float *const *const tables[2] = {params, OPT_TABLE(grads)};
  static const char *const names[2] = {"params", "grads"};
  CN_TRY(check_tables<2>("sgd_step", count, tables, names, sizes));
  if (count == 0) return CN_OK;
  CN_TRY(cn_init());
  SgdOp<false> op;
  op.first = first != 0;
  return launch_multi<2>("sgd_step", count, tables, sizes, op, hyper, false);
}

extern "C" int cn_adam_step(int32_t count, float *const *params, const float *const *grads, float *const *exp_avg,
                            float *const *exp_avg_sq, float *const *max_exp_avg_sq, const int64_t *sizes,
                            double *hyper, int32_t amsgrad) {
  if (amsgrad) {
    float *const *const tables[5] = {params, OPT_TABLE(grads), exp_avg, exp_avg_sq, max_exp_avg_sq};
    static const char *const names[5] = {"params", "grads", "exp_avg", "exp_avg_sq", "max_exp_avg_sq (amsgrad)"};
    CN_TRY(check_tables<5>("adam_step", count, tables, names, sizes));
    if (count == 0) return CN_OK;
    CN_TRY(cn_init());
    return launch_multi<5>("adam_step", count, tables, sizes, AdamOp<true>(), hyper, true);
  }
  float *const *const tables[4] = {params, OPT_TABLE(grads), exp_avg, exp_avg_sq};
  static const char *const names[4] = {"params", "grads", "exp_avg", "exp_avg_sq"};
  CN_TRY(check_tables<4>("adam_step", count, tables, names, sizes));
  if (count == 0) return CN_OK;
  CN_TRY(cn_init());
  return launch_multi<4>("adam_step", count, tables, sizes, AdamOp<false>(), hyper, true);
}
