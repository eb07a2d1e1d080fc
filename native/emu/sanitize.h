/*
 * sanitize.h: the emulator's memcheck and initcheck for global (device) memory, in the sanitizer
 * build (g++ -DCN_EMU_SANITIZE; see docs/sanitizer.md and scripts/native/emu_run_build.ts).
 *
 * How it works. The kernels' sources (.cu) are compiled with g++ -fsanitize=kernel-address in its
 * callback mode (--param asan-instrumentation-with-call-threshold=0, no stack or global redzones):
 * every load and store calls __asan_loadN_noabort / __asan_storeN_noabort(address), which
 * sanitize.cpp defines (no libasan: the library loads into any process, Deno included). Device
 * memory is one arena of its own with one shadow byte per byte:
 * - cudaMalloc hands out exact sizes, 256-byte aligned, with at least 256 unaddressable bytes
 *   after each allocation; freed blocks are never handed out again (the arena is reserved, not
 *   committed, and a freed block's pages go back to the system), so a late use is caught;
 * - the library's caching allocator (native/src/allocator.cu) marks the bytes of a block its caller
 *   asked for (the rest of the rounded block, and every cached block, is unaddressable);
 * - an access outside a launch (host code dereferencing a device pointer) is an error;
 * - a byte nothing wrote (no store, cudaMemcpy or cudaMemset since the allocation) read by a kernel
 *   is an initcheck error (when CN_EMU_INITCHECK=1).
 * Errors print in compute-sanitizer's style, one "========= " header line and indented details,
 * naming the kernel, block, thread, the source line, the address and the nearest allocation. A
 * kernel that made an invalid access runs to its end (stores to the arena are harmless), then the
 * launch fails as on a card: cudaGetLastError, cudaDeviceSynchronize and cudaMemcpy return
 * cudaErrorIllegalAddress from then on (sticky).
 * Environment: CN_EMU_MEMCHECK (default 1), CN_EMU_INITCHECK (default 0), CN_EMU_PRINT_LIMIT
 * (errors printed in full, default 100; all are counted).
 */
#ifndef CN_EMU_SANITIZE_H
#define CN_EMU_SANITIZE_H

#include <stddef.h>

namespace cn_emu {

/* The library's caching allocator (allocator.cu): block `p` of `block_bytes` (from cudaMalloc) is
   handed out (`live`) for `used` bytes (addressable, unwritten; filled with 0xff unless
   CN_EMU_POISON=0), or cached (not `live`, nothing addressable). */
__attribute__((visibility("hidden"))) void sanitize_block(void *p, size_t used, size_t block_bytes, bool live);

/* ---- for runtime.cpp (device memory calls hold its memory mutex) */

/* An exact-size allocation from the arena of `arena_bytes` (reserved on the first call), or NULL
   when the arena is used up (the message says so). */
__attribute__((visibility("hidden"))) void *san_malloc(size_t bytes, size_t arena_bytes);
/* Marks `p` freed: 0; -1 when it is no allocation, -2 when it was freed already. */
__attribute__((visibility("hidden"))) int san_free(void *p);
/* Whether [p, p + n) is addressable device memory of one live allocation (`api` and `which` name
   the call and the argument in the report printed when it is not). */
__attribute__((visibility("hidden"))) bool san_check_range(const char *api, const char *which, const void *p, size_t n);
/* After a copy or fill into device memory: `dst`'s bytes are written (from device memory `src`,
   its written/unwritten state is copied; from the host or a memset, src is NULL). */
__attribute__((visibility("hidden"))) void san_written(void *dst, const void *src, size_t n);
/* Whether a kernel made an invalid access: the device is then lost (cudaErrorIllegalAddress). */
__attribute__((visibility("hidden"))) bool san_faulted();

}  // namespace cn_emu

#endif
