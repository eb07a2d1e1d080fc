/*
 * runtime.cpp: the emulator's stand-in for the CUDA runtime API that cuda_emu.h declares: errors,
 * the one device and its properties, device memory (host memory, bounds-checked by cudaMemcpy and
 * cudaMemset, poisoned with 0xff bytes), and streams and events, which are synchronous. Kernel
 * launches are in fibers.cpp. In the sanitizer build (-DCN_EMU_SANITIZE) device memory comes from
 * sanitize.cpp's arena instead of the heap, copies and fills record what they write, and a kernel's
 * invalid access makes the synchronising calls fail with cudaErrorIllegalAddress (sticky, as on a card).
 * During a stream capture (graph.cpp) the calls a card refuses fail, and Async copies and fills on the
 * capturing stream are recorded.
 */
#include "emu_internal.h"
#include "graph.h"
#ifdef CN_EMU_SANITIZE
#include "sanitize.h"
#endif

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <mutex>

namespace cn_emu {
thread_local cudaError_t t_last_error = cudaSuccess;
}  // namespace cn_emu

using namespace cn_emu;

namespace {

inline cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}

#ifdef CN_EMU_SANITIZE
/* cudaErrorIllegalAddress once a kernel made an invalid access (the context is lost, as on a card). */
inline cudaError_t device_lost() { return san_faulted() ? cudaErrorIllegalAddress : cudaSuccess; }
#else
inline cudaError_t device_lost() { return cudaSuccess; }
#endif

std::mutex g_mem_mutex;
std::map<uintptr_t, size_t> g_allocs; /* device allocations: start -> bytes */
size_t g_allocated = 0;
size_t g_total = 0;
int g_poison = -1;

size_t total_memory() {
  if (!g_total) {
    long mb = env_long("CN_EMU_MEMORY_MB", 0);
    if (mb > 0) g_total = (size_t)mb << 20;
    else g_total = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE) / 2;
  }
  return g_total;
}

/* Whether [p, p + n) lies inside one allocation (g_mem_mutex held). */
bool inside_allocation(const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p;
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return false;
  --it;
  return a >= it->first && a + n <= it->first + it->second && a + n >= a;
}

cudaError_t check_device_range(const char *fn, const char *which, const void *p, size_t n) {
  std::lock_guard<std::mutex> lock(g_mem_mutex);
#ifdef CN_EMU_SANITIZE
  /* Exact extents: the live bytes of one allocation (not the tail the caching allocator rounded to). */
  return san_check_range(fn, which, p, n) ? cudaSuccess : fail(cudaErrorInvalidValue);
#endif
  if (inside_allocation(p, n)) return cudaSuccess;
  fprintf(stderr, "cuda_emu: %s: the %s range [%p, +%zu bytes) is not inside one cudaMalloc allocation\n", fn, which,
          p, n);
  return fail(cudaErrorInvalidValue);
}

double now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

}  // namespace

struct CUstream_st {
  unsigned flags;
};
struct CUevent_st {
  unsigned flags;
  bool recorded;
  double ms;
};

const char *cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorAssert: return "device-side assert triggered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnmatched: return "capture was not initiated in this stream";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unrecognized error code";
}

const char *cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorAssert: return "cudaErrorAssert";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "cudaErrorUnrecognized";
}

cudaError_t cudaGetLastError(void) {
  if (cudaError_t lost = device_lost()) return lost;
  cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) {
  if (cudaError_t lost = device_lost()) return lost;
  return t_last_error;
}

/* ---- device */

/* [issue 11 part 6, driver floor test] CN_EMU_DRIVER_VERSION=12020 simulates a driver that supports
   only that CUDA version (cudaDriverGetVersion's encoding): older than the runtime, cudaGetDeviceCount
   answers cudaErrorInsufficientDriver as cudart does. */
static int emu_driver_version(void) {
  long v = env_long("CN_EMU_DRIVER_VERSION", 0);
  return v > 0 ? (int)v : CN_EMU_CUDA_VERSION;
}

cudaError_t cudaGetDeviceCount(int *count) {
  if (!count) return fail(cudaErrorInvalidValue);
  if (emu_driver_version() < CN_EMU_CUDA_VERSION) return fail(cudaErrorInsufficientDriver);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDevice(int *device) {
  if (!device) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device) {
  if (!p) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "convnet CPU emulator");
  p->totalGlobalMem = total_memory();
  p->sharedMemPerBlock = 48 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->memPitch = (size_t)1 << 31;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->totalConstMem = 65536;
  /* The oldest architecture the real build targets: host code choosing paths by capability takes
     the most conservative one. */
  p->major = 8;
  p->minor = 0;
  p->multiProcessorCount = 1; /* one host thread runs everything */
  p->unifiedAddressing = 1;
  p->memoryBusWidth = 64;
  p->l2CacheSize = 1 << 20;
  p->maxThreadsPerMultiProcessor = 1024;
  p->sharedMemPerMultiprocessor = 48 * 1024;
  p->regsPerMultiprocessor = 65536;
  p->sharedMemPerBlockOptin = 48 * 1024;
  p->maxBlocksPerMultiProcessor = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
  if (!value) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrTotalConstantMemory: *value = (int)p.totalConstMem; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = p.regsPerBlock; break;
    case cudaDevAttrClockRate: *value = 1000000; break;      /* kHz: nominal */
    case cudaDevAttrMemoryClockRate: *value = 1000000; break; /* kHz: nominal */
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrGlobalMemoryBusWidth: *value = p.memoryBusWidth; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
    default: return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  if (capture_refuses("cudaDeviceSynchronize")) return fail(cudaErrorStreamCaptureUnsupported);
  return device_lost();
}
cudaError_t cudaDeviceReset(void) { return cudaSuccess; }

cudaError_t cudaRuntimeGetVersion(int *version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = CN_EMU_CUDA_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = emu_driver_version(); /* [issue 11 part 6] CN_EMU_DRIVER_VERSION, above */
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
  if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  size_t total = total_memory();
  *total_bytes = total;
  *free_bytes = g_allocated < total ? total - g_allocated : 0;
  return cudaSuccess;
}

/* ---- memory */

cudaError_t cudaMalloc(void **ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (capture_refuses("cudaMalloc")) return fail(cudaErrorStreamCaptureUnsupported);
  if (bytes == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  size_t total = total_memory();
  if (bytes > total || g_allocated > total - bytes) return fail(cudaErrorMemoryAllocation);
  size_t rounded = (bytes + 255) & ~(size_t)255;
  if (rounded < bytes) return fail(cudaErrorMemoryAllocation);
  void *p = nullptr;
#ifdef CN_EMU_SANITIZE
  p = san_malloc(bytes, total); /* exact size, 256 unaddressable bytes after it */
  if (!p) return fail(cudaErrorMemoryAllocation);
#else
  if (posix_memalign(&p, 256, rounded) != 0 || !p) return fail(cudaErrorMemoryAllocation);
#endif
  if (g_poison < 0) g_poison = env_long("CN_EMU_POISON", 1) != 0;
  if (g_poison) memset(p, 0xff, bytes); /* NaN floats, -1 ints: reading unwritten memory shows */
  g_allocs[(uintptr_t)p] = bytes;
  g_allocated += bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
  if (!ptr) return cudaSuccess;
  if (capture_refuses("cudaFree")) return fail(cudaErrorStreamCaptureUnsupported);
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  auto it = g_allocs.find((uintptr_t)ptr);
  if (it == g_allocs.end()) {
    fprintf(stderr, "cuda_emu: cudaFree(%p): not a pointer returned by cudaMalloc (or freed already)\n", ptr);
    return fail(cudaErrorInvalidValue);
  }
  g_allocated -= it->second;
  g_allocs.erase(it);
#ifdef CN_EMU_SANITIZE
  san_free(ptr); /* stays reserved and marked freed: a later use is reported */
#else
  free(ptr);
#endif
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void **ptr, size_t bytes, cudaStream_t) { return cudaMalloc(ptr, bytes); }
cudaError_t cudaFreeAsync(void *ptr, cudaStream_t) { return cudaFree(ptr); }

cudaError_t cudaMallocHost(void **ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (posix_memalign(ptr, 256, bytes) != 0) {
    *ptr = nullptr;
    return fail(cudaErrorMemoryAllocation);
  }
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void *ptr) {
  free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
  if (capture_refuses("cudaMemcpy")) return fail(cudaErrorStreamCaptureUnsupported);
  return copy_now(dst, src, bytes, kind);
}

cudaError_t cn_emu::copy_now(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return fail(cudaErrorInvalidValue);
  cudaError_t e = cudaSuccess;
  switch (kind) {
    case cudaMemcpyHostToDevice: e = check_device_range("cudaMemcpy HostToDevice", "destination", dst, bytes); break;
    case cudaMemcpyDeviceToHost: e = check_device_range("cudaMemcpy DeviceToHost", "source", src, bytes); break;
    case cudaMemcpyDeviceToDevice:
      e = check_device_range("cudaMemcpy DeviceToDevice", "destination", dst, bytes);
      if (!e) e = check_device_range("cudaMemcpy DeviceToDevice", "source", src, bytes);
      break;
    case cudaMemcpyHostToHost:
    case cudaMemcpyDefault: break;
    default: return fail(cudaErrorInvalidMemcpyDirection);
  }
  if (e) return e;
  if (cudaError_t lost = device_lost()) return lost;
  memmove(dst, src, bytes);
#ifdef CN_EMU_SANITIZE
  if (kind == cudaMemcpyHostToDevice) san_written(dst, nullptr, bytes);
  else if (kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyDefault) san_written(dst, src, bytes);
#endif
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  cudaError_t recorded;
  if (capture_records_copy(stream, dst, src, bytes, kind, &recorded)) return recorded ? fail(recorded) : recorded;
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void *ptr, int value, size_t bytes) {
  if (capture_refuses("cudaMemset")) return fail(cudaErrorStreamCaptureUnsupported);
  return set_now(ptr, value, bytes);
}

cudaError_t cn_emu::set_now(void *ptr, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (cudaError_t e = check_device_range("cudaMemset", "destination", ptr, bytes)) return e;
  if (cudaError_t lost = device_lost()) return lost;
  memset(ptr, value, bytes);
#ifdef CN_EMU_SANITIZE
  san_written(ptr, nullptr, bytes);
#endif
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream) {
  cudaError_t recorded;
  if (capture_records_set(stream, ptr, value, bytes, &recorded)) return recorded ? fail(recorded) : recorded;
  return cudaMemset(ptr, value, bytes);
}

/* ---- streams and events: work is done when the call returns */

cudaError_t cudaStreamCreate(cudaStream_t *stream) { return cudaStreamCreateWithFlags(stream, 0); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
  if (!stream) return fail(cudaErrorInvalidValue);
  *stream = new CUstream_st{flags};
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
  if (capture_refuses("cudaStreamSynchronize")) return fail(cudaErrorStreamCaptureUnsupported);
  return device_lost();
}
cudaError_t cudaStreamQuery(cudaStream_t) {
  if (capture_refuses("cudaStreamQuery")) return fail(cudaErrorStreamCaptureUnsupported);
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned int) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t *event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) {
  if (!event) return fail(cudaErrorInvalidValue);
  *event = new CUevent_st{flags, false, 0.0};
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  event->recorded = true;
  event->ms = now_ms();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (capture_refuses("cudaEventSynchronize")) return fail(cudaErrorStreamCaptureUnsupported);
  return event ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventQuery(cudaEvent_t event) { return event ? cudaSuccess : fail(cudaErrorInvalidResourceHandle); }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return fail(cudaErrorInvalidValue);
  if (!start || !end || !start->recorded || !end->recorded || (start->flags & cudaEventDisableTiming) ||
      (end->flags & cudaEventDisableTiming))
    return fail(cudaErrorInvalidResourceHandle);
  *ms = (float)(end->ms - start->ms);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}
