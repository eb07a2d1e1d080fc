/*
 * Over 500 lines: one standalone program, so that it builds with nvcc alone and runs on a card as on the
 * emulator; one short check per emulator feature.
 * emu_selftest.cu: checks the CUDA emulator (native/emu) on small kernels, one PASS/FAIL line each;
 * exits non-zero when any fails. Plain CUDA: the same file builds with nvcc and runs on a card,
 * where it must pass too (the emulator-only checks are skipped there).
 *
 *   deno task build:native --selftest        (g++ -DCN_EMULATION, then runs it)
 *   nvcc -o /tmp/selftest native/tests/emu_selftest.cu && /tmp/selftest
 */
#include "../src/common.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CN_EMULATION
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* common.h's helpers that the library's runtime.cu defines: this program stands alone. */
static cudaStream_t g_stream = 0; /* test_graph captures on a stream of its own */
cudaStream_t cn_stream(void) { return g_stream; }
int cn_cuda_status(cudaError_t err, const char *what) {
  if (err == cudaSuccess) return 0;
  fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(err));
  return CN_ERR_CUDA;
}
int cn_launch_status(const char *what) { return cn_cuda_status(cudaGetLastError(), what); } /* CN_CHECK_LAUNCH */

static int g_failed = 0, g_passed = 0;

static void check(bool ok, const char *name, const char *fmt = "", ...) {
  if (ok) {
    printf("PASS %s\n", name);
    g_passed++;
    return;
  }
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  printf("FAIL %s: %s\n", name, detail);
  g_failed++;
}

#define CUDA_OK(expr)                                                                         \
  do {                                                                                        \
    cudaError_t e_ = (expr);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      printf("FAIL %s:%d %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_));       \
      exit(1);                                                                                \
    }                                                                                         \
  } while (0)

template <class T>
static T *dev_alloc(size_t n) {
  T *p = nullptr;
  CUDA_OK(cudaMalloc((void **)&p, n * sizeof(T)));
  return p;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ kernels */

/* Block sums of x through a shared tile: a tree reduction with a barrier inside the loop. */
__global__ void block_sum_kernel(float *sums, const float *x, int n) {
  __shared__ float tile[256];
  int t = threadIdx.x;
  int i = blockIdx.x * blockDim.x + t;
  tile[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) tile[t] += tile[t + stride];
    __syncthreads();
  }
  if (t == 0) sums[blockIdx.x] = tile[0];
}

/* 1024 threads reverse a vector through shared memory. */
__global__ void reverse_kernel(int *out, const int *in) {
  __shared__ int s[1024];
  int t = threadIdx.x;
  s[t] = in[t];
  __syncthreads();
  out[t] = s[blockDim.x - 1 - t];
}

/* Every thread of a 3-D grid of 3-D blocks writes its coordinates at its global linear index. */
__global__ void coords_kernel(int *out) {
  int bx = blockIdx.x, by = blockIdx.y, bz = blockIdx.z;
  int block_linear = bx + gridDim.x * (by + gridDim.y * bz);
  int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int i = block_linear * (blockDim.x * blockDim.y * blockDim.z) + t;
  out[i] = (int)(threadIdx.x | threadIdx.y << 4 | threadIdx.z << 8 | bx << 12 | by << 16 | bz << 20);
}

/* Warp ops: out[lane-wise results] for each warp of the block. */
__global__ void warp_kernel(float *sum_down, float *sum_xor, float *bcast, float *scan, float *seg8, unsigned *ballot,
                            double *dsum) {
  int t = threadIdx.x + blockDim.x * blockIdx.x;
  int lane = threadIdx.x & 31;
  float v = (float)(t % 37) + 0.5f;
  float s = v;
  for (int off = 16; off > 0; off /= 2) s += __shfl_down_sync(0xffffffffu, s, off);
  sum_down[t] = s; /* lane 0 holds the warp sum */
  float x = v;
#pragma unroll
  for (int m = 1; m < 32; m *= 2) x += __shfl_xor_sync(0xffffffffu, x, m);
  sum_xor[t] = x; /* every lane holds it */
  bcast[t] = __shfl_sync(0xffffffffu, v, 5);
  float c = v; /* inclusive scan */
  for (int off = 1; off < 32; off *= 2) {
    float y = __shfl_up_sync(0xffffffffu, c, off);
    if (lane >= off) c += y;
  }
  scan[t] = c;
  float g = v; /* sums over segments of 8 lanes */
  for (int m = 1; m < 8; m *= 2) g += __shfl_xor_sync(0xffffffffu, g, m, 8);
  seg8[t] = g;
  ballot[t] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  double d = (double)t * 0.25;
  for (int off = 16; off > 0; off /= 2) d += __shfl_down_sync(0xffffffffu, d, off);
  __syncwarp();
  dsum[t] = d;
}

__global__ void atomics_kernel(int *counts, float *fsum, int *imax, int *imin, unsigned *cas_count, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&counts[i % 10], 1);
  atomicAdd(fsum, 0.5f);
  atomicMax(imax, (i * 7919) % 100003);
  atomicMin(imin, (i * 7919) % 100003 - 50000);
  unsigned old = *cas_count, seen;
  do { /* increment through compare-and-swap */
    seen = old;
    old = atomicCAS(cas_count, seen, seen + 1);
  } while (old != seen);
}

/* Iterated 3-point smoothing in shared memory: two barriers per step. */
__global__ void smooth_kernel(float *out, const float *in, int steps) {
  __shared__ float a[200];
  __shared__ float b[200];
  int t = threadIdx.x;
  a[t] = in[blockIdx.x * 200 + t];
  __syncthreads();
  for (int s = 0; s < steps; s++) {
    float l = a[t > 0 ? t - 1 : t], r = a[t < 199 ? t + 1 : t];
    b[t] = (l + a[t] + r) / 3.0f;
    __syncthreads();
    a[t] = b[t];
    __syncthreads();
  }
  out[blockIdx.x * 200 + t] = a[t];
}

__global__ void sync_count_kernel(int *out) {
  int t = threadIdx.x;
  int c = __syncthreads_count(t % 4 == 0);
  int o = __syncthreads_or(t == 77);
  int a = __syncthreads_and(t < 1000);
  out[t] = c * 100 + o * 10 + a;
}

/* A template kernel with two parameters, bound before launching (common.h's rule). */
template <int TILE, int REPS>
__global__ void tile_kernel(float *y, const float *x, int n) {
  __shared__ float s[TILE];
  int i = blockIdx.x * TILE + threadIdx.x;
  s[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  float acc = 0.0f;
  for (int r = 0; r < REPS; r++) acc += s[(threadIdx.x + r) % TILE];
  if (i < n) y[i] = acc;
}

/* float4 loads, grid-stride loop, math functions. */
__global__ void math_kernel(float *y, const float4 *x4, int n4) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    float4 v = __ldg(&x4[i]);
    float a = fmaxf(v.x, v.y) + fminf(v.z, v.w);
    float b = expf(logf(fabsf(v.x) + 1.0f)) + sqrtf(fabsf(v.y)) * rsqrtf(fabsf(v.y) + 1.0f);
    float c = __fdividef(__expf(-fabsf(v.z)), 1.0f + tanhf(v.w)) + powf(2.0f, floorf(v.x)) + ceilf(v.y);
    y[i] = fmaf(a, 2.0f, b + c) + (v.x > FLT_MAX ? INFINITY : 0.0f);
  }
}

__global__ void saxpy_kernel(float *y, const float *x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

__global__ void barrier_loop_kernel(float *out, int rounds) {
  __shared__ float s[1024];
  int t = threadIdx.x;
  float v = (float)t;
  for (int r = 0; r < rounds; r++) {
    s[t] = v;
    __syncthreads();
    v = s[(t + 1) % blockDim.x];
  }
  out[blockIdx.x * blockDim.x + t] = v;
}

__global__ void noop_kernel(void) {}

#ifdef CN_EMULATION
/* Kernel bugs the emulator must report (each runs in a child process that should abort). */
__global__ void early_exit_kernel(float *x) {
  if (threadIdx.x >= 32) return;
  __syncthreads();
  x[threadIdx.x] = 1.0f;
}
__global__ void split_barrier_kernel(float *x) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  x[threadIdx.x] = 1.0f;
}
__global__ void lane_missing_kernel(float *x) {
  float v = (float)threadIdx.x;
  if (threadIdx.x != 3) v += __shfl_down_sync(0xffffffffu, v, 1);
  x[threadIdx.x] = v;
}
#endif

/* ------------------------------------------------------------------ checks */

static void test_block_sum(void) {
  const int n = 1000, threads = 256, blocks = (n + threads - 1) / threads;
  float hx[n], hs[blocks];
  for (int i = 0; i < n; i++) hx[i] = (float)((i * 37) % 101) * 0.25f;
  float *x = dev_alloc<float>(n), *s = dev_alloc<float>(blocks);
  CUDA_OK(cudaMemcpy(x, hx, sizeof hx, cudaMemcpyHostToDevice));
  CN_LAUNCH(block_sum_kernel, blocks, threads, s, x, n);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaMemcpy(hs, s, sizeof hs, cudaMemcpyDeviceToHost));
  bool ok = true;
  int bad = -1;
  for (int b = 0; b < blocks; b++) {
    double ref = 0;
    for (int i = b * threads; i < n && i < (b + 1) * threads; i++) ref += hx[i];
    if (fabs(hs[b] - ref) > 1e-3) ok = false, bad = b;
  }
  check(ok, "shared tile + __syncthreads tree reduction (4 blocks of 256, n=1000)", "block %d wrong", bad);
  cudaFree(x);
  cudaFree(s);
}

static void test_reverse_1024(void) {
  int h[1024], o[1024];
  for (int i = 0; i < 1024; i++) h[i] = i * 3 + 1;
  int *in = dev_alloc<int>(1024), *out = dev_alloc<int>(1024);
  CUDA_OK(cudaMemcpy(in, h, sizeof h, cudaMemcpyHostToDevice));
  CN_LAUNCH(reverse_kernel, 1, 1024, out, in);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaMemcpy(o, out, sizeof o, cudaMemcpyDeviceToHost));
  int bad = -1;
  for (int i = 0; i < 1024; i++)
    if (o[i] != h[1023 - i]) bad = i;
  check(bad < 0, "a block of 1024 threads reverses through shared memory", "index %d", bad);
  cudaFree(in);
  cudaFree(out);
}

static void test_coords(void) {
  dim3 grid(3, 2, 2), block(8, 4, 2);
  const int n = 3 * 2 * 2 * 8 * 4 * 2;
  int *d = dev_alloc<int>(n);
  CUDA_OK(cudaMemset(d, 0xff, n * sizeof(int)));
  CN_LAUNCH(coords_kernel, grid, block, d);
  CUDA_OK(cudaGetLastError());
  static int h[n];
  CUDA_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  int bad = -1;
  for (int bz = 0; bz < 2; bz++)
    for (int by = 0; by < 2; by++)
      for (int bx = 0; bx < 3; bx++)
        for (int tz = 0; tz < 2; tz++)
          for (int ty = 0; ty < 4; ty++)
            for (int tx = 0; tx < 8; tx++) {
              int i = (bx + 3 * (by + 2 * bz)) * 64 + tx + 8 * (ty + 4 * tz);
              int want = tx | ty << 4 | tz << 8 | bx << 12 | by << 16 | bz << 20;
              if (h[i] != want) bad = i;
            }
  check(bad < 0, "3-D grid (3,2,2) of 3-D blocks (8,4,2): threadIdx/blockIdx/blockDim/gridDim", "index %d: %x", bad,
        bad >= 0 ? h[bad] : 0);
  /* 2-D: a (16,16) block over a (5,3) grid */
  const int n2 = 5 * 3 * 256;
  int *d2 = dev_alloc<int>(n2);
  CN_LAUNCH(coords_kernel, dim3(5, 3), dim3(16, 16), d2);
  CUDA_OK(cudaGetLastError());
  static int h2[n2];
  CUDA_OK(cudaMemcpy(h2, d2, sizeof h2, cudaMemcpyDeviceToHost));
  bad = -1;
  for (int by = 0; by < 3; by++)
    for (int bx = 0; bx < 5; bx++)
      for (int ty = 0; ty < 16; ty++)
        for (int tx = 0; tx < 16; tx++) {
          int i = (bx + 5 * by) * 256 + tx + 16 * ty;
          if (h2[i] != (tx | ty << 4 | bx << 12 | by << 16)) bad = i;
        }
  check(bad < 0, "2-D grid (5,3) of 2-D blocks (16,16)", "index %d", bad);
  cudaFree(d);
  cudaFree(d2);
}

static void test_warps(void) {
  const int blocks = 3, threads = 128, n = blocks * threads;
  float *sd = dev_alloc<float>(n), *sx = dev_alloc<float>(n), *bc = dev_alloc<float>(n), *sc = dev_alloc<float>(n),
        *s8 = dev_alloc<float>(n);
  unsigned *ba = dev_alloc<unsigned>(n);
  double *ds = dev_alloc<double>(n);
  CN_LAUNCH(warp_kernel, blocks, threads, sd, sx, bc, sc, s8, ba, ds);
  CUDA_OK(cudaGetLastError());
  static float hsd[n], hsx[n], hbc[n], hsc[n], hs8[n];
  static unsigned hba[n];
  static double hds[n];
  CUDA_OK(cudaMemcpy(hsd, sd, sizeof hsd, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(hsx, sx, sizeof hsx, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(hbc, bc, sizeof hbc, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(hsc, sc, sizeof hsc, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(hs8, s8, sizeof hs8, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(hba, ba, sizeof hba, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(hds, ds, sizeof hds, cudaMemcpyDeviceToHost));
  bool down = true, xr = true, bcast = true, scan = true, seg = true, bal = true, dbl = true;
  unsigned want_ballot = 0;
  for (int l = 0; l < 32; l++)
    if (l % 3 == 0) want_ballot |= 1u << l;
  for (int w = 0; w < n / 32; w++) {
    float sum = 0, run = 0;
    double dsum = 0;
    for (int l = 0; l < 32; l++) sum += (float)((w * 32 + l) % 37) + 0.5f, dsum += (w * 32 + l) * 0.25;
    if (fabsf(hsd[w * 32] - sum) > 1e-3f) down = false;
    if (fabs(hds[w * 32] - dsum) > 1e-9) dbl = false;
    for (int l = 0; l < 32; l++) {
      int t = w * 32 + l;
      float v = (float)(t % 37) + 0.5f;
      run += v;
      if (fabsf(hsx[t] - sum) > 1e-3f) xr = false;
      if (hbc[t] != (float)((w * 32 + 5) % 37) + 0.5f) bcast = false;
      if (fabsf(hsc[t] - run) > 1e-3f) scan = false;
      float g = 0;
      for (int k = l & ~7; k < (l & ~7) + 8; k++) g += (float)((w * 32 + k) % 37) + 0.5f;
      if (fabsf(hs8[t] - g) > 1e-3f) seg = false;
      if (hba[t] != want_ballot) bal = false;
    }
  }
  check(down, "__shfl_down_sync warp sum (lane 0)");
  check(xr, "__shfl_xor_sync butterfly sum (every lane)");
  check(bcast, "__shfl_sync broadcast from lane 5");
  check(scan, "__shfl_up_sync inclusive scan");
  check(seg, "__shfl_xor_sync with width 8 (segment sums)");
  check(bal, "__ballot_sync", "got 0x%08x, want 0x%08x", hba[0], want_ballot);
  check(dbl, "__shfl_down_sync on doubles + __syncwarp");
  cudaFree(sd), cudaFree(sx), cudaFree(bc), cudaFree(sc), cudaFree(s8), cudaFree(ba), cudaFree(ds);
}

static void test_atomics(void) {
  const int n = 64 * 256 - 17;
  int *counts = dev_alloc<int>(10), *imax = dev_alloc<int>(1), *imin = dev_alloc<int>(1);
  float *fsum = dev_alloc<float>(1);
  unsigned *cas = dev_alloc<unsigned>(1);
  CUDA_OK(cudaMemset(counts, 0, 10 * sizeof(int)));
  CUDA_OK(cudaMemset(fsum, 0, sizeof(float)));
  CUDA_OK(cudaMemset(cas, 0, sizeof(unsigned)));
  int lo = -2147483647 - 1, hi = 2147483647;
  CUDA_OK(cudaMemcpy(imax, &lo, sizeof lo, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(imin, &hi, sizeof hi, cudaMemcpyHostToDevice));
  CN_LAUNCH(atomics_kernel, 64, 256, counts, fsum, imax, imin, cas, n);
  CUDA_OK(cudaGetLastError());
  int hc[10], hmax, hmin;
  float hf;
  unsigned hcas;
  CUDA_OK(cudaMemcpy(hc, counts, sizeof hc, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(&hmax, imax, 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(&hmin, imin, 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(&hf, fsum, 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(&hcas, cas, 4, cudaMemcpyDeviceToHost));
  bool ok = true;
  for (int k = 0; k < 10; k++) ok = ok && hc[k] == n / 10 + (k < n % 10 ? 1 : 0);
  int wmax = lo, wmin = hi;
  for (int i = 0; i < n; i++) {
    int v = (i * 7919) % 100003;
    wmax = v > wmax ? v : wmax;
    wmin = v - 50000 < wmin ? v - 50000 : wmin;
  }
  check(ok, "atomicAdd(int) from 16367 threads", "counts[0] = %d", hc[0]);
  check(hf == 0.5f * n, "atomicAdd(float)", "got %g want %g", hf, 0.5 * n);
  check(hmax == wmax && hmin == wmin, "atomicMax/atomicMin(int)", "max %d/%d min %d/%d", hmax, wmax, hmin, wmin);
  check(hcas == (unsigned)n, "atomicCAS increment loop", "got %u", hcas);
  cudaFree(counts), cudaFree(imax), cudaFree(imin), cudaFree(fsum), cudaFree(cas);
}

static void test_smooth(void) {
  const int blocks = 3, steps = 25;
  static float h[blocks * 200], o[blocks * 200], ref[blocks * 200];
  for (int i = 0; i < blocks * 200; i++) h[i] = (float)((i * 131) % 17) - 8.0f;
  float *in = dev_alloc<float>(blocks * 200), *out = dev_alloc<float>(blocks * 200);
  CUDA_OK(cudaMemcpy(in, h, sizeof h, cudaMemcpyHostToDevice));
  CN_LAUNCH(smooth_kernel, blocks, 200, out, in, steps);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaMemcpy(o, out, sizeof o, cudaMemcpyDeviceToHost));
  for (int b = 0; b < blocks; b++) {
    float a[200], nb[200];
    memcpy(a, h + b * 200, sizeof a);
    for (int s = 0; s < steps; s++) {
      for (int t = 0; t < 200; t++) nb[t] = (a[t > 0 ? t - 1 : t] + a[t] + a[t < 199 ? t + 1 : t]) / 3.0f;
      memcpy(a, nb, sizeof a);
    }
    memcpy(ref + b * 200, a, sizeof a);
  }
  int bad = -1;
  for (int i = 0; i < blocks * 200; i++)
    if (fabsf(o[i] - ref[i]) > 1e-5f) bad = i;
  check(bad < 0, "barriers inside a loop (25 smoothing steps, blocks of 200 = a partial warp)", "index %d: %g vs %g",
        bad, bad >= 0 ? o[bad] : 0.0f, bad >= 0 ? ref[bad] : 0.0f);
  cudaFree(in), cudaFree(out);
}

static void test_sync_count(void) {
  int *d = dev_alloc<int>(300);
  CN_LAUNCH(sync_count_kernel, 1, 300, d);
  CUDA_OK(cudaGetLastError());
  int h[300];
  CUDA_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  check(h[0] == 75 * 100 + 10 + 1 && h[299] == h[0], "__syncthreads_count/_or/_and", "got %d", h[0]);
  cudaFree(d);
}

static void test_template_and_math(void) {
  const int n = 1000;
  static float hx[n], hy[n];
  for (int i = 0; i < n; i++) hx[i] = (float)(i % 13) - 6.0f;
  float *x = dev_alloc<float>(n), *y = dev_alloc<float>(n);
  CUDA_OK(cudaMemcpy(x, hx, sizeof hx, cudaMemcpyHostToDevice));
  auto k = tile_kernel<64, 8>;
  CN_LAUNCH(k, (n + 63) / 64, 64, y, x, n);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaMemcpy(hy, y, sizeof hy, cudaMemcpyDeviceToHost));
  int bad = -1;
  for (int i = 0; i < n; i++) {
    int b = i / 64, t = i % 64;
    float acc = 0;
    for (int r = 0; r < 8; r++) {
      int j = b * 64 + (t + r) % 64;
      acc += j < n ? hx[j] : 0.0f;
    }
    if (hy[i] != acc) bad = i;
  }
  check(bad < 0, "a bound template kernel tile_kernel<64, 8>", "index %d", bad);

  const int n4 = 250; /* 1000 floats */
  CN_LAUNCH(math_kernel, 2, 64, y, (const float4 *)x, n4);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaMemcpy(hy, y, n4 * sizeof(float), cudaMemcpyDeviceToHost));
  bad = -1;
  for (int i = 0; i < n4; i++) {
    float vx = hx[4 * i], vy = hx[4 * i + 1], vz = hx[4 * i + 2], vw = hx[4 * i + 3];
    double a = fmax(vx, vy) + fmin(vz, vw);
    double b = exp(log(fabs(vx) + 1.0)) + sqrt(fabs(vy)) / sqrt(fabs(vy) + 1.0);
    double c = exp(-fabs(vz)) / (1.0 + tanh(vw)) + pow(2.0, floor(vx)) + ceil(vy);
    double ref = a * 2.0 + b + c;
    if (!(fabs(hy[i] - ref) <= 1e-4 * (1.0 + fabs(ref)))) bad = i;
  }
  check(bad < 0, "float4 loads, __ldg, grid-stride loop, math functions", "index %d", bad);
  cudaFree(x), cudaFree(y);
}

static void test_errors_and_runtime(void) {
  cudaGetLastError();
  CN_LAUNCH(noop_kernel, 1, 1025);
  cudaError_t e1 = cudaGetLastError(), e2 = cudaGetLastError();
  check(e1 == cudaErrorInvalidConfiguration && e2 == cudaSuccess,
        "1025 threads: cudaErrorInvalidConfiguration, then cleared", "got %d then %d", (int)e1, (int)e2);
  CN_LAUNCH(noop_kernel, dim3(1), dim3(1, 1, 65));
  e1 = cudaPeekAtLastError();
  e2 = cudaGetLastError();
  check(e1 == cudaErrorInvalidConfiguration && e2 == e1, "block z = 65 is invalid; cudaPeekAtLastError keeps it");
  CN_LAUNCH(noop_kernel, 0, 32);
  check(cudaGetLastError() == cudaErrorInvalidConfiguration, "an empty grid is invalid");
  check(CN_CHECK_LAUNCH("noop") == 0, "CN_CHECK_LAUNCH after a good state");

  int count = 0;
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceCount(&count));
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  size_t free_b = 0, total_b = 0;
  CUDA_OK(cudaMemGetInfo(&free_b, &total_b));
  int rt = 0, drv = 0;
  CUDA_OK(cudaRuntimeGetVersion(&rt));
  CUDA_OK(cudaDriverGetVersion(&drv));
  printf("info device \"%s\" cc %d.%d, %d SMs, %.1f GiB (%.1f free), runtime %d, driver %d\n", prop.name, prop.major,
         prop.minor, prop.multiProcessorCount, total_b / 1073741824.0, free_b / 1073741824.0, rt, drv);
  check(count >= 1 && prop.warpSize == 32 && prop.maxThreadsPerBlock == 1024 && free_b <= total_b && rt > 0 && drv > 0,
        "device count, properties, memory info, versions");

  cudaStream_t st;
  cudaEvent_t a, b;
  CUDA_OK(cudaStreamCreate(&st));
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  float *p = dev_alloc<float>(1 << 16), *q = dev_alloc<float>(1 << 16);
  CUDA_OK(cudaEventRecord(a, st));
  CUDA_OK(cudaMemsetAsync(p, 0, (1 << 16) * sizeof(float), st));
  CUDA_OK(cudaMemcpyAsync(q, p, (1 << 16) * sizeof(float), cudaMemcpyDeviceToDevice, st));
  CUDA_OK(cudaEventRecord(b, st));
  CUDA_OK(cudaStreamSynchronize(st));
  float ms = -1, last = -1;
  CUDA_OK(cudaEventElapsedTime(&ms, a, b));
  CUDA_OK(cudaMemcpy(&last, q + (1 << 16) - 1, 4, cudaMemcpyDeviceToHost));
  check(ms >= 0 && last == 0.0f, "streams, events, async memset/memcpy", "ms %g last %g", ms, last);
  CUDA_OK(cudaEventDestroy(a));
  CUDA_OK(cudaEventDestroy(b));
  CUDA_OK(cudaStreamDestroy(st));
  cudaFree(p), cudaFree(q);

#ifdef CN_EMULATION
  float *small = dev_alloc<float>(4), *fresh = dev_alloc<float>(4);
  float host[8] = {0};
  fflush(stderr);
  int saved = dup(2), devnull = open("/dev/null", O_WRONLY); /* the emulator explains the error on stderr */
  dup2(devnull, 2);
  cudaError_t over = cudaMemcpy(small, host, sizeof host, cudaMemcpyHostToDevice);
  fflush(stderr);
  dup2(saved, 2);
  close(saved), close(devnull);
  check(over == cudaErrorInvalidValue && cudaGetLastError() == cudaErrorInvalidValue,
        "emulator: cudaMemcpy past the end of an allocation is cudaErrorInvalidValue");
  float poison;
  CUDA_OK(cudaMemcpy(&poison, fresh, 4, cudaMemcpyDeviceToHost));
  check(isnan(poison), "emulator: fresh cudaMalloc memory reads as NaN (poison)");
  cudaFree(small), cudaFree(fresh);
#endif
}

#ifdef CN_EMULATION
/* Runs `fn` in a child process; passes when the child aborts and its stderr contains every `want`. */
static void expect_abort(const char *name, void (*fn)(void), const char *want1, const char *want2) {
  int pipefd[2];
  if (pipe(pipefd) != 0) {
    check(false, name, "pipe failed");
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    dup2(pipefd[1], 2);
    fn();
    _exit(0);
  }
  close(pipefd[1]);
  static char buf[8192];
  size_t len = 0;
  ssize_t r;
  while ((r = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
  buf[len] = 0;
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  bool ok = aborted && strstr(buf, want1) && (!want2 || strstr(buf, want2));
  check(ok, name, "aborted %d, stderr:\n%s", (int)aborted, buf);
  if (ok && getenv("CN_SELFTEST_VERBOSE")) fputs(buf, stdout);
}

static float *g_scratch;
static void run_early_exit(void) { CN_LAUNCH(early_exit_kernel, 2, 64, g_scratch); }
static void run_split_barrier(void) { CN_LAUNCH(split_barrier_kernel, 1, 32, g_scratch); }
static void run_lane_missing(void) { CN_LAUNCH(lane_missing_kernel, 1, 64, g_scratch); }
static void run_outside(void) { __syncthreads(); }

static void test_bug_reports(void) {
  g_scratch = dev_alloc<float>(1024);
  expect_abort("emulator: deadlock report (threads exit before a __syncthreads)", run_early_exit,
               "deadlock in kernel early_exit_kernel", "32 threads have exited: linear ids 32-63");
  expect_abort("emulator: threads at two different __syncthreads() calls", run_split_barrier,
               "different __syncthreads() calls", "split_barrier_kernel");
  expect_abort("emulator: a lane missing from a warp shuffle", run_lane_missing, "deadlock",
               "wait at __shfl_down_sync()");
  expect_abort("emulator: __syncthreads outside a kernel", run_outside, "called outside a kernel", nullptr);
  cudaFree(g_scratch);
}

/* Costs of the emulator itself (printed, not checked: timings vary by machine). */
static void bench(void) {
  const int n = 100000;
  float *x = dev_alloc<float>(n), *y = dev_alloc<float>(n);
  CUDA_OK(cudaMemset(x, 0, n * sizeof(float)));
  CUDA_OK(cudaMemset(y, 0, n * sizeof(float)));
  CN_LAUNCH(saxpy_kernel, cn_blocks(n, 256), 256, y, x, 2.0f, n); /* warm up: stacks, pages */
  double best = 1e9;
  for (int r = 0; r < 5; r++) {
    double t0 = now_s();
    CN_LAUNCH(saxpy_kernel, cn_blocks(n, 256), 256, y, x, 2.0f, n);
    best = fmin(best, now_s() - t0);
  }
  printf("bench no-sync kernel: %d threads (saxpy, blocks of 256) in %.2f ms = %.1f ns/thread\n", n, best * 1e3,
         best * 1e9 / n);
  best = 1e9;
  for (int r = 0; r < 3; r++) {
    double t1 = now_s();
    CN_LAUNCH(saxpy_kernel, n, 1, y, x, 2.0f, n);
    best = fmin(best, now_s() - t1);
  }
  printf("bench blocks: %d blocks of 1 thread in %.2f ms = %.1f ns/block\n", n, best * 1e3, best * 1e9 / n);
  double t0 = now_s();
  for (int r = 0; r < 1000; r++) CN_LAUNCH(noop_kernel, 1, 32);
  printf("bench launch overhead: %.2f us per launch of one 32-thread block\n", (now_s() - t0) * 1e6 / 1000);
  const int threads_list[3] = {32, 256, 1024};
  for (int k = 0; k < 3; k++) {
    int th = threads_list[k], rounds = 200;
    CN_LAUNCH(barrier_loop_kernel, 1, th, y, 2);
    cn_emu::Stats s0 = cn_emu::stats();
    best = 1e9;
    for (int r = 0; r < 3; r++) {
      double t1 = now_s();
      CN_LAUNCH(barrier_loop_kernel, 1, th, y, rounds);
      best = fmin(best, now_s() - t1);
    }
    cn_emu::Stats s1 = cn_emu::stats();
    printf("bench __syncthreads: block of %4d threads, %d rounds in %.2f ms = %.1f ns per thread per round "
           "(%.0f switches per round)\n",
           th, rounds, best * 1e3, best * 1e9 / ((double)rounds * th),
           (double)(s1.switches - s0.switches) / (3.0 * rounds));
  }
  float *o = dev_alloc<float>(n * 2);
  best = 1e9;
  for (int r = 0; r < 3; r++) {
    double t1 = now_s();
    CN_LAUNCH(warp_kernel, 32, 128, o, o, o, o, o, (unsigned *)o, (double *)(o + 8192));
    best = fmin(best, now_s() - t1);
  }
  printf("bench warp ops: 4096 threads x 26 warp ops in %.2f ms = %.1f ns per thread per op\n", best * 1e3,
         best * 1e9 / (4096.0 * 26));
  cn_emu::Stats s = cn_emu::stats();
  printf("info emulator totals: %llu launches, %llu blocks, %llu threads, %llu switches, %llu fibers\n",
         (unsigned long long)s.launches, (unsigned long long)s.blocks, (unsigned long long)s.threads,
         (unsigned long long)s.switches, (unsigned long long)s.fibers);
  cudaFree(x), cudaFree(y), cudaFree(o);
}
#endif

/* Stream capture: launches, Async copies and fills are recorded, not run; each graph launch replays
   them in order with the arguments captured (by value); refused calls invalidate the capture. */
__global__ void axpb_kernel(float *y, const float *x, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + b;
}

static void test_graph(void) {
  const int n = 100;
  float *x = dev_alloc<float>(n), *y = dev_alloc<float>(n);
  float host[n], out[n];
  for (int i = 0; i < n; i++) host[i] = (float)i;
  cudaStream_t s;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CUDA_OK(cudaMemsetAsync(y, 0, n * sizeof(float), s));
  CUDA_OK(cudaStreamSynchronize(s));
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  CUDA_OK(cudaStreamIsCapturing(s, &st));
  check(st == cudaStreamCaptureStatusActive, "graph: cudaStreamIsCapturing says active", "status %d", (int)st);
  CUDA_OK(cudaMemcpyAsync(x, host, n * sizeof(float), cudaMemcpyHostToDevice, s));
  float a = 2.0f;
  g_stream = s; /* CN_LAUNCH launches on cn_stream() */
  CN_LAUNCH(axpb_kernel, 2, 64, y, x, a, 1.0f, n);
  a = 100.0f; /* captured by value: the replay uses 2 */
  CN_LAUNCH(axpb_kernel, 2, 64, x, y, 1.0f, -1.0f, n); /* x = y - 1 = 2 i */
  cudaGraph_t graph = nullptr;
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  CUDA_OK(cudaMemcpy(out, y, sizeof out, cudaMemcpyDeviceToHost));
  check(out[5] == 0.0f, "graph: nothing runs during capture", "y[5] = %g, expected 0", out[5]);
  cudaGraphExec_t exec = nullptr;
  CUDA_OK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
  CUDA_OK(cudaGraphDestroy(graph)); /* the executable graph keeps what it needs */
  for (int i = 0; i < n; i++) host[i] = (float)(3 * i); /* the copy reads the host buffer at replay time */
  CUDA_OK(cudaGraphLaunch(exec, s));
  CUDA_OK(cudaStreamSynchronize(s));
  CUDA_OK(cudaMemcpy(out, x, sizeof out, cudaMemcpyDeviceToHost));
  check(out[7] == 42.0f && out[99] == 594.0f, "graph: a replay runs copy, kernel, kernel in order",
        "x[7] = %g (expected 42), x[99] = %g (expected 594)", out[7], out[99]);
  CUDA_OK(cudaGraphLaunch(exec, s));
  CUDA_OK(cudaGraphLaunch(exec, s));
  CUDA_OK(cudaStreamSynchronize(s));
  CUDA_OK(cudaMemcpy(out, y, sizeof out, cudaMemcpyDeviceToHost));
  check(out[7] == 43.0f, "graph: replays repeat the same work", "y[7] = %g, expected 43", out[7]);
  CUDA_OK(cudaGraphExecDestroy(exec));

  /* A synchronous call during capture is refused and invalidates it. */
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CN_LAUNCH(axpb_kernel, 1, 32, y, x, 1.0f, 0.0f, 32);
  const cudaError_t sync = cudaStreamSynchronize(s);
  void *p = nullptr;
  const cudaError_t malloc_err = cudaMalloc(&p, 64);
  CUDA_OK(cudaStreamIsCapturing(s, &st));
  const cudaError_t end = cudaStreamEndCapture(s, &graph);
  (void)cudaGetLastError();
  check(sync == cudaErrorStreamCaptureUnsupported && malloc_err == cudaErrorStreamCaptureUnsupported &&
            st == cudaStreamCaptureStatusInvalidated && end == cudaErrorStreamCaptureInvalidated && graph == nullptr,
        "graph: a sync or cudaMalloc during capture invalidates it",
        "sync %s, cudaMalloc %s, status %d, end %s", cudaGetErrorName(sync), cudaGetErrorName(malloc_err), (int)st,
        cudaGetErrorName(end));
  CUDA_OK(cudaStreamSynchronize(s)); /* no capture now: allowed again */

  /* A bad configuration is refused when captured, as when launched. */
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CN_LAUNCH(axpb_kernel, 1, 1025, y, x, 1.0f, 0.0f, 32);
  const cudaError_t config = cudaGetLastError();
  graph = nullptr;
  (void)cudaStreamEndCapture(s, &graph);
  (void)cudaGetLastError();
  if (graph) cudaGraphDestroy(graph);
  check(config == cudaErrorInvalidConfiguration, "graph: a captured launch of 1025 threads is refused",
        "cudaGetLastError() = %s", cudaGetErrorName(config));
  g_stream = 0;
  CUDA_OK(cudaStreamDestroy(s));
  cudaFree(x), cudaFree(y);
}

int main(int argc, char **argv) {
  bool do_bench = argc > 1 && strcmp(argv[1], "--bench") == 0;
  test_block_sum();
  test_reverse_1024();
  test_coords();
  test_warps();
  test_atomics();
  test_smooth();
  test_sync_count();
  test_template_and_math();
  test_errors_and_runtime();
  test_graph();
#ifdef CN_EMULATION
  test_bug_reports();
  if (do_bench) bench();
#else
  (void)do_bench;
#endif
  printf("%s: %d passed, %d failed\n", g_failed ? "FAIL" : "PASS", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
