/*
 * relu_backward.cu: cn_relu_backward, dx = x > 0 ? dy : 0, ReLU's backward in one pass (the
 * composite is a comparison and a where: three launches and an int32 mask).
 *
 * A select, not dy * (x > 0): a NaN gradient where x <= 0 gives 0, as PyTorch's threshold_backward
 * and the composite give; a NaN x gives 0. Memory-bound: 12 bytes per element, float4 when the
 * three buffers are 16-byte aligned (cn_alloc blocks are).
 */
#include "common.h"

#define RELU_THREADS 256

__device__ __forceinline__ float relu_grad(float dy, float x) { return x > 0.0f ? dy : 0.0f; }

__global__ void __launch_bounds__(RELU_THREADS) relu_backward_kernel(float *dx, const float *dy, const float *x,
                                                                     int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)blockDim.x * gridDim.x) {
    dx[i] = relu_grad(dy[i], x[i]);
  }
}

/* The first n/4 * 4 elements as float4, the rest one by one. */
__global__ void __launch_bounds__(RELU_THREADS) relu_backward_f4_kernel(float *dx, const float *dy, const float *x,
                                                                        int64_t n) {
  const int64_t n4 = n >> 2;
  const float4 *g4 = (const float4 *)dy, *x4 = (const float4 *)x;
  float4 *o4 = (float4 *)dx;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (int64_t)blockDim.x * gridDim.x) {
    const float4 g = g4[i], v = x4[i];
    o4[i] = make_float4(relu_grad(g.x, v.x), relu_grad(g.y, v.y), relu_grad(g.z, v.z), relu_grad(g.w, v.w));
  }
  const int64_t t = (n4 << 2) + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t < n) dx[t] = relu_grad(dy[t], x[t]);
}

extern "C" int cn_relu_backward(float *dx, const float *dy, const float *x, int64_t n) {
  CN_REQUIRE(n >= 0, "cn_relu_backward: n must be >= 0, got %lld", (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(dx && dy && x, "cn_relu_backward: %s is NULL (n=%lld)", !dx ? "dx" : !dy ? "dy" : "x", (long long)n);
  CN_TRY(cn_init());
  if ((((uintptr_t)dx | (uintptr_t)dy | (uintptr_t)x) & 15) == 0 && n >= 4) {
    CN_LAUNCH(relu_backward_f4_kernel, cn_blocks((n + 3) / 4, RELU_THREADS), RELU_THREADS, dx, dy, x, n);
  } else {
    CN_LAUNCH(relu_backward_kernel, cn_blocks(n, RELU_THREADS), RELU_THREADS, dx, dy, x, n);
  }
  return CN_CHECK_LAUNCH("cn_relu_backward");
}
