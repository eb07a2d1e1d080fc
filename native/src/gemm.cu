/*
 * gemm.cu: cn_gemm, c = alpha * op(a) * op(b) + beta * c, row-major float32, `batch` times.
 *
 * A batch is the tiled kernel's groups (grid.z = splits * groups, gemm_tile.cuh): matrix g of each
 * operand starts at g * stride elements (stride 0: one matrix shared by the whole batch), so a
 * batch of small products is one launch, not `batch` launches. More than 65535 matrices (grid.z's
 * limit) run as several launches of at most 65535.
 *
 * The fast path is the tiled kernel of gemm_tile.cuh (128x128 or 64x64 tiles, 8x8 or 4x4 per
 * thread, double-buffered shared memory, split-K for long thin products); its napkin math is there.
 * gemm_naive_kernel (one output per thread, every operand read from global memory / L1) is kept as
 * the baseline the tiled kernel is checked and benchmarked against: set CONVNET_GEMM=naive in the
 * environment to make cn_gemm use it (read once, at the first GEMM: a setenv later, by any thread
 * of the process, changes nothing and cannot race the read).
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

/* The dense epilogue: c = alpha * acc + beta * c for matrix `group` (at c + group * stride_c), or the
   raw sum into a split-K workspace laid out [split][group][m * n]. */
struct DenseEpi {
  float *c, *ws;
  int n, groups;
  int64_t len, stride_c;
  float alpha, beta;
  __device__ __forceinline__ void store(int group, int split, int row, int col, float v) const {
    const int64_t i = (int64_t)row * n + col;
    if (ws) {
      ws[((int64_t)split * groups + group) * len + i] = v;
    } else {
      float *cg = c + group * stride_c;
      float out = alpha * v;
      if (beta != 0.0f) out += beta * cg[i]; /* beta == 0: c may hold NaN garbage, never read it */
      cg[i] = out;
    }
  }
};

/* The reference: one thread per output, a plain dot product; blockIdx.z is the matrix of the batch. */
__global__ void __launch_bounds__(256)
    gemm_naive_kernel(float *c, const float *a, const float *b, int m, int n, int k, int trans_a, int trans_b,
                      float alpha, float beta, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= m || col >= n) return;
  a += blockIdx.z * stride_a, b += blockIdx.z * stride_b, c += blockIdx.z * stride_c;
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

/* The operands of one launch: `groups` matrices of each operand, `stride_*` elements apart. */
struct Batch {
  int groups;
  int64_t stride_a, stride_b, stride_c;
};

/* Launches the tiled kernel with config C for one transpose combination. op(a) is [m, k]: stored
   [m, k] (K-contiguous) unless trans_a; op(b) is [k, n]: its [n, k] view is K-contiguous when trans_b. */
template <class C, bool TA, bool TB>
static int launch_tiled(float *c, const float *a, const float *b, int m, int n, int k, float alpha, float beta,
                        float *ws, const Plan &pl, const Batch &bt) {
  typedef DenseOp<C::BM, C::BK, C::THREADS, !TA> OpA;
  typedef DenseOp<C::BN, C::BK, C::THREADS, TB> OpB;
  OpA oa;
  oa.p = a, oa.X = m, oa.K = k, oa.group_stride = bt.stride_a;
  OpB ob;
  ob.p = b, ob.X = n, ob.K = k, ob.group_stride = bt.stride_b;
  DenseEpi epi;
  epi.c = c, epi.ws = ws, epi.n = n, epi.groups = bt.groups, epi.len = (int64_t)m * n, epi.stride_c = bt.stride_c;
  epi.alpha = alpha, epi.beta = beta;
  auto kern = tile_gemm_kernel<C, OpA, OpB, DenseEpi>;
  CN_LAUNCH(kern, dim3(pl.tiles, 1, pl.splits * bt.groups), C::THREADS, oa, ob, epi, m, n, k, pl.k_per_split,
            bt.groups);
  return CN_CHECK_LAUNCH("cn_gemm: tiled kernel");
}

template <class C>
static int launch_cfg(float *c, const float *a, const float *b, int m, int n, int k, int ta, int tb, float alpha,
                      float beta, float *ws, const Plan &pl, const Batch &bt) {
  if (!ta && !tb) return launch_tiled<C, false, false>(c, a, b, m, n, k, alpha, beta, ws, pl, bt);
  if (!ta && tb) return launch_tiled<C, false, true>(c, a, b, m, n, k, alpha, beta, ws, pl, bt);
  if (ta && !tb) return launch_tiled<C, true, false>(c, a, b, m, n, k, alpha, beta, ws, pl, bt);
  return launch_tiled<C, true, true>(c, a, b, m, n, k, alpha, beta, ws, pl, bt);
}

/* Small outputs with a long reduction (m * n <= DOT_MAX_OUTPUTS, k >= DOT_MIN_K, one matrix): one block
   of DOT_THREADS per output, a dot product in one launch. The seed's Linear forward (m = batch 10,
   n = 10, k = 3136) as tiles is 1 tile split 6 ways plus a reduction launch; as dot products it is
   100 blocks (most of an H100's 132 SMs) reading 25 KB each, and no second launch (~3-5 us saved).
   Deterministic: each thread sums a fixed stride of k, then a fixed shuffle tree and warp order. */
#define DOT_THREADS 128
#define DOT_MAX_OUTPUTS 1024
#define DOT_MIN_K 1024

__global__ void __launch_bounds__(DOT_THREADS)
    gemm_dot_kernel(float *c, const float *a, const float *b, int m, int n, int k, int trans_a, int trans_b,
                    float alpha, float beta, const float *bias) {
  __shared__ float warp_part[DOT_THREADS / 32];
  const int row = blockIdx.x / n, col = blockIdx.x - row * n;
  /* element p of row `row` of op(a) and of column `col` of op(b) */
  const int64_t a0 = trans_a ? row : (int64_t)row * k, as = trans_a ? m : 1;
  const int64_t b0 = trans_b ? (int64_t)col * k : col, bs = trans_b ? 1 : n;
  float s = 0.0f;
  for (int p = threadIdx.x; p < k; p += DOT_THREADS) s += a[a0 + p * as] * b[b0 + p * bs];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) warp_part[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int w = 0; w < DOT_THREADS / 32; ++w) total += warp_part[w];
    float out = alpha * total;
    if (beta != 0.0f) out += beta * c[blockIdx.x]; /* beta == 0: c may hold NaN garbage, never read it */
    if (bias) out = __fadd_rn(out, bias[col]);   /* the broadcast add's bits (never contracted into an FMA) */
    c[blockIdx.x] = out;
  }
}

static int use_naive(void) {
  static const int naive = [] {
    const char *v = getenv("CONVNET_GEMM");
    return v && strcmp(v, "naive") == 0 ? 1 : 0;
  }();
  return naive;
}

/* One launch (plus the split-K reduction) for bt.groups <= 65535 matrices. Split-K needs the c
   matrices packed (stride_c == m * n, or one matrix): the reduction walks them as one array. */
static int gemm_launch(float *c, const float *a, const float *b, int m, int n, int k, int ta, int tb, float alpha,
                       float beta, const Batch &bt) {
  const int64_t len = (int64_t)m * n;
  if (bt.groups == 1 && len <= DOT_MAX_OUTPUTS && k >= DOT_MIN_K) {
    CN_LAUNCH(gemm_dot_kernel, (unsigned)len, DOT_THREADS, c, a, b, m, n, k, ta, tb, alpha, beta, (const float *)NULL);
    return CN_CHECK_LAUNCH("cn_gemm: dot products");
  }
  const int packed = bt.groups == 1 || bt.stride_c == len;
  Plan pl = plan_gemm(m, n, k, bt.groups, packed);
  float *ws = NULL;
  if (pl.splits > 1 && cn_alloc((void **)&ws, pl.splits * bt.groups * len * (int64_t)sizeof(float)) != CN_OK) {
    ws = NULL; /* no room for the workspace: run unsplit, slower but the same result */
    pl = plan_gemm(m, n, k, bt.groups, 0);
  }
  int st = pl.big ? launch_cfg<Big>(c, a, b, m, n, k, ta, tb, alpha, beta, ws, pl, bt)
                  : launch_cfg<Small>(c, a, b, m, n, k, ta, tb, alpha, beta, ws, pl, bt);
  if (st == CN_OK && ws) {
    const int64_t total = bt.groups * len;
    auto red = splitk_reduce_kernel<0>;
    CN_LAUNCH(red, cn_blocks(total, 256), 256, c, (const float *)ws, pl.splits, total, alpha, beta,
              (const float *)NULL, 1, 1);
    st = CN_CHECK_LAUNCH("cn_gemm: split-K reduction");
  }
  /* Freed blocks are reused only by later work on the same stream, which runs after these kernels. */
  if (ws) {
    int fs = cn_free(ws);
    if (st == CN_OK) st = fs;
  }
  return st;
}

extern "C" int cn_gemm(float *c, const float *a, const float *b, int32_t m, int32_t n, int32_t k, int32_t trans_a,
                       int32_t trans_b, float alpha, float beta, int32_t batch, int64_t stride_a, int64_t stride_b,
                       int64_t stride_c) {
  CN_REQUIRE(m >= 0 && n >= 0 && k >= 0 && batch >= 0, "cn_gemm: sizes must be >= 0, got m=%d n=%d k=%d batch=%d",
             m, n, k, batch);
  CN_REQUIRE(stride_a >= 0 && stride_b >= 0 && stride_c >= 0,
             "cn_gemm: strides must be >= 0, got stride_a=%lld stride_b=%lld stride_c=%lld", (long long)stride_a,
             (long long)stride_b, (long long)stride_c);
  if (m == 0 || n == 0 || batch == 0) return CN_OK;
  CN_REQUIRE(batch == 1 || stride_c >= (int64_t)m * n,
             "cn_gemm: stride_c=%lld makes the %d c matrices of %d x %d overlap (expected stride_c >= m * n = %lld)",
             (long long)stride_c, batch, m, n, (long long)m * n);
  CN_REQUIRE(c != NULL, "cn_gemm: c is NULL (m=%d, n=%d)", m, n);
  CN_REQUIRE(k == 0 || (a != NULL && b != NULL), "cn_gemm: %s is NULL (m=%d, n=%d, k=%d)", a ? "b" : "a", m, n, k);
  CN_REQUIRE((int64_t)m * k < INT32_MAX && (int64_t)k * n < INT32_MAX && (int64_t)m * n < INT32_MAX,
             "cn_gemm: operands must have fewer than 2^31 elements (32-bit indexing), got m=%d n=%d k=%d", m, n, k);
  CN_TRY(cn_init());

  if (use_naive()) {
    dim3 block(16, 16);
    CN_REQUIRE(cdiv(m, 16) <= 65535, "cn_gemm: m=%d is too large for the naive kernel (at most %d)", m, 65535 * 16);
    for (int32_t g0 = 0; g0 < batch; g0 += 65535) {
      const int32_t groups = batch - g0 < 65535 ? batch - g0 : 65535;
      dim3 grid((unsigned)cdiv(n, 16), (unsigned)cdiv(m, 16), (unsigned)groups);
      CN_LAUNCH(gemm_naive_kernel, grid, block, c + g0 * stride_c, a + g0 * stride_a, b + g0 * stride_b, m, n, k,
                trans_a ? 1 : 0, trans_b ? 1 : 0, alpha, beta, stride_a, stride_b, stride_c);
      CN_TRY(CN_CHECK_LAUNCH("cn_gemm: naive kernel"));
    }
    return CN_OK;
  }

  for (int32_t g0 = 0; g0 < batch; g0 += 65535) {
    Batch bt;
    bt.groups = batch - g0 < 65535 ? batch - g0 : 65535;
    bt.stride_a = stride_a, bt.stride_b = stride_b, bt.stride_c = stride_c;
    CN_TRY(gemm_launch(c + g0 * stride_c, a + g0 * stride_a, b + g0 * stride_b, m, n, k, trans_a, trans_b, alpha, beta,
                       bt));
  }
  return CN_OK;
}

/* y[i, j] += bias[j]: the broadcast add's bits, after a GEMM that had no dot-product path. */
__global__ void __launch_bounds__(256) add_bias_rows_kernel(float *y, const float *bias, int n, int64_t total) {
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)blockDim.x * gridDim.x)
    y[t] = __fadd_rn(y[t], bias[t % n]);
}

/* A Linear layer's forward: y[m, n] = x[m, k] . w[n, k]^T + bias[n] (bias may be NULL), the bits of
   cn_gemm followed by the broadcast add. The dot-product path (the seed's Linear: m*n <= 1024, k >=
   1024) adds the bias in its epilogue: one launch instead of two. */
extern "C" int cn_linear_forward(float *y, const float *x, const float *w, const float *bias, int32_t m, int32_t n,
                                 int32_t k) {
  CN_REQUIRE(m >= 0 && n >= 0 && k >= 0, "cn_linear_forward: sizes must be >= 0, got m=%d n=%d k=%d", m, n, k);
  if (m == 0 || n == 0) return CN_OK;
  CN_REQUIRE(y && (k == 0 || (x && w)), "cn_linear_forward: %s is NULL (m=%d, n=%d, k=%d)",
             !y ? "y" : !x ? "x" : "w", m, n, k);
  const int64_t len = (int64_t)m * n;
  if (len <= DOT_MAX_OUTPUTS && k >= DOT_MIN_K && !use_naive()) {
    CN_TRY(cn_init());
    CN_LAUNCH(gemm_dot_kernel, (unsigned)len, DOT_THREADS, y, x, w, m, n, k, 0, 1, 1.0f, 0.0f, bias);
    return CN_CHECK_LAUNCH("cn_linear_forward: dot products");
  }
  CN_TRY(cn_gemm(y, x, w, m, n, k, 0, 1, 1.0f, 0.0f, 1, 0, 0, 0));
  if (!bias) return CN_OK;
  CN_LAUNCH(add_bias_rows_kernel, cn_blocks(len, 256), 256, y, bias, n, len);
  return CN_CHECK_LAUNCH("cn_linear_forward: bias");
}

/* Up to this many rows (the batch) a Linear layer's weight and bias gradients are one launch. */
#define LINEAR_BACKWARD_MAX_ROWS 32

/* dw[o, i] = sum_r dy[r, o] x[r, i] (in r order, as the unsplit tiled GEMM accumulates), then db[o] =
   sum_r dy[r, o] in double, rounded once (cn_reduce's one-thread-per-output order): one thread per
   output of either. */
__global__ void __launch_bounds__(256) linear_backward_weight_bias_kernel(float *dw, float *db, const float *dy,
                                                                          const float *x, int rows, int out, int in) {
  const int64_t wlen = (int64_t)out * in, total = wlen + out;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)blockDim.x * gridDim.x) {
    if (t < wlen) {
      const int o = (int)(t / in), i = (int)(t - (int64_t)o * in);
      float acc = 0.0f;
      for (int r = 0; r < rows; ++r) acc += dy[(int64_t)r * out + o] * x[(int64_t)r * in + i];
      dw[t] = acc;
    } else {
      const int o = (int)(t - wlen);
      double s = 0.0;
      for (int r = 0; r < rows; ++r) s += (double)dy[(int64_t)r * out + o];
      db[o] = (float)s;
    }
  }
}

/* A Linear layer's weight and bias gradients: dw[out, in] = dy^T . x and db[out] = the column sums of
   dy[rows, out], the bits of cn_gemm (transposed a) and cn_reduce; one launch when the batch is at
   most LINEAR_BACKWARD_MAX_ROWS rows and the GEMM would not split (the seed's Linear at batch 10). */
extern "C" int cn_linear_backward_weight_bias(float *dw, float *db, const float *dy, const float *x, int32_t rows,
                                              int32_t out, int32_t in) {
  const char *fn = "cn_linear_backward_weight_bias";
  CN_REQUIRE(rows >= 0 && out >= 0 && in >= 0, "%s: sizes must be >= 0, got rows=%d out=%d in=%d", fn, rows, out,
             in);
  if (out == 0) return CN_OK;
  CN_REQUIRE(dw && db && (rows == 0 || (dy && x)), "%s: %s is NULL (rows=%d, out=%d, in=%d)", fn,
             !dw ? "dw" : !db ? "db" : !dy ? "dy" : "x", rows, out, in);
  CN_REQUIRE((int64_t)out * in < INT32_MAX && (int64_t)rows * in < INT32_MAX,
             "%s: operands must have fewer than 2^31 elements, got rows=%d out=%d in=%d", fn, rows, out, in);
  const int64_t total = (int64_t)out * in + out;
  if (rows >= 1 && rows <= LINEAR_BACKWARD_MAX_ROWS && !use_naive() && plan_gemm(out, in, rows, 1, 1).splits == 1 &&
      !((int64_t)out * in <= DOT_MAX_OUTPUTS && rows >= DOT_MIN_K)) {
    CN_TRY(cn_init());
    CN_LAUNCH(linear_backward_weight_bias_kernel, cn_blocks(total, 256), 256, dw, db, dy, x, rows, out, in);
    return CN_CHECK_LAUNCH(fn);
  }
  if (in > 0) CN_TRY(cn_gemm(dw, dy, x, out, in, rows, 1, 0, 1.0f, 0.0f, 1, 0, 0, 0));
  return cn_reduce(CN_R_SUM, CN_F32, db, dy, 1, rows, out);
}
