/*
 * gather.cu: cn_gather_normalize, a training batch built on the device from a dataset kept there as
 * bytes: images[b, :] = ((float)bytes[idx[b], :] / 255 - mean) / std, labels[b] = label_bytes[idx[b]].
 *
 * Each step is one float32 operation, rounded as PyTorch's ToTensor (x / 255) and Normalize
 * ((x - mean) / std) round them, and as the TypeScript backend's per-byte table does: IEEE division
 * (nvcc's default -prec-div=true), no contraction possible. The result is bit-identical.
 *
 * idx is a host array: it is copied into a scratch block on the stream (the copy from pageable
 * memory returns once staged, so the caller may reuse idx at once), used, and freed in stream order.
 * A batch of 64 MNIST images is 50 KB read and 200 KB written: a few microseconds, launch-bound;
 * with 784-byte rows, each thread turns 4 bytes into a float4.
 */
#include "common.h"

#define GATHER_THREADS 256

__device__ __forceinline__ float normalize_byte(unsigned int v, float mean, float std) {
  return ((float)v / 255.0f - mean) / std;
}

/* grid.y walks the batch (looping past 65535), grid.x the pixels; VEC: 4 pixels per thread. */
template <bool VEC>
__global__ void __launch_bounds__(GATHER_THREADS)
    gather_normalize_kernel(float *images, int32_t *labels, const uint8_t *bytes, const uint8_t *label_bytes,
                            const int32_t *idx, int batch, int pixels, float mean, float std) {
  for (int b = blockIdx.y; b < batch; b += gridDim.y) {
    const int64_t sample = idx[b];
    const uint8_t *src = bytes + sample * pixels;
    float *dst = images + (int64_t)b * pixels;
    if (blockIdx.x == 0 && threadIdx.x == 0) labels[b] = label_bytes[sample];
    if (VEC) {
      const int quads = pixels >> 2;
      for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < quads; q += blockDim.x * gridDim.x) {
        const uchar4 v = ((const uchar4 *)src)[q];
        ((float4 *)dst)[q] = make_float4(normalize_byte(v.x, mean, std), normalize_byte(v.y, mean, std),
                                         normalize_byte(v.z, mean, std), normalize_byte(v.w, mean, std));
      }
    } else {
      for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += blockDim.x * gridDim.x) {
        dst[p] = normalize_byte(src[p], mean, std);
      }
    }
  }
}

extern "C" int cn_gather_normalize(float *images, int32_t *labels, const uint8_t *bytes, const uint8_t *label_bytes,
                                   const int32_t *idx, int32_t batch, int32_t pixels, float mean, float std) {
  CN_REQUIRE(batch >= 0 && pixels >= 0, "gather_normalize: sizes must be >= 0, got batch=%d pixels=%d", batch, pixels);
  if (batch == 0) return CN_OK;
  CN_REQUIRE(idx != NULL, "gather_normalize: idx is NULL (expected a host array of %d sample indices)", batch);
  CN_REQUIRE(labels != NULL && label_bytes != NULL, "gather_normalize: %s is NULL (batch=%d)",
             labels ? "label_bytes" : "labels", batch);
  CN_REQUIRE(pixels == 0 || (images != NULL && bytes != NULL), "gather_normalize: %s is NULL (batch=%d, pixels=%d)",
             images ? "bytes" : "images", batch, pixels);
  for (int32_t b = 0; b < batch; ++b) {
    CN_REQUIRE(idx[b] >= 0, "gather_normalize: idx[%d] = %d is negative (expected a sample index >= 0)", b, idx[b]);
  }
  CN_TRY(cn_init());
  int32_t *didx = NULL;
  CN_TRY(cn_alloc((void **)&didx, (int64_t)batch * 4));
  int st = cn_memcpy_h2d(didx, idx, (int64_t)batch * 4);
  if (st == CN_OK) {
    const bool vec = pixels % 4 == 0 && ((uintptr_t)images & 15) == 0 && ((uintptr_t)bytes & 3) == 0;
    const int items = vec ? pixels / 4 : pixels;
    int gx = (items + GATHER_THREADS - 1) / GATHER_THREADS;
    if (gx < 1) gx = 1;
    if (gx > 65535) gx = 65535;
    const dim3 grid((unsigned)gx, (unsigned)(batch < 65535 ? batch : 65535));
    if (vec) {
      auto k = gather_normalize_kernel<true>;
      CN_LAUNCH(k, grid, GATHER_THREADS, images, labels, bytes, label_bytes, (const int32_t *)didx, batch, pixels,
                mean, std);
    } else {
      auto k = gather_normalize_kernel<false>;
      CN_LAUNCH(k, grid, GATHER_THREADS, images, labels, bytes, label_bytes, (const int32_t *)didx, batch, pixels,
                mean, std);
    }
    st = CN_CHECK_LAUNCH("gather_normalize");
  }
  const int fs = cn_free(didx); /* reused only by later work on the stream */
  return st ? st : fs;
}
