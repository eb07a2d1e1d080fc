/*
 * philox.cu: cn_random_fill, counter-based random numbers (Philox4x32-10, Salmon et al. 2011, as
 * Random123 and cuRAND's philox define it). Element i is a pure function of (seed, offset, i), so
 * every backend computes the same numbers. The recipe is
 * src/backend/philox.ts (the TypeScript reference and the specification), summed up in convnet.h.
 *
 * cn_random_fill_state takes the seed and offset from a device array instead of its arguments, and
 * advances the offset there itself (the last block to finish adds the blocks it used), as the host
 * advances its generator: so a CUDA graph that captured a dropout draws new numbers at each replay,
 * and consecutive random ops in one stream follow each other without the host writing anything.
 *
 * One thread per 4-word block: one Philox call (10 rounds of 2 32x32->64 multiplies) gives the
 * words of 4 consecutive elements. ~40 integer instructions per 4 floats: an H100 does ~30 T int
 * ops/s, so 1M elements are ~1.5 us of ALU against 4 MB written (~1.3 us): balanced; the normal
 * distribution's double log/sqrt/sincos make it ALU-bound (~10 us per 1M on an H100, whose FP64 is
 * half-rate; consumer cards at 1/64 rate would want a float path, at the price of agreeing with the
 * TypeScript backend to ~1 ulp instead of exactly).
 *
 * Arithmetic that must match the TypeScript backend bit for bit uses the _rn intrinsics, which
 * nvcc never contracts into a fused multiply-add.
 */
#include <type_traits>

#include "capture.h"
#include "common.h"

#define PHILOX_THREADS 256

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Philox4x32-10 of counter c under key (k0, k1). */
__device__ __forceinline__ uint4 philox4x32_10(uint4 c, uint32_t k0, uint32_t k1) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    const uint32_t hi0 = __umulhi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
    const uint32_t hi1 = __umulhi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
    c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
  }
  return c;
}

/* The top 24 bits as a float in [0, 1): exact. */
__device__ __forceinline__ float word_to_unit(uint32_t w) { return (float)(w >> 8) * 5.9604644775390625e-8f; }

struct UniformD { /* f32(f32(u * span) + lo), lo = f32(low), span = f32(f32(high) - lo) */
  float lo, span;
  __device__ __forceinline__ float operator()(uint32_t w) const {
    return __fadd_rn(__fmul_rn(word_to_unit(w), span), lo);
  }
};

struct BernoulliD { /* 1 where u < fround(p) */
  float p;
  __device__ __forceinline__ float operator()(uint32_t w) const { return word_to_unit(w) < p ? 1.0f : 0.0f; }
};

/* Box-Muller in double on a pair of words: u1 = ((w1 >> 8) + 1) * 2^-24 in (0, 1] (log never sees
   0), u2 = (w2 >> 8) * 2^-24, r = sqrt(-2 log u1), t = 2 pi u2; mean + (std * r) * cos t (sin t). */
struct NormalD {
  double mean, std;
  __device__ __forceinline__ void operator()(uint32_t w1, uint32_t w2, float *first, float *second) const {
    const double u1 = (double)((w1 >> 8) + 1u) * 5.9604644775390625e-8, u2 = (double)word_to_unit(w2);
    const double r = sqrt(__dmul_rn(-2.0, log(u1)));
    const double t = __dmul_rn(6.283185307179586, u2);
    const double sr = __dmul_rn(std, r);
    *first = __double2float_rn(__dadd_rn(mean, __dmul_rn(sr, cos(t))));
    *second = __double2float_rn(__dadd_rn(mean, __dmul_rn(sr, sin(t))));
  }
};

/* Block b (elements 4b .. 4b+3) uses counter b + offset. With `state` (seed, offset, ticket: three
   uint64), the key and offset come from it, and the last block to finish advances its offset by
   the blocks of n; every thread read it before its block took a ticket. */
template <class D>
__global__ void __launch_bounds__(PHILOX_THREADS) random_fill_kernel(float *out, int64_t n, uint32_t k0, uint32_t k1,
                                                                     uint64_t offset, D dist, uint64_t *state) {
  const int64_t blocks = (n + 3) >> 2;
  if (state) {
    const uint64_t seed = state[0];
    k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    offset = state[1];
  }
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += (int64_t)blockDim.x * gridDim.x) {
    const uint64_t q = (uint64_t)b + offset;
    const uint4 w = philox4x32_10(make_uint4((uint32_t)q, (uint32_t)(q >> 32), 0u, 0u), k0, k1);
    const int64_t i = b << 2;
    float v[4];
    if constexpr (std::is_same<D, NormalD>::value) {
      dist(w.x, w.y, &v[0], &v[1]);
      dist(w.z, w.w, &v[2], &v[3]);
    } else {
      v[0] = dist(w.x), v[1] = dist(w.y), v[2] = dist(w.z), v[3] = dist(w.w);
    }
    if (i + 4 <= n && ((uintptr_t)(out + i) & 15) == 0) {
      *(float4 *)(out + i) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (i + k < n) out[i + k] = v[k];
      }
    }
  }
  if (state) {
    __syncthreads(); /* every thread of the block has read state[1] */
    if (threadIdx.x == 0) {
      __threadfence();
      unsigned *ticket = (unsigned *)&state[2];
      if (atomicAdd(ticket, 1u) == gridDim.x - 1) {
        state[1] = offset + (uint64_t)blocks;
        *ticket = 0u;
      }
    }
  }
}

template <class D>
static int launch_random(float *out, int64_t n, uint64_t seed, uint64_t offset, D dist, uint64_t *state,
                         const char *what) {
  auto k = random_fill_kernel<D>;
  CN_LAUNCH(k, cn_blocks((n + 3) / 4, PHILOX_THREADS), PHILOX_THREADS, out, n, (uint32_t)seed, (uint32_t)(seed >> 32),
            offset, dist, state);
  return CN_CHECK_LAUNCH(what);
}

/* Both entry points: seed and offset from the arguments, or (state != NULL) from state. */
static int random_fill(const char *fn, int32_t distribution, float *out, int64_t n, uint64_t seed, uint64_t offset,
                       uint64_t *state, double p0, double p1) {
  CN_REQUIRE(distribution == CN_UNIFORM || distribution == CN_NORMAL || distribution == CN_BERNOULLI,
             "%s: distribution %d is not CN_UNIFORM (0), CN_NORMAL (1) or CN_BERNOULLI (2)", fn, (int)distribution);
  CN_REQUIRE(n >= 0, "%s: n must be >= 0, got %lld", fn, (long long)n);
  if (n == 0) return CN_OK;
  CN_REQUIRE(out != NULL, "%s: out is NULL (n=%lld)", fn, (long long)n);
  if (!state && cn_capture_id()) { /* seed and offset are arguments: every replay would draw the captured numbers */
    return cn_capture_refuse("random_fill", "a random op draws new numbers every step, a graph replay would repeat "
                                            "the captured ones (cn_random_fill_state reads them from the device)");
  }
  CN_TRY(cn_init());
  if (distribution == CN_UNIFORM) {
    UniformD d;
    d.lo = (float)p0;
    d.span = (float)((double)(float)p1 - (double)d.lo); /* in double, rounded once, as philox.ts */
    return launch_random(out, n, seed, offset, d, state, fn);
  }
  if (distribution == CN_BERNOULLI) {
    BernoulliD d;
    d.p = (float)p0;
    return launch_random(out, n, seed, offset, d, state, fn);
  }
  NormalD d;
  d.mean = p0;
  d.std = p1;
  return launch_random(out, n, seed, offset, d, state, fn);
}

extern "C" int cn_random_fill(int32_t distribution, float *out, int64_t n, uint64_t seed, uint64_t offset, double p0,
                              double p1) {
  return random_fill("cn_random_fill", distribution, out, n, seed, offset, NULL, p0, p1);
}

extern "C" int cn_random_fill_state(int32_t distribution, float *out, int64_t n, uint64_t *state, double p0,
                                    double p1) {
  CN_REQUIRE(state != NULL, "cn_random_fill_state: state is NULL (expected a device array: seed, offset, 0)");
  return random_fill("cn_random_fill_state", distribution, out, n, 0, 0, state, p0, p1);
}
