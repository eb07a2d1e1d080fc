/*
 * oob_write.cu: a kernel writes one element past its buffer. The grid covers n = 1000 elements with
 * blocks of 256 threads (1024 threads), and the bounds check is off by one (`i <= n`), so thread
 * (232,0,0) of block (3,0,0) writes y[1000]: 0 bytes after the 4000-byte allocation. On the plain
 * emulator (and often on a card) this passes silently; memcheck reports it. -DFIXED: `i < n`.
 *
 *   deno task emu:run native/tests/sanitizer/oob_write.cu             (1 error, exit 1)
 *   deno task emu:run native/tests/sanitizer/oob_write.cu -D FIXED    (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

__global__ void iota_kernel(float *y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
#ifdef FIXED
  if (i < n) y[i] = (float)i;
#else
  if (i <= n) y[i] = (float)i; /* the bug: i == n is one past the end */
#endif
}

int main() {
  const int n = 1000;
  float *y = NULL;
  if (cudaMalloc(&y, n * sizeof(float)) != cudaSuccess) return 2;
  CN_LAUNCH(iota_kernel, (n + 255) / 256, 256, y, n);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    printf("iota_kernel failed: %s\n", cudaGetErrorString(e));
    return 1;
  }
  static float h[n];
  cudaMemcpy(h, y, sizeof h, cudaMemcpyDeviceToHost);
  cudaFree(y);
  for (int i = 0; i < n; i++)
    if (h[i] != (float)i) {
      printf("y[%d] = %g, expected %d\n", i, h[i], i);
      return 1;
    }
  printf("ok: y[0..%d) = 0..%d\n", n, n - 1);
  return 0;
}
