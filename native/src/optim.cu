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
 * The hyperparameters arrive as float; they are widened to the shortest decimal that rounds to them
 * (0.9f -> 0.9, not 0.89999997615814209), the double the caller most likely holds, so 1 - rho is 0.1
 * rather than 0.100000024. Adam's bias corrections are formed on the host in double.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define OPT_THREADS 256
#define OPT_CHUNK 4096 /* elements per block: 16 per thread; ~300 blocks for the seed's 1.2M parameters */
#define OPT_MAX_TENSORS 48

template <int NP>
struct TensorList {
  float *p[NP][OPT_MAX_TENSORS];
  int64_t size[OPT_MAX_TENSORS];
  int32_t block_start[OPT_MAX_TENSORS + 1]; /* first block of each tensor; [count] = all blocks */
  int32_t count;
};

/* One block per chunk: find the tensor (largest k with block_start[k] <= block), then apply op to the
   chunk's elements. */
template <int NP, class Op>
__global__ void __launch_bounds__(OPT_THREADS) multi_tensor_kernel(TensorList<NP> tl, Op op) {
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
  for (int i = threadIdx.x; i < n; i += OPT_THREADS) op(ptr, i);
}

/* ptr: param, grad, square_avg, acc_delta. */
struct AdadeltaOp {
  double lr, rho, eps, weight_decay;
  __device__ __forceinline__ void operator()(float *const *ptr, int64_t i) const {
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

/* ptr: param, grad[, momentum_buf]. */
template <bool MOMENTUM>
struct SgdOp {
  double lr, momentum, dampening, weight_decay;
  int nesterov, first;
  __device__ __forceinline__ void operator()(float *const *ptr, int64_t i) const {
    const double p = ptr[0][i];
    double d = ptr[1][i];
    if (weight_decay != 0.0) d += weight_decay * p;
    if (MOMENTUM) {
      const float buf = first ? (float)d : (float)(ptr[2][i] * momentum + (1.0 - dampening) * d);
      ptr[2][i] = buf;
      d = nesterov ? d + momentum * (double)buf : (double)buf;
    }
    ptr[0][i] = (float)(p - lr * d);
  }
};

/* ptr: param, grad, exp_avg, exp_avg_sq[, max_exp_avg_sq]. */
template <bool AMSGRAD>
struct AdamOp {
  double beta1, beta2, eps, weight_decay, step_size, bc2_sqrt;
  __device__ __forceinline__ void operator()(float *const *ptr, int64_t i) const {
    const double p = ptr[0][i];
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
    const double denom = sqrt((double)v) / bc2_sqrt + eps;
    ptr[0][i] = (float)(p - step_size * (double)m / denom);
  }
};

/* ------------------------------------------------------------------ launchers */

/* The shortest decimal that rounds to f, as a double: the value the user most likely wrote. */
static double widen(float f) {
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
    if (strtof(buf, NULL) == f) return strtod(buf, NULL);
  }
  return (double)f; /* NaN */
}

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

/* Launches op over every tensor with elements, OPT_MAX_TENSORS at a time. */
template <int NP, class Op>
static int launch_multi(const char *fn, int32_t count, float *const *const tables[NP], const int64_t *sizes, Op op) {
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
    auto kern = multi_tensor_kernel<NP, Op>;
    CN_LAUNCH(kern, (unsigned)blocks, OPT_THREADS, tl, op);
    CN_TRY(CN_CHECK_LAUNCH(fn));
  }
  return CN_OK;
}

#define OPT_TABLE(x) ((float *const *)(x))

extern "C" int cn_adadelta_step(int32_t count, float *const *params, const float *const *grads,
                                float *const *square_avg, float *const *acc_delta, const int64_t *sizes, float lr,
                                float rho, float eps, float weight_decay) {
  float *const *const tables[4] = {params, OPT_TABLE(grads), square_avg, acc_delta};
  static const char *const names[4] = {"params", "grads", "square_avg", "acc_delta"};
  CN_TRY(check_tables<4>("adadelta_step", count, tables, names, sizes));
  if (count == 0) return CN_OK;
  CN_TRY(cn_init());
  AdadeltaOp op;
  op.lr = widen(lr), op.rho = widen(rho), op.eps = widen(eps), op.weight_decay = widen(weight_decay);
  return launch_multi<4>("adadelta_step", count, tables, sizes, op);
}

extern "C" int cn_sgd_step(int32_t count, float *const *params, const float *const *grads, float *const *momentum_buf,
                           const int64_t *sizes, float lr, float momentum, float dampening, int32_t nesterov,
                           float weight_decay, int32_t first) {
  CN_REQUIRE(momentum == 0.0f || momentum_buf != NULL || count == 0,
             "sgd_step: momentum_buf is NULL but momentum is %g (expected buffers when momentum != 0)",
             (double)momentum);
  if (momentum != 0.0f) {
    float *const *const tables[3] = {params, OPT_TABLE(grads), momentum_buf};
    static const char *const names[3] = {"params", "grads", "momentum_buf"};
    CN_TRY(check_tables<3>("sgd_step", count, tables, names, sizes));
    if (count == 0) return CN_OK;
    CN_TRY(cn_init());
    SgdOp<true> op;
    op.lr = widen(lr), op.momentum = widen(momentum), op.dampening = widen(dampening);
    op.weight_decay = widen(weight_decay), op.nesterov = nesterov != 0, op.first = first != 0;
    return launch_multi<3>("sgd_step", count, tables, sizes, op);
  }
  float *const *const tables[2] = {params, OPT_TABLE(grads)};
  static const char *const names[2] = {"params", "grads"};
  CN_TRY(check_tables<2>("sgd_step", count, tables, names, sizes));
  if (count == 0) return CN_OK;
  CN_TRY(cn_init());
  SgdOp<false> op;
  op.lr = widen(lr), op.momentum = 0.0, op.dampening = 0.0, op.weight_decay = widen(weight_decay);
  op.nesterov = 0, op.first = first != 0;
  return launch_multi<2>("sgd_step", count, tables, sizes, op);
}

template <bool AMSGRAD>
static AdamOp<AMSGRAD> adam_op(float lr, float beta1, float beta2, float eps, float weight_decay, int32_t step) {
  const double b1 = widen(beta1), b2 = widen(beta2);
  AdamOp<AMSGRAD> op;
  op.beta1 = b1, op.beta2 = b2, op.eps = widen(eps), op.weight_decay = widen(weight_decay);
  op.step_size = widen(lr) / (1.0 - pow(b1, (double)step));
  op.bc2_sqrt = sqrt(1.0 - pow(b2, (double)step));
  return op;
}

extern "C" int cn_adam_step(int32_t count, float *const *params, const float *const *grads, float *const *exp_avg,
                            float *const *exp_avg_sq, float *const *max_exp_avg_sq, const int64_t *sizes, float lr,
                            float beta1, float beta2, float eps, float weight_decay, int32_t amsgrad, int32_t step) {
  CN_REQUIRE(step >= 1, "adam_step: step counts from 1, got %d", step);
  if (amsgrad) {
    float *const *const tables[5] = {params, OPT_TABLE(grads), exp_avg, exp_avg_sq, max_exp_avg_sq};
    static const char *const names[5] = {"params", "grads", "exp_avg", "exp_avg_sq", "max_exp_avg_sq (amsgrad)"};
    CN_TRY(check_tables<5>("adam_step", count, tables, names, sizes));
    if (count == 0) return CN_OK;
    CN_TRY(cn_init());
    return launch_multi<5>("adam_step", count, tables, sizes, adam_op<true>(lr, beta1, beta2, eps, weight_decay, step));
  }
  float *const *const tables[4] = {params, OPT_TABLE(grads), exp_avg, exp_avg_sq};
  static const char *const names[4] = {"params", "grads", "exp_avg", "exp_avg_sq"};
  CN_TRY(check_tables<4>("adam_step", count, tables, names, sizes));
  if (count == 0) return CN_OK;
  CN_TRY(cn_init());
  return launch_multi<4>("adam_step", count, tables, sizes, adam_op<false>(lr, beta1, beta2, eps, weight_decay, step));
}
