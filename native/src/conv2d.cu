/*
 * conv2d.cu: 2-d convolution (NCHW, any kernel size, stride, padding, dilation, groups), forward and
 * the three gradients. Semantics: src/backend/ts/conv2d.ts.
 * Over 500 lines: one op, its three passes, the direct and implicit-GEMM variant of each and the
 * napkin math that picks between them per shape; the launchers choose a variant, so they stay here.
 *
 * Choice: implicit GEMM, not im2col + GEMM. The tiled GEMM of gemm_tile.cuh runs with operand
 * structs that compute im2col indices while fetching a tile (zero for padding), so:
 * - no workspace: explicit im2col for 64->64 3x3 at 56x56 is C*kh*kw x N*oh*ow = 576 x 3136 floats =
 *   7.2 MB per image, 1.85 GB at batch 256 (written once, read once: 3.7 GB of traffic for a 205 MB
 *   input); for the seed's layer (1->16 3x3, 28x28) 28 KB per image, 7.2 MB at batch 256, which
 *   would double that layer's memory traffic (see below);
 * - one launch per op (groups and split-K in grid.z), instead of im2col + GEMM per group (or per
 *   image, once the workspace is capped);
 * - the same x element is read by up to kh*kw taps, but those reads hit L1/L2.
 *
 * GEMM views, per group g (cg = C/groups, kg = K/groups, R = cg*kh*kw, P = N*oh*ow):
 * - forward:         y_g[kg, P]    = w_g[kg, R] x col(x_g)[R, P]
 * - backward weight: dw_g[kg, R]   = dy_g[kg, P] x col(x_g)^T[P, R]   (K = P is long: split-K)
 * - backward input:  dx_g[cg, N*h*w] = w_g^T[cg, kg*kh*kw] x gather(dy_g): the transposed-conv
 *   gather; each dx element sums the (channel, tap) pairs whose output position
 *   (ih + pad - i*dil) / stride is an integer inside the output. Stride s wastes the (s_h*s_w - 1)
 *   of every s_h*s_w gathered taps that are not integer positions (zeros), a known cost.
 *
 * Small shapes get direct kernels, because the GEMM tiles would mostly compute padding:
 * - forward and backward weight when R = cg*kh*kw <= 32 (the seed's first layer: R = 9): a thread
 *   gathers its R taps once into registers and uses them for many output channels;
 * - backward input when cg <= 8 (seed: cg = 1, where the GEMM's M would be 1 of a 64-row tile).
 *
 * Napkin math, seed layer x[N,1,28,28] * w[16,1,3,3] (pad 1) -> y[N,16,28,28]:
 * - forward: 2*16*784*9 = 226 kFLOP per image; bytes: x 3.1 KB + y 50 KB per image (w: 576 B).
 *   4.2 FLOP/byte, far below an H100/H200's ~14 FLOP/byte ridge: memory-bound, writing y is ~95%.
 *   Batch 256: 58 MFLOP, 13.6 MB -> ~3 us at 4.8 TB/s (less when y stays in the 50 MB L2).
 *   Batch 10: 2.3 MFLOP, 0.53 MB -> 0.1 us of work: the ~3-5 us launch latency is the time.
 *   As a tiled GEMM it would be M=16 of a 64-row tile and K=9 of 16: ~7x wasted FMAs.
 * - backward input / weight: the same FLOPs, dy read once (50 KB per image) plus x or dx; the same
 *   memory-bound ~3 us at batch 256. Bias: reads dy (50 KB per image).
 * A large layer (64->64 3x3 at 56x56, batch 256) is 59 GFLOP per pass: compute-bound (~1 ms at
 * fp32 peak) and runs on the big 128x128 tiles.
 *
 * Reductions over the batch (weight and bias gradients) are split across blocks writing partial sums
 * to a workspace (cn_alloc), then added in a fixed order by one more small kernel: deterministic,
 * no float atomics (same inputs, same bits). If the workspace cannot be had, they run unsplit.
 */
#include "common.h"
#include "gemm_tile.cuh"

using namespace cn_tile;

/* n / d for 0 <= n < 2^31 by a multiply-high and a shift (the divisor is fixed per launch): ~3
   instructions instead of ~20 for a division by a runtime value, which the tile fetches do per
   element (decoding im2col indices). mul/shr as in CUTLASS's FastDivmod. */
struct FastDiv {
  uint32_t d, mul, shr;
  __device__ __forceinline__ int div(int n) const {
    return d == 1 ? n : (int)(__umulhi((unsigned)n, mul) >> shr);
  }
};

static FastDiv make_fastdiv(int d) {
  FastDiv f;
  f.d = (uint32_t)d, f.mul = 0, f.shr = 0;
  if (d > 1) {
    uint32_t l = 0; /* ceil(log2(d)) */
    while ((1ull << l) < (uint64_t)d) ++l;
    const uint32_t p = 31 + l;
    f.mul = (uint32_t)(((1ull << p) + (uint64_t)d - 1) / (uint64_t)d);
    f.shr = p - 32;
  }
  return f;
}

/* The geometry with the derived sizes kernels need. 32-bit: launchers check that every tensor has
   fewer than 2^31 elements. */
struct Geo {
  int N, C, H, W, K, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G;
  int Cg, Kg, R, KHW, HW, OHW, P; /* R = Cg*KH*KW, P = N*OH*OW */
  FastDiv fKHW, fKW, fHW, fW, fOHW, fOW, fsh, fsw;
};

static __device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v; /* in lane 0 */
}

/* The taps (c, i, j) in r order of input window (ih0, iw0) of channel plane xp; 0 outside. */
template <int MAXR>
static __device__ __forceinline__ void gather_taps(float (&t)[MAXR], const float *xp, int ih0, int iw0,
                                                   const Geo &g) {
  int c = 0, i = 0, j = 0;
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    float v = 0.0f;
    if (r < g.R) {
      const int ih = ih0 + i * g.dh, iw = iw0 + j * g.dw;
      if ((unsigned)ih < (unsigned)g.H && (unsigned)iw < (unsigned)g.W) v = __ldg(xp + c * g.HW + ih * g.W + iw);
      if (++j == g.KW) {
        j = 0;
        if (++i == g.KH) i = 0, ++c;
      }
    }
    t[r] = v;
  }
}

/* ---------------- direct kernels (small R or small cg) ---------------- */

/* The MC output channels' weights (zero past Kg and R) and biases of the block's group, into shared
   memory (both direct forward kernels: the fused one must read the same values in the same layout). */
template <int MAXR, int MC>
__device__ __forceinline__ void stage_weights(float (&ws)[MC][MAXR], float (&bs)[MC], const float *w,
                                              const float *bias, const Geo &g, int group, int m0) {
  const int tid = threadIdx.x;
  for (int i = tid; i < MC * MAXR; i += blockDim.x) {
    const int m = i / MAXR, r = i % MAXR;
    ws[m][r] = (m0 + m < g.Kg && r < g.R) ? __ldg(w + (group * g.Kg + m0 + m) * g.R + r) : 0.0f;
  }
  if (tid < MC) bs[tid] = (bias && m0 + tid < g.Kg) ? __ldg(bias + group * g.Kg + m0 + tid) : 0.0f;
  __syncthreads();
}

/* Forward, R <= MAXR: one thread per output pixel of one group, MC output channels per block row
   (grid: x = pixels / 128, y = kg / MC, z = groups). Weights of the MC channels in shared memory,
   read as broadcast float4s; the taps in registers. */
template <int MAXR, int MC>
__global__ void __launch_bounds__(128)
    conv2d_forward_direct_kernel(float *y, const float *x, const float *w, const float *bias, Geo g) {
  __shared__ __align__(16) float ws[MC][MAXR];
  __shared__ float bs[MC];
  const int tid = threadIdx.x, group = blockIdx.z, m0 = blockIdx.y * MC;
  stage_weights<MAXR, MC>(ws, bs, w, bias, g, group, m0);

  const int p = blockIdx.x * blockDim.x + tid;
  if (p >= g.P) return;
  const int n = g.fOHW.div(p), pix = p - n * g.OHW;
  const int oh = g.fOW.div(pix), ow = pix - oh * g.OW;
  float taps[MAXR];
  gather_taps<MAXR>(taps, x + (n * g.C + group * g.Cg) * g.HW, oh * g.sh - g.ph, ow * g.sw - g.pw, g);

  const int mn = imin(MC, g.Kg - m0);
  float *yp = y + (n * g.K + group * g.Kg + m0) * g.OHW + pix;
  for (int m = 0; m < mn; ++m) {
    float acc = bs[m];
#pragma unroll
    for (int r = 0; r < MAXR; r += 4) {
      if (r < g.R) { /* taps and weights past R are 0: whole float4s are safe */
        const float4 wv = lds4(&ws[m][r]);
        acc += taps[r] * wv.x;
        acc += taps[r + 1] * wv.y;
        acc += taps[r + 2] * wv.z;
        acc += taps[r + 3] * wv.w;
      }
    }
    yp[m * g.OHW] = acc; /* coalesced: consecutive threads, consecutive pixels */
  }
}

/* Conv + bias + ReLU + max pooling (conv2d_relu_maxpool2d_forward), R <= MAXR: one thread per pooled
   pixel of one group, MC output channels per block row (grid: x = pooled pixels / 128, y = kg / MC,
   z = groups). Each conv output of the thread's window is computed exactly as the direct kernel above
   does (same taps, same order of additions), ReLU'd and max-pooled as pool2d.cu's kernel does (first
   maximum in row-major window order, the first NaN wins): the three kernels' bits, one launch, and
   the conv output never reaches memory (seed, batch 10: 0.5 MB of writes and reads saved). */
struct PoolWin {
  int OH, OW, kh, kw, sh, sw, ph, pw; /* pooled output size and the window */
};

template <int MAXR, int MC>
__global__ void __launch_bounds__(128)
    conv2d_relu_maxpool2d_kernel(float *y, int32_t *indices, const float *x, const float *w, const float *bias,
                                 Geo g, PoolWin pw) {
  __shared__ __align__(16) float ws[MC][MAXR];
  __shared__ float bs[MC];
  const int tid = threadIdx.x, group = blockIdx.z, m0 = blockIdx.y * MC;
  stage_weights<MAXR, MC>(ws, bs, w, bias, g, group, m0);

  const int plane = pw.OH * pw.OW, p = blockIdx.x * blockDim.x + tid;
  if (p >= g.N * plane) return;
  const int n = p / plane, pix = p - n * plane, o = pix / pw.OW, q = pix - o * pw.OW;
  const int hs = o * pw.sh - pw.ph, wst = q * pw.sw - pw.pw;
  const int h0 = max(hs, 0), h1 = min(hs + pw.kh, g.OH), w0 = max(wst, 0), w1 = min(wst + pw.kw, g.OW);
  const int mn = imin(MC, g.Kg - m0);
  float best[MC];
  int at[MC];
#pragma unroll
  for (int m = 0; m < MC; ++m) best[m] = -INFINITY, at[m] = h0 * g.OW + w0;
  const float *xp = x + (n * g.C + group * g.Cg) * g.HW;
  for (int oh = h0; oh < h1; ++oh) {
    for (int ow = w0; ow < w1; ++ow) {
      float taps[MAXR];
      gather_taps<MAXR>(taps, xp, oh * g.sh - g.ph, ow * g.sw - g.pw, g);
#pragma unroll
      for (int m = 0; m < MC; ++m) {
        if (m >= mn) break;
        float acc = bs[m];
#pragma unroll
        for (int r = 0; r < MAXR; r += 4) {
          if (r < g.R) {
            const float4 wv = lds4(&ws[m][r]);
            acc += taps[r] * wv.x;
            acc += taps[r + 1] * wv.y;
            acc += taps[r + 2] * wv.z;
            acc += taps[r + 3] * wv.w;
          }
        }
        const float v = acc > 0 || acc != acc ? acc : 0.0f; /* ReLU as ops.def's RELU */
        if (best[m] == best[m] && (v > best[m] || v != v)) best[m] = v, at[m] = oh * g.OW + ow;
      }
    }
  }
  const int64_t out = (int64_t)(n * g.K + group * g.Kg + m0) * plane + pix;
#pragma unroll
  for (int m = 0; m < MC; ++m) { /* unrolled: best and at stay in registers */
    if (m < mn) {
      y[out + (int64_t)m * plane] = best[m];
      indices[out + (int64_t)m * plane] = at[m];
    }
  }
}

/* Backward weight, R <= MAXR: block (split, channel chunk, group) walks its range of output pixels
   (grid-stride by 256, coordinates advanced without divisions), each thread accumulating MC x R
   products in registers; then a warp-shuffle + shared-memory reduction writes MC x R partial sums
   to out + split * split_len (out is dw itself when there is one split). */
template <int MAXR, int MC>
__device__ __forceinline__ void backward_weight_direct_block(float *out, const float *dy, const float *x, const Geo &g,
                                                             int per_split, int split_len, int split, int chunk,
                                                             int group) {
  __shared__ float red[8][MC * MAXR];
  const int tid = threadIdx.x, m0 = chunk * MC;
  const int mn = imin(MC, g.Kg - m0);
  const int e1 = imin(g.P, split * per_split + per_split);
  int e = split * per_split + tid;
  int n = g.fOHW.div(e), pix = e - n * g.OHW;
  int oh = g.fOW.div(pix), ow = pix - oh * g.OW;
  /* the grid stride 256 as (dn, doh, dow) */
  const int dn = 256 / g.OHW, drem = 256 % g.OHW, doh = drem / g.OW, dow = drem % g.OW;

  float acc[MC][MAXR];
#pragma unroll
  for (int m = 0; m < MC; ++m)
#pragma unroll
    for (int r = 0; r < MAXR; ++r) acc[m][r] = 0.0f;

  for (; e < e1; e += 256) {
    float taps[MAXR];
    gather_taps<MAXR>(taps, x + (n * g.C + group * g.Cg) * g.HW, oh * g.sh - g.ph, ow * g.sw - g.pw, g);
    const float *dyp = dy + (n * g.K + group * g.Kg + m0) * g.OHW + oh * g.OW + ow;
#pragma unroll
    for (int m = 0; m < MC; ++m) {
      if (m < mn) {
        const float d = __ldg(dyp + m * g.OHW);
#pragma unroll
        for (int r = 0; r < MAXR; ++r)
          if (r < g.R) acc[m][r] += d * taps[r];
      }
    }
    ow += dow, oh += doh, n += dn;
    if (ow >= g.OW) ow -= g.OW, ++oh;
    if (oh >= g.OH) oh -= g.OH, ++n;
  }

  const int lane = tid & 31, warp = tid >> 5;
#pragma unroll
  for (int m = 0; m < MC; ++m)
#pragma unroll
    for (int r = 0; r < MAXR; ++r)
      if (m < mn && r < g.R) { /* uniform: every lane reaches the shuffles */
        const float v = warp_sum(acc[m][r]);
        if (lane == 0) red[warp][m * MAXR + r] = v;
      }
  __syncthreads();
  for (int i = tid; i < MC * MAXR; i += 256) {
    const int m = i / MAXR, r = i % MAXR;
    if (m < mn && r < g.R) {
      float s = 0.0f;
#pragma unroll
      for (int wi = 0; wi < 8; ++wi) s += red[wi][i];
      out[split * split_len + (group * g.Kg + m0 + m) * g.R + r] = s;
    }
  }
}

template <int MAXR, int MC>
__global__ void __launch_bounds__(256)
    conv2d_backward_weight_direct_kernel(float *out, const float *dy, const float *x, Geo g, int per_split,
                                         int split_len) {
  backward_weight_direct_block<MAXR, MC>(out, dy, x, g, per_split, split_len, blockIdx.x, blockIdx.y, blockIdx.z);
}

/* Backward input, cg <= MAXC: one thread per input pixel (all cg channels of its group), gathering
   every (output channel, tap) whose output position is an integer inside the output. */
template <int MAXC>
__global__ void __launch_bounds__(128) conv2d_backward_input_direct_kernel(float *dx, const float *dy, const float *w,
                                                                           Geo g) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x, group = blockIdx.z;
  if (q >= g.N * g.HW) return;
  const int n = g.fHW.div(q), pix = q - n * g.HW;
  const int ih = g.fW.div(pix), iw = pix - ih * g.W;
  float acc[MAXC];
#pragma unroll
  for (int c = 0; c < MAXC; ++c) acc[c] = 0.0f;
  const float *dyg = dy + (n * g.K + group * g.Kg) * g.OHW;
  const float *wg = w + group * g.Kg * g.R;
  for (int i = 0; i < g.KH; ++i) {
    const int th = ih + g.ph - i * g.dh;
    if (th < 0) break; /* th only falls as i grows */
    const int oh = g.fsh.div(th);
    if (oh * g.sh != th || oh >= g.OH) continue;
    for (int j = 0; j < g.KW; ++j) {
      const int tw = iw + g.pw - j * g.dw;
      if (tw < 0) break;
      const int ow = g.fsw.div(tw);
      if (ow * g.sw != tw || ow >= g.OW) continue;
      const float *dyp = dyg + oh * g.OW + ow;
      const float *wp = wg + i * g.KW + j;
      for (int k = 0; k < g.Kg; ++k) {
        const float d = __ldg(dyp + k * g.OHW);
#pragma unroll
        for (int c = 0; c < MAXC; ++c)
          if (c < g.Cg) acc[c] += __ldg(wp + (k * g.Cg + c) * g.KHW) * d; /* same address across the warp */
      }
    }
  }
  float *dxp = dx + (n * g.C + group * g.Cg) * g.HW + pix;
#pragma unroll
  for (int c = 0; c < MAXC; ++c)
    if (c < g.Cg) dxp[c * g.HW] = acc[c];
}

/* Bias gradient: block (k, split) sums dy[:, k, :, :] over its range of the N*oh*ow positions, a
   warp-shuffle + shared-memory reduction, partial sums to out[split * K + k] (db when one split). */
__device__ __forceinline__ void backward_bias_block(float *out, const float *dy, int N, int K, int OHW, int per_split,
                                                    int k, int split) {
  __shared__ float red[8];
  const int tid = threadIdx.x;
  const int e1 = imin(N * OHW, split * per_split + per_split);
  int e = split * per_split + tid;
  int n = e / OHW, p = e - n * OHW;
  const int dn = 256 / OHW, dp = 256 % OHW;
  float s = 0.0f;
  for (; e < e1; e += 256) {
    s += __ldg(dy + (n * K + k) * OHW + p);
    p += dp, n += dn;
    if (p >= OHW) p -= OHW, ++n;
  }
  s = warp_sum(s);
  if ((tid & 31) == 0) red[tid >> 5] = s;
  __syncthreads();
  if (tid < 32) {
    s = tid < 8 ? red[tid] : 0.0f;
    s = warp_sum(s);
    if (tid == 0) out[split * K + k] = s;
  }
}

__global__ void __launch_bounds__(256)
    conv2d_backward_bias_kernel(float *out, const float *dy, int N, int K, int OHW, int per_split) {
  backward_bias_block(out, dy, N, K, OHW, per_split, blockIdx.x, blockIdx.y);
}

/* Weight and bias gradients in one launch when neither is split (P <= kUnsplitPositions, R <= MAXR):
   blocks y < chunks are backward_weight_direct_block's (channel chunk y, group z), the next Kg are
   backward_bias_block's (channel z * Kg + y - chunks): each block computes what it computes in its
   own kernel, so the bits are the two kernels'. */
template <int MAXR, int MC>
__global__ void __launch_bounds__(256)
    conv2d_backward_weight_bias_kernel(float *dw, float *db, const float *dy, const float *x, Geo g, int chunks) {
  if ((int)blockIdx.y < chunks) { /* uniform across the block */
    backward_weight_direct_block<MAXR, MC>(dw, dy, x, g, g.P, g.K * g.R, 0, blockIdx.y, blockIdx.z);
  } else {
    backward_bias_block(db, dy, g.N, g.K, g.OHW, g.P, blockIdx.z * g.Kg + ((int)blockIdx.y - chunks), 0);
  }
}

/* ---------------- implicit-GEMM operands and epilogues (see gemm_tile.cuh) ---------------- */

/* Forward B: col(x)[r, p], X-contiguous (p = output pixel, consecutive threads -> consecutive ow).
   A thread's p is fixed for the whole K loop: decoded once in init. */
template <int BX, int BK, int T>
struct FwdColOp {
  static constexpr bool KCONTIG = false;
  typedef Pattern<BX, BK, T, false> Pt;
  const float *x;
  Geo g;
  int base, ih0, iw0, k_end, tid;
  bool valid;
  __device__ __forceinline__ void init(int group, int x0, int tid_, int k_end_) {
    tid = tid_, k_end = k_end_;
    const int p = x0 + Pt::x(tid, 0);
    valid = p < g.P;
    const int n = valid ? g.fOHW.div(p) : 0, pix = p - n * g.OHW;
    const int oh = g.fOW.div(pix), ow = pix - oh * g.OW;
    base = (n * g.C + group * g.Cg) * g.HW;
    ih0 = oh * g.sh - g.ph, iw0 = ow * g.sw - g.pw;
  }
  template <int S>
  __device__ __forceinline__ void fetch(float (&v)[S], int k0) const {
#pragma unroll
    for (int s = 0; s < S; ++s) {
      const int r = k0 + Pt::k(tid, s); /* uniform across the warp */
      float val = 0.0f;
      if (valid && r < k_end) {
        const int c = g.fKHW.div(r), rem = r - c * g.KHW, i = g.fKW.div(rem), j = rem - i * g.KW;
        const int ih = ih0 + i * g.dh, iw = iw0 + j * g.dw;
        if ((unsigned)ih < (unsigned)g.H && (unsigned)iw < (unsigned)g.W)
          val = __ldg(x + base + c * g.HW + ih * g.W + iw);
      }
      v[s] = val;
    }
  }
};

struct FwdEpi {
  float *y, *ws;
  const float *bias;
  Geo g;
  int len;
  __device__ __forceinline__ void store(int group, int split, int row, int col, float v) const {
    const int n = g.fOHW.div(col), pix = col - n * g.OHW;
    const int i = (n * g.K + group * g.Kg + row) * g.OHW + pix;
    if (ws) ws[(int64_t)split * len + i] = v;
    else y[i] = bias ? v + __ldg(bias + group * g.Kg + row) : v;
  }
};

/* Backward input A: w^T[c, (k, i, j)] = w[k, c, i, j] of the group, K-contiguous. */
template <int BX, int BK, int T>
struct WtOp {
  static constexpr bool KCONTIG = true;
  typedef Pattern<BX, BK, T, true> Pt;
  const float *w;
  Geo g;
  int c_first, k_end, tid; /* slot s holds channel c_first + s * T / BK */
  __device__ __forceinline__ void init(int group, int x0, int tid_, int k_end_) {
    tid = tid_, k_end = k_end_;
    c_first = x0 + Pt::x(tid, 0);
    w += group * g.Kg * g.R + c_first * g.KHW;
  }
  template <int S>
  __device__ __forceinline__ void fetch(float (&v)[S], int k0) const {
    const int q = k0 + Pt::k(tid, 0); /* the same k for every slot */
    const int k = g.fKHW.div(q), ij = q - k * g.KHW;
    const float *wp = w + k * g.R + ij;
#pragma unroll
    for (int s = 0; s < S; ++s) {
      const int dc = s * (T / BK);
      v[s] = (q < k_end && c_first + dc < g.Cg) ? __ldg(wp + dc * g.KHW) : 0.0f;
    }
  }
};

/* Backward input B: dy gathered for input pixel q = (n, ih, iw) and (k, i, j): X-contiguous. */
template <int BX, int BK, int T>
struct DyGatherOp {
  static constexpr bool KCONTIG = false;
  typedef Pattern<BX, BK, T, false> Pt;
  const float *dy;
  Geo g;
  int base, th0, tw0, k_end, tid;
  bool valid;
  __device__ __forceinline__ void init(int group, int x0, int tid_, int k_end_) {
    tid = tid_, k_end = k_end_;
    const int q = x0 + Pt::x(tid, 0);
    valid = q < g.N * g.HW;
    const int n = valid ? g.fHW.div(q) : 0, pix = q - n * g.HW;
    const int ih = g.fW.div(pix), iw = pix - ih * g.W;
    base = (n * g.K + group * g.Kg) * g.OHW;
    th0 = ih + g.ph, tw0 = iw + g.pw;
  }
  template <int S>
  __device__ __forceinline__ void fetch(float (&v)[S], int k0) const {
#pragma unroll
    for (int s = 0; s < S; ++s) {
      const int q = k0 + Pt::k(tid, s); /* uniform across the warp */
      float val = 0.0f;
      if (valid && q < k_end) {
        const int k = g.fKHW.div(q), ij = q - k * g.KHW, i = g.fKW.div(ij), j = ij - i * g.KW;
        const int th = th0 - i * g.dh, tw = tw0 - j * g.dw;
        if (th >= 0 && tw >= 0) {
          const int oh = g.fsh.div(th), ow = g.fsw.div(tw);
          if (oh * g.sh == th && ow * g.sw == tw && oh < g.OH && ow < g.OW)
            val = __ldg(dy + base + k * g.OHW + oh * g.OW + ow);
        }
      }
      v[s] = val;
    }
  }
};

struct BwdInputEpi {
  float *dx, *ws;
  Geo g;
  int len;
  __device__ __forceinline__ void store(int group, int split, int row, int col, float v) const {
    const int n = g.fHW.div(col), pix = col - n * g.HW;
    const int i = (n * g.C + group * g.Cg + row) * g.HW + pix;
    if (ws) ws[(int64_t)split * len + i] = v;
    else dx[i] = v;
  }
};

/* Backward weight A: dy_g[m, p], K-contiguous (p = output pixel). */
template <int BX, int BK, int T>
struct DyOp {
  static constexpr bool KCONTIG = true;
  typedef Pattern<BX, BK, T, true> Pt;
  const float *dy;
  Geo g;
  int m_first, k_end, tid; /* slot s holds channel m_first + s * T / BK */
  __device__ __forceinline__ void init(int group, int x0, int tid_, int k_end_) {
    tid = tid_, k_end = k_end_;
    m_first = x0 + Pt::x(tid, 0);
    dy += (group * g.Kg + m_first) * g.OHW;
  }
  template <int S>
  __device__ __forceinline__ void fetch(float (&v)[S], int k0) const {
    const int p = k0 + Pt::k(tid, 0); /* the same p for every slot */
    const int n = g.fOHW.div(p), pix = p - n * g.OHW;
    const float *dp = dy + n * g.K * g.OHW + pix;
#pragma unroll
    for (int s = 0; s < S; ++s) {
      const int dm = s * (T / BK);
      v[s] = (p < k_end && m_first + dm < g.Kg) ? __ldg(dp + dm * g.OHW) : 0.0f;
    }
  }
};

/* Backward weight B: col(x)^T[p, r], K-contiguous (p); a thread's r values are fixed: their
   (channel offset, tap offsets) are decoded once in init. */
template <int BX, int BK, int T>
struct ColTOp {
  static constexpr bool KCONTIG = true;
  typedef Pattern<BX, BK, T, true> Pt;
  const float *x;
  Geo g;
  int coff[Pt::SLOTS], hoff[Pt::SLOTS], woff[Pt::SLOTS];
  int k_end, tid;
  __device__ __forceinline__ void init(int group, int x0, int tid_, int k_end_) {
    tid = tid_, k_end = k_end_;
#pragma unroll
    for (int s = 0; s < Pt::SLOTS; ++s) {
      const int r = x0 + Pt::x(tid, s);
      const int c = g.fKHW.div(r), rem = r - c * g.KHW, i = g.fKW.div(rem), j = rem - i * g.KW;
      coff[s] = r < g.R ? (group * g.Cg + c) * g.HW : -1;
      hoff[s] = i * g.dh - g.ph, woff[s] = j * g.dw - g.pw;
    }
  }
  template <int S>
  __device__ __forceinline__ void fetch(float (&v)[S], int k0) const {
    const int p = k0 + Pt::k(tid, 0);
    const int n = g.fOHW.div(p), pix = p - n * g.OHW, oh = g.fOW.div(pix), ow = pix - oh * g.OW;
    const float *xp = x + n * g.C * g.HW;
    const int hb = oh * g.sh, wb = ow * g.sw;
#pragma unroll
    for (int s = 0; s < S; ++s) {
      const int ih = hb + hoff[s], iw = wb + woff[s];
      v[s] = (p < k_end && coff[s] >= 0 && (unsigned)ih < (unsigned)g.H && (unsigned)iw < (unsigned)g.W)
                 ? __ldg(xp + coff[s] + ih * g.W + iw)
                 : 0.0f;
    }
  }
};

struct BwdWeightEpi {
  float *dw, *ws;
  Geo g;
  int len;
  __device__ __forceinline__ void store(int group, int split, int row, int col, float v) const {
    const int i = (group * g.Kg + row) * g.R + col;
    if (ws) ws[(int64_t)split * len + i] = v;
    else dw[i] = v;
  }
};

/* ---------------- launchers ---------------- */

/* Checks the geometry; fills the derived sizes. */
static int make_geo(Geo *o, const char *op, const cn_conv2d_geom *g) {
  CN_REQUIRE(g != NULL, "%s: geometry is NULL", op);
  /* an empty batch (n = 0) is allowed, as in the TypeScript backend: nothing to compute, zero gradients */
  CN_REQUIRE(g->n >= 0 && g->c > 0 && g->h > 0 && g->w > 0, "%s: input size must be positive, got [%d, %d, %d, %d]",
             op, g->n, g->c, g->h, g->w);
  CN_REQUIRE(g->k > 0 && g->kh > 0 && g->kw > 0, "%s: weight size must be positive, got k=%d kh=%d kw=%d", op, g->k,
             g->kh, g->kw);
  CN_REQUIRE(g->stride_h > 0 && g->stride_w > 0, "%s: stride must be positive, got (%d, %d)", op, g->stride_h,
             g->stride_w);
  CN_REQUIRE(g->pad_h >= 0 && g->pad_w >= 0, "%s: padding must be >= 0, got (%d, %d)", op, g->pad_h, g->pad_w);
  CN_REQUIRE(g->dilation_h > 0 && g->dilation_w > 0, "%s: dilation must be positive, got (%d, %d)", op,
             g->dilation_h, g->dilation_w);
  CN_REQUIRE(g->groups > 0 && g->c % g->groups == 0 && g->k % g->groups == 0,
             "%s: groups must divide both channel counts, got groups=%d for c=%d, k=%d", op, g->groups, g->c, g->k);
  CN_REQUIRE(g->groups <= 65535, "%s: groups must be at most 65535, got %d", op, g->groups);
  /* the padded input and the dilated kernel's extent (int64: no overflow for any int32 inputs) */
  const int64_t ph = g->h + 2 * (int64_t)g->pad_h, pw = g->w + 2 * (int64_t)g->pad_w;
  const int64_t eh = (int64_t)g->dilation_h * (g->kh - 1) + 1, ew = (int64_t)g->dilation_w * (g->kw - 1) + 1;
  const int64_t oh = (ph - eh) / g->stride_h + 1, ow = (pw - ew) / g->stride_w + 1;
  CN_REQUIRE(ph >= eh && pw >= ew,
             "%s: the dilated %dx%d kernel is larger than the padded %lldx%lld input", op, g->kh, g->kw,
             (long long)ph, (long long)pw);
  CN_REQUIRE(g->oh == oh && g->ow == ow, "%s: output size is %dx%d but the geometry gives %lldx%lld", op, g->oh, g->ow,
             (long long)oh, (long long)ow);
  const int64_t cg = g->c / g->groups;
  const int64_t xs = (int64_t)g->n * g->c * g->h * g->w, ys = (int64_t)g->n * g->k * oh * ow;
  const int64_t ws = (int64_t)g->k * cg * g->kh * g->kw;
  CN_REQUIRE(xs < INT32_MAX && ys < INT32_MAX && ws < INT32_MAX && ph < INT32_MAX && pw < INT32_MAX,
             "%s: tensors must have fewer than 2^31 elements (32-bit indexing), got x %lld, y %lld, w %lld, "
             "padded input %lldx%lld",
             op, (long long)xs, (long long)ys, (long long)ws, (long long)ph, (long long)pw);
  Geo e;
  e.N = g->n, e.C = g->c, e.H = g->h, e.W = g->w, e.K = g->k, e.KH = g->kh, e.KW = g->kw;
  e.OH = g->oh, e.OW = g->ow, e.sh = g->stride_h, e.sw = g->stride_w, e.ph = g->pad_h, e.pw = g->pad_w;
  e.dh = g->dilation_h, e.dw = g->dilation_w, e.G = g->groups;
  e.Cg = g->c / g->groups, e.Kg = g->k / g->groups, e.KHW = g->kh * g->kw, e.R = e.Cg * e.KHW;
  e.HW = g->h * g->w, e.OHW = g->oh * g->ow, e.P = g->n * e.OHW;
  e.fKHW = make_fastdiv(e.KHW), e.fKW = make_fastdiv(e.KW), e.fHW = make_fastdiv(e.HW), e.fW = make_fastdiv(e.W);
  e.fOHW = make_fastdiv(e.OHW), e.fOW = make_fastdiv(e.OW), e.fsh = make_fastdiv(e.sh), e.fsw = make_fastdiv(e.sw);
  *o = e;
  return CN_OK;
}

/* Up to this many output positions (N*oh*ow) the weight and bias gradients' direct kernels run unsplit:
   a block's 256 threads then walk at most 64 positions each (the seed's layer at batch 10: 7840, 31
   each, ~1k FMAs per thread, under a microsecond), cheaper than the ~3-5 us launch of a split
   reduction. */
static const int kUnsplitPositions = 16384;

/* A split-K / split-batch workspace of `floats`; NULL (and no error) when it cannot be had. */
static float *try_workspace(int64_t floats) {
  void *p = NULL;
  if (cn_alloc(&p, floats * (int64_t)sizeof(float)) != CN_OK) return NULL;
  return (float *)p;
}

/* Adds the workspace slices into out (and frees the workspace: later users of the block come
   after these kernels on the one stream). */
static int reduce_and_free(const char *what, float *out, float *ws, int splits, int64_t len, const float *bias,
                           int bias_inner, int bias_n, int st) {
  if (st == CN_OK) {
    auto red = splitk_reduce_kernel<0>;
    CN_LAUNCH(red, cn_blocks(len, 256), 256, out, (const float *)ws, splits, len, 1.0f, 0.0f, bias, bias_inner,
              bias_n);
    st = CN_CHECK_LAUNCH(what);
  }
  const int fs = cn_free(ws);
  return st != CN_OK ? st : fs;
}

template <class C, class OpA, class OpB, class Epi>
static int launch_tiles(const char *what, const OpA &a, const OpB &b, const Epi &e, int M, int N, int K,
                        const Plan &pl, int groups) {
  auto kern = tile_gemm_kernel<C, OpA, OpB, Epi>;
  CN_LAUNCH(kern, dim3(pl.tiles, 1, pl.splits * groups), C::THREADS, a, b, e, M, N, K, pl.k_per_split, groups);
  return CN_CHECK_LAUNCH(what);
}

template <class C>
static int forward_tiled(float *y, float *ws, const float *x, const float *w, const float *bias, const Geo &g,
                         const Plan &pl) {
  DenseOp<C::BM, C::BK, C::THREADS, true> a;
  a.p = w, a.X = g.Kg, a.K = g.R, a.group_stride = (int64_t)g.Kg * g.R;
  FwdColOp<C::BN, C::BK, C::THREADS> b;
  b.x = x, b.g = g;
  FwdEpi e;
  e.y = y, e.ws = ws, e.bias = bias, e.g = g, e.len = g.N * g.K * g.OHW;
  return launch_tiles<C>("conv2d_forward: implicit GEMM", a, b, e, g.Kg, g.P, g.R, pl, g.G);
}

extern "C" int cn_conv2d_forward(float *y, const float *x, const float *w, const float *bias,
                                 const cn_conv2d_geom *geom) {
  Geo g;
  CN_TRY(make_geo(&g, "conv2d_forward", geom));
  if (g.N == 0) return CN_OK;
  CN_REQUIRE(y && x && w, "conv2d_forward: %s is NULL", !y ? "y" : !x ? "x" : "w");
  if (g.R <= 32) {
    const int MC = 16;
    dim3 grid(cn_tile::cdiv(g.P, 128), cn_tile::cdiv(g.Kg, MC), g.G);
    CN_REQUIRE(grid.y <= 65535, "conv2d_forward: k/groups=%d is too large (at most %d)", g.Kg, 65535 * MC);
    if (g.R <= 16) {
      auto kern = conv2d_forward_direct_kernel<16, MC>;
      CN_LAUNCH(kern, grid, 128, y, x, w, bias, g);
    } else {
      auto kern = conv2d_forward_direct_kernel<32, MC>;
      CN_LAUNCH(kern, grid, 128, y, x, w, bias, g);
    }
    return CN_CHECK_LAUNCH("conv2d_forward: direct kernel");
  }
  Plan pl = plan_gemm(g.Kg, g.P, g.R, g.G, 1);
  const int64_t len = (int64_t)g.N * g.K * g.OHW;
  float *ws = pl.splits > 1 ? try_workspace(pl.splits * len) : NULL;
  if (pl.splits > 1 && !ws) pl = plan_gemm(g.Kg, g.P, g.R, g.G, 0);
  const int st = pl.big ? forward_tiled<Big>(y, ws, x, w, bias, g, pl) : forward_tiled<Small>(y, ws, x, w, bias, g, pl);
  if (!ws) return st;
  return reduce_and_free("conv2d_forward: split-K reduction", y, ws, pl.splits, len, bias, g.OHW, g.K, st);
}

template <class C>
static int backward_input_tiled(float *dx, float *ws, const float *dy, const float *w, const Geo &g,
                                const Plan &pl) {
  WtOp<C::BM, C::BK, C::THREADS> a;
  a.w = w, a.g = g;
  DyGatherOp<C::BN, C::BK, C::THREADS> b;
  b.dy = dy, b.g = g;
  BwdInputEpi e;
  e.dx = dx, e.ws = ws, e.g = g, e.len = g.N * g.C * g.HW;
  return launch_tiles<C>("conv2d_backward_input: implicit GEMM", a, b, e, g.Cg, g.N * g.HW, g.Kg * g.KHW, pl, g.G);
}

extern "C" int cn_conv2d_backward_input(float *dx, const float *dy, const float *w, const cn_conv2d_geom *geom) {
  Geo g;
  CN_TRY(make_geo(&g, "conv2d_backward_input", geom));
  if (g.N == 0) return CN_OK;
  CN_REQUIRE(dx && dy && w, "conv2d_backward_input: %s is NULL", !dx ? "dx" : !dy ? "dy" : "w");
  if (g.Cg <= 8) {
    dim3 grid(cn_tile::cdiv((int64_t)g.N * g.HW, 128), 1, g.G);
    if (g.Cg <= 2) {
      auto kern = conv2d_backward_input_direct_kernel<2>;
      CN_LAUNCH(kern, grid, 128, dx, dy, w, g);
    } else {
      auto kern = conv2d_backward_input_direct_kernel<8>;
      CN_LAUNCH(kern, grid, 128, dx, dy, w, g);
    }
    return CN_CHECK_LAUNCH("conv2d_backward_input: direct kernel");
  }
  const int M = g.Cg, N = g.N * g.HW, K = g.Kg * g.KHW;
  Plan pl = plan_gemm(M, N, K, g.G, 1);
  const int64_t len = (int64_t)g.N * g.C * g.HW;
  float *ws = pl.splits > 1 ? try_workspace(pl.splits * len) : NULL;
  if (pl.splits > 1 && !ws) pl = plan_gemm(M, N, K, g.G, 0);
  const int st = pl.big ? backward_input_tiled<Big>(dx, ws, dy, w, g, pl)
                        : backward_input_tiled<Small>(dx, ws, dy, w, g, pl);
  if (!ws) return st;
  return reduce_and_free("conv2d_backward_input: split-K reduction", dx, ws, pl.splits, len, NULL, 1, 1, st);
}

template <class C>
static int backward_weight_tiled(float *dw, float *ws, const float *dy, const float *x, const Geo &g,
                                 const Plan &pl) {
  DyOp<C::BM, C::BK, C::THREADS> a;
  a.dy = dy, a.g = g;
  ColTOp<C::BN, C::BK, C::THREADS> b;
  b.x = x, b.g = g;
  BwdWeightEpi e;
  e.dw = dw, e.ws = ws, e.g = g, e.len = g.K * g.R;
  return launch_tiles<C>("conv2d_backward_weight: implicit GEMM", a, b, e, g.Kg, g.R, g.P, pl, g.G);
}

extern "C" int cn_conv2d_backward_weight(float *dw, const float *dy, const float *x, const cn_conv2d_geom *geom) {
  Geo g;
  CN_TRY(make_geo(&g, "conv2d_backward_weight", geom));
  CN_REQUIRE(dw && (g.N == 0 || (dy && x)), "conv2d_backward_weight: %s is NULL", !dw ? "dw" : !dy ? "dy" : "x");
  const int64_t len = (int64_t)g.K * g.R;
  if (g.N == 0) /* a sum over an empty batch */
    return cn_memset(dw, 0, len * (int64_t)sizeof(float), "conv2d_backward_weight: memset");
  if (g.R <= 32) {
    /* splits over the N*oh*ow positions: about 2 waves of blocks, each thread >= 8 positions */
    const int MC = g.R <= 16 ? 4 : 2;
    CN_REQUIRE(cn_tile::cdiv(g.Kg, MC) <= 65535, "conv2d_backward_weight: k/groups=%d is too large (at most %d)",
               g.Kg, 65535 * MC);
    const int64_t chunks = (int64_t)cn_tile::cdiv(g.Kg, MC) * g.G;
    int64_t splits = (kTwoWaves + chunks - 1) / chunks;
    const int64_t most = g.P <= kUnsplitPositions ? 1 : (g.P + 2047) / 2048;
    if (splits > most) splits = most;
    if (splits > 65535) splits = 65535;
    if (splits < 1) splits = 1;
    float *ws = splits > 1 ? try_workspace(splits * len) : NULL;
    if (!ws) splits = 1;
    const int per_split = cn_tile::cdiv(g.P, splits);
    dim3 grid((unsigned)splits, cn_tile::cdiv(g.Kg, MC), g.G);
    float *out = ws ? ws : dw;
    if (g.R <= 16) {
      auto kern = conv2d_backward_weight_direct_kernel<16, 4>;
      CN_LAUNCH(kern, grid, 256, out, dy, x, g, per_split, (int)len);
    } else {
      auto kern = conv2d_backward_weight_direct_kernel<32, 2>;
      CN_LAUNCH(kern, grid, 256, out, dy, x, g, per_split, (int)len);
    }
    const int st = CN_CHECK_LAUNCH("conv2d_backward_weight: direct kernel");
    if (!ws) return st;
    return reduce_and_free("conv2d_backward_weight: split reduction", dw, ws, (int)splits, len, NULL, 1, 1, st);
  }
  /* Small tiles only: the output kg x R is small next to the reduction depth P, so split-K, not the
     tile size, makes the blocks (and the big-tile variant would spill: its B operand keeps 12
     per-thread tap offsets). */
  Plan pl = plan_gemm(g.Kg, g.R, g.P, g.G, 1, false);
  float *ws = pl.splits > 1 ? try_workspace(pl.splits * len) : NULL;
  if (pl.splits > 1 && !ws) pl = plan_gemm(g.Kg, g.R, g.P, g.G, 0, false);
  const int st = backward_weight_tiled<Small>(dw, ws, dy, x, g, pl);
  if (!ws) return st;
  return reduce_and_free("conv2d_backward_weight: split-K reduction", dw, ws, pl.splits, len, NULL, 1, 1, st);
}

extern "C" int cn_conv2d_backward_bias(float *db, const float *dy, const cn_conv2d_geom *geom) {
  Geo g;
  CN_TRY(make_geo(&g, "conv2d_backward_bias", geom));
  CN_REQUIRE(db && (g.N == 0 || dy), "conv2d_backward_bias: %s is NULL", !db ? "db" : "dy");
  if (g.N == 0) /* a sum over an empty batch */
    return cn_memset(db, 0, g.K * (int64_t)sizeof(float), "conv2d_backward_bias: memset");
  /* splits over the N*oh*ow positions: about 2 waves of blocks, each >= 4096 values (16 per thread) */
  int64_t splits = (kTwoWaves + g.K - 1) / g.K;
  const int64_t most = g.P <= kUnsplitPositions ? 1 : (g.P + 4095) / 4096;
  if (splits > most) splits = most;
  if (splits > 65535) splits = 65535;
  if (splits < 1) splits = 1;
  float *ws = splits > 1 ? try_workspace(splits * g.K) : NULL;
  if (!ws) splits = 1;
  const int per_split = cn_tile::cdiv(g.P, splits);
  CN_LAUNCH(conv2d_backward_bias_kernel, dim3(g.K, (unsigned)splits), 256, ws ? ws : db, dy, g.N, g.K, g.OHW,
            per_split);
  const int st = CN_CHECK_LAUNCH("conv2d_backward_bias: kernel");
  if (!ws) return st;
  return reduce_and_free("conv2d_backward_bias: split reduction", db, ws, (int)splits, g.K, NULL, 1, 1, st);
}

extern "C" int cn_conv2d_backward_weight_bias(float *dw, float *db, const float *dy, const float *x,
                                              const cn_conv2d_geom *geom) {
  Geo g;
  CN_TRY(make_geo(&g, "conv2d_backward_weight_bias", geom));
  CN_REQUIRE(dw && db && (g.N == 0 || (dy && x)), "conv2d_backward_weight_bias: %s is NULL",
             !dw ? "dw" : !db ? "db" : !dy ? "dy" : "x");
  const int MC = g.R <= 16 ? 4 : 2;
  const int chunks = cn_tile::cdiv(g.Kg, MC);
  /* the unsplit cases of both (cn_conv2d_backward_weight's direct kernel with one split, and one
     split of the bias kernel): one launch; anything else, the two calls */
  if (g.N == 0 || g.R > 32 || g.P > kUnsplitPositions || chunks + g.Kg > 65535) {
    CN_TRY(cn_conv2d_backward_weight(dw, dy, x, geom));
    return cn_conv2d_backward_bias(db, dy, geom);
  }
  dim3 grid(1, (unsigned)(chunks + g.Kg), g.G);
  if (g.R <= 16) {
    auto kern = conv2d_backward_weight_bias_kernel<16, 4>;
    CN_LAUNCH(kern, grid, 256, dw, db, dy, x, g, chunks);
  } else {
    auto kern = conv2d_backward_weight_bias_kernel<32, 2>;
    CN_LAUNCH(kern, grid, 256, dw, db, dy, x, g, chunks);
  }
  return CN_CHECK_LAUNCH("conv2d_backward_weight_bias");
}

/* y = maxPool2d(relu(conv2d(x, w) + bias)) with the argmax indices: one launch when R <= 32 (the
   direct kernel's case, the seed's layer), else conv, ReLU and pooling one by one through a
   temporary (the same numbers either way). */
extern "C" int cn_conv2d_relu_maxpool2d_forward(float *y, int32_t *indices, const float *x, const float *w,
                                                const float *bias, const cn_conv2d_geom *conv,
                                                const cn_pool2d_geom *pool) {
  Geo g;
  CN_TRY(make_geo(&g, "conv2d_relu_maxpool2d_forward", conv));
  CN_TRY(cn_check_pool2d_geom("conv2d_relu_maxpool2d_forward", pool));
  CN_REQUIRE(pool->n == g.N && pool->c == g.K && pool->h == g.OH && pool->w == g.OW,
             "conv2d_relu_maxpool2d_forward: the pooling's input [%d, %d, %d, %d] is not the convolution's output "
             "[%d, %d, %d, %d]",
             pool->n, pool->c, pool->h, pool->w, g.N, g.K, g.OH, g.OW);
  if (g.N == 0) return CN_OK;
  CN_REQUIRE(y && indices && x && w, "conv2d_relu_maxpool2d_forward: %s is NULL",
             !y ? "y" : !indices ? "indices" : !x ? "x" : "w");
  CN_TRY(cn_init());
  if (g.R > 32) {
    void *tmp = NULL;
    CN_TRY(cn_alloc(&tmp, (int64_t)g.N * g.K * g.OHW * (int64_t)sizeof(float)));
    int st = cn_conv2d_forward((float *)tmp, x, w, bias, conv);
    if (st == CN_OK) st = cn_unary(CN_RELU, CN_F32, tmp, tmp, (int64_t)g.N * g.K * g.OHW);
    if (st == CN_OK) st = cn_pool2d_forward(CN_POOL_MAX, y, indices, (const float *)tmp, pool);
    const int fs = cn_free(tmp);
    return st != CN_OK ? st : fs;
  }
  PoolWin pw;
  pw.OH = pool->oh, pw.OW = pool->ow, pw.kh = pool->kh, pw.kw = pool->kw;
  pw.sh = pool->stride_h, pw.sw = pool->stride_w, pw.ph = pool->pad_h, pw.pw = pool->pad_w;
  /* 8 channels per thread with up to 16 taps, 4 with up to 32: taps, maxima and argmaxes in registers
     (8 with 32 taps spills under CUDA 13). */
  const int MC = g.R <= 16 ? 8 : 4;
  dim3 grid(cn_tile::cdiv((int64_t)g.N * pw.OH * pw.OW, 128), cn_tile::cdiv(g.Kg, MC), g.G);
  CN_REQUIRE(grid.y <= 65535, "conv2d_relu_maxpool2d_forward: k/groups=%d is too large (at most %d)", g.Kg,
             65535 * MC);
  if (g.R <= 16) {
    auto kern = conv2d_relu_maxpool2d_kernel<16, 8>;
    CN_LAUNCH(kern, grid, 128, y, indices, x, w, bias, g, pw);
  } else {
    auto kern = conv2d_relu_maxpool2d_kernel<32, 4>;
    CN_LAUNCH(kern, grid, 128, y, indices, x, w, bias, g, pw);
  }
  return CN_CHECK_LAUNCH("conv2d_relu_maxpool2d_forward");
}
