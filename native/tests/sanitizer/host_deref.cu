/*
 * host_deref.cu: host code reads a result straight through the device pointer. The plain emulator's
 * device memory is host memory, so this worked there; on a card it is a segmentation fault.
 * memcheck reports the host read of device memory. -DFIXED: cudaMemcpy to the host first.
 *
 *   deno task emu:run native/tests/sanitizer/host_deref.cu             (1 error, exit 1)
 *   deno task emu:run native/tests/sanitizer/host_deref.cu -D FIXED    (clean, exit 0)
 */
#include <stdio.h>

#include "../../src/common.h"

__global__ void sum_kernel(float *out, int n) {
  if (threadIdx.x == 0 && blockIdx.x == 0) {
    float s = 0.0f;
    for (int i = 1; i <= n; i++) s += (float)i;
    *out = s;
  }
}

int main() {
  float *d = NULL;
  if (cudaMalloc(&d, 4 * sizeof(float)) != cudaSuccess) return 2;
  CN_LAUNCH(sum_kernel, 1, 32, d + 2, 10);
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  float s = 0.0f;
#ifdef FIXED
  cudaMemcpy(&s, d + 2, sizeof s, cudaMemcpyDeviceToHost);
#else
  s = d[2]; /* the bug: d is a device pointer */
#endif
  cudaFree(d);
  printf("sum = %g\n", s);
  return s == 55.0f ? 0 : 1;
}
