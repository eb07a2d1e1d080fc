/*
 * gemm.cu: cn_gemm, c = alpha * op(a) * op(b) + beta * c, row-major float32.
 *
 * The fast path is the tiled kernel of gemm_tile.cuh (128x128 or 64x64 tiles, 8x8 or 4x4 per
 * thread, double-buffered shared memory, split-K for long thin products); its napkin math is there.
 * gemm_naive_kernel (one output per thread, every operand read from global memory / L1) is kept as
 * the baseline the tiled kernel is checked and benchmarked against: set CONVNET_GEMM=naive in the
 * environment to make cn_gemm use it (read at each call, so a benchmark can flip it).
 *
 * Seed network (Linear 3136 -> 10 at batch 256): forward m=256 n=10 k=3136 is 16 MFLOP on 4 small
 * tiles, so it is split 16 ways (64 blocks); the weight gradient m=10 n=3136 k=256 is 49 tiles;
 * the input gradient m=256 n=3136 k=10 is 196 tiles. All are a few microseconds: launch-bound.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "gemm_tile.cuh"

using namespace cn_tile;

/* The dense epilogue: c = alpha * acc + beta * c, or the raw sum into a split-K workspace slice. */
struct DenseEpi {
  float *c, *ws;
  int n;
  int64_t len;
  float alpha, beta;
  __device__ __forceinline__ void store(int group, int split, int row, int col, float v) const {
    (void)group;
    const int64_t i = (int64_t)row * n + col;
    if (ws) {
      ws[split * len + i] = v;
    } else {
      float out = alpha * v;
      if (beta != 0.0f) out += beta * c[i]; /* beta == 0: c may hold NaN garbage, never read it */
      c[i] = out;
    }
  }
};

/* The reference: one thread per output, a plain dot product. */
__global__ void __launch_bounds__(256)
    gemm_naive_kernel(float *c, const float *a, const float *b, int m, int n, int k, int trans_a, int trans_b,
                      float alpha, float beta) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= m || col >= n) return;
  float s = 0.0f;
  for (int p = 0; p < k; ++p) {
    const float av = trans_a ? a[(int64_t)p * m + row] : a[(int64_t)row * k + p];
    const float bv = trans_b ? b[(int64_t)col * k + p] : b[(int64_t)p * n + col];
    s += av * bv;
  }
  const int64_t i = (int64_t)row * n + col;
  float out = alpha * s;
  if (beta != 0.0f) out += beta * c[i];
  c[i] = out;
}

/* Launches the tiled kernel with config C for one transpose combination. op(a) is [m, k]: stored
   [m, k] (K-contiguous) unless trans_a; op(b) is [k, n]: its [n, k] view is K-contiguous when trans_b. */
template <class C, bool TA, bool TB>
static int launch_tiled(float *c, const float *a, const float *b, int m, int n, int k, float alpha, float beta,
                        float *ws, const Plan &pl) {
  typedef DenseOp<C::BM, C::BK, C::THREADS, !TA> OpA;
  typedef DenseOp<C::BN, C::BK, C::THREADS, TB> OpB;
  OpA oa;
  oa.p = a, oa.X = m, oa.K = k, oa.group_stride = 0;
  OpB ob;
  ob.p = b, ob.X = n, ob.K = k, ob.group_stride = 0;
  DenseEpi epi;
  epi.c = c, epi.ws = ws, epi.n = n, epi.len = (int64_t)m * n, epi.alpha = alpha, epi.beta = beta;
  auto kern = tile_gemm_kernel<C, OpA, OpB, DenseEpi>;
  CN_LAUNCH(kern, dim3(pl.tiles, 1, pl.splits), C::THREADS, oa, ob, epi, m, n, k, pl.k_per_split, 1);
  return CN_CHECK_LAUNCH("gemm: tiled kernel");
}

template <class C>
static int launch_cfg(float *c, const float *a, const float *b, int m, int n, int k, int ta, int tb, float alpha,
                      float beta, float *ws, const Plan &pl) {
  if (!ta && !tb) return launch_tiled<C, false, false>(c, a, b, m, n, k, alpha, beta, ws, pl);
  if (!ta && tb) return launch_tiled<C, false, true>(c, a, b, m, n, k, alpha, beta, ws, pl);
  if (ta && !tb) return launch_tiled<C, true, false>(c, a, b, m, n, k, alpha, beta, ws, pl);
  return launch_tiled<C, true, true>(c, a, b, m, n, k, alpha, beta, ws, pl);
}

static int use_naive(void) {
  const char *v = getenv("CONVNET_GEMM");
  return v && strcmp(v, "naive") == 0;
}

extern "C" int cn_gemm(float *c, const float *a, const float *b, int32_t m, int32_t n, int32_t k, int32_t trans_a,
                       int32_t trans_b, float alpha, float beta) {
  CN_REQUIRE(m >= 0 && n >= 0 && k >= 0, "gemm: sizes must be >= 0, got m=%d n=%d k=%d", m, n, k);
  if (m == 0 || n == 0) return CN_OK;
  CN_REQUIRE(c != NULL, "gemm: c is NULL (m=%d, n=%d)", m, n);
  CN_REQUIRE(k == 0 || (a != NULL && b != NULL), "gemm: %s is NULL (m=%d, n=%d, k=%d)", a ? "b" : "a", m, n, k);
  CN_REQUIRE((int64_t)m * k < INT32_MAX && (int64_t)k * n < INT32_MAX && (int64_t)m * n < INT32_MAX,
             "gemm: operands must have fewer than 2^31 elements (32-bit indexing), got m=%d n=%d k=%d", m, n, k);

  if (use_naive()) {
    dim3 block(16, 16);
    dim3 grid((unsigned)cdiv(n, 16), (unsigned)cdiv(m, 16));
    CN_REQUIRE(grid.y <= 65535, "gemm: m=%d is too large for the naive kernel (at most %d)", m, 65535 * 16);
    CN_LAUNCH(gemm_naive_kernel, grid, block, c, a, b, m, n, k, trans_a ? 1 : 0, trans_b ? 1 : 0, alpha, beta);
    return CN_CHECK_LAUNCH("gemm: naive kernel");
  }

  Plan pl = plan_gemm(m, n, k, 1, 1);
  float *ws = NULL;
  const int64_t len = (int64_t)m * n;
  if (pl.splits > 1 && cn_alloc((void **)&ws, pl.splits * len * (int64_t)sizeof(float)) != CN_OK) {
    ws = NULL; /* no room for the workspace: run unsplit, slower but the same result */
    pl = plan_gemm(m, n, k, 1, 0);
  }
  int st = pl.big ? launch_cfg<Big>(c, a, b, m, n, k, trans_a, trans_b, alpha, beta, ws, pl)
                  : launch_cfg<Small>(c, a, b, m, n, k, trans_a, trans_b, alpha, beta, ws, pl);
  if (st == CN_OK && ws) {
    auto red = splitk_reduce_kernel<0>;
    CN_LAUNCH(red, cn_blocks(len, 256), 256, c, (const float *)ws, pl.splits, len, alpha, beta, (const float *)NULL,
              1, 1);
    st = CN_CHECK_LAUNCH("gemm: split-K reduction");
  }
  /* Freed blocks are reused only by later work on the same stream, which runs after these kernels. */
  if (ws) {
    int fs = cn_free(ws);
    if (st == CN_OK) st = fs;
  }
  return st;
}
