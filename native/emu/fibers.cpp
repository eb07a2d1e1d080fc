/*
 * fibers.cpp: the emulator's kernel launcher: every thread of a block runs on a fiber; __syncthreads
 * (block_barrier) and the warp ops (warp_op) park and wake them; launch_erased (what
 * `kernel<<<grid, block>>>(...)` becomes) runs a grid's blocks. The reports of kernel bugs are in
 * report.cpp, the cuda* runtime API in runtime.cpp, the model and its limits in cuda_emu.h.
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
 * That is the `forward` order; in the others (order.cpp) blocks run, threads start, and waiting
 * threads resume after a barrier or warp op (the last to arrive included) in a permuted order.
 *
 * Switching is a hand-written x86-64 routine (callee-saved registers + stack pointer, about a
 * dozen instructions); other architectures use <ucontext.h> (slower: a syscall per switch).
 * MXCSR and the x87 control word are not saved: kernels do not change them.
 */
#include "emu_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>

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

[[noreturn]] void die(const char *fmt, ...) {
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

Launch S;

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

namespace {

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

/* ------------------------------------------------------------------ block scheduling */

std::mutex g_launch_mutex;
thread_local bool t_in_launch = false;

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

/* Starts the block at position S.block_linear of the launch's block order. */
void reset_block() {
  if (S.order != ORDER_FORWARD) {
    uint64_t lin = order_block(S.block_linear, S.nblocks);
    uint64_t xy = (uint64_t)S.grid.x * S.grid.y;
    g_block_idx = uint3{(unsigned)(lin % S.grid.x), (unsigned)(lin / S.grid.x % S.grid.y), (unsigned)(lin / xy)};
    S.block_lin = lin;
    order_threads(S.perm, S.T, lin, 0);
  }
  S.block_serial++;
  shared_block_start(S.fn);
  if (g_race_on) race_block_start();
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
  if (S.order == ORDER_FORWARD && ++b.x == S.grid.x) { /* other orders: reset_block places the block */
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
      int t = S.order == ORDER_FORWARD ? S.next++ : S.perm[S.next++];
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

}  // namespace

/* ------------------------------------------------------------------ barriers */

int block_barrier(const char *file, int line, int kind, int pred) {
  if (!S.active) die("%s called outside a kernel", bar_name(kind));
  int t = S.cur;
  unsigned gen = S.bar_gen;
  S.bar_acc += pred ? 1 : 0;
  if (++S.bar_arrived == S.T) {
    for (int i = 0; i < S.T; i++) {
      if (i != t && !same_site(S.site[i], file, line, kind))
        report("synccheck: threads wait at different __syncthreads() calls", t, file, line, kind, S_WAIT_BLOCK);
    }
    int acc = S.bar_acc;
    S.bar_result[gen & 1] = kind == BAR_COUNT ? acc : kind == BAR_AND ? (acc == S.T) : kind == BAR_OR ? (acc > 0) : 0;
    S.bar_acc = 0;
    S.bar_arrived = 0;
    S.bar_gen++;
    g_stats.block_barriers++;
    if (g_race_on) race_block_barrier();
    if (S.order == ORDER_FORWARD) {
      for (int i = 0; i < S.T; i++) {
        if (i != t) {
          S.state[i] = S_READY;
          push_back(i);
        }
      }
    } else { /* every thread, this one included, resumes in the launch's order */
      int *perm = S.perm; /* every thread has started: the start order is free (and off the fiber stack) */
      order_threads(perm, S.T, S.block_lin, S.bar_gen);
      for (int i = 0; i < S.T; i++) {
        S.state[perm[i]] = S_READY;
        push_back(perm[i]);
      }
      wait_here(S_READY, file, line, kind);
    }
  } else {
    wait_here(S_WAIT_BLOCK, file, line, kind);
  }
  return S.bar_result[gen & 1];
}

uint64_t warp_op(const char *file, int line, int kind, unsigned mask, uint64_t bits, int arg, int width) {
  if (!S.active) die("%s called outside a kernel", warp_name(kind));
  int t = S.cur;
  int lane = t & 31;
  Warp &W = S.warp[t >> 5];
  if ((mask & W.exist) != W.exist)
    die("%s at %s:%d with mask 0x%08x in %s: the emulator runs full-warp ops only (mask must cover lanes 0x%08x)",
        warp_name(kind), file, line, mask, kernel_label().c_str(), W.exist);
  unsigned gen = W.gen;
  int b = gen & 1;
  W.val[b][lane] = bits;
  W.site[b][lane] = Site{file, line, kind};
  if (++W.arrived == W.n) {
    int base = t & ~31;
    for (int l = 0; l < W.n; l++) { /* synccheck: one op, one call site, for the whole warp */
      if (l != lane && !same_site(W.site[b][l], file, line, kind)) report_warp_divergence(t >> 5, b);
    }
    W.arrived = 0;
    W.gen++;
    if (kind == W_SYNC) W.syncs++;
    g_stats.warp_ops++;
    if (S.order == ORDER_FORWARD) {
      for (int l = W.n - 1; l >= 0; l--) /* the warp resumes next, lane 0 first */
        if (l != lane) {
          S.state[base + l] = S_READY;
          push_front(base + l);
        }
    } else { /* the warp resumes next, every lane (this one included) in the launch's order */
      int perm[32];
      order_threads(perm, W.n, S.block_lin, ((uint64_t)(t >> 5) << 32) ^ W.gen);
      for (int i = W.n - 1; i >= 0; i--) {
        S.state[base + perm[i]] = S_READY;
        push_front(base + perm[i]);
      }
      wait_here(S_READY, file, line, kind);
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
  S.order = order_begin_launch();
  /* The fibers run every block (see switch_away) and come back when the grid is done or stuck. */
  S.nblocks = (uint64_t)grid.x * grid.y * grid.z;
  S.block_linear = 0;
  g_block_idx = uint3{0, 0, 0};
  reset_block();
  swap_to(&g_main_fiber, get_free());
  if (S.done != S.T) report("deadlock");
  if (g_race_on) race_launch_end();
  g_stats.blocks += S.nblocks;
  g_stats.threads += (uint64_t)grid.x * grid.y * grid.z * T;
  S.active = false;
  t_in_launch = false;
}

Stats stats(void) { return g_stats; }

}  // namespace cn_emu
