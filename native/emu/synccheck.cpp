/*
 * synccheck.cpp: the report of lanes of one warp that reached different warp ops. On a GPU every
 * lane named in the mask must execute the same __shfl_*_sync / __syncwarp / vote call (the same
 * instruction, so the same call site); lanes at two call sites of the same op (an `if` whose two
 * branches each shuffle) exchange garbage or hang. fibers.cpp compares the call sites when the
 * last lane arrives and calls this, which names the kernel, the warp and each lane's call site,
 * then aborts (compute-sanitizer's synccheck stops the kernel too).
 */
#include "emu_internal.h"

#include <stdlib.h>

#include <string>
#include <vector>

namespace cn_emu {

[[noreturn]] void report_warp_divergence(int warp, int b) {
  const Warp &W = S.warp[warp];
  struct Group {
    Site site;
    std::vector<int> lanes;
  };
  std::vector<Group> groups;
  for (int l = 0; l < W.n; l++) {
    const Site &s = W.site[b][l];
    Group *g = nullptr;
    for (auto &x : groups)
      if (same_site(x.site, s.file, s.line, s.kind)) g = &x;
    if (!g) {
      groups.push_back(Group{s, {}});
      g = &groups.back();
    }
    g->lanes.push_back(l);
  }
  /* compute-sanitizer's layout: a "========= " header, details indented under it */
  fprintf(stderr, "========= Barrier error detected: divergent lanes in a warp wait at different warp ops (synccheck)\n");
  fprintf(stderr, "=========     in %s\n", kernel_label().c_str());
  int first = warp * 32;
  fprintf(stderr, "=========     warp %d (linear thread ids %d-%d, first threadIdx (%u,%u,%u)):\n", warp, first,
          first + W.n - 1, S.tid[first].x, S.tid[first].y, S.tid[first].z);
  for (const auto &g : groups) {
    std::string lanes;
    for (size_t i = 0; i < g.lanes.size();) { /* "0-15, 17" */
      size_t j = i;
      while (j + 1 < g.lanes.size() && g.lanes[j + 1] == g.lanes[j] + 1) j++;
      char buf[32];
      if (j == i) snprintf(buf, sizeof buf, "%s%d", lanes.empty() ? "" : ", ", g.lanes[i]);
      else snprintf(buf, sizeof buf, "%s%d-%d", lanes.empty() ? "" : ", ", g.lanes[i], g.lanes[j]);
      lanes += buf;
      i = j + 1;
    }
    fprintf(stderr, "=========       %zu lane%s at %s (%s:%d): lanes %s\n", g.lanes.size(), g.lanes.size() == 1 ? "" : "s",
            warp_name(g.site.kind), g.site.file ? g.site.file : "?", g.site.line, lanes.c_str());
  }
  fprintf(stderr,
          "cuda_emu: this is a kernel bug: every lane of a warp must reach the same warp op at the same call site "
          "(see native/src/common.h). Aborting.\n");
  fflush(stderr);
  abort();
}

}  // namespace cn_emu
