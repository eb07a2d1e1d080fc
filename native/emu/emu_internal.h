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
  uint64_t val[2][32];
  uint8_t kind[2][32];
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
};

/* The running launch (one at a time: launch_erased holds a mutex). */
extern CN_EMU_API Launch S;

/* Whether site `a` is op `kind` at file:line (file names compared as text, not only as pointers). */
inline bool same_site(const Site &a, const char *file, int line, int kind) {
  return a.line == line && a.kind == kind && (a.file == file || (a.file && file && strcmp(a.file, file) == 0));
}

/* ---------------------------------------------------------------- report.cpp */

/* "__syncthreads_count()", "__shfl_xor_sync()", ...: the op a BAR_* or W_* kind stands for. */
CN_EMU_API const char *bar_name(int kind);
CN_EMU_API const char *warp_name(int kind);

/* "kernel <name> (launched at <file>:<line>), grid (..) block (..), in block (..)" */
CN_EMU_API std::string kernel_label();

/* Prints `headline`, the kernel, and which threads of the block wait where (thread extra_t counted
   as in extra_state at extra_file:extra_line, when given: the one that noticed), then aborts. */
[[noreturn]] CN_EMU_API void report(const char *headline, int extra_t = -1, const char *extra_file = nullptr,
                                    int extra_line = 0, int extra_kind = 0, uint8_t extra_state = 0);

}  // namespace cn_emu

#endif
