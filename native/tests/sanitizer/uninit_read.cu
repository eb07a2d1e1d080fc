/*
 * uninit_read.cu: the host uploads only half of the input (bytes counted in elements of the wrong
 * type), and the kernel reads all of it. The rest is memory nothing wrote since cudaMalloc: initcheck
 * reports the first read of it (thread (32,0,0) of block (0,0,0), 128 bytes into the allocation).
 * -DFIXED: the whole input is uploaded.
 *
 *   deno task emu:run native/tests/sanitizer/uninit_read.cu --tool initcheck             (errors, exit 1)
 *   deno task emu:run native/tests/sanitizer/uninit_read.cu --tool initcheck -D FIXED    (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

__global__ void square_kernel(float *y, const float *x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] * x[i];
}

int main() {
  const int n = 64;
  float h[n];
  for (int i = 0; i < n; i++) h[i] = (float)i;
  float *x = NULL, *y = NULL;
  if (cudaMalloc(&x, sizeof h) != cudaSuccess || cudaMalloc(&y, sizeof h) != cudaSuccess) return 2;
#ifdef FIXED
  cudaMemcpy(x, h, n * sizeof(float), cudaMemcpyHostToDevice);
#else
  cudaMemcpy(x, h, n * sizeof(short), cudaMemcpyHostToDevice); /* the bug: half the bytes */
#endif
  CN_LAUNCH(square_kernel, 1, n, y, x, n);
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  cudaMemcpy(h, y, sizeof h, cudaMemcpyDeviceToHost);
  cudaFree(x);
  cudaFree(y);
  for (int i = 0; i < n; i++)
    if (h[i] != (float)(i * i)) {
      printf("y[%d] = %g, expected %d\n", i, h[i], i * i);
      return 1;
    }
  printf("ok\n");
  return 0;
}
