/*
 * racecheck.cpp: racecheck and initcheck for __shared__ memory, in the racecheck build.
 *
 * How accesses are seen. The racecheck build compiles the kernel sources (the .cu files, never the
 * emulator) with g++ -fsanitize=thread, which makes the compiler call __tsan_read4(addr),
 * __tsan_write8(addr), ... before every load and store, but links without ThreadSanitizer's
 * runtime: the __tsan_* functions are defined here. Each one asks whether the address lies in a
 * __shared__ variable of the running kernel (shared.cpp knows them) and, if so, checks it against
 * a per-byte shadow. Fibers switch only at barriers, so no real threads race here: the checks are
 * about what a GPU would do, where the threads of a block run at once.
 *
 * The shadow of each byte: the last write (thread, epoch, its warp's __syncwarp count, the code
 * address), up to two reads of the current epoch, and the block that last wrote it. An epoch is
 * the stretch of one block between two __syncthreads() (fibers.cpp calls race_block_start and
 * race_block_barrier). Two accesses race when they are by different threads, in the same epoch,
 * at least one a write, not both atomics, and not two lanes of one warp with a __syncwarp()
 * between them. A read of a byte that no thread of this block wrote is an initcheck error (the
 * value would be the previous block's, or garbage on a GPU).
 *
 * Reports are recorded during the launch (kind, kernel, block, both threads, address, variable)
 * once per pair of code addresses, printed after it with the source lines (addr2line; the build
 * adds -g), and counted: at exit a summary line is printed and the exit status is 1 when there
 * were any. Atomics on shared memory count as writes that do not race with each other. Not seen:
 * memcpy/memset calls on shared memory inside kernels.
 */
#include "emu_internal.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <unistd.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace cn_emu {

bool g_race_on = false;

namespace {

constexpr uint16_t NONE = 0xffff;

struct Cell {
  uint64_t init;    /* block serial + 1 of the last write (0: never) */
  uint64_t w_epoch; /* epoch of the last write */
  uint64_t r_epoch; /* epoch of the reads below */
  const void *w_pc, *r_pc, *r2_pc;
  uint16_t w_t, r_t, r2_t;   /* threads (linear ids) */
  uint16_t w_ws, r_ws, r2_ws; /* their warp's __syncwarp() count then */
  uint8_t w_atomic;
};

enum Kind { RAW = 0, WAR, WAW, UNINIT };

struct Hazard {
  int kind;
  std::string kernel; /* kernel_label() at the time */
  uint3 t1, t2;       /* the earlier and the current access's threads */
  const void *pc1, *pc2;
  uintptr_t addr;
  int size;
  std::string var;
  size_t offset;
};

std::vector<Cell> g_shadow;
uintptr_t g_shadow_lo = 0, g_shadow_hi = 0;
uint64_t g_epoch = 1;
std::vector<Hazard> g_pending;
std::set<std::tuple<int, const void *, const void *>> g_seen;
uint64_t g_errors = 0;
const uint64_t MAX_REPORTS = 100;

Cell *shadow(uintptr_t a) {
  if (g_shadow_lo != g_shared_lo || g_shadow_hi != g_shared_hi) { /* another module's kernel: a fresh shadow */
    g_shadow.assign(g_shared_hi - g_shared_lo, Cell{0, 0, 0, nullptr, nullptr, nullptr, NONE, NONE, NONE, 0, 0, 0, 0});
    g_shadow_lo = g_shared_lo;
    g_shadow_hi = g_shared_hi;
  }
  return &g_shadow[a - g_shadow_lo];
}

inline bool ordered(uint16_t prev_t, uint16_t prev_ws, int t, uint16_t ws) {
  return prev_t == t || ((prev_t >> 5) == (t >> 5) && prev_ws != ws);
}

void record(int kind, uint16_t t1, const void *pc1, const void *pc2, uintptr_t addr, int size) {
  if (!g_seen.insert(std::make_tuple(kind, pc1, pc2)).second) return;
  g_errors++;
  if (g_errors > MAX_REPORTS) return;
  const SharedVar *v = shared_find(addr);
  Hazard h{kind, kernel_label(), t1 == NONE ? uint3{0, 0, 0} : S.tid[t1], S.tid[S.cur], pc1, pc2, addr, size,
           v ? shared_name(*v) : "?", v ? addr - v->addr : 0};
  if (t1 == NONE) h.pc1 = nullptr;
  g_pending.push_back(h);
}

void note_access(const void *p, int n, bool write, bool atomic, const void *pc) {
  uintptr_t a = (uintptr_t)p;
  if (a >= g_shared_hi || a + n <= g_shared_lo || !S.active) return;
  if (!shared_find(a) && !shared_find(a + n - 1)) return;
  const int t = S.cur;
  const uint16_t ws = (uint16_t)S.warp[t >> 5].syncs;
  const uint64_t blk = S.block_serial + 1;
  for (int i = 0; i < n; i++) {
    if (a + i < g_shared_lo || a + i >= g_shared_hi || !shared_find(a + i)) continue;
    Cell &c = *shadow(a + i);
    if (!write) {
      if (c.init != blk) record(UNINIT, NONE, nullptr, pc, a, n);
      else if (c.w_epoch == g_epoch && !ordered(c.w_t, c.w_ws, t, ws)) record(RAW, c.w_t, c.w_pc, pc, a, n);
      if (c.r_epoch != g_epoch) {
        c.r_epoch = g_epoch;
        c.r_t = (uint16_t)t, c.r_ws = ws, c.r_pc = pc;
        c.r2_t = NONE;
      } else if (c.r_t != t && c.r2_t == NONE) {
        c.r2_t = (uint16_t)t, c.r2_ws = ws, c.r2_pc = pc;
      }
    } else {
      if (atomic && c.init != blk) record(UNINIT, NONE, nullptr, pc, a, n); /* an atomic reads the old value */
      if (c.w_epoch == g_epoch && !ordered(c.w_t, c.w_ws, t, ws) && !(atomic && c.w_atomic))
        record(WAW, c.w_t, c.w_pc, pc, a, n);
      if (c.r_epoch == g_epoch) {
        if (!ordered(c.r_t, c.r_ws, t, ws)) record(WAR, c.r_t, c.r_pc, pc, a, n);
        else if (c.r2_t != NONE && !ordered(c.r2_t, c.r2_ws, t, ws)) record(WAR, c.r2_t, c.r2_pc, pc, a, n);
      }
      c.w_epoch = g_epoch;
      c.w_t = (uint16_t)t, c.w_ws = ws, c.w_pc = pc, c.w_atomic = atomic;
      c.init = blk;
    }
  }
}

/* "conv2d.cu:88 (in conv2d_kernel<...>)" for a code address, from addr2line; the module and offset without it. */
std::string where(const void *pc) {
  if (!pc) return "?";
  Dl_info info;
  struct link_map *lm = nullptr;
  if (!dladdr1(pc, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) return "?";
  std::string path = lm->l_name && lm->l_name[0] ? lm->l_name : "";
  if (path.empty()) { /* the program itself: addr2line needs its real path */
    char exe[1024];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    path = k > 0 ? std::string(exe, (size_t)k) : "/proc/self/exe";
  }
  unsigned long off = (unsigned long)((uintptr_t)pc - lm->l_addr - 1); /* pc is a return address */
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "addr2line -C -f -e '%s' 0x%lx 2>/dev/null", path.c_str(), off);
  std::string fn, line;
  if (FILE *f = popen(cmd, "r")) {
    char buf[2048];
    if (fgets(buf, sizeof buf, f)) fn = buf;
    if (fgets(buf, sizeof buf, f)) line = buf;
    pclose(f);
  }
  while (!fn.empty() && fn.back() == '\n') fn.pop_back();
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (line.empty() || line[0] == '?') {
    snprintf(cmd, sizeof cmd, "%s+0x%lx", path.c_str(), off);
    return cmd;
  }
  size_t d = line.find(" (discriminator");
  if (d != std::string::npos) line.erase(d);
  size_t slash = line.rfind('/');
  std::string out = slash == std::string::npos ? line : line.substr(slash + 1);
  if (!fn.empty() && fn != "??") out += " in " + fn.substr(0, fn.find('('));
  return out;
}

void summary() {
  if (!g_race_on || g_errors == 0) return;
  fflush(stdout);
  fprintf(stderr, "cuda_emu: racecheck: %llu error%s in __shared__ memory (each pair of code locations counted "
                  "once): exit status 1\n",
          (unsigned long long)g_errors, g_errors == 1 ? "" : "s");
  fflush(stderr);
  _exit(1);
}

}  // namespace

void race_block_start() { g_epoch++; }
void race_block_barrier() { g_epoch++; }

void race_launch_end() {
  /* compute-sanitizer's layout: one "========= " header per error, details indented under it. */
  for (const Hazard &h : g_pending) {
    if (h.kind == UNINIT) {
      fprintf(stderr, "========= Uninitialized __shared__ memory read of size %d bytes (initcheck)\n", h.size);
      fprintf(stderr, "=========     at %s\n", where(h.pc2).c_str());
      fprintf(stderr, "=========     by thread (%u,%u,%u): no thread of this block wrote it (it holds the poison pattern, "
                      "or on a card another block's value)\n", h.t2.x, h.t2.y, h.t2.z);
    } else {
      const char *first = h.kind == WAR ? "Read" : "Write", *second = h.kind == RAW ? "Read" : "Write";
      fprintf(stderr, "========= Error: Race reported between %s access by thread (%u,%u,%u) at %s (racecheck, %s)\n",
              first, h.t1.x, h.t1.y, h.t1.z, where(h.pc1).c_str(), h.kind == RAW ? "read-after-write" : h.kind == WAR ? "write-after-read" : "write-after-write");
      fprintf(stderr, "=========     and %s access by thread (%u,%u,%u) at %s, with no __syncthreads() between them\n",
              second, h.t2.x, h.t2.y, h.t2.z, where(h.pc2).c_str());
    }
    fprintf(stderr, "=========     Address %p is __shared__ %s + %zu, %d bytes\n", (void *)h.addr, h.var.c_str(), h.offset,
            h.size);
    fprintf(stderr, "=========     in %s\n", h.kernel.c_str());
  }
  g_pending.clear();
  fflush(stderr);
}

void race_atomic(const void *p, size_t n, const void *pc) {
  if (g_race_on) note_access(p, (int)n, true, true, pc);
}

}  // namespace cn_emu

/* ---------------------------------------------------------------- the ThreadSanitizer ABI g++ calls */

using cn_emu::note_access;

#define CN_TSAN extern "C" __attribute__((visibility("hidden"), noinline))
#define CN_PC __builtin_return_address(0)

CN_TSAN void __tsan_init(void) {
  if (!cn_emu::g_race_on) {
    cn_emu::g_race_on = true;
    atexit(cn_emu::summary);
  }
}
CN_TSAN void __tsan_func_entry(void *) {}
CN_TSAN void __tsan_func_exit(void) {}
CN_TSAN void __tsan_vptr_update(void **, void *) {}
CN_TSAN void __tsan_vptr_read(void **) {}
CN_TSAN void __tsan_read_range(void *p, unsigned long n) { note_access(p, (int)n, false, false, CN_PC); }
CN_TSAN void __tsan_write_range(void *p, unsigned long n) { note_access(p, (int)n, true, false, CN_PC); }

#define CN_TSAN_RW(N)                                                                             \
  CN_TSAN void __tsan_read##N(void *p) { note_access(p, N, false, false, CN_PC); }                     \
  CN_TSAN void __tsan_write##N(void *p) { note_access(p, N, true, false, CN_PC); }                     \
  CN_TSAN void __tsan_unaligned_read##N(void *p) { note_access(p, N, false, false, CN_PC); }           \
  CN_TSAN void __tsan_unaligned_write##N(void *p) { note_access(p, N, true, false, CN_PC); }           \
  CN_TSAN void __tsan_volatile_read##N(void *p) { note_access(p, N, false, false, CN_PC); }            \
  CN_TSAN void __tsan_volatile_write##N(void *p) { note_access(p, N, true, false, CN_PC); }            \
  CN_TSAN void __tsan_unaligned_volatile_read##N(void *p) { note_access(p, N, false, false, CN_PC); }  \
  CN_TSAN void __tsan_unaligned_volatile_write##N(void *p) { note_access(p, N, true, false, CN_PC); }
CN_TSAN_RW(1)
CN_TSAN_RW(2)
CN_TSAN_RW(4)
CN_TSAN_RW(8)
CN_TSAN_RW(16)

/* Atomics of host code in the instrumented files (std::atomic in runtime.cu): done, not checked. */
#define CN_TSAN_ATOMIC(N, T)                                                                                      \
  CN_TSAN T __tsan_atomic##N##_load(const volatile T *a, int) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); }    \
  CN_TSAN void __tsan_atomic##N##_store(volatile T *a, T v, int) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); }   \
  CN_TSAN T __tsan_atomic##N##_exchange(volatile T *a, T v, int) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); } \
  CN_TSAN T __tsan_atomic##N##_fetch_add(volatile T *a, T v, int) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); } \
  CN_TSAN T __tsan_atomic##N##_fetch_sub(volatile T *a, T v, int) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); } \
  CN_TSAN T __tsan_atomic##N##_fetch_and(volatile T *a, T v, int) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); } \
  CN_TSAN T __tsan_atomic##N##_fetch_or(volatile T *a, T v, int) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }   \
  CN_TSAN T __tsan_atomic##N##_fetch_xor(volatile T *a, T v, int) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); } \
  CN_TSAN T __tsan_atomic##N##_fetch_nand(volatile T *a, T v, int) {                                            \
    return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST);                                                           \
  }                                                                                                               \
  CN_TSAN int __tsan_atomic##N##_compare_exchange_strong(volatile T *a, T *c, T v, int, int) {                    \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                       \
  }                                                                                                               \
  CN_TSAN int __tsan_atomic##N##_compare_exchange_weak(volatile T *a, T *c, T v, int, int) {                      \
    return __atomic_compare_exchange_n(a, c, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                        \
  }                                                                                                               \
  CN_TSAN T __tsan_atomic##N##_compare_exchange_val(volatile T *a, T c, T v, int, int) {                          \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                             \
    return c;                                                                                                     \
  }
CN_TSAN_ATOMIC(8, uint8_t)
CN_TSAN_ATOMIC(16, uint16_t)
CN_TSAN_ATOMIC(32, uint32_t)
CN_TSAN_ATOMIC(64, uint64_t)
CN_TSAN void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
CN_TSAN void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
