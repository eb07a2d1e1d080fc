/*
 * cuda_emu.cpp: the CPU emulator behind cuda_emu.h: a fiber scheduler for kernel launches and a
 * host-memory stand-in for the CUDA runtime API. See cuda_emu.h for the model and its limits.
 *
 * Scheduling. A launch runs its blocks one after another on the calling thread. Inside a block,
 * a fiber takes the next thread that has not started and runs it to completion; only when that
 * thread waits (__syncthreads, a warp op) does the fiber park and the scheduler switch to another
 * fiber: one whose thread is ready again (a barrier completed), else a free fiber that starts the
 * next thread. So a kernel that never synchronizes runs as a plain loop on one fiber, and a block
 * needs as many fibers as it has threads waiting at once (at most 1024, 64 KiB stacks, reused
 * across blocks and launches). Warps resume first when their op completes (cache locality).
 * If nothing is ready, nothing is left to start and some thread has not finished, the block is
 * deadlocked: a kernel bug, reported with the waiting threads' sites, then abort().
 *
 * Switching is a hand-written x86-64 routine (callee-saved registers + stack pointer, about a
 * dozen instructions); other architectures use <ucontext.h> (slower: a syscall per switch).
 * MXCSR and the x87 control word are not saved: kernels do not change them.
 */
#include "cuda_emu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#if defined(__x86_64__) && !defined(CN_EMU_UCONTEXT)
#define CN_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

#ifdef CN_EMU_ASM_SWITCH
extern "C" {
/* Saves the callee-saved registers on the current stack, stores its rsp in *save_sp, switches to
   new_sp and restores the registers saved there. */
__attribute__((visibility("hidden"))) void cn_emu_swap(void **save_sp, void *new_sp);
/* First "return address" of a new fiber: calls r12(rbx) with a 16-byte aligned stack. */
__attribute__((visibility("hidden"))) void cn_emu_fiber_entry(void);
}
asm(R"(
  .pushsection .text
  .p2align 4
  .globl cn_emu_swap
  .hidden cn_emu_swap
  .type cn_emu_swap, @function
cn_emu_swap:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cn_emu_swap, .-cn_emu_swap

  .p2align 4
  .globl cn_emu_fiber_entry
  .hidden cn_emu_fiber_entry
  .type cn_emu_fiber_entry, @function
cn_emu_fiber_entry:
  .cfi_startproc
  .cfi_undefined rip
  movq %rbx, %rdi
  callq *%r12
  ud2
  .cfi_endproc
  .size cn_emu_fiber_entry, .-cn_emu_fiber_entry
  .popsection
)");
#endif

namespace cn_emu {

uint3 g_thread_idx;
uint3 g_block_idx;
dim3 g_block_dim;
dim3 g_grid_dim;

namespace {

[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cuda_emu: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  abort();
}

long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  if (!v || !*v) return dflt;
  char *end = nullptr;
  long x = strtol(v, &end, 10);
  if (*end) die("%s must be an integer, got \"%s\"", name, v);
  return x;
}

/* ------------------------------------------------------------------ fibers */

struct Fiber {
#ifdef CN_EMU_ASM_SWITCH
  void *sp;
#else
  ucontext_t uc;
#endif
  char *mem;
  size_t mem_size;
  Fiber *next_free;
};


Stats g_stats;
Fiber g_main_fiber; /* the launching thread's own stack while a launch runs */
Fiber *g_free = nullptr;
size_t g_stack_bytes = 0;
size_t g_page = 0;

inline void swap_to(Fiber *from, Fiber *to) {
  g_stats.switches++;
#ifdef CN_EMU_ASM_SWITCH
  cn_emu_swap(&from->sp, to->sp);
#else
  if (swapcontext(&from->uc, &to->uc) != 0) die("swapcontext failed: %s", strerror(errno));
#endif
}

void fiber_main(void *arg);

#ifndef CN_EMU_ASM_SWITCH
void fiber_main_uc(unsigned hi, unsigned lo) {
  fiber_main((void *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

Fiber *new_fiber() {
  if (!g_page) {
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    long kb = env_long("CN_EMU_STACK_KB", 64);
    if (kb < 16) die("CN_EMU_STACK_KB must be at least 16, got %ld", kb);
    g_stack_bytes = ((size_t)kb * 1024 + g_page - 1) / g_page * g_page;
  }
  size_t total = g_stack_bytes + g_page;
  char *mem = (char *)mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("cannot map a %zu-byte fiber stack: %s", total, strerror(errno));
  /* The lowest page is a guard: a kernel overflowing its stack faults instead of corrupting a neighbour. */
  if (mprotect(mem, g_page, PROT_NONE) != 0) die("mprotect of a fiber guard page failed: %s", strerror(errno));
  Fiber *f = new Fiber();
  f->mem = mem;
  f->mem_size = total;
  f->next_free = nullptr;
  /* Stagger the stack tops by 64 bytes per fiber: the hot frames of the fibers of a block then fall
     in different cache sets instead of all aliasing to the same ones. */
  uintptr_t top = ((uintptr_t)(mem + total) - 64u * (g_stats.fibers % 64)) & ~(uintptr_t)15;
  g_stats.fibers++;
#ifdef CN_EMU_ASM_SWITCH
  uintptr_t *sp = (uintptr_t *)top;
  *--sp = (uintptr_t)&cn_emu_fiber_entry; /* popped by ret: afterwards rsp = top, 16-byte aligned */
  *--sp = 0;                              /* rbp */
  *--sp = (uintptr_t)f;                   /* rbx: the argument */
  *--sp = (uintptr_t)&fiber_main;         /* r12: the function */
  *--sp = 0;                              /* r13 */
  *--sp = 0;                              /* r14 */
  *--sp = 0;                              /* r15 */
  f->sp = sp;
#else
  if (getcontext(&f->uc) != 0) die("getcontext failed: %s", strerror(errno));
  f->uc.uc_stack.ss_sp = mem + g_page;
  f->uc.uc_stack.ss_size = top - (uintptr_t)(mem + g_page);
  f->uc.uc_link = nullptr;
  uintptr_t a = (uintptr_t)f;
  makecontext(&f->uc, (void (*)())fiber_main_uc, 2, (unsigned)(a >> 32), (unsigned)(a & 0xffffffffu));
#endif
  return f;
}

inline Fiber *get_free() {
  Fiber *f = g_free;
  if (f) {
    g_free = f->next_free;
    return f;
  }
  return new_fiber();
}

/* ------------------------------------------------------------------ launch state */

constexpr int MAX_T = 1024;
constexpr int MAX_W = MAX_T / 32;

enum : uint8_t { S_UNSTARTED = 0, S_RUNNING, S_READY, S_WAIT_BLOCK, S_WAIT_WARP, S_DONE };

struct Site {
  const char *file;
  int line;
  int kind;
};

struct Warp {
  int n;          /* lanes that exist */
  uint32_t exist; /* their mask */
  int arrived;
  unsigned gen;   /* completed ops; deposits alternate between two buffers */
  uint64_t val[2][32];
  uint8_t kind[2][32];
};

struct Launch {
  void (*fn)(void *);
  void *ctx;
  const char *name, *file;
  int line;
  dim3 grid, block;
  int T;
  bool active;
  uint64_t nblocks, block_linear;
  /* the current block */
  int next; /* next thread to start */
  int done;
  int cur;  /* the running thread */
  int q[MAX_T];
  int qhead, qcount; /* ready threads: a ring deque */
  int bar_arrived, bar_acc;
  unsigned bar_gen;
  int bar_result[2];
  uint8_t state[MAX_T];
  Site site[MAX_T]; /* where a waiting thread waits */
  Fiber *fiber_of[MAX_T];
  uint3 tid[MAX_T];
  dim3 tid_for; /* the block shape tid[] was computed for */
  Warp warp[MAX_W];
} S;

std::mutex g_launch_mutex;
thread_local bool t_in_launch = false;
thread_local cudaError_t t_last_error = cudaSuccess;

inline void push_back(int t) {
  S.q[(S.qhead + S.qcount) & (MAX_T - 1)] = t;
  S.qcount++;
}
inline void push_front(int t) {
  S.qhead = (S.qhead - 1) & (MAX_T - 1);
  S.q[S.qhead] = t;
  S.qcount++;
}
inline int pop_front() {
  int t = S.q[S.qhead];
  S.qhead = (S.qhead + 1) & (MAX_T - 1);
  S.qcount--;
  return t;
}

void reset_block() {
  S.next = 0;
  S.done = 0;
  S.qhead = 0;
  S.qcount = 0;
  S.bar_arrived = 0;
  S.bar_acc = 0;
  for (int w = 0; w < (S.T + 31) / 32; w++) S.warp[w].arrived = 0;
  memset(S.state, S_UNSTARTED, (size_t)S.T);
}

/* Moves to the next block of the grid (x fastest); false after the last one. */
inline bool advance_block() {
  if (++S.block_linear >= S.nblocks) return false;
  uint3 &b = g_block_idx;
  if (++b.x == S.grid.x) {
    b.x = 0;
    if (++b.y == S.grid.y) {
      b.y = 0;
      ++b.z;
    }
  }
  reset_block();
  return true;
}

/* Leaves `self` for the next thing to run: a ready thread, else a free fiber to start the next
   thread (possibly `self` again, when it is free: then it just returns), else, when the block is
   done, the next block on the same fiber, else the scheduler (grid done, or a deadlock). */
inline void switch_away(Fiber *self) {
  Fiber *to;
  if (S.qcount) {
    to = S.fiber_of[pop_front()];
  } else if (S.next < S.T || (S.done == S.T && advance_block())) {
    to = get_free();
  } else {
    to = &g_main_fiber;
  }
  if (to != self) swap_to(self, to);
}

void fiber_main(void *arg) {
  Fiber *self = (Fiber *)arg;
  for (;;) {
    while (S.next < S.T) {
      int t = S.next++;
      S.fiber_of[t] = self;
      S.cur = t;
      g_thread_idx = S.tid[t];
      S.fn(S.ctx);
      S.state[t] = S_DONE;
      S.done++;
      if (S.qcount) break; /* let woken threads run first */
    }
    self->next_free = g_free;
    g_free = self;
    switch_away(self);
  }
}

/* Parks the running thread until a barrier completion queues it again. */
inline void wait_here(uint8_t state, const char *file, int line, int kind) {
  int t = S.cur;
  uint3 me = g_thread_idx;
  S.state[t] = state;
  S.site[t] = Site{file, line, kind};
  switch_away(S.fiber_of[t]);
  S.cur = t;
  S.state[t] = S_RUNNING;
  g_thread_idx = me;
}

bool same_site(const Site &a, const char *file, int line, int kind) {
  return a.line == line && a.kind == kind && (a.file == file || (a.file && file && strcmp(a.file, file) == 0));
}

const char *bar_name(int kind) {
  switch (kind) {
    case BAR_COUNT: return "__syncthreads_count()";
    case BAR_AND: return "__syncthreads_and()";
    case BAR_OR: return "__syncthreads_or()";
    default: return "__syncthreads()";
  }
}

const char *warp_name(int kind) {
  switch (kind) {
    case W_SYNC: return "__syncwarp()";
    case W_SHFL_IDX: return "__shfl_sync()";
    case W_SHFL_UP: return "__shfl_up_sync()";
    case W_SHFL_DOWN: return "__shfl_down_sync()";
    case W_SHFL_XOR: return "__shfl_xor_sync()";
    case W_BALLOT: return "__ballot_sync()";
    case W_ANY: return "__any_sync()";
    case W_ALL: return "__all_sync()";
    case W_REDUCE_ADD: return "__reduce_add_sync()";
    case W_REDUCE_MIN: case W_REDUCE_MIN_S: return "__reduce_min_sync()";
    case W_REDUCE_MAX: case W_REDUCE_MAX_S: return "__reduce_max_sync()";
    case W_REDUCE_AND: return "__reduce_and_sync()";
    case W_REDUCE_OR: return "__reduce_or_sync()";
    case W_REDUCE_XOR: return "__reduce_xor_sync()";
    default: return "a warp op";
  }
}

std::string kernel_label() {
  char site[320] = "";
  if (S.file) snprintf(site, sizeof site, " (launched at %s:%d)", S.file, S.line);
  char buf[640];
  snprintf(buf, sizeof buf, "kernel %s%s, grid (%u,%u,%u) block (%u,%u,%u), in block (%u,%u,%u)",
           S.name ? S.name : "<unnamed>", site, S.grid.x, S.grid.y, S.grid.z, S.block.x, S.block.y, S.block.z,
           g_block_idx.x, g_block_idx.y, g_block_idx.z);
  return buf;
}

/* "0-127, 130, 140-150" for the threads in `ids` (ascending), shortened past a few ranges. */
std::string id_ranges(const std::vector<int> &ids) {
  std::string out;
  size_t i = 0;
  int ranges = 0;
  while (i < ids.size()) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) j++;
    if (ranges == 8) {
      out += ", ...";
      break;
    }
    char buf[64];
    if (j == i) snprintf(buf, sizeof buf, "%s%d", out.empty() ? "" : ", ", ids[i]);
    else snprintf(buf, sizeof buf, "%s%d-%d", out.empty() ? "" : ", ", ids[i], ids[j]);
    out += buf;
    ranges++;
    i = j + 1;
  }
  return out;
}

std::string tid_str(int t) {
  char buf[64];
  snprintf(buf, sizeof buf, "(%u,%u,%u)", S.tid[t].x, S.tid[t].y, S.tid[t].z);
  return buf;
}

/* Prints every group of threads (same state and site) of the current block. */
void print_groups(int extra_t, const char *extra_file, int extra_line, int extra_kind, uint8_t extra_state) {
  struct Group {
    uint8_t state;
    Site site;
    std::vector<int> ids;
  };
  std::vector<Group> groups;
  for (int t = 0; t < S.T; t++) {
    uint8_t st = S.state[t];
    Site s = S.site[t];
    if (t == extra_t) {
      st = extra_state;
      s = Site{extra_file, extra_line, extra_kind};
    }
    if (st != S_WAIT_BLOCK && st != S_WAIT_WARP) s = Site{nullptr, 0, 0};
    Group *g = nullptr;
    for (auto &x : groups)
      if (x.state == st && same_site(x.site, s.file, s.line, s.kind)) g = &x;
    if (!g) {
      groups.push_back(Group{st, s, {}});
      g = &groups.back();
    }
    g->ids.push_back(t);
  }
  for (auto &g : groups) {
    const char *what = "are running";
    std::string where;
    if (g.state == S_DONE) what = "have exited";
    else if (g.state == S_UNSTARTED) what = "have not started";
    else if (g.state == S_READY) what = "are ready to resume";
    else {
      char buf[512];
      snprintf(buf, sizeof buf, " %s (%s:%d)", g.state == S_WAIT_BLOCK ? bar_name(g.site.kind) : warp_name(g.site.kind),
               g.site.file ? g.site.file : "?", g.site.line);
      where = buf;
      what = "wait at";
    }
    fprintf(stderr, "  %zu thread%s %s%s: linear ids %s (first threadIdx %s)\n", g.ids.size(),
            g.ids.size() == 1 ? "" : "s", what, where.c_str(), id_ranges(g.ids).c_str(), tid_str(g.ids[0]).c_str());
  }
}

[[noreturn]] void report(const char *headline, int extra_t = -1, const char *extra_file = nullptr, int extra_line = 0,
                         int extra_kind = 0, uint8_t extra_state = 0) {
  fprintf(stderr, "cuda_emu: %s in %s:\n", headline, kernel_label().c_str());
  print_groups(extra_t, extra_file, extra_line, extra_kind, extra_state);
  fprintf(stderr,
          "cuda_emu: this is a kernel bug: every thread of a block must reach the same __syncthreads() calls, and "
          "every lane of a warp the same warp ops (see native/src/common.h). Aborting.\n");
  fflush(stderr);
  abort();
}

void check_in_kernel(const char *what) {
  if (!S.active) die("%s called outside a kernel", what);
}

}  // namespace

/* ------------------------------------------------------------------ barriers */

int block_barrier(const char *file, int line, int kind, int pred) {
  check_in_kernel(bar_name(kind));
  int t = S.cur;
  unsigned gen = S.bar_gen;
  S.bar_acc += pred ? 1 : 0;
  if (++S.bar_arrived == S.T) {
    for (int i = 0; i < S.T; i++) {
      if (i != t && !same_site(S.site[i], file, line, kind))
        report("threads wait at different __syncthreads() calls", t, file, line, kind, S_WAIT_BLOCK);
    }
    int acc = S.bar_acc;
    S.bar_result[gen & 1] = kind == BAR_COUNT ? acc : kind == BAR_AND ? (acc == S.T) : kind == BAR_OR ? (acc > 0) : 0;
    S.bar_acc = 0;
    S.bar_arrived = 0;
    S.bar_gen++;
    g_stats.block_barriers++;
    for (int i = 0; i < S.T; i++) {
      if (i != t) {
        S.state[i] = S_READY;
        push_back(i);
      }
    }
  } else {
    wait_here(S_WAIT_BLOCK, file, line, kind);
  }
  return S.bar_result[gen & 1];
}

uint64_t warp_op(const char *file, int line, int kind, unsigned mask, uint64_t bits, int arg, int width) {
  check_in_kernel(warp_name(kind));
  int t = S.cur;
  int lane = t & 31;
  Warp &W = S.warp[t >> 5];
  if ((mask & W.exist) != W.exist)
    die("%s at %s:%d with mask 0x%08x in %s: the emulator runs full-warp ops only (mask must cover lanes 0x%08x)",
        warp_name(kind), file, line, mask, kernel_label().c_str(), W.exist);
  unsigned gen = W.gen;
  int b = gen & 1;
  W.val[b][lane] = bits;
  W.kind[b][lane] = (uint8_t)kind;
  if (++W.arrived == W.n) {
    int base = t & ~31;
    for (int l = 0; l < W.n; l++) {
      if (l != lane && W.kind[b][l] != kind)
        report("lanes of a warp wait at different warp ops", t, file, line, kind, S_WAIT_WARP);
    }
    W.arrived = 0;
    W.gen++;
    g_stats.warp_ops++;
    for (int l = W.n - 1; l >= 0; l--) /* the warp resumes next, lane 0 first */
      if (l != lane) {
        S.state[base + l] = S_READY;
        push_front(base + l);
      }
  } else {
    wait_here(S_WAIT_WARP, file, line, kind);
  }
  const uint64_t *v = W.val[b];
  int n = W.n;
  switch (kind) {
    case W_SYNC: return 0;
    case W_SHFL_IDX:
    case W_SHFL_UP:
    case W_SHFL_DOWN:
    case W_SHFL_XOR: {
      if (width < 1 || width > 32 || (width & (width - 1)))
        die("%s at %s:%d: width must be a power of 2 up to 32, got %d", warp_name(kind), file, line, width);
      int seg = lane & ~(width - 1);
      int src = lane;
      unsigned in_seg = (unsigned)(lane & (width - 1));
      if (kind == W_SHFL_IDX) src = seg + (arg & (width - 1));
      else if (kind == W_SHFL_UP) src = in_seg >= (unsigned)arg ? lane - arg : lane;
      else if (kind == W_SHFL_DOWN) src = in_seg + (unsigned)arg < (unsigned)width ? lane + arg : lane;
      else {
        src = lane ^ (arg & 31);
        if (src >= seg + width) src = lane;
      }
      return src < n ? v[src] : ~(uint64_t)0; /* a lane that does not exist: poison */
    }
    case W_BALLOT:
    case W_ANY:
    case W_ALL: {
      uint32_t ballot = 0;
      for (int l = 0; l < n; l++) ballot |= (uint32_t)(v[l] & 1) << l;
      ballot &= mask;
      if (kind == W_BALLOT) return ballot;
      if (kind == W_ANY) return ballot != 0;
      return ballot == (mask & W.exist);
    }
    default: {
      uint32_t acc = (uint32_t)v[0];
      for (int l = 1; l < n; l++) {
        uint32_t x = (uint32_t)v[l];
        switch (kind) {
          case W_REDUCE_ADD: acc += x; break;
          case W_REDUCE_MIN: acc = x < acc ? x : acc; break;
          case W_REDUCE_MAX: acc = x > acc ? x : acc; break;
          case W_REDUCE_MIN_S: acc = (int32_t)x < (int32_t)acc ? x : acc; break;
          case W_REDUCE_MAX_S: acc = (int32_t)x > (int32_t)acc ? x : acc; break;
          case W_REDUCE_AND: acc &= x; break;
          case W_REDUCE_OR: acc |= x; break;
          case W_REDUCE_XOR: acc ^= x; break;
          default: die("unknown warp op %d", kind);
        }
      }
      return acc;
    }
  }
}

/* ------------------------------------------------------------------ launch */

void launch_erased(const char *name, const char *file, int line, dim3 grid, dim3 block, void (*fn)(void *),
                   void *ctx) {
  if (t_in_launch)
    die("kernel %s launched from inside a kernel (%s:%d): dynamic parallelism is not emulated", name ? name : "?",
        file ? file : "?", line);
  uint64_t T = (uint64_t)block.x * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0 || T > MAX_T ||
      block.z > 64 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    t_last_error = cudaErrorInvalidConfiguration;
    return;
  }
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  t_in_launch = true;
  S.fn = fn;
  S.ctx = ctx;
  S.name = name;
  S.file = file;
  S.line = line;
  S.grid = grid;
  S.block = block;
  S.T = (int)T;
  if (S.tid_for.x != block.x || S.tid_for.y != block.y || S.tid_for.z != block.z) {
    int t = 0;
    for (unsigned z = 0; z < block.z; z++)
      for (unsigned y = 0; y < block.y; y++)
        for (unsigned x = 0; x < block.x; x++) S.tid[t++] = uint3{x, y, z};
    S.tid_for = block;
  }
  int nwarps = (S.T + 31) / 32;
  for (int w = 0; w < nwarps; w++) {
    int n = S.T - 32 * w < 32 ? S.T - 32 * w : 32;
    S.warp[w].n = n;
    S.warp[w].exist = n == 32 ? 0xffffffffu : ((1u << n) - 1);
  }
  g_block_dim = block;
  g_grid_dim = grid;
  S.active = true;
  g_stats.launches++;
  /* The fibers run every block (see switch_away) and come back when the grid is done or stuck. */
  S.nblocks = (uint64_t)grid.x * grid.y * grid.z;
  S.block_linear = 0;
  g_block_idx = uint3{0, 0, 0};
  reset_block();
  swap_to(&g_main_fiber, get_free());
  if (S.done != S.T) report("deadlock");
  g_stats.blocks += S.nblocks;
  g_stats.threads += (uint64_t)grid.x * grid.y * grid.z * T;
  S.active = false;
  t_in_launch = false;
}

Stats stats(void) { return g_stats; }

}  // namespace cn_emu

/* ================================================================== runtime API */

using namespace cn_emu;

namespace {

inline cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}

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
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "cudaErrorUnrecognized";
}

cudaError_t cudaGetLastError(void) {
  cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return t_last_error; }

/* ---- device */

cudaError_t cudaGetDeviceCount(int *count) {
  if (!count) return fail(cudaErrorInvalidValue);
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

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaDeviceReset(void) { return cudaSuccess; }

cudaError_t cudaRuntimeGetVersion(int *version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = CN_EMU_CUDA_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = CN_EMU_CUDA_VERSION;
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
  if (bytes == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  size_t total = total_memory();
  if (bytes > total || g_allocated > total - bytes) return fail(cudaErrorMemoryAllocation);
  size_t rounded = (bytes + 255) & ~(size_t)255;
  if (rounded < bytes) return fail(cudaErrorMemoryAllocation);
  void *p = nullptr;
  if (posix_memalign(&p, 256, rounded) != 0 || !p) return fail(cudaErrorMemoryAllocation);
  if (g_poison < 0) g_poison = env_long("CN_EMU_POISON", 1) != 0;
  if (g_poison) memset(p, 0xff, bytes); /* NaN floats, -1 ints: reading unwritten memory shows */
  g_allocs[(uintptr_t)p] = bytes;
  g_allocated += bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
  if (!ptr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  auto it = g_allocs.find((uintptr_t)ptr);
  if (it == g_allocs.end()) {
    fprintf(stderr, "cuda_emu: cudaFree(%p): not a pointer returned by cudaMalloc (or freed already)\n", ptr);
    return fail(cudaErrorInvalidValue);
  }
  g_allocated -= it->second;
  g_allocs.erase(it);
  free(ptr);
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
  memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void *ptr, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (cudaError_t e = check_device_range("cudaMemset", "destination", ptr, bytes)) return e;
  memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t) {
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

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }
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
