/*
 * gemm_tile.cuh: the tiled SGEMM main loop shared by gemm.cu (dense matrices) and conv2d.cu
 * (implicit GEMM: the operands are gathered from the image on the fly, no im2col workspace).
 *
 * One block computes a BM x BN tile of C = A * B, walking K in steps of BK:
 *   - each thread fetches its share of the next A and B tiles from global memory into registers
 *     while the block computes on the current tiles (double-buffered shared memory, so there is
 *     one __syncthreads per K step);
 *   - tiles live in shared memory K-major, S[k][x] with rows padded by 4 floats, so that both
 *     fetch patterns below store without bank conflicts and the inner loop reads 4 consecutive
 *     floats (an LDS.128) per fragment;
 *   - each thread accumulates a TM x TN micro-tile in registers, split into 4-wide groups that
 *     are BM/GM (BN/GN) apart, so that the 8 threads of a quarter warp read 8 different float4s
 *     covering all 32 banks (conflict-free) and the A fragment is a broadcast (2 rows per warp).
 *
 * Fetch patterns (an operand tile is BX rows x BK columns of op(A) or the transpose of op(B)):
 *   - X-contiguous (the x index is contiguous in memory, e.g. B not transposed): thread t reads
 *     x = t % BX, k = t / BX + s * (THREADS / BX): a warp reads 32 consecutive floats (128 B);
 *   - K-contiguous (e.g. A not transposed): k = t % BK, x = t / BK + s * (THREADS / BK): 8
 *     threads read one 32-byte sector, a warp 4 full sectors.
 *   The K-contiguous store S[k][x] has bank (k * (BX + 4) + x) % 32 = (4k + x) % 32 for k < 8,
 *   x < 4 within a warp: 32 different banks. The X-contiguous store is a plain row: no conflicts.
 *
 * Operands are small structs with init(group, x0, tid, k_end) and fetch(regs, k0); the epilogue
 * is a struct with store(group, split, row, col, value). Bounds (x >= X, k >= k_end) read as 0,
 * and the epilogue is only called for row < M, col < N: any M, N, K >= 0 works (1s, primes).
 *
 * Split-K: blockIdx.z = split * groups + group; split s covers k in [s * k_per_split, ...) and its
 * epilogue writes raw sums to a workspace slice; splitk_reduce_kernel then adds the slices in a
 * fixed order (deterministic: no float atomics, the same inputs give the same bits every run).
 */
#ifndef CN_GEMM_TILE_CUH
#define CN_GEMM_TILE_CUH

#include "common.h"

namespace cn_tile {

/* Tile shapes. THREADS must be a multiple of BX (for the X-contiguous pattern) and of BK.
 *
 * Napkin math for an H100/H200 (132 SMs, ~67 TFLOP/s fp32 FMA, ~3.4-4.8 TB/s HBM, 50 MB L2,
 * 228 KB smem and 64K registers per SM):
 * - Big: 128x128x8, 256 threads, 8x8 per thread. Per K step a block loads (128+128)*8*4 = 8 KB
 *   and does 2*128*128*8 = 262 kFLOP: 32 FLOP/byte from L2/HBM, above the card's ~14 FLOP/byte
 *   ridge, so a large GEMM is compute-bound. In the inner loop a thread does 64 FMAs per 4 LDS.128
 *   (16 floats): 4 FMA per shared float read. Shared memory: 2 buffers * 2 tiles * 8 * 132 * 4 B
 *   = 16.9 KB. Registers: 64 accumulators + 16 fragments + 8 prefetch + addressing: ptxas
 *   reports 122-128 with no spills, so 2 blocks (16 warps) per SM under __launch_bounds__(256, 2):
 *   25% occupancy, the latency being hidden by 64 independent FMAs per thread per k.
 * - Small: 64x64x8, 256 threads, 4x4 per thread: a quarter of the work per block, 4x the blocks.
 *   Used when the big tiles would not fill the 132 SMs (16 FLOP/byte, 2 FMA per shared read:
 *   lower efficiency per block, but more blocks; ~80 registers: 3 blocks, 24 warps per SM).
 *   Split-K adds blocks when even these are few and K is long (the Linear layer: m = batch,
 *   n = 10, k = 3136).
 */
template <int BM_, int BN_, int BK_, int TM_, int TN_, int MIN_BLOCKS_>
struct Cfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int TX = BN / TN, TY = BM / TM; /* thread grid over the tile */
  static constexpr int THREADS = TX * TY;
  static constexpr int GM = TM / 4, GN = TN / 4; /* 4-wide groups per thread */
  static constexpr int PAD = 4;
  static constexpr int MIN_BLOCKS = MIN_BLOCKS_;
};
typedef Cfg<128, 128, 8, 8, 8, 2> Big;
typedef Cfg<64, 64, 8, 4, 4, 2> Small;

/* Roughly 1 and 2 waves of blocks on a 132-SM H100/H200 (we do not query the card: the choice only
   affects speed, never results). */
static const int kWave = 132;
static const int kTwoWaves = 264;

/* Which (x, k) element of an operand tile slot s of thread tid holds. */
template <int BX, int BK, int THREADS, bool KCONTIG>
struct Pattern {
  static constexpr int SLOTS = BX * BK / THREADS;
  static_assert(THREADS % BX == 0 && THREADS % BK == 0 && SLOTS >= 1, "tile/threads mismatch");
  static __device__ __forceinline__ int x(int tid, int s) {
    return KCONTIG ? tid / BK + s * (THREADS / BK) : tid % BX;
  }
  static __device__ __forceinline__ int k(int tid, int s) {
    return KCONTIG ? tid % BK : tid / BX + s * (THREADS / BX);
  }
};

static __device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

/* 4 consecutive floats of a 16-byte aligned shared row: one LDS.128 on the GPU. */
static __device__ __forceinline__ float4 lds4(const float *p) {
#ifdef CN_EMULATION
  return make_float4(p[0], p[1], p[2], p[3]);
#else
  return *reinterpret_cast<const float4 *>(p);
#endif
}

/* A dense row-major operand: element (x, k) at p[x * K + k] (KCONTIG) or p[k * X + x];
   group g starts at p + g * group_stride. */
template <int BX, int BK, int THREADS, bool KC>
struct DenseOp {
  static constexpr bool KCONTIG = KC;
  typedef Pattern<BX, BK, THREADS, KC> P;
  const float *p;
  int X, K;
  int64_t group_stride;
  /* per-thread state: the x of slot 0 (slot s adds s * THREADS / BK when KC), and p at that x */
  const float *q;
  int x_first, k_end, tid;

  __device__ __forceinline__ void init(int group, int x0, int tid_, int k_end_) {
    tid = tid_;
    k_end = k_end_;
    x_first = x0 + P::x(tid, 0);
    q = p + group * group_stride + (KC ? (int64_t)x_first * K : x_first);
  }
  template <int N>
  __device__ __forceinline__ void fetch(float (&r)[N], int k0) const {
#pragma unroll
    for (int s = 0; s < N; ++s) {
      const int k = k0 + P::k(tid, s);
      const int dx = KC ? s * (THREADS / BK) : 0; /* x - x_first */
      r[s] = (x_first + dx < X && k < k_end) ? __ldg(q + (KC ? dx * K + k : k * X)) : 0.0f;
    }
  }
};

/* Stores a thread's fetched slots into the K-major shared tile S[k][x]. */
template <class Op, int BX, int BK, int THREADS, int N>
__device__ __forceinline__ void store_tile(float (*S)[BX + 4], const float (&r)[N], int tid) {
  typedef Pattern<BX, BK, THREADS, Op::KCONTIG> P;
#pragma unroll
  for (int s = 0; s < N; ++s) S[P::k(tid, s)][P::x(tid, s)] = r[s];
}

/* The tiled GEMM: C[M, N] (per group) = sum over k of A(m, k) * B(k, n), A and B fetched by the
   operand structs, C written by the epilogue. grid.x = tiles (M-tiles * N-tiles, row-major),
   grid.z = splits * groups. */
template <class C, class OpA, class OpB, class Epi>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    tile_gemm_kernel(OpA a, OpB b, Epi epi, int M, int N, int K, int k_per_split, int groups) {
  constexpr int BM = C::BM, BN = C::BN, BK = C::BK, TM = C::TM, TN = C::TN, T = C::THREADS;
  constexpr int SA = Pattern<BM, BK, T, OpA::KCONTIG>::SLOTS, SB = Pattern<BN, BK, T, OpB::KCONTIG>::SLOTS;
  /* rows of BM + 4 floats: a multiple of 4, so every 4-group starts 16-byte aligned */
  __shared__ __align__(16) float As[2][BK][BM + 4];
  __shared__ __align__(16) float Bs[2][BK][BN + 4];

  const int tid = threadIdx.x;
  const int tiles_n = (N + BN - 1) / BN;
  const int m0 = (int)(blockIdx.x / tiles_n) * BM, n0 = (int)(blockIdx.x % tiles_n) * BN;
  const int group = (int)blockIdx.z % groups, split = (int)blockIdx.z / groups;
  const int k_begin = split * k_per_split;
  const int k_end = imin(K, k_begin + k_per_split);
  a.init(group, m0, tid, k_end);
  b.init(group, n0, tid, k_end);

  const int tx = tid % C::TX, ty = tid / C::TX;
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  float ra[SA], rb[SB];
  if (k_begin < k_end) {
    a.fetch(ra, k_begin);
    b.fetch(rb, k_begin);
    store_tile<OpA, BM, BK, T>(As[0], ra, tid);
    store_tile<OpB, BN, BK, T>(Bs[0], rb, tid);
  }
  __syncthreads();

  int buf = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;
    if (more) { /* the next tiles' global loads overlap the FMAs below */
      a.fetch(ra, k0 + BK);
      b.fetch(rb, k0 + BK);
    }
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float fa[TM], fb[TN];
#pragma unroll
      for (int g = 0; g < C::GM; ++g) {
        const float4 v = lds4(&As[buf][kk][g * (BM / C::GM) + ty * 4]);
        fa[g * 4 + 0] = v.x, fa[g * 4 + 1] = v.y, fa[g * 4 + 2] = v.z, fa[g * 4 + 3] = v.w;
      }
#pragma unroll
      for (int g = 0; g < C::GN; ++g) {
        const float4 v = lds4(&Bs[buf][kk][g * (BN / C::GN) + tx * 4]);
        fb[g * 4 + 0] = v.x, fb[g * 4 + 1] = v.y, fb[g * 4 + 2] = v.z, fb[g * 4 + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += fa[i] * fb[j];
    }
    if (more) {
      store_tile<OpA, BM, BK, T>(As[buf ^ 1], ra, tid);
      store_tile<OpB, BN, BK, T>(Bs[buf ^ 1], rb, tid);
    }
    __syncthreads();
    buf ^= 1;
  }

#pragma unroll
  for (int g = 0; g < C::GM; ++g)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = m0 + g * (BM / C::GM) + ty * 4 + i;
      if (row >= M) continue;
#pragma unroll
      for (int h = 0; h < C::GN; ++h)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int col = n0 + h * (BN / C::GN) + tx * 4 + j;
          if (col < N) epi.store(group, split, row, col, acc[g * 4 + i][h * 4 + j]);
        }
    }
}

/* out[i] = alpha * sum_s part[s * len + i] + beta * out[i] (out not read when beta == 0)
   + bias[(i / bias_inner) % bias_n] (when bias); the slices are added in order s = 0, 1, ... */
template <int DUMMY = 0>
__global__ void __launch_bounds__(256)
    splitk_reduce_kernel(float *out, const float *part, int splits, int64_t len, float alpha, float beta,
                         const float *bias, int bias_inner, int bias_n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len; i += (int64_t)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int sp = 0; sp < splits; ++sp) s += __ldg(part + sp * len + i);
    float v = alpha * s;
    if (beta != 0.0f) v += beta * out[i];
    if (bias) v += __ldg(bias + (i / bias_inner) % bias_n);
    out[i] = v;
  }
}

/* Host side: the tile shape and split count for an M x N x K product over `groups` groups. */
struct Plan {
  bool big;
  int tiles;       /* blocks per (group, split) */
  int splits;      /* >= 1 */
  int k_per_split; /* a multiple of BK */
};

static inline int cdiv(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }

/* Big tiles only when they alone fill the card; else small tiles, and split K (each split >= 512
   deep, up to ~2 waves of blocks) when there are still fewer blocks than SMs. allow_split = 0 for
   callers without a workspace; allow_big = false for operands whose big-tile kernel would spill. */
static inline Plan plan_gemm(int M, int N, int K, int groups, int allow_split, bool allow_big = true) {
  Plan p;
  int64_t big_tiles = (int64_t)cdiv(M, Big::BM) * cdiv(N, Big::BN);
  p.big = allow_big && big_tiles * groups >= kWave;
  p.tiles = p.big ? (int)big_tiles : cdiv(M, Small::BM) * cdiv(N, Small::BN);
  p.splits = 1;
  int64_t blocks = (int64_t)p.tiles * groups;
  const int min_depth = 512;
  if (allow_split && blocks < kWave && K >= 2 * min_depth) {
    int64_t s = (kTwoWaves + blocks - 1) / blocks;
    if (s > K / min_depth) s = K / min_depth;
    if (s * groups > 65535) s = 65535 / groups;
    if (s > 1) p.splits = (int)s;
  }
  p.k_per_split = cdiv(cdiv(K, p.splits), Big::BK) * Big::BK;
  if (p.k_per_split < Big::BK) p.k_per_split = Big::BK;
  p.splits = K > 0 ? cdiv(K, p.k_per_split) : 1;
  return p;
}

}  // namespace cn_tile

#endif /* CN_GEMM_TILE_CUH */
