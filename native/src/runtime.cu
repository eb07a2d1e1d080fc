/*
 * runtime.cu: the library's state (device, stream, kernel error slot), error messages, and the
 * copies between host and device.
 *
 * Initialisation is lazy: every entry point that needs the device calls cn_init(), which is
 * idempotent and costs one atomic load once done. A failed cn_init() is retried by the next call
 * (the message says why it failed each time).
 *
 * Kernel data errors (a class target out of range) are written by kernels into a 4-int device
 * record. Reading it costs a 16-byte copy, so it is read only after a wait that follows a launch
 * that was handed the record (cn_kernel_error_slot() arms the check).
 */
#include <atomic>
#include <mutex>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

#ifndef CN_BUILD_INFO
#ifdef CN_EMULATION
#define CN_BUILD_INFO "convnet native (unversioned build); CPU emulation"
#else
#define CN_BUILD_INFO_STR2(x) #x
#define CN_BUILD_INFO_STR(x) CN_BUILD_INFO_STR2(x)
#define CN_BUILD_INFO \
  "convnet native (unversioned build); CUDA runtime " CN_BUILD_INFO_STR(CUDART_VERSION) "; archs unknown"
#endif
#endif

static std::mutex g_init_mutex;
static std::atomic<bool> g_ready(false);
static cudaStream_t g_stream = 0;
static int32_t *g_error_slot = NULL;      /* device: {code, index, value, limit} */
static std::atomic<bool> g_error_armed(false); /* a launch was handed the slot since the last check */

static thread_local char t_message[1024];

/* ------------------------------------------------------------------ helpers of common.h */

int cn_fail(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t_message, sizeof t_message, fmt, ap);
  va_end(ap);
  return status;
}

int cn_cuda_status(cudaError_t err, const char *what) {
  if (err == cudaSuccess) return CN_OK;
  (void)cudaGetLastError(); /* reported here: keep it out of the next CN_CHECK_LAUNCH (sticky errors stay) */
  const int status = err == cudaErrorMemoryAllocation ? CN_ERR_OOM : CN_ERR_CUDA;
  return cn_fail(status, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

cudaStream_t cn_stream(void) {
  if (!g_ready.load(std::memory_order_acquire)) cn_init(); /* on failure: the default stream; launches then fail */
  return g_stream;
}

int32_t *cn_kernel_error_slot(void) {
  if (!g_ready.load(std::memory_order_acquire)) cn_init();
  g_error_armed.store(true, std::memory_order_release);
  return g_error_slot;
}

/* After a wait: reports (and clears) a data error a kernel recorded. The stream is idle here. */
static int check_kernel_errors(void) {
  if (!g_error_armed.exchange(false)) return CN_OK;
  int32_t rec[4] = {0, 0, 0, 0};
  CN_TRY(cn_cuda_status(cudaMemcpyAsync(rec, g_error_slot, sizeof rec, cudaMemcpyDeviceToHost, g_stream),
                        "reading the kernel error record"));
  CN_TRY(cn_cuda_status(cudaStreamSynchronize(g_stream), "reading the kernel error record"));
  if (rec[0] == CN_KE_NONE) return CN_OK;
  CN_TRY(cn_cuda_status(cudaMemsetAsync(g_error_slot, 0, sizeof rec, g_stream), "clearing the kernel error record"));
  switch (rec[0]) {
    case CN_KE_TARGET_RANGE:
      return cn_fail(CN_ERR_KERNEL,
                     "crossEntropy: target %d at batch index %d is out of range; expected a class in [0, %d)", rec[2],
                     rec[1], rec[3]);
    case CN_KE_GATHER_INDEX:
    case CN_KE_SCATTER_INDEX:
      return cn_fail(CN_ERR_KERNEL,
                     "%s: index %d at position %d%s of the index is out of range; expected an index in [0, %d)",
                     rec[0] == CN_KE_GATHER_INDEX ? "gather" : "scatterAdd", rec[2], rec[1],
                     rec[1] == INT32_MAX ? " (or later)" : "", rec[3]);
    default:
      return cn_fail(CN_ERR_KERNEL, "a kernel reported error code %d (index %d, value %d, limit %d)", rec[0], rec[1],
                     rec[2], rec[3]);
  }
}

const char *cn_dtype_name(int32_t dtype) {
  switch (dtype) {
    case CN_F32: return "float32";
    case CN_I32: return "int32";
    case CN_I64: return "int64";
  }
  static thread_local char other[32];
  snprintf(other, sizeof other, "dtype %d", (int)dtype);
  return other;
}

int cn_dtype_bytes(int32_t dtype) {
  switch (dtype) {
    case CN_F32: return 4;
    case CN_I32: return 4;
    case CN_I64: return 8;
  }
  return 0;
}

int cn_require_arith_dtype(const char *fn, int32_t dtype) {
  if (dtype == CN_F32 || dtype == CN_I32) return CN_OK;
  if (dtype == CN_I64) {
    return cn_fail(CN_ERR_INVALID,
                   "%s: dtype int64 is storage only (alloc, fill, copy, cast); arithmetic on int64 is not supported, "
                   "cast to int32 or float32 first",
                   fn);
  }
  return cn_fail(CN_ERR_INVALID, "%s: dtype %d is not CN_F32 (0) or CN_I32 (1)", fn, (int)dtype);
}

/* ------------------------------------------------------------------ the ABI */

extern "C" const char *cn_last_error(void) { return t_message; }

extern "C" const char *cn_build_info(void) { return CN_BUILD_INFO; }

extern "C" int cn_init(void) {
  if (g_ready.load(std::memory_order_acquire)) return CN_OK;
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (g_ready.load(std::memory_order_relaxed)) return CN_OK;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
    return cn_fail(CN_ERR_NO_DEVICE, "no CUDA device found");
  }
  if (err == cudaErrorInsufficientDriver) {
    /* cudart says "insufficient" both when there is no driver and when it is too old: tell them apart. */
    int driver = 0;
    cudaDriverGetVersion(&driver);
    if (driver == 0) {
      return cn_fail(CN_ERR_NO_DEVICE, "no CUDA driver found (libcuda.so.1 is not installed or cannot be loaded)");
    }
    return cn_fail(CN_ERR_NO_DEVICE,
                   "the NVIDIA driver supports CUDA %d.%d, older than this library's CUDA %d.%d runtime: "
                   "update the driver",
                   driver / 1000, (driver % 1000) / 10, CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10);
  }
  if (err != cudaSuccess) return cn_fail(CN_ERR_NO_DEVICE, "no usable CUDA driver: %s", cudaGetErrorString(err));
  CN_TRY(cn_cuda_status(cudaSetDevice(0), "init: selecting device 0"));
  /* Non-blocking: never serialised against the legacy default stream other libraries may use. */
  if (!g_stream) {
    CN_TRY(cn_cuda_status(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "init: creating the stream"));
  }
  if (!g_error_slot) {
    CN_TRY(cn_cuda_status(cudaMalloc((void **)&g_error_slot, 4 * sizeof(int32_t)),
                          "init: allocating the kernel error record"));
    CN_TRY(cn_cuda_status(cudaMemsetAsync(g_error_slot, 0, 4 * sizeof(int32_t), g_stream),
                          "init: clearing the kernel error record"));
    CN_TRY(cn_cuda_status(cudaStreamSynchronize(g_stream), "init"));
  }
  g_ready.store(true, std::memory_order_release);
  return CN_OK;
}

/* Appends s to the JSON being built in buf as a quoted string. */
static void json_string(char *out, size_t cap, const char *s) {
  size_t j = 0;
  if (j + 1 < cap) out[j++] = '"';
  for (; *s && j + 7 < cap; s++) {
    const unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      out[j++] = '\\';
      out[j++] = (char)ch;
    } else if (ch < 0x20) {
      j += (size_t)snprintf(out + j, cap - j, "\\u%04x", ch);
    } else {
      out[j++] = (char)ch;
    }
  }
  if (j + 1 < cap) out[j++] = '"';
  out[j < cap ? j : cap - 1] = 0;
}

extern "C" int cn_device_info(char *buf, int32_t buf_len) {
  CN_REQUIRE(buf != NULL, "device_info: buf is NULL (expected a buffer of buf_len bytes)");
  CN_REQUIRE(buf_len > 0, "device_info: buf_len must be > 0, got %d", buf_len);
  CN_TRY(cn_init());
  cudaDeviceProp p;
  CN_TRY(cn_cuda_status(cudaGetDeviceProperties(&p, 0), "device_info: reading the device properties"));
  int driver = 0, runtime = 0;
  CN_TRY(cn_cuda_status(cudaDriverGetVersion(&driver), "device_info: reading the driver version"));
  CN_TRY(cn_cuda_status(cudaRuntimeGetVersion(&runtime), "device_info: reading the runtime version"));
  /* Clocks in kHz and the bus width in bits: what a benchmark needs for the card's FP32 and
     memory ceilings (CUDA 13 reads them as attributes; cudaDeviceProp no longer has them). */
  int clock_khz = 0, mem_clock_khz = 0, bus_bits = 0;
  CN_TRY(cn_cuda_status(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0), "device_info: clock rate"));
  CN_TRY(cn_cuda_status(cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, 0),
                        "device_info: memory clock rate"));
  CN_TRY(cn_cuda_status(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0),
                        "device_info: memory bus width"));
  char name[600];
  json_string(name, sizeof name, p.name);
  char json[1024];
  const int len = snprintf(json, sizeof json,
                           "{\"name\":%s,\"cc\":\"%d.%d\",\"sms\":%d,\"memory\":%llu,"
                           "\"clockKHz\":%d,\"memoryClockKHz\":%d,\"memoryBusBits\":%d,"
                           "\"driver\":\"%d.%d\",\"runtime\":\"%d.%d\"}",
                           name, p.major, p.minor, p.multiProcessorCount, (unsigned long long)p.totalGlobalMem,
                           clock_khz, mem_clock_khz, bus_bits, driver / 1000, (driver % 1000) / 10, runtime / 1000,
                           (runtime % 1000) / 10);
  CN_REQUIRE(len < buf_len, "device_info: buf_len %d is too small (expected at least %d bytes)", buf_len, len + 1);
  memcpy(buf, json, (size_t)len + 1);
  return CN_OK;
}

extern "C" int cn_synchronize(void) {
  CN_TRY(cn_init());
  CN_TRY(cn_cuda_status(cudaStreamSynchronize(g_stream), "synchronize"));
  return check_kernel_errors();
}

/* ------------------------------------------------------------------ copies (all on the library's stream) */

#define CN_COPY_ARGS(fn, dst, src, bytes)                                                          \
  CN_REQUIRE(bytes >= 0, fn ": bytes must be >= 0, got %lld", (long long)bytes);                   \
  if (bytes == 0) return CN_OK;                                                                      \
  CN_REQUIRE(dst != NULL && src != NULL, fn ": %s is NULL (copying %lld bytes)", dst ? "src" : "dst", \
             (long long)bytes);                                                                      \
  CN_TRY(cn_init())

/* From pageable host memory the copy returns once `src` is staged: the caller may reuse it at once. */
extern "C" int cn_memcpy_h2d(void *dst, const void *src, int64_t bytes) {
  CN_COPY_ARGS("memcpy_h2d", dst, src, bytes);
  return cn_cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyHostToDevice, g_stream), "memcpy_h2d");
}

extern "C" int cn_memcpy_d2h(void *dst, const void *src, int64_t bytes) {
  CN_COPY_ARGS("memcpy_d2h", dst, src, bytes);
  CN_TRY(cn_cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToHost, g_stream), "memcpy_d2h"));
  CN_TRY(cn_cuda_status(cudaStreamSynchronize(g_stream), "memcpy_d2h"));
  return check_kernel_errors();
}

extern "C" int cn_memcpy_d2d(void *dst, const void *src, int64_t bytes) {
  CN_COPY_ARGS("memcpy_d2d", dst, src, bytes);
  return cn_cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToDevice, g_stream),
                        "memcpy_d2d");
}
