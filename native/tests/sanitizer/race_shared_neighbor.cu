/*
 * race_shared_neighbor.cu: each thread stores its input in shared memory and reads its left
 * neighbour's, with no __syncthreads() between the store and the load. On a card the neighbour may
 * not have stored yet; on the emulator in forward order it always has (threads run in id order), so
 * the bug only shows in another order or under racecheck:
 *
 *   deno task emu:run native/tests/sanitizer/race_shared_neighbor.cu --tool racecheck    (race reported, exit 1)
 *   deno task emu:run native/tests/sanitizer/race_shared_neighbor.cu --order reverse     (wrong values, exit 1)
 *   deno task emu:run native/tests/sanitizer/race_shared_neighbor.cu -D FIXED ...        (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

#define THREADS 64

__global__ void left_diff_kernel(float *y, const float *x, int n) {
  __shared__ float tile[THREADS];
  int t = threadIdx.x, i = blockIdx.x * THREADS + t;
  tile[t] = i < n ? x[i] : 0.0f;
#ifdef FIXED
  __syncthreads();
#endif
  if (i < n) y[i] = tile[t] - (t > 0 ? tile[t - 1] : 0.0f); /* the bug: tile[t - 1] may not be stored yet */
}

int main() {
  const int n = 200, blocks = (n + THREADS - 1) / THREADS;
  float h[n], out[n];
  for (int i = 0; i < n; i++) h[i] = (float)(i * i % 17);
  float *x = NULL, *y = NULL;
  if (cudaMalloc(&x, sizeof h) != cudaSuccess || cudaMalloc(&y, sizeof h) != cudaSuccess) return 2;
  cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
  CN_LAUNCH(left_diff_kernel, blocks, THREADS, y, x, n);
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  cudaMemcpy(out, y, sizeof out, cudaMemcpyDeviceToHost);
  cudaFree(x);
  cudaFree(y);
  for (int i = 0; i < n; i++) {
    float want = h[i] - (i % THREADS > 0 ? h[i - 1] : 0.0f);
    if (out[i] != want) {
      printf("y[%d] = %g, expected %g\n", i, out[i], want);
      return 1;
    }
  }
  printf("ok\n");
  return 0;
}
