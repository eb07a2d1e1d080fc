/*
 * common.h: included first by every .cu file of the library.
 *
 * The same sources build two ways:
 * - nvcc (the real library, libconvnet_cuda.so): CUDA's own headers;
 * - g++ with -DCN_EMULATION (libconvnet_emu.so): native/emu/cuda_emu.h stands in for CUDA,
 *   running blocks one after another and the threads of a block as fibers.
 *
 * Rules for kernel code, so that both compilers accept it and the emulator runs it:
 * - Launch only with CN_LAUNCH(kernel, grid, block, args...) and check with CN_CHECK_LAUNCH("name").
 *   A template kernel whose arguments contain commas is bound first: `auto k = tile_kernel<64, 8>;`.
 * - __shared__ arrays have static sizes and are declared at kernel scope (no extern __shared__).
 * - Warp shuffles are full-warp (mask 0xffffffff) and reached by all 32 lanes of the warp;
 *   __syncthreads() is reached by every thread of the block.
 * - Device code uses only: threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __shfl_*_sync,
 *   atomicAdd/atomicMax/atomicMin/atomicCAS/atomicExch, __ldg, float4/make_float4, and the math
 *   functions listed in cuda_emu.h.
 */
#ifndef CN_COMMON_H
#define CN_COMMON_H

#ifdef CN_EMULATION
#include "../emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
#endif

#include <stdint.h>

#include "../include/convnet.h"

/* The library's one stream. */
cudaStream_t cn_stream(void);

/* Records a formatted error message for cn_last_error() and returns `status`. */
int cn_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Turns a CUDA runtime error into CN_ERR_CUDA (or CN_ERR_OOM) naming `what`; 0 when err is cudaSuccess. */
int cn_cuda_status(cudaError_t err, const char *what);

/* Checks that a kernel launch was accepted and remembers it under `what` for the report of a later
   asynchronous fault; with CONVNET_CUDA_SYNC=1 it also waits for it (runtime.cu). */
int cn_launch_status(const char *what);
#define CN_CHECK_LAUNCH(what) cn_launch_status(what)

/* The counters cn_stats reports (counters.cu): every kernel launch (counted by CN_CHECK_LAUNCH), graph
   launch, wait for the stream, copy by direction with its bytes, memset, and driver allocation. */
enum cn_counter {
  CN_COUNT_LAUNCH = 0,
  CN_COUNT_GRAPH_LAUNCH,
  CN_COUNT_SYNC,
  CN_COUNT_H2D,
  CN_COUNT_D2H,
  CN_COUNT_D2D,
  CN_COUNT_MEMSET,
  CN_COUNT_DRIVER_ALLOC,
  CN_COUNT_DRIVER_FREE,
  CN_COUNTERS
};
/* Adds one event of `counter` carrying `bytes` (0 where bytes mean nothing). Thread-safe (counters.cu). */
void cn_count(int counter, int64_t bytes);
/* Remembers `what` as the calling thread's latest launch (cn_thread_launches; counters.cu). */
void cn_note_thread_launch(const char *what);
/* Writes s as a quoted JSON string into out (cap bytes, truncated to fit; runtime.cu). */
void cn_json_string(char *out, size_t cap, const char *s);
/* cudaMemsetAsync on the library's stream, counted; the status names `what` on failure. */
int cn_memset(void *ptr, int value, int64_t bytes, const char *what);

/* CN_OK when `g` is a valid max-pooling geometry, else CN_ERR_INVALID naming `fn` (pool2d.cu). */
int cn_check_pool2d_geom(const char *fn, const cn_pool2d_geom *g);

/* Returns from the calling function when `expr` yields a non-zero status. */
#define CN_TRY(expr)           \
  do {                         \
    int cn_try_s_ = (expr);    \
    if (cn_try_s_) return cn_try_s_; \
  } while (0)

/* Argument checks at the top of each entry point: a NULL device pointer or a bad size is CN_ERR_INVALID. */
#define CN_REQUIRE(cond, ...)                              \
  do {                                                     \
    if (!(cond)) return cn_fail(CN_ERR_INVALID, __VA_ARGS__); \
  } while (0)

#ifdef CN_EMULATION
/* The kernel's name and the launch site label the emulator's error reports (a deadlock, a bad barrier). */
#define CN_LAUNCH(kernel, grid, block, ...) \
  cn_emu::launch(#kernel, __FILE__, __LINE__, dim3(grid), dim3(block), [=]() { kernel(__VA_ARGS__); })
#else
#define CN_LAUNCH(kernel, grid, block, ...) kernel<<<(grid), (block), 0, cn_stream()>>>(__VA_ARGS__)
#endif

/* Blocks of `threads` needed to cover `n` items, capped for grid-stride loops. */
static inline unsigned int cn_blocks(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535 * 8) b = 65535 * 8;
  return (unsigned int)b;
}

/* Records a data error found by a kernel (a class target or an index out of range): the first kernel
   to record one wins, and of its errors the one at the lowest position, whatever order its threads
   and blocks ran in (the same inputs give the same message on every run and card); reported by the
   next call that waits (cn_synchronize, cn_memcpy_d2h). `code` selects the message (runtime.cu). */
enum cn_kernel_error_code { CN_KE_NONE = 0, CN_KE_TARGET_RANGE = 1, CN_KE_GATHER_INDEX = 2, CN_KE_SCATTER_INDEX = 3 };
/* Device-side record: {code, limit, value, INT32_MAX + 1 - position} (the last two as one 64-bit word,
   so the largest, i.e. the lowest position, wins an atomicMax). Calling this arms the check after the
   next wait. */
int32_t *cn_kernel_error_slot(void);

/* Device side: records the error unless a kernel with another code holds the record (one with the
   same code keeps the lowest position). Positions past int32 are recorded as INT32_MAX. */
__device__ __forceinline__ void cn_record_kernel_error(int32_t *slot, int32_t code, int64_t position, int32_t value,
                                                       int64_t limit) {
  const int32_t prev = atomicCAS(&slot[0], (int32_t)CN_KE_NONE, code);
  if (prev == CN_KE_NONE) slot[1] = limit < INT32_MAX ? (int32_t)limit : INT32_MAX;
  if (prev == CN_KE_NONE || prev == code) {
    const uint32_t pos = position < INT32_MAX ? (uint32_t)position : (uint32_t)INT32_MAX;
    const unsigned long long key = ((unsigned long long)((uint32_t)INT32_MAX + 1u - pos) << 32) | (uint32_t)value;
    atomicMax((unsigned long long *)&slot[2], key); /* slot is cudaMalloc'd: &slot[2] is 8-byte aligned */
  }
}

/* "float32", "int32", "int64", or "dtype <code>". */
const char *cn_dtype_name(int32_t dtype);
/* Bytes per element of a dtype code (0 for an unknown code). */
int cn_dtype_bytes(int32_t dtype);
/* CN_OK for float32 and int32; CN_ERR_INVALID naming `fn` otherwise (int64: storage only). */
int cn_require_arith_dtype(const char *fn, int32_t dtype);

#endif /* CN_COMMON_H */
