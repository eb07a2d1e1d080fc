/*
 * sync_divergent_shfl.cu: a warp sum where the upper half of the warp skips the first shuffle
 * (`if (lane < 16)` around it). On a card the two halves then wait at different shuffles: lanes
 * exchange values from the wrong step, or hang. The emulator compared only the kind of warp op
 * (both are __shfl_xor_sync), so it noticed only four shuffles later, as a deadlock when lanes 16-31
 * exited; synccheck compares the call sites and reports the warp and where each lane waits:
 *
 *   deno task emu:run native/tests/sanitizer/sync_divergent_shfl.cu --tool synccheck   (error, exit 1)
 *   deno task emu:run native/tests/sanitizer/sync_divergent_shfl.cu -D FIXED --tool synccheck   (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

__global__ void warp_sum_kernel(float *out, const float *x) {
  int lane = threadIdx.x & 31;
  float v = x[blockIdx.x * 32 + lane];
#ifdef FIXED
  v += __shfl_xor_sync(0xffffffffu, v, 16);
#else
  if (lane < 16) v += __shfl_xor_sync(0xffffffffu, v, 16); /* the bug: lanes 16-31 skip this shuffle */
#endif
  for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) out[blockIdx.x] = v;
}

int main() {
  const int blocks = 3;
  float h[blocks * 32], out[blocks];
  for (int i = 0; i < blocks * 32; i++) h[i] = (float)(i % 9);
  float *x = NULL, *y = NULL;
  if (cudaMalloc(&x, sizeof h) != cudaSuccess || cudaMalloc(&y, sizeof out) != cudaSuccess) return 2;
  cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
  CN_LAUNCH(warp_sum_kernel, blocks, 32, y, x);
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  cudaMemcpy(out, y, sizeof out, cudaMemcpyDeviceToHost);
  cudaFree(x);
  cudaFree(y);
  for (int b = 0; b < blocks; b++) {
    float want = 0.0f;
    for (int l = 0; l < 32; l++) want += h[b * 32 + l];
    if (out[b] != want) {
      printf("sum of warp %d = %g, expected %g\n", b, out[b], want);
      return 1;
    }
  }
  printf("ok\n");
  return 0;
}
