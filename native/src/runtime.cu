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
 *
 * Kernel faults (an illegal address) are asynchronous on a card: they surface at the next call
 * that waits. Every launch passes through cn_launch_status (CN_CHECK_LAUNCH), which remembers the
 * names of the launches since the last wait, so that a fault is reported with the list of kernels
 * that may have caused it; CONVNET_CUDA_SYNC=1 waits after every launch and names the one.
 */
#include <atomic>
#include <mutex>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
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
static int32_t *g_error_slot = NULL;      /* device: {code, limit, value, INT32_MAX + 1 - position} (common.h) */
static std::atomic<bool> g_error_armed(false); /* a launch was handed the slot since the last check */

static thread_local char t_message[1024];

/* The launches since the last successful wait (names of the last CN_RECENT, oldest first in the ring). */
#define CN_RECENT 6
static std::mutex g_launch_mutex;
static char g_recent[CN_RECENT][48];
static int64_t g_since_sync = 0;
static bool g_sync_each = false; /* CONVNET_CUDA_SYNC=1, read by cn_init */

#ifdef CN_EMULATION
/* Emulation only: CN_EMU_FAULT_KERNEL=NAME makes the first launch whose name contains NAME fault
   asynchronously, as an illegal address does on a card: the launch is accepted, the next wait
   fails, and so does every wait after it (the context is lost). Tests the reports below. */
static cudaError_t g_simulated_fault = cudaSuccess;
#endif
/* ------------------------------------------------------------------ helpers of common.h */

int cn_memset(void *ptr, int value, int64_t bytes, const char *what) {
  cn_count(CN_COUNT_MEMSET, bytes);
  return cn_cuda_status(cudaMemsetAsync(ptr, value, (size_t)bytes, cn_stream()), what);
}

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

/* ------------------------------------------------------------------ launches and waits */

static void note_launch(const char *what) {
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  snprintf(g_recent[g_since_sync % CN_RECENT], sizeof g_recent[0], "%s", what);
  g_since_sync++;
#ifdef CN_EMULATION
  static const char *fault = getenv("CN_EMU_FAULT_KERNEL");
  if (fault && *fault && strstr(what, fault) && g_simulated_fault == cudaSuccess) {
    g_simulated_fault = cudaErrorIllegalAddress;
  }
#endif
}

/* Waits for the stream; a success forgets the launches. */
static cudaError_t wait_stream(void) {
  cn_count(CN_COUNT_SYNC, 0);
  cudaError_t err = cudaStreamSynchronize(g_stream);
#ifdef CN_EMULATION
  if (err == cudaSuccess) err = g_simulated_fault;
#endif
  if (err == cudaSuccess) {
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    g_since_sync = 0;
  }
  return err;
}

/* The error of a failed wait: a kernel launched since the last wait faulted. Names it when there is
   one candidate, else lists the last CN_RECENT. */
static int async_failure(cudaError_t err, const char *what) {
  (void)cudaGetLastError();
  char list[CN_RECENT * 50 + 64];
  size_t len = 0;
  int64_t count;
  {
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    count = g_since_sync;
    const int64_t first = count > CN_RECENT ? count - CN_RECENT : 0;
    if (first > 0) len += (size_t)snprintf(list, sizeof list, "(%lld earlier, then) ", (long long)first);
    for (int64_t i = first; i < count && len < sizeof list; i++) {
      len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i > first ? ", " : "", g_recent[i % CN_RECENT]);
    }
  }
  list[len < sizeof list ? len : sizeof list - 1] = 0;
  if (count == 1) {
    return cn_fail(CN_ERR_CUDA, "%s: the kernel launched by %s failed: %s (%s)", what, list, cudaGetErrorString(err),
                   cudaGetErrorName(err));
  }
  if (count == 0) {
    return cn_fail(CN_ERR_CUDA, "%s: the device reports an earlier failure: %s (%s); no kernel was launched since the "
                   "last wait (the context is lost once a kernel faults: restart the process)", what,
                   cudaGetErrorString(err), cudaGetErrorName(err));
  }
  return cn_fail(CN_ERR_CUDA,
                 "%s: an earlier kernel failed asynchronously: %s (%s); launched since the last wait: %s; rerun with "
                 "CONVNET_CUDA_SYNC=1 to name it",
                 what, cudaGetErrorString(err), cudaGetErrorName(err), list);
}

static int check_kernel_errors(void);
static int report_kernel_error(const int32_t *rec);

/* After every launch (CN_CHECK_LAUNCH): a refused launch is reported under `what`; the launch is
   remembered; with CONVNET_CUDA_SYNC=1 the stream is waited for, so a fault or a data error a
   kernel recorded is reported here, naming the launch. */
int cn_launch_status(const char *what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return cn_cuda_status(err, what);
  cn_count(CN_COUNT_LAUNCH, 0);
  cn_note_thread_launch(what);
  note_launch(what);
  if (!g_sync_each || cn_capture_id()) return CN_OK; /* a capture queues; its replay is waited for */
  const cudaError_t fault = wait_stream();
  if (fault != cudaSuccess) {
    (void)cudaGetLastError();
    return cn_fail(CN_ERR_CUDA, "%s: the kernel failed: %s (%s) (found by CONVNET_CUDA_SYNC=1, which waits after "
                   "every launch)", what, cudaGetErrorString(fault), cudaGetErrorName(fault));
  }
  return check_kernel_errors();
}

/* After a wait: reports (and clears) a data error a kernel recorded. The stream is idle here. */
static int check_kernel_errors(void) {
  if (!g_error_armed.exchange(false)) return CN_OK;
  int32_t rec[4] = {0, 0, 0, 0};
  cn_count(CN_COUNT_D2H, sizeof rec);
  CN_TRY(cn_cuda_status(cudaMemcpyAsync(rec, g_error_slot, sizeof rec, cudaMemcpyDeviceToHost, g_stream),
                        "reading the kernel error record"));
  const cudaError_t err = wait_stream();
  if (err != cudaSuccess) return async_failure(err, "reading the kernel error record");
  return report_kernel_error(rec);
}

/* The error a kernel recorded in `rec` (read from the slot after a wait), clearing the slot; CN_OK if none. */
static int report_kernel_error(const int32_t *rec) {
  if (rec[0] == CN_KE_NONE) return CN_OK;
  CN_TRY(cn_memset(g_error_slot, 0, 4 * sizeof(int32_t), "clearing the kernel error record"));
  /* {code, limit, value, INT32_MAX + 1 - position}: see cn_record_kernel_error in common.h */
  const int32_t limit = rec[1], value = rec[2], position = (int32_t)((uint32_t)INT32_MAX + 1u - (uint32_t)rec[3]);
  switch (rec[0]) {
    case CN_KE_TARGET_RANGE:
      return cn_fail(CN_ERR_KERNEL,
                     "crossEntropy: target %d at batch index %d is out of range; expected a class in [0, %d)", value,
                     position, limit);
    case CN_KE_GATHER_INDEX:
    case CN_KE_SCATTER_INDEX:
      return cn_fail(CN_ERR_KERNEL,
                     "%s: index %d at position %d%s of the index is out of range; expected an index in [0, %d)",
                     rec[0] == CN_KE_GATHER_INDEX ? "gather" : "scatterAdd", value, position,
                     position == INT32_MAX ? " (or later)" : "", limit);
    default:
      return cn_fail(CN_ERR_KERNEL, "a kernel reported error code %d (index %d, value %d, limit %d)", rec[0], position,
                     value, limit);
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

/* ------------------------------------------------------------------ the driver floor */

/* The oldest driver that runs a runtime of CUDA `version` (1000 * major + 10 * minor): within a major
   release, CUDA's minor version compatibility lets any driver of that family run it
   (docs.nvidia.com/deploy/cuda-compatibility, "Minor Version Compatibility", table 1). */
static const char *driver_floor(int version) {
  if (version >= 13000) return "580";
  if (version >= 12000) return "525.60.13";
  return "450.80.02";
}

/* The installed kernel module's version ("535.104.05") from /proc, or "" (not Linux, no module). */
static void kernel_module_version(char *out, size_t cap) {
  out[0] = 0;
#ifndef CN_EMULATION /* the emulator simulates the CUDA version only (CN_EMU_DRIVER_VERSION) */
  FILE *f = fopen("/proc/driver/nvidia/version", "r");
  if (!f) return;
  char line[256];
  if (fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "Kernel Module");
    if (p) sscanf(p + 13, " %31[0-9.]", out);
  }
  fclose(f);
  (void)cap;
#else
  (void)cap;
#endif
}

/* cn_init's message when the driver is older than the runtime this library was linked with. */
static int driver_too_old(int driver) {
  char module[32];
  kernel_module_version(module, sizeof module);
  char installed[64];
  if (module[0]) snprintf(installed, sizeof installed, "%s, which supports CUDA %d.%d", module, driver / 1000,
                          (driver % 1000) / 10);
  else snprintf(installed, sizeof installed, "supports CUDA %d.%d", driver / 1000, (driver % 1000) / 10);
  const int major = driver / 1000;
  char toolkit[96];
  if (major >= 12) snprintf(toolkit, sizeof toolkit, "CUDA 11.8 to %d.x", major);
  else if (major == 11) snprintf(toolkit, sizeof toolkit, "CUDA 11.8");
  else snprintf(toolkit, sizeof toolkit, "none: CUDA 11.8, the oldest this library supports, needs driver >= 450.80.02");
  return cn_fail(CN_ERR_NO_DEVICE,
                 "the NVIDIA driver is too old for this library: it was built with CUDA %d.%d, whose runtime needs "
                 "driver >= %s, and the installed driver %s. Rebuild the library with a CUDA toolkit this driver "
                 "runs (%s): `deno task build:native` in a checkout, or `deno run -A jsr:@convnet/convnet/build "
                 "--force` for the package, with that toolkit's nvcc on PATH or in CUDA_HOME; or update the driver",
                 CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, driver_floor(CUDART_VERSION), installed,
                 toolkit);
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
    return driver_too_old(driver);
  }
  if (err != cudaSuccess) return cn_fail(CN_ERR_NO_DEVICE, "no usable CUDA driver: %s", cudaGetErrorString(err));
  const char *sync = getenv("CONVNET_CUDA_SYNC");
  g_sync_each = sync != NULL && strcmp(sync, "") != 0 && strcmp(sync, "0") != 0;
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

/* Writes s as a quoted JSON string into out (cap bytes, truncated to fit; common.h). */
void cn_json_string(char *out, size_t cap, const char *s) {
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
  cn_json_string(name, sizeof name, p.name);
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
  if (cn_capture_id()) return cn_capture_refuse("synchronize", "the host cannot wait for work that is only recorded");
  const cudaError_t err = wait_stream();
  if (err != cudaSuccess) return async_failure(err, "synchronize");
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
  if (cn_capture_id()) {
    return cn_capture_refuse("memcpy_h2d", "a host-to-device copy inside the step, e.g. a tensor made from host data: "
                                           "make it before the capture, or pass it in as an input");
  }
  cn_count(CN_COUNT_H2D, bytes);
  return cn_cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyHostToDevice, g_stream), "memcpy_h2d");
}

extern "C" int cn_memcpy_d2h(void *dst, const void *src, int64_t bytes) {
  CN_COPY_ARGS("memcpy_d2h", dst, src, bytes);
  if (cn_capture_id()) {
    return cn_capture_refuse("memcpy_d2h", "a device-to-host read inside the step, e.g. item() or toArray(): read "
                                           "results after the step");
  }
  cn_count(CN_COUNT_D2H, bytes);
  /* The kernel error record, when armed, is read behind the copy: one wait covers both (a loss read
     is one sync, not two). */
  const bool armed = g_error_armed.exchange(false);
  int32_t rec[4] = {0, 0, 0, 0};
  cudaError_t err = cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToHost, g_stream);
  if (err == cudaSuccess && armed) {
    cn_count(CN_COUNT_D2H, sizeof rec);
    err = cudaMemcpyAsync(rec, g_error_slot, sizeof rec, cudaMemcpyDeviceToHost, g_stream);
  }
  if (err == cudaSuccess) err = wait_stream();
  if (err != cudaSuccess && armed) g_error_armed.store(true); /* not read: the next wait checks it */
  /* An invalid copy is its own error; anything else here comes from the kernels queued before it. */
  if (err == cudaErrorInvalidValue || err == cudaErrorInvalidDevicePointer || err == cudaErrorInvalidMemcpyDirection) {
    return cn_cuda_status(err, "memcpy_d2h");
  }
  if (err != cudaSuccess) return async_failure(err, "memcpy_d2h");
  return armed ? report_kernel_error(rec) : CN_OK;
}

extern "C" int cn_memcpy_d2d(void *dst, const void *src, int64_t bytes) {
  CN_COPY_ARGS("memcpy_d2d", dst, src, bytes);
  cn_count(CN_COUNT_D2D, bytes);
  return cn_cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToDevice, g_stream),
                        "memcpy_d2d");
}
