/*
 * shared_uninit_stale.cu: a scale table in shared memory that only block 0 fills; the other blocks
 * read it as if it kept block 0's values. On a card each block has its own shared memory (garbage
 * until written); the emulator used to keep __shared__ as one static that still held the previous
 * block's values, so this ran right. Now shared memory is poisoned at each block start (NaN), and
 * the racecheck build reports the first read of a slot this block never wrote:
 *
 *   deno task emu:run native/tests/sanitizer/shared_uninit_stale.cu --tool racecheck   (initcheck error, exit 1)
 *   deno task emu:run native/tests/sanitizer/shared_uninit_stale.cu --tool memcheck    (wrong values, exit 1)
 *   deno task emu:run native/tests/sanitizer/shared_uninit_stale.cu -D FIXED ...       (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

#define THREADS 64
#define TABLE 8

__global__ void scale_kernel(float *y, const float *x, int n) {
  __shared__ float scale[TABLE];
#ifdef FIXED
  if (threadIdx.x < TABLE) scale[threadIdx.x] = (float)(1 << threadIdx.x);
#else
  if (blockIdx.x == 0 && threadIdx.x < TABLE) scale[threadIdx.x] = (float)(1 << threadIdx.x); /* the bug */
#endif
  __syncthreads();
  int i = blockIdx.x * THREADS + threadIdx.x;
  if (i < n) y[i] = x[i] * scale[i % TABLE];
}

int main() {
  const int n = 256, blocks = (n + THREADS - 1) / THREADS;
  float h[n], out[n];
  for (int i = 0; i < n; i++) h[i] = (float)(i % 5) - 2.0f;
  float *x = NULL, *y = NULL;
  if (cudaMalloc(&x, sizeof h) != cudaSuccess || cudaMalloc(&y, sizeof h) != cudaSuccess) return 2;
  cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
  CN_LAUNCH(scale_kernel, blocks, THREADS, y, x, n);
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  cudaMemcpy(out, y, sizeof out, cudaMemcpyDeviceToHost);
  cudaFree(x);
  cudaFree(y);
  for (int i = 0; i < n; i++) {
    float want = h[i] * (float)(1 << (i % TABLE));
    if (out[i] != want) {
      printf("y[%d] = %g, expected %g\n", i, out[i], want);
      return 1;
    }
  }
  printf("ok\n");
  return 0;
}
