/*
 * report.cpp: what the emulator prints when a kernel is wrong in a way a GPU would hang or
 * misbehave on: threads of a block waiting at different __syncthreads() calls, lanes of a warp at
 * different warp ops, a block that can never finish. It names the kernel, its launch site, grid and
 * block, and groups the block's threads by what they are doing ("256 threads wait at
 * __syncthreads() (conv2d.cu:88): linear ids 0-255"), then aborts. Only fibers.cpp calls it.
 */
#include "emu_internal.h"

#include <string>
#include <vector>

namespace cn_emu {

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

namespace {

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

}  // namespace

[[noreturn]] void report(const char *headline, int extra_t, const char *extra_file, int extra_line, int extra_kind,
                         uint8_t extra_state) {
  fprintf(stderr, "cuda_emu: %s in %s:\n", headline, kernel_label().c_str());
  print_groups(extra_t, extra_file, extra_line, extra_kind, extra_state);
  fprintf(stderr,
          "cuda_emu: this is a kernel bug: every thread of a block must reach the same __syncthreads() calls, and "
          "every lane of a warp the same warp ops (see native/src/common.h). Aborting.\n");
  fflush(stderr);
  abort();
}

}  // namespace cn_emu
