/*
 * sanitize.cpp: memcheck and initcheck for device memory in the sanitizer build (-DCN_EMU_SANITIZE;
 * the model is in sanitize.h). The arena and its shadow, the allocation records, the
 * __asan_*_noabort callbacks that g++ -fsanitize=kernel-address puts before every load and store of
 * the instrumented sources, and the compute-sanitizer-style reports. Without CN_EMU_SANITIZE this
 * file compiles to nothing.
 */
#ifdef CN_EMU_SANITIZE

#include "sanitize.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <map>
#include <mutex>
#include <string>

#include "emu_internal.h"

namespace cn_emu {

namespace {

/* Shadow byte per device byte. */
enum : uint8_t { SH_NONE = 0, SH_UNWRITTEN = 1, SH_WRITTEN = 2, SH_FREED = 3 };
enum BlockState : uint8_t { B_LIVE, B_CACHED, B_FREED };
constexpr size_t ALIGN = 256, GAP = 256;

struct Block {
  size_t size; /* what cudaMalloc was asked for */
  size_t used; /* addressable bytes from the start (the caching allocator's request) */
  BlockState state;
};

std::mutex g_mu; /* records, arena bump pointer, the report path */
uintptr_t g_lo = 0;
size_t g_span = 0; /* 0 until the arena exists: every check is then a no-op */
size_t g_next = 0; /* bump offset */
uint8_t *g_shadow = nullptr;
std::map<uintptr_t, Block> g_blocks;
bool g_fault = false;
int g_memcheck = -1, g_initcheck = -1, g_poison = -1;
long g_print_limit = -1;
uint64_t g_errors = 0;
std::map<uintptr_t, std::string> g_where; /* pc -> "function in file:line" */

void settings() {
  if (g_memcheck >= 0) return;
  g_memcheck = env_long("CN_EMU_MEMCHECK", 1) != 0;
  g_initcheck = env_long("CN_EMU_INITCHECK", 0) != 0;
  g_poison = env_long("CN_EMU_POISON", 1) != 0;
  g_print_limit = env_long("CN_EMU_PRINT_LIMIT", 100);
}

inline uint8_t *shadow(uintptr_t a) { return g_shadow + (a - g_lo); }

void set_shadow(uintptr_t a, size_t n, uint8_t v) {
  if (n) memset(shadow(a), v, n);
}

/* "function in file:line" for a code address, from addr2line (cached per address). */
std::string where(uintptr_t pc) {
  auto it = g_where.find(pc);
  if (it != g_where.end()) return it->second;
  char out[1024];
  snprintf(out, sizeof out, "0x%lx", (unsigned long)pc);
  Dl_info info;
  if (dladdr((void *)pc, &info) && info.dli_fname && info.dli_fbase) {
    /* Shared objects and PIE programs are looked up by offset, a fixed-address program by address. */
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)info.dli_fbase;
    uintptr_t addr = eh->e_type == ET_DYN ? pc - (uintptr_t)info.dli_fbase : pc;
    const char *file = info.dli_fname[0] ? info.dli_fname : "/proc/self/exe";
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "addr2line -C -f -i -e '%s' 0x%lx 2>/dev/null", file, (unsigned long)addr);
    if (FILE *p = popen(cmd, "r")) {
      char fn[512] = "", line[512] = "";
      if (fgets(fn, sizeof fn, p) && fgets(line, sizeof line, p)) {
        fn[strcspn(fn, "\n")] = 0;
        line[strcspn(line, "\n")] = 0;
        char *disc = strstr(line, " (discriminator");
        if (disc) *disc = 0;
        /* Drop ABI tags ("kernel[abi:cn_emu_kernel](float*)"): the name as written in the source. */
        for (char *tag; (tag = strstr(fn, "[abi:"));) {
          char *end = strchr(tag, ']');
          if (!end) break;
          memmove(tag, end + 1, strlen(end + 1) + 1);
        }
        if (strcmp(fn, "??") != 0) snprintf(out, sizeof out, "%s in %s", fn, line);
      }
      pclose(p);
    }
  }
  return g_where[pc] = out;
}

/* The record holding `a`, else the one nearest to it (before or after); null when none. */
const std::pair<const uintptr_t, Block> *nearest(uintptr_t a, bool *inside) {
  *inside = false;
  auto next = g_blocks.upper_bound(a);
  const std::pair<const uintptr_t, Block> *prev = nullptr;
  if (next != g_blocks.begin()) {
    auto p = std::prev(next);
    if (a < p->first + (p->second.size > p->second.used ? p->second.size : p->second.used)) {
      *inside = true;
      return &*p;
    }
    prev = &*p;
  }
  if (next == g_blocks.end()) return prev;
  if (!prev) return &*next;
  return a - (prev->first + prev->second.used) <= next->first - a ? prev : &*next;
}

/* "Address 0x... is out of bounds" and where it lies from the nearest allocation. */
void describe(uintptr_t a) {
  bool inside;
  auto *b = nearest(a, &inside);
  if (!b) {
    fprintf(stderr, "=========     Address 0x%lx is out of bounds (no allocation is live)\n", (unsigned long)a);
    return;
  }
  uintptr_t base = b->first;
  const Block &k = b->second;
  if (inside && k.state == B_FREED) {
    fprintf(stderr,
            "=========     Address 0x%lx is out of bounds\n"
            "=========     and is %lu bytes inside the allocation at 0x%lx of size %zu bytes, which cudaFree "
            "released (a use after free)\n",
            (unsigned long)a, (unsigned long)(a - base), (unsigned long)base, k.size);
  } else if (inside && k.state == B_CACHED) {
    fprintf(stderr,
            "=========     Address 0x%lx is out of bounds\n"
            "=========     and is %lu bytes inside the block at 0x%lx of size %zu bytes that cn_free returned to the "
            "library's cache (a use after free)\n",
            (unsigned long)a, (unsigned long)(a - base), (unsigned long)base, k.size);
  } else if (a >= base + k.used) {
    fprintf(stderr,
            "=========     Address 0x%lx is out of bounds\n"
            "=========     and is %lu bytes after the nearest allocation at 0x%lx of size %zu bytes\n",
            (unsigned long)a, (unsigned long)(a - base - k.used), (unsigned long)base, k.used);
  } else if (a < base) {
    fprintf(stderr,
            "=========     Address 0x%lx is out of bounds\n"
            "=========     and is %lu bytes before the nearest allocation at 0x%lx of size %zu bytes\n",
            (unsigned long)a, (unsigned long)(base - a), (unsigned long)base, k.used);
  } else {
    fprintf(stderr, "=========     Address 0x%lx is %lu bytes inside the allocation at 0x%lx of size %zu bytes\n",
            (unsigned long)a, (unsigned long)(a - base), (unsigned long)base, k.used);
  }
}

void print_total() {
  fprintf(stderr, "========= (%llu errors in all: CN_EMU_PRINT_LIMIT=%ld printed the first ones)\n",
          (unsigned long long)g_errors, g_print_limit);
}

/* Counts an error; whether to print it (the first CN_EMU_PRINT_LIMIT are; the total goes out at exit). g_mu held. */
bool count_error() {
  g_errors++;
  if (g_print_limit >= 0 && g_errors > (uint64_t)g_print_limit) {
    if (g_errors == (uint64_t)g_print_limit + 1) atexit(print_total);
    return false;
  }
  return true;
}

/* Prints one error (unless past the print limit) and counts it. kind: 0 invalid, 1 unwritten. */
void report_access(uintptr_t a, size_t n, bool write, int kind, uintptr_t pc) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!count_error()) return;
  const bool host = !S.active;
  if (kind == 1) {
    fprintf(stderr, "========= Uninitialized __global__ memory read of size %zu bytes\n", n);
  } else {
    fprintf(stderr, "========= Invalid %s %s of size %zu bytes\n", host ? "host" : "__global__", write ? "write" : "read",
            n);
  }
  fprintf(stderr, "=========     at %s\n", where(pc - 1).c_str());
  if (!host) {
    fprintf(stderr, "=========     by thread (%u,%u,%u) in block (%u,%u,%u)\n", g_thread_idx.x, g_thread_idx.y,
            g_thread_idx.z, g_block_idx.x, g_block_idx.y, g_block_idx.z);
  }
  if (kind == 1) {
    bool inside;
    auto *b = nearest(a, &inside);
    if (b && inside) {
      fprintf(stderr,
              "=========     Address 0x%lx is %lu bytes inside the allocation at 0x%lx of size %zu bytes: nothing "
              "wrote it since it was allocated\n",
              (unsigned long)a, (unsigned long)(a - b->first), (unsigned long)b->first, b->second.used);
    } else {
      describe(a);
    }
  } else if (host) {
    bool inside;
    auto *b = nearest(a, &inside);
    if (b && inside && b->second.state == B_LIVE && a < b->first + b->second.used) {
      fprintf(stderr, "=========     Address 0x%lx is device memory: %lu bytes inside the allocation at 0x%lx of size %zu bytes\n",
              (unsigned long)a, (unsigned long)(a - b->first), (unsigned long)b->first, b->second.used);
    } else {
      describe(a);
    }
    fprintf(stderr,
            "=========     host code dereferenced a device pointer (a card faults here): copy with cudaMemcpy\n");
  } else {
    describe(a);
  }
  if (!host) {
    char site[320] = "";
    if (S.file) snprintf(site, sizeof site, " launched at %s:%d", S.file, S.line);
    fprintf(stderr, "=========     in kernel %s%s, grid (%u,%u,%u) block (%u,%u,%u)\n", S.name ? S.name : "<unnamed>", site,
            S.grid.x, S.grid.y, S.grid.z, S.block.x, S.block.y, S.block.z);
  }
  fflush(stderr);
}

/* The check every instrumented load and store makes (only device-memory addresses get here). */
void check(uintptr_t a, size_t n, bool write, uintptr_t pc) {
  settings();
  if (a + n > g_lo + g_span) n = g_lo + g_span - a;
  const uint8_t *s = shadow(a);
  bool ok = S.active || !g_memcheck;
  bool unwritten = false;
  for (size_t i = 0; i < n && ok; i++) {
    if (s[i] == SH_UNWRITTEN) unwritten = true;
    else if (s[i] != SH_WRITTEN) ok = false;
  }
  if (!ok) {
    if (!g_memcheck) return;
    if (S.active) g_fault = true;
    report_access(a, n, write, 0, pc);
    return;
  }
  if (write) {
    if (unwritten) {
      uint8_t *w = shadow(a);
      for (size_t i = 0; i < n; i++)
        if (w[i] == SH_UNWRITTEN) w[i] = SH_WRITTEN;
    }
  } else if (unwritten && g_initcheck) {
    report_access(a, n, false, 1, pc);
  }
}

inline void access(uintptr_t a, size_t n, bool write, void *ret) {
  if (a - g_lo >= g_span) return; /* not device memory (or no arena yet) */
  /* Fast path: every byte written already. */
  if (S.active && n <= 8) {
    uint64_t sh = 0;
    if (a + n <= g_lo + g_span) {
      memcpy(&sh, shadow(a), n);
      if (sh == 0x0202020202020202ull >> (64 - 8 * n)) return;
    }
  }
  check(a, n, write, (uintptr_t)ret);
}

}  // namespace

void *san_malloc(size_t bytes, size_t arena_bytes) {
  std::lock_guard<std::mutex> lock(g_mu);
  settings();
  if (!g_span) {
    size_t page = 4096;
    size_t span = (arena_bytes + page - 1) / page * page;
    void *arena = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *sh = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED || sh == MAP_FAILED)
      die("sanitizer: cannot reserve %zu bytes of device memory and its shadow: %s (lower CN_EMU_MEMORY_MB)", span,
          strerror(errno));
    g_lo = (uintptr_t)arena;
    g_shadow = (uint8_t *)sh;
    g_span = span;
  }
  size_t start = (g_next + ALIGN - 1) / ALIGN * ALIGN;
  if (start + bytes + GAP > g_span || start + bytes < start) {
    fprintf(stderr,
            "cuda_emu: sanitizer: %zu more bytes do not fit in the device arena (%zu of %zu bytes handed out; freed "
            "blocks are never reused, to catch late uses): raise CN_EMU_MEMORY_MB\n",
            bytes, g_next, g_span);
    return nullptr;
  }
  uintptr_t p = g_lo + start;
  g_next = start + bytes + GAP;
  g_blocks[p] = Block{bytes, bytes, B_LIVE};
  set_shadow(p, bytes, SH_UNWRITTEN);
  return (void *)p;
}

int san_free(void *ptr) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_blocks.find((uintptr_t)ptr);
  if (it == g_blocks.end()) return -1;
  if (it->second.state == B_FREED) return -2;
  Block &b = it->second;
  b.state = B_FREED;
  set_shadow(it->first, b.size, SH_FREED);
  /* Give the pages back; the shadow keeps saying "freed". */
  uintptr_t lo = (it->first + 4095) & ~(uintptr_t)4095, hi = (it->first + b.size) & ~(uintptr_t)4095;
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
  return 0;
}

bool san_check_range(const char *api, const char *which, const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p;
  size_t bad = 0;
  bool ok = a - g_lo < g_span && a + n <= g_lo + g_span && a + n >= a;
  if (ok) {
    const uint8_t *s = shadow(a);
    for (size_t i = 0; i < n && ok; i++) {
      if (s[i] != SH_UNWRITTEN && s[i] != SH_WRITTEN) {
        ok = false;
        bad = i;
      }
    }
  }
  if (ok) return true;
  std::lock_guard<std::mutex> lock(g_mu);
  settings();
  if (!count_error()) return false;
  fprintf(stderr,
          "========= Program hit cudaErrorInvalidValue (error 1) due to \"invalid argument\" on CUDA API call to %s\n"
          "=========     the %s range [0x%lx, +%zu bytes) is not inside one live allocation\n",
          api, which, (unsigned long)a, n);
  if (a - g_lo < g_span) describe(a + bad);
  else fprintf(stderr, "=========     Address 0x%lx is not device memory\n", (unsigned long)a);
  fflush(stderr);
  return false;
}

void san_written(void *dst, const void *src, size_t n) {
  uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
  if (d - g_lo >= g_span) return;
  if (src && s - g_lo < g_span) memmove(shadow(d), shadow(s), n);
  else set_shadow(d, n, SH_WRITTEN);
}

bool san_faulted() { return g_fault; }

void sanitize_block(void *p, size_t used, size_t block_bytes, bool live) {
  std::lock_guard<std::mutex> lock(g_mu);
  settings();
  auto it = g_blocks.find((uintptr_t)p);
  if (it == g_blocks.end() || it->second.state == B_FREED)
    die("sanitizer: the caching allocator handed out %p, which is no live cudaMalloc allocation", p);
  Block &b = it->second;
  if (used > block_bytes || block_bytes > b.size)
    die("sanitizer: block %p of %zu bytes cannot hold %zu of %zu bytes", p, b.size, used, block_bytes);
  if (!live) used = 0;
  b.state = live ? B_LIVE : B_CACHED;
  b.used = used;
  if (used && g_poison) memset(p, 0xff, used); /* NaN floats, -1 ints, as the plain emulator does */
  set_shadow((uintptr_t)p, used, SH_UNWRITTEN);
  set_shadow((uintptr_t)p + used, b.size - used, live ? SH_NONE : SH_FREED);
}

}  // namespace cn_emu

/* The calls g++ -fsanitize=kernel-address emits before each access (callback mode). */
#define CN_SAN_CB(n)                                                                                     \
  extern "C" __attribute__((visibility("hidden"))) void __asan_load##n##_noabort(uintptr_t a) {          \
    cn_emu::access(a, n, false, __builtin_return_address(0));                                           \
  }                                                                                                      \
  extern "C" __attribute__((visibility("hidden"))) void __asan_store##n##_noabort(uintptr_t a) {         \
    cn_emu::access(a, n, true, __builtin_return_address(0));                                            \
  }                                                                                                      \
  extern "C" __attribute__((visibility("hidden"))) void __asan_load##n(uintptr_t a) {                    \
    cn_emu::access(a, n, false, __builtin_return_address(0));                                           \
  }                                                                                                      \
  extern "C" __attribute__((visibility("hidden"))) void __asan_store##n(uintptr_t a) {                   \
    cn_emu::access(a, n, true, __builtin_return_address(0));                                            \
  }
CN_SAN_CB(1)
CN_SAN_CB(2)
CN_SAN_CB(4)
CN_SAN_CB(8)
CN_SAN_CB(16)
#undef CN_SAN_CB
extern "C" __attribute__((visibility("hidden"))) void __asan_loadN_noabort(uintptr_t a, size_t n) {
  cn_emu::access(a, n, false, __builtin_return_address(0));
}
extern "C" __attribute__((visibility("hidden"))) void __asan_storeN_noabort(uintptr_t a, size_t n) {
  cn_emu::access(a, n, true, __builtin_return_address(0));
}
extern "C" __attribute__((visibility("hidden"))) void __asan_loadN(uintptr_t a, size_t n) {
  cn_emu::access(a, n, false, __builtin_return_address(0));
}
extern "C" __attribute__((visibility("hidden"))) void __asan_storeN(uintptr_t a, size_t n) {
  cn_emu::access(a, n, true, __builtin_return_address(0));
}
/* Called before noreturn calls; there is no libasan stack state to reset. */
extern "C" __attribute__((visibility("hidden"))) void __asan_handle_no_return(void) {}

#endif /* CN_EMU_SANITIZE */
