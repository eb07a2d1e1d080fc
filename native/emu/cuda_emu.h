/*
 * cuda_emu.h: just enough of CUDA, in plain C++17, to run convnet's kernels on the CPU.
 * Over 500 lines: the whole CUDA surface the kernels compile against (types, intrinsics, atomics,
 * warp ops, the runtime API) in one header, as <cuda_runtime.h> is one.
 *
 * Included by native/src/common.h when building with g++ -DCN_EMULATION (libconvnet_emu.so),
 * in place of <cuda_runtime.h>. Implemented by fibers.cpp (launches), order.cpp, shared.cpp,
 * report.cpp, synccheck.cpp, runtime.cpp, and in the sanitizer builds sanitize.cpp and racecheck.cpp.
 *
 * Model
 * - A launch runs synchronously: blocks one after another (x fastest, then y, then z); inside a
 *   block every thread is a fiber. A thread runs until it finishes or reaches __syncthreads() or a
 *   warp op (__shfl_*_sync, __syncwarp, votes); only there do threads switch. So memory is always
 *   coherent, atomics are trivially atomic, and __shared__ (= static) arrays are per-block storage,
 *   filled with 0xff bytes at the start of every block (shared.cpp), as a card's is garbage.
 * - That order (thread 0 first, block (0,0,0) first) is `forward`; CN_EMU_ORDER=reverse or
 *   random:SEED, or cn_emu_set_order() below, runs threads and blocks in another (order.cpp): a
 *   kernel whose result depends on the order has a missing barrier or a race.
 * - Warps are 32 consecutive linear thread ids (x + y*Dx + z*Dx*Dy), as on the GPU.
 * - A barrier that can never complete (a thread exits or waits elsewhere while others wait at
 *   __syncthreads(); a lane missing from a warp op) is a kernel bug: the emulator prints the kernel,
 *   its grid and block, and which threads wait where, then aborts. So do threads at different
 *   __syncthreads() calls and lanes of a warp at different warp ops, compared by call site
 *   (synccheck: synccheck.cpp).
 * - Warp ops need a mask that covers every lane of the warp (common.h's rule: full-warp). A lane
 *   that does not exist (the tail warp of a block whose size is not a multiple of 32) reads as
 *   all-ones bits (NaN as a float, -1 as an int) so that a kernel relying on it fails loudly.
 * - Device memory is host memory (256-byte aligned, filled with 0xff bytes by default so that a
 *   kernel reading memory nobody wrote sees NaN; CN_EMU_POISON=0 turns that off). cudaMemcpy and
 *   cudaMemset check that device ranges lie inside one allocation. The sanitizer build
 *   (-DCN_EMU_SANITIZE: sanitize.h, docs/sanitizer.md) checks every access instead (memcheck, initcheck).
 * - Launch configuration errors (more than 1024 threads, a zero dimension, ...) are reported by
 *   cudaGetLastError() as cudaErrorInvalidConfiguration, like CUDA.
 *
 * Limits: no dynamic (extern) shared memory, no dynamic parallelism, no partial-warp masks, no
 * cooperative groups, no textures; one device; streams and events are synchronous stand-ins.
 * Environment: CN_EMU_MEMORY_MB (device memory size; default half the host's RAM),
 * CN_EMU_STACK_KB (fiber stack size, default 64), CN_EMU_POISON (default 1: device and shared
 * memory), CN_EMU_ORDER (forward, reverse or random:SEED; read at each launch).
 */
#ifndef CN_CUDA_EMU_H
#define CN_CUDA_EMU_H

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <type_traits>

#define CN_EMU_API __attribute__((visibility("hidden")))

/* ---------------------------------------------------------------- qualifiers */

#define __global__
#define __device__
#define __host__
#define __constant__
/* __shared__ variables are statics (the emulator runs one block at a time). Each declaration also
   declares a marker static and a scope object: the marker's symbol (`_ZZ<function>E..cn_emu_shared_mark_N`)
   tells shared.cpp which function's statics are shared memory, and the scope object, run by every
   thread that reaches the declaration, tells it which kernel the running launch uses, so that those
   variables are poisoned at the start of each block (see shared.cpp). */
namespace cn_emu {
extern CN_EMU_API const void *g_shared_last; /* the marker last entered in this launch */
CN_EMU_API void shared_enter(const void *marker);
struct SharedScope {
  explicit SharedScope(const void *marker) {
    if (marker != g_shared_last) shared_enter(marker);
  }
};
}  // namespace cn_emu
#define CN_EMU_SHARED_DECL(n)                                                                   \
  static char cn_emu_shared_mark_##n;                                                          \
  ::cn_emu::SharedScope cn_emu_shared_scope_##n(&cn_emu_shared_mark_##n);                      \
  static
#define CN_EMU_SHARED_DECL1(n) CN_EMU_SHARED_DECL(n)
#define __shared__ CN_EMU_SHARED_DECL1(__COUNTER__)
#define __forceinline__ inline __attribute__((always_inline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
/* __restrict__ is a g++ keyword already. __noinline__ is left alone: libstdc++ spells it inside
   __attribute__((...)), so a macro would break the standard headers. */

/* ---------------------------------------------------------------- vector types */

#define CN_EMU_VEC1(T, N, A) \
  struct __attribute__((aligned(A))) N##1 { T x; };
#define CN_EMU_VEC2(T, N, A) \
  struct __attribute__((aligned(A))) N##2 { T x, y; };
#define CN_EMU_VEC3(T, N) \
  struct N##3 { T x, y, z; };
#define CN_EMU_VEC4(T, N, A) \
  struct __attribute__((aligned(A))) N##4 { T x, y, z, w; };
#define CN_EMU_VECS(T, N, S)                                                                             \
  CN_EMU_VEC1(T, N, S) CN_EMU_VEC2(T, N, 2 * S) CN_EMU_VEC3(T, N) CN_EMU_VEC4(T, N, (4 * S > 16 ? 16 : 4 * S)) \
  static inline N##1 make_##N##1(T x) { return N##1{x}; }                                             \
  static inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }                                      \
  static inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }                              \
  static inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }

CN_EMU_VECS(signed char, char, 1)
CN_EMU_VECS(unsigned char, uchar, 1)
CN_EMU_VECS(short, short, 2)
CN_EMU_VECS(unsigned short, ushort, 2)
CN_EMU_VECS(int, int, 4)
CN_EMU_VECS(unsigned int, uint, 4)
CN_EMU_VECS(long long, longlong, 8)
CN_EMU_VECS(unsigned long long, ulonglong, 8)
CN_EMU_VECS(float, float, 4)
CN_EMU_VECS(double, double, 8)
#undef CN_EMU_VEC1
#undef CN_EMU_VEC2
#undef CN_EMU_VEC3
#undef CN_EMU_VEC4
#undef CN_EMU_VECS

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

/* ---------------------------------------------------------------- built-in variables */

static constexpr int warpSize = 32;

namespace cn_emu {
/* The running thread's coordinates: written by the scheduler before a thread runs or resumes. */
extern CN_EMU_API uint3 g_thread_idx;
extern CN_EMU_API uint3 g_block_idx;
extern CN_EMU_API dim3 g_block_dim;
extern CN_EMU_API dim3 g_grid_dim;
}  // namespace cn_emu

#define threadIdx (static_cast<const uint3 &>(::cn_emu::g_thread_idx))
#define blockIdx (static_cast<const uint3 &>(::cn_emu::g_block_idx))
#define blockDim (static_cast<const dim3 &>(::cn_emu::g_block_dim))
#define gridDim (static_cast<const dim3 &>(::cn_emu::g_grid_dim))

/* ---------------------------------------------------------------- launch */

namespace cn_emu {

/* Runs body() once per thread of every block (see the model above). A bad configuration sets the
   error cudaGetLastError() returns and runs nothing. name/file/line only label error reports. */
CN_EMU_API void launch_erased(const char *name, const char *file, int line, dim3 grid, dim3 block,
                              void (*fn)(void *), void *ctx);

template <class F>
static void invoke_body(void *ctx) {
  (*static_cast<F *>(ctx))();
}

/* Stream capture (graph.cpp): while a capture is active, a launch is recorded (the body, holding
   the kernel's arguments by value, is copied to the heap) instead of run; cudaGraphLaunch runs it. */
CN_EMU_API bool capturing(void);
CN_EMU_API void capture_launch(const char *name, const char *file, int line, dim3 grid, dim3 block,
                               void (*fn)(void *), void *ctx, void (*destroy)(void *));

template <class F>
static void delete_body(void *ctx) {
  delete static_cast<F *>(ctx);
}

template <class F>
inline void launch(const char *name, const char *file, int line, dim3 grid, dim3 block, F &&body) {
  using B = typename std::remove_reference<F>::type;
  if (capturing()) {
    capture_launch(name, file, line, grid, block, &invoke_body<B>, new B(body), &delete_body<B>);
    return;
  }
  launch_erased(name, file, line, grid, block, &invoke_body<B>, const_cast<void *>(static_cast<const void *>(&body)));
}

template <class F>
inline void launch(dim3 grid, dim3 block, F &&body) {
  launch<F>(nullptr, nullptr, 0, grid, block, static_cast<F &&>(body));
}

}  // namespace cn_emu

/* Sets the order threads start and resume in, and blocks run in: "forward" (the default), "reverse"
   or "random:SEED" (see order.cpp); NULL or "" goes back to the environment variable CN_EMU_ORDER.
   Returns 0, or -1 (and changes nothing) for any other text. Exported with the library's C ABI. */
extern "C" __attribute__((visibility("default"))) int cn_emu_set_order(const char *order);

namespace cn_emu {

/* Counters since the library was loaded (for benchmarks and tests). */
struct Stats {
  uint64_t launches, blocks, threads;
  uint64_t switches;         /* fiber context switches */
  uint64_t block_barriers;   /* completed __syncthreads() rounds (one per block per call) */
  uint64_t warp_ops;         /* completed warp-wide ops (one per warp per call) */
  uint64_t fibers;           /* fiber stacks allocated (they are reused) */
};
CN_EMU_API Stats stats(void);

/* Synchronization points; use the CUDA names below. */
enum BarrierKind { BAR_SYNC = 0, BAR_COUNT = 1, BAR_AND = 2, BAR_OR = 3 };
CN_EMU_API int block_barrier(const char *file, int line, int kind, int pred);

enum WarpKind {
  W_SYNC = 0, W_SHFL_IDX, W_SHFL_UP, W_SHFL_DOWN, W_SHFL_XOR, W_BALLOT, W_ANY, W_ALL,
  W_REDUCE_ADD, W_REDUCE_MIN, W_REDUCE_MAX, W_REDUCE_MIN_S, W_REDUCE_MAX_S, W_REDUCE_AND, W_REDUCE_OR,
  W_REDUCE_XOR
};
/* Deposits `bits` for this lane, waits for the whole warp, returns the op's result for this lane. */
CN_EMU_API uint64_t warp_op(const char *file, int line, int kind, unsigned mask, uint64_t bits, int arg, int width);

template <class T>
inline T shfl(const char *file, int line, int kind, unsigned mask, T var, int arg, int width = warpSize) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "__shfl_*_sync: 1 to 8-byte types only");
  uint64_t bits = 0;
  memcpy(&bits, &var, sizeof(T));
  bits = warp_op(file, line, kind, mask, bits, arg, width);
  T out;
  memcpy(&out, &bits, sizeof(T));
  return out;
}

}  // namespace cn_emu

#define __syncthreads() ((void)::cn_emu::block_barrier(__FILE__, __LINE__, ::cn_emu::BAR_SYNC, 1))
#define __syncthreads_count(p) ::cn_emu::block_barrier(__FILE__, __LINE__, ::cn_emu::BAR_COUNT, (p) ? 1 : 0)
#define __syncthreads_and(p) ::cn_emu::block_barrier(__FILE__, __LINE__, ::cn_emu::BAR_AND, (p) ? 1 : 0)
#define __syncthreads_or(p) ::cn_emu::block_barrier(__FILE__, __LINE__, ::cn_emu::BAR_OR, (p) ? 1 : 0)

#define __shfl_sync(mask, ...) ::cn_emu::shfl(__FILE__, __LINE__, ::cn_emu::W_SHFL_IDX, (mask), __VA_ARGS__)
#define __shfl_up_sync(mask, ...) ::cn_emu::shfl(__FILE__, __LINE__, ::cn_emu::W_SHFL_UP, (mask), __VA_ARGS__)
#define __shfl_down_sync(mask, ...) ::cn_emu::shfl(__FILE__, __LINE__, ::cn_emu::W_SHFL_DOWN, (mask), __VA_ARGS__)
#define __shfl_xor_sync(mask, ...) ::cn_emu::shfl(__FILE__, __LINE__, ::cn_emu::W_SHFL_XOR, (mask), __VA_ARGS__)
#define __syncwarp(...) ((void)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_SYNC, (__VA_ARGS__ + 0) ? (__VA_ARGS__ + 0u) : 0xffffffffu, 0, 0, 32))
#define __ballot_sync(mask, p) ((unsigned)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_BALLOT, (mask), (p) ? 1 : 0, 0, 32))
#define __any_sync(mask, p) ((int)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_ANY, (mask), (p) ? 1 : 0, 0, 32))
#define __all_sync(mask, p) ((int)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_ALL, (mask), (p) ? 1 : 0, 0, 32))
#define __reduce_add_sync(mask, v) ((unsigned)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_REDUCE_ADD, (mask), (uint32_t)(v), 0, 32))
#define __reduce_and_sync(mask, v) ((unsigned)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_REDUCE_AND, (mask), (uint32_t)(v), 0, 32))
#define __reduce_or_sync(mask, v) ((unsigned)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_REDUCE_OR, (mask), (uint32_t)(v), 0, 32))
#define __reduce_xor_sync(mask, v) ((unsigned)::cn_emu::warp_op(__FILE__, __LINE__, ::cn_emu::W_REDUCE_XOR, (mask), (uint32_t)(v), 0, 32))
/* min/max: the int overloads compare signed, the unsigned ones unsigned, as in CUDA. */
namespace cn_emu {
inline unsigned reduce_min(const char *f, int l, unsigned m, unsigned v) { return (unsigned)warp_op(f, l, W_REDUCE_MIN, m, v, 0, 32); }
inline int reduce_min(const char *f, int l, unsigned m, int v) { return (int)warp_op(f, l, W_REDUCE_MIN_S, m, (uint32_t)v, 0, 32); }
inline unsigned reduce_max(const char *f, int l, unsigned m, unsigned v) { return (unsigned)warp_op(f, l, W_REDUCE_MAX, m, v, 0, 32); }
inline int reduce_max(const char *f, int l, unsigned m, int v) { return (int)warp_op(f, l, W_REDUCE_MAX_S, m, (uint32_t)v, 0, 32); }
}  // namespace cn_emu
#define __reduce_min_sync(mask, v) ::cn_emu::reduce_min(__FILE__, __LINE__, (mask), (v))
#define __reduce_max_sync(mask, v) ::cn_emu::reduce_max(__FILE__, __LINE__, (mask), (v))

/* Every lane that exists (the emulator runs whole warps only). */
#define __activemask() 0xffffffffu

static inline void __threadfence(void) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block(void) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_system(void) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

/* ---------------------------------------------------------------- memory loads */

template <class T>
static inline T __ldg(const T *p) { return *p; }
template <class T>
static inline T __ldca(const T *p) { return *p; }
template <class T>
static inline T __ldcs(const T *p) { return *p; }
template <class T>
static inline T __ldlu(const T *p) { return *p; }
template <class T>
static inline void __stcs(T *p, T v) { *p = v; }
template <class T>
static inline void __stwb(T *p, T v) { *p = v; }

/* ---------------------------------------------------------------- atomics (fibers never switch inside them) */

/* In the racecheck build (kernels compiled with -fsanitize=thread) an atomic is one access that does
   not race with other atomics: it is kept out of the instrumentation and told to racecheck.cpp. */
#if defined(__SANITIZE_THREAD__)
namespace cn_emu {
CN_EMU_API void race_atomic(const void *p, size_t n, const void *pc);
}
/* not inlined into the instrumented kernel (different sanitizer settings): the return address is the kernel's */
#define CN_EMU_ATOMIC_FN static inline __attribute__((no_sanitize_thread, noinline))
#define CN_EMU_ATOMIC_NOTE(p) ::cn_emu::race_atomic((p), sizeof(*(p)), __builtin_return_address(0))
#else
#define CN_EMU_ATOMIC_FN static inline
#define CN_EMU_ATOMIC_NOTE(p) ((void)0)
#endif

#define CN_EMU_ATOMIC(T)                                                                    \
  CN_EMU_ATOMIC_FN T atomicAdd(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; *p = (T)(o + v); return o; }             \
  CN_EMU_ATOMIC_FN T atomicExch(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; *p = v; return o; }
CN_EMU_ATOMIC(int)
CN_EMU_ATOMIC(unsigned int)
CN_EMU_ATOMIC(unsigned long long)
CN_EMU_ATOMIC(float)
CN_EMU_ATOMIC(double)
#undef CN_EMU_ATOMIC
#define CN_EMU_ATOMIC_INT(T)                                                               \
  CN_EMU_ATOMIC_FN T atomicSub(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; *p = (T)(o - v); return o; }            \
  CN_EMU_ATOMIC_FN T atomicMin(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; if (v < o) *p = v; return o; }          \
  CN_EMU_ATOMIC_FN T atomicMax(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; if (v > o) *p = v; return o; }          \
  CN_EMU_ATOMIC_FN T atomicAnd(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; *p = (T)(o & v); return o; }            \
  CN_EMU_ATOMIC_FN T atomicOr(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; *p = (T)(o | v); return o; }             \
  CN_EMU_ATOMIC_FN T atomicXor(T *p, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; *p = (T)(o ^ v); return o; }            \
  CN_EMU_ATOMIC_FN T atomicCAS(T *p, T cmp, T v) { CN_EMU_ATOMIC_NOTE(p); T o = *p; if (o == cmp) *p = v; return o; }
CN_EMU_ATOMIC_INT(int)
CN_EMU_ATOMIC_INT(unsigned int)
CN_EMU_ATOMIC_INT(long long)
CN_EMU_ATOMIC_INT(unsigned long long)
#undef CN_EMU_ATOMIC_INT
CN_EMU_ATOMIC_FN unsigned short atomicCAS(unsigned short *p, unsigned short cmp, unsigned short v) {
  CN_EMU_ATOMIC_NOTE(p);
  unsigned short o = *p;
  if (o == cmp) *p = v;
  return o;
}
CN_EMU_ATOMIC_FN unsigned int atomicInc(unsigned int *p, unsigned int limit) {
  CN_EMU_ATOMIC_NOTE(p);
  unsigned int o = *p;
  *p = (o >= limit) ? 0 : o + 1;
  return o;
}
CN_EMU_ATOMIC_FN unsigned int atomicDec(unsigned int *p, unsigned int limit) {
  CN_EMU_ATOMIC_NOTE(p);
  unsigned int o = *p;
  *p = (o == 0 || o > limit) ? limit : o - 1;
  return o;
}
#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd
#define atomicMax_block atomicMax
#define atomicMin_block atomicMin

/* ---------------------------------------------------------------- math
 * <math.h> gives expf logf sqrtf fmaxf fminf fabsf powf fmaf tanhf floorf ceilf erff ...; the
 * intrinsics below are exact stand-ins for CUDA's fast approximations (the GPU may differ in the
 * last bits: tests need a tolerance for __expf and friends, as they do on a card). */

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
/* glibc declares these names itself (its internal aliases of expf & co.), so they are macros here. */
#define __expf(x) expf(x)
#define __exp10f(x) powf(10.0f, (x))
#define __logf(x) logf(x)
#define __log2f(x) log2f(x)
#define __log10f(x) log10f(x)
#define __powf(x, y) powf((x), (y))
#define __sinf(x) sinf(x)
#define __cosf(x) cosf(x)
#define __tanf(x) tanf(x)
#define __sincosf(x, s, c) sincosf((x), (s), (c))
#define __tanhf(x) tanhf(x)
static inline float __fdividef(float x, float y) { return x / y; }
static inline float fdividef(float x, float y) { return x / y; }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
static inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
static inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); } /* NaN -> 0 */

static inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline int __float2int_rd(float x) { return (int)floorf(x); }
static inline int __float2int_ru(float x) { return (int)ceilf(x); }
static inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
static inline unsigned __float2uint_rz(float x) { return (unsigned)x; }
static inline float __int2float_rn(int x) { return (float)x; }
static inline float __uint2float_rn(unsigned x) { return (float)x; }
static inline int __double2int_rn(double x) { return (int)nearbyint(x); }
static inline float __double2float_rn(double x) { return (float)x; }
static inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
static inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
static inline float __int_as_float(int i) { float x; memcpy(&x, &i, 4); return x; }
static inline float __uint_as_float(unsigned i) { float x; memcpy(&x, &i, 4); return x; }
static inline long long __double_as_longlong(double x) { long long i; memcpy(&i, &x, 8); return i; }
static inline double __longlong_as_double(long long i) { double x; memcpy(&x, &i, 8); return x; }

static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
static inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
static inline int __mul24(int a, int b) {
  return (int)((int64_t)((int32_t)((uint32_t)a << 8) >> 8) * ((int32_t)((uint32_t)b << 8) >> 8));
}
static inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
static inline int __mulhi(int a, int b) { return (int)(((int64_t)a * b) >> 32); }
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
static inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}

/* CUDA's unqualified min/max for any mix of arithmetic types (the common type wins, as in CUDA). */
template <class A, class B,
          class = typename std::enable_if<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>::type>
static inline typename std::common_type<A, B>::type min(A a, B b) {
  typedef typename std::common_type<A, B>::type C;
  return (C)b < (C)a ? (C)b : (C)a;
}
template <class A, class B,
          class = typename std::enable_if<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>::type>
static inline typename std::common_type<A, B>::type max(A a, B b) {
  typedef typename std::common_type<A, B>::type C;
  return (C)a < (C)b ? (C)b : (C)a;
}

#ifndef CUDART_INF_F
#define CUDART_INF_F INFINITY
#define CUDART_NAN_F NAN
#define CUDART_INF INFINITY
#define CUDART_NAN NAN
#define CUDART_PI_F 3.141592654f
#endif

/* ---------------------------------------------------------------- runtime API */

/* CUDA's numbers, so that messages and codes match a real build. */
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorAssert = 710,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorUnknown = 999
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};

typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02

/* The fields of CUDA 13's cudaDeviceProp that a library reads (same names and types). */
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  size_t totalConstMem;
  int major;
  int minor;
  int multiProcessorCount;
  int integrated;
  int concurrentKernels;
  int ECCEnabled;
  int pciBusID;
  int pciDeviceID;
  int pciDomainID;
  int asyncEngineCount;
  int unifiedAddressing;
  int memoryBusWidth;
  int l2CacheSize;
  int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  size_t sharedMemPerBlockOptin;
  int maxBlocksPerMultiProcessor;
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrTotalConstantMemory = 9,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMaxRegistersPerBlock = 12,
  cudaDevAttrClockRate = 13,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrMemoryClockRate = 36,
  cudaDevAttrGlobalMemoryBusWidth = 37,
  cudaDevAttrL2CacheSize = 38,
  cudaDevAttrMaxThreadsPerMultiProcessor = 39,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9
};

/* The CUDA version whose API this emulates (what cudaRuntimeGetVersion/cudaDriverGetVersion say). */
#define CN_EMU_CUDA_VERSION 13000
#define CUDART_VERSION CN_EMU_CUDA_VERSION

CN_EMU_API const char *cudaGetErrorString(cudaError_t err);
CN_EMU_API const char *cudaGetErrorName(cudaError_t err);
CN_EMU_API cudaError_t cudaGetLastError(void);
CN_EMU_API cudaError_t cudaPeekAtLastError(void);

CN_EMU_API cudaError_t cudaGetDeviceCount(int *count);
CN_EMU_API cudaError_t cudaSetDevice(int device);
CN_EMU_API cudaError_t cudaGetDevice(int *device);
CN_EMU_API cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
CN_EMU_API cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
CN_EMU_API cudaError_t cudaDeviceSynchronize(void);
CN_EMU_API cudaError_t cudaDeviceReset(void);
CN_EMU_API cudaError_t cudaRuntimeGetVersion(int *version);
CN_EMU_API cudaError_t cudaDriverGetVersion(int *version);
CN_EMU_API cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);

CN_EMU_API cudaError_t cudaMalloc(void **ptr, size_t bytes);
CN_EMU_API cudaError_t cudaFree(void *ptr);
CN_EMU_API cudaError_t cudaMallocAsync(void **ptr, size_t bytes, cudaStream_t stream);
CN_EMU_API cudaError_t cudaFreeAsync(void *ptr, cudaStream_t stream);
CN_EMU_API cudaError_t cudaMallocHost(void **ptr, size_t bytes);
CN_EMU_API cudaError_t cudaFreeHost(void *ptr);
template <class T>
static inline cudaError_t cudaMalloc(T **ptr, size_t bytes) { return cudaMalloc((void **)ptr, bytes); }
template <class T>
static inline cudaError_t cudaMallocHost(T **ptr, size_t bytes) { return cudaMallocHost((void **)ptr, bytes); }
template <class T>
static inline cudaError_t cudaMallocAsync(T **ptr, size_t bytes, cudaStream_t s) {
  return cudaMallocAsync((void **)ptr, bytes, s);
}

CN_EMU_API cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
CN_EMU_API cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                                       cudaStream_t stream = 0);
CN_EMU_API cudaError_t cudaMemset(void *ptr, int value, size_t bytes);
CN_EMU_API cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream = 0);
/* __device__ / __constant__ variables are plain globals here. */
template <class T>
static inline cudaError_t cudaMemcpyToSymbol(T &symbol, const void *src, size_t bytes, size_t offset = 0,
                                             cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  (void)kind;
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  memcpy((char *)&symbol + offset, src, bytes);
  return cudaSuccess;
}
template <class T>
static inline cudaError_t cudaMemcpyFromSymbol(void *dst, const T &symbol, size_t bytes, size_t offset = 0,
                                               cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
  (void)kind;
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  memcpy(dst, (const char *)&symbol + offset, bytes);
  return cudaSuccess;
}

CN_EMU_API cudaError_t cudaStreamCreate(cudaStream_t *stream);
CN_EMU_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags);
CN_EMU_API cudaError_t cudaStreamDestroy(cudaStream_t stream);
CN_EMU_API cudaError_t cudaStreamSynchronize(cudaStream_t stream);
CN_EMU_API cudaError_t cudaStreamQuery(cudaStream_t stream);
CN_EMU_API cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags = 0);

CN_EMU_API cudaError_t cudaEventCreate(cudaEvent_t *event);
CN_EMU_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags);
CN_EMU_API cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
CN_EMU_API cudaError_t cudaEventSynchronize(cudaEvent_t event);
CN_EMU_API cudaError_t cudaEventQuery(cudaEvent_t event);
CN_EMU_API cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
CN_EMU_API cudaError_t cudaEventDestroy(cudaEvent_t event);

/* ---- stream capture and graphs (graph.cpp): one capture at a time, of the kernel launches (on any
   stream: CN_LAUNCH names none), memcpy/memset Async calls on the capturing stream, in order; a
   graph is that list, replayed in order by cudaGraphLaunch. In the global mode, calls that are not
   allowed during a capture on a card (cudaMalloc, cudaFree, synchronous copies and fills, waiting for
   the stream or the device) fail with cudaErrorStreamCaptureUnsupported and invalidate the capture:
   cudaStreamEndCapture then fails with cudaErrorStreamCaptureInvalidated. */
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2
};
typedef struct CUgraph_st *cudaGraph_t;
typedef struct CUgraphExec_st *cudaGraphExec_t;
CN_EMU_API cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
CN_EMU_API cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
CN_EMU_API cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status);
/* CUDA 11.4+ and 13 both have this signature (cudaGraphInstantiate's changed in 12.0). */
CN_EMU_API cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *exec, cudaGraph_t graph,
                                                     unsigned long long flags);
CN_EMU_API cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
CN_EMU_API cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
CN_EMU_API cudaError_t cudaGraphDestroy(cudaGraph_t graph);

/* Kernel attributes have no effect here. */
template <class K>
static inline cudaError_t cudaFuncSetAttribute(K *, cudaFuncAttribute, int) { return cudaSuccess; }

#endif /* CN_CUDA_EMU_H */
