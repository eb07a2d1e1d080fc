/*
 * emu_internal.h: what the emulator's own files share and nothing else includes: the fatal-error
 * helper, the environment reader, the per-thread last error (a bad launch in fibers.cpp sets it,
 * cudaGetLastError in runtime.cpp reads it), and the state of the running launch, which fibers.cpp
 * schedules and report.cpp describes when a kernel is wrong. Everything here stays hidden inside
 * the library.
 */
#ifndef CN_EMU_INTERNAL_H
#define CN_EMU_INTERNAL_H

#include "cuda_emu.h"

#include <string>

namespace cn_emu {

/* Prints "cuda_emu: <message>" to stderr and aborts: for kernel bugs and bad settings. */
[[noreturn]] __attribute__((format(printf, 1, 2))) CN_EMU_API void die(const char *fmt, ...);

/* The integer in environment variable `name`, or `dflt` when it is unset or empty; dies on anything else. */
CN_EMU_API long env_long(const char *name, long dflt);

/* The error cudaGetLastError() returns next, per host thread. */
extern CN_EMU_API thread_local cudaError_t t_last_error;

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
  unsigned syncs; /* completed __syncwarp() calls (racecheck: they order the warp's shared accesses) */
  uint64_t val[2][32];
  Site site[2][32]; /* where each lane called the op (synccheck compares them) */
};

struct Fiber; /* fibers.cpp */

struct Launch {
  void (*fn)(void *);
  void *ctx;
  const char *name, *file;
  int line;
  dim3 grid, block;
  int T;
  bool active;
  uint64_t nblocks, block_linear;
  int order;       /* ORDER_* of this launch */
  uint64_t block_serial; /* blocks started since the library was loaded (initcheck, racecheck) */
  uint64_t block_lin;    /* the running block's linear index (x fastest), in orders other than forward */
  /* the current block */
  int next; /* next thread to start (an index into perm) */
  int perm[MAX_T]; /* the order threads start in */
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
};

/* The running launch (one at a time: launch_erased holds a mutex). */
extern CN_EMU_API Launch S;

/* Whether site `a` is op `kind` at file:line (file names compared as text, not only as pointers). */
inline bool same_site(const Site &a, const char *file, int line, int kind) {
  return a.line == line && a.kind == kind && (a.file == file || (a.file && file && strcmp(a.file, file) == 0));
}

/* ---------------------------------------------------------------- order.cpp */

enum OrderKind { ORDER_FORWARD = 0, ORDER_REVERSE = 1, ORDER_RANDOM = 2 };

/* Settles the order of the launch about to run (cn_emu_set_order, else CN_EMU_ORDER; a bad
   CN_EMU_ORDER dies) and returns its ORDER_* kind. */
CN_EMU_API int order_begin_launch();
/* The linear index of the i-th block of n to run. */
CN_EMU_API uint64_t order_block(uint64_t i, uint64_t n);
/* perm[0..n) = the order in which n threads (or lanes) of block `block` start or resume; `salt`
   tells apart the barriers of one block. */
CN_EMU_API void order_threads(int *perm, int n, uint64_t block, uint64_t salt);

/* ---------------------------------------------------------------- shared.cpp */

/* A kernel's __shared__ variable: its address, size and mangled name (`_ZZ...E4tile`). */
struct SharedVar {
  uintptr_t addr;
  size_t size;
  const char *name;
};

/* Called by fibers.cpp at the start of every block of a launch of `fn`: finds the __shared__
   variables of fn's module (once) and fills them with the poison pattern (CN_EMU_POISON). */
CN_EMU_API void shared_block_start(void (*fn)(void *));
/* The running launch's module's __shared__ variable holding address a, or null. */
CN_EMU_API const SharedVar *shared_find(uintptr_t a);
/* "kernel(float*, int)::tile": the variable's name for reports. */
CN_EMU_API std::string shared_name(const SharedVar &v);
/* The hull [lo, hi) of the running launch's module's __shared__ variables (empty when it has none). */
extern CN_EMU_API uintptr_t g_shared_lo, g_shared_hi;

/* ---------------------------------------------------------------- racecheck.cpp */

/* True when instrumented kernel code is loaded (the racecheck build): then fibers.cpp tells
   racecheck.cpp of every block start, barrier and __syncwarp. */
extern CN_EMU_API bool g_race_on;
CN_EMU_API void race_block_start();
CN_EMU_API void race_block_barrier();
/* After a launch: prints the hazards its blocks recorded (symbolized on the launching stack). */
CN_EMU_API void race_launch_end();
/* An atomic on `n` bytes at `p` by the running thread, called from code address `pc` (cuda_emu.h's
   atomics in the racecheck build). */
CN_EMU_API void race_atomic(const void *p, size_t n, const void *pc);

/* ---------------------------------------------------------------- report.cpp */

/* "__syncthreads_count()", "__shfl_xor_sync()", ...: the op a BAR_* or W_* kind stands for. */
CN_EMU_API const char *bar_name(int kind);
CN_EMU_API const char *warp_name(int kind);

/* "kernel <name> (launched at <file>:<line>), grid (..) block (..), in block (..)" */
CN_EMU_API std::string kernel_label();

/* synccheck: lanes of warp `warp` (buffer b of its deposits) reached different warp ops: prints the
   kernel, the warp and each lane's call site, then aborts. */
[[noreturn]] CN_EMU_API void report_warp_divergence(int warp, int b);

/* Prints `headline`, the kernel, and which threads of the block wait where (thread extra_t counted
   as in extra_state at extra_file:extra_line, when given: the one that noticed), then aborts. */
[[noreturn]] CN_EMU_API void report(const char *headline, int extra_t = -1, const char *extra_file = nullptr,
                                    int extra_line = 0, int extra_kind = 0, uint8_t extra_state = 0);

}  // namespace cn_emu

#endif
