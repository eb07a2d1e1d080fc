/*
 * use_after_free.cu: the input buffer is released with cudaFree before the kernel that reads it is
 * launched (the host code was reordered). The emulator used to hand the memory back to the heap, so
 * the kernel still read the old values; memcheck reports every read of the freed allocation.
 * -DFIXED: cudaFree after the kernel.
 *
 *   deno task emu:run native/tests/sanitizer/use_after_free.cu             (errors, exit 1)
 *   deno task emu:run native/tests/sanitizer/use_after_free.cu -D FIXED    (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

__global__ void double_kernel(float *y, const float *x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = 2.0f * x[i];
}

int main() {
  const int n = 64;
  float h[n];
  for (int i = 0; i < n; i++) h[i] = (float)i;
  float *x = NULL, *y = NULL;
  if (cudaMalloc(&x, sizeof h) != cudaSuccess || cudaMalloc(&y, sizeof h) != cudaSuccess) return 2;
  cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
#ifndef FIXED
  cudaFree(x); /* the bug: x is still needed by the kernel below */
#endif
  CN_LAUNCH(double_kernel, 1, n, y, x, n);
  cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    printf("double_kernel failed: %s\n", cudaGetErrorString(e));
    return 1;
  }
#ifdef FIXED
  cudaFree(x);
#endif
  cudaMemcpy(h, y, sizeof h, cudaMemcpyDeviceToHost);
  cudaFree(y);
  for (int i = 0; i < n; i++)
    if (h[i] != 2.0f * i) {
      printf("y[%d] = %g, expected %d\n", i, h[i], 2 * i);
      return 1;
    }
  printf("ok\n");
  return 0;
}
