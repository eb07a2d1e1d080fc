/*
 * race_global_blocks.cu: a running sum across blocks, where block b reads the total block b - 1
 * wrote to global memory. Nothing orders blocks on a card (they run at once, in any order); the
 * emulator's forward order runs block b - 1 first, so the bug shows only in another order:
 *
 *   deno task emu:run native/tests/sanitizer/race_global_blocks.cu --order reverse     (wrong totals, exit 1)
 *   deno task emu:run native/tests/sanitizer/race_global_blocks.cu --order random:7    (wrong totals, exit 1)
 *   deno task emu:run native/tests/sanitizer/race_global_blocks.cu -D FIXED --order reverse   (clean, exit 0)
 *
 * -DFIXED: each block writes its own sum, and a second launch (launches run in order) adds them up.
 */
#include <stdio.h>

#include "../../src/common.h"

#define THREADS 32

/* Each block sums its 32 inputs with a warp shuffle; lane 0 publishes the block's sum. */
__device__ float block_sum(const float *x, int n) {
  int i = blockIdx.x * THREADS + threadIdx.x;
  float v = i < n ? x[i] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

__global__ void running_total_kernel(float *totals, const float *x, int n) {
  float s = block_sum(x, n);
  if (threadIdx.x == 0) totals[blockIdx.x] = s + (blockIdx.x > 0 ? totals[blockIdx.x - 1] : 0.0f); /* the bug */
}

__global__ void block_sums_kernel(float *sums, const float *x, int n) {
  float s = block_sum(x, n);
  if (threadIdx.x == 0) sums[blockIdx.x] = s;
}

__global__ void prefix_kernel(float *totals, const float *sums, int blocks) {
  if (threadIdx.x == 0) {
    float acc = 0.0f;
    for (int b = 0; b < blocks; b++) totals[b] = acc += sums[b];
  }
}

int main() {
  const int n = 300, blocks = (n + THREADS - 1) / THREADS;
  float h[n], got[blocks], want[blocks];
  for (int i = 0; i < n; i++) h[i] = (float)(i % 7);
  float *x = NULL, *totals = NULL, *sums = NULL;
  if (cudaMalloc(&x, sizeof h) != cudaSuccess || cudaMalloc(&totals, sizeof got) != cudaSuccess ||
      cudaMalloc(&sums, sizeof got) != cudaSuccess)
    return 2;
  cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
#ifdef FIXED
  CN_LAUNCH(block_sums_kernel, blocks, THREADS, sums, x, n);
  CN_LAUNCH(prefix_kernel, 1, 32, totals, sums, blocks);
#else
  cudaMemset(totals, 0, sizeof got);
  CN_LAUNCH(running_total_kernel, blocks, THREADS, totals, x, n);
#endif
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  cudaMemcpy(got, totals, sizeof got, cudaMemcpyDeviceToHost);
  cudaFree(x);
  cudaFree(totals);
  cudaFree(sums);
  float acc = 0.0f;
  for (int b = 0; b < blocks; b++) {
    for (int i = b * THREADS; i < n && i < (b + 1) * THREADS; i++) acc += h[i];
    want[b] = acc;
    if (got[b] != want[b]) {
      printf("totals[%d] = %g, expected %g: blocks ran in an order the kernel did not expect\n", b, got[b], want[b]);
      return 1;
    }
  }
  printf("ok\n");
  return 0;
}
