/*
 * allocator.cu: the caching device allocator behind cn_alloc / cn_free.
 *
 * cudaMalloc and cudaFree cost tens to hundreds of microseconds and cudaFree synchronises the
 * device; a training step allocates and frees the same few dozen sizes every iteration. So freed
 * blocks are kept in a cache and handed out again; after the first step a loop runs without
 * touching the driver.
 *
 * Size classes (every block is one cudaMalloc, never split):
 * - small, up to 1 MiB: rounded up to a multiple of 512 bytes;
 * - large, above 1 MiB: rounded up to a multiple of 2 MiB (the driver maps large allocations in
 *   2 MiB pages anyway, so the rounding costs no physical memory).
 * A request takes the smallest cached block of its pool that is at least its rounded size and at
 * most 25% larger (best fit; a 512-byte tensor never pins a 1 MiB block). Otherwise cudaMalloc;
 * when that fails, the cache is returned to the driver and cudaMalloc is tried once more.
 *
 * Zero bytes: served as the smallest block (512 bytes), so every successful cn_alloc returns a
 * unique non-NULL pointer that cn_free accepts. cn_free(NULL) does nothing.
 *
 * Streams: the library has one stream, and a freed block is reused only by work queued on it
 * later, which runs after every kernel that used the block before. So a block goes back to the
 * cache at once, without waiting; only returning blocks to the driver waits for the stream.
 *
 * Graph capture (graph.cu): a captured step's kernels hold the addresses they were given, and its
 * frees and allocations are not replayed. So during a capture the driver is never called (a card
 * refuses cudaMalloc then): a request is served from the blocks the capture itself freed, then from
 * the cache, else fails. So that the cache holds the blocks, cn_capture_trace_begin() counts the
 * block sizes handed out from then on (an eager run of the step), and cn_capture_begin() first
 * tops the cache up to that many blocks of each size (the driver is called then, before the
 * capture; an upper bound: a step holds fewer blocks at once than it allocates in all). Every
 * block the capture allocated or freed belongs to the graph: freed (during the capture, or by the
 * caller later) it is held, neither live nor cached, until every graph it belongs to is destroyed.
 * Held blocks count as in use.
 *
 * Statistics count rounded block sizes (what the device really holds for us). A memory limit
 * caps in-use + cached bytes; reaching it empties the cache before failing with CN_ERR_OOM.
 */
#include <map>
#include <mutex>
#include <stdlib.h>
#include <unordered_map>

#include "capture.h"
#include "common.h"
#include <vector>
#ifdef CN_EMU_SANITIZE
#include "../emu/sanitize.h" /* the emulator's memcheck: exact sizes, cached blocks unaddressable */
#endif

static const int64_t SMALL_ROUND = 512;
static const int64_t SMALL_MAX = 1 << 20;
static const int64_t LARGE_ROUND = 2 << 20;

namespace {

struct Cache {
  std::mutex mu;
  std::unordered_map<void *, int64_t> live;     /* in-use block -> its size */
  std::unordered_map<void *, int64_t> idle;     /* cached block -> its size */
  std::multimap<int64_t, void *> small, large;  /* cached blocks by size */
  int64_t in_use = 0, cached = 0, peak = 0, limit = 0;
  int64_t capture = 0;                                /* the capture running, 0 when none */
  std::multimap<int64_t, void *> capture_free;        /* blocks it freed: only it may reuse them */
  std::unordered_map<void *, std::vector<int64_t>> owners; /* block -> graphs that use it */
  std::unordered_map<void *, int64_t> held;           /* freed blocks a graph still uses -> size */
  bool tracing = false;
  std::map<int64_t, int64_t> traced;                  /* block size -> blocks handed out while tracing */
};

Cache &cache() {
  static Cache *c = new Cache(); /* never destroyed: blocks may be freed during process exit */
  return *c;
}

int64_t round_size(int64_t bytes) {
  if (bytes <= SMALL_ROUND) return SMALL_ROUND;
  if (bytes <= SMALL_MAX) return (bytes + SMALL_ROUND - 1) / SMALL_ROUND * SMALL_ROUND;
  return (bytes + LARGE_ROUND - 1) / LARGE_ROUND * LARGE_ROUND;
}

/* Best fit in the block's pool, or NULL (c.mu held). */
void *take_cached(Cache &c, int64_t size) {
  std::multimap<int64_t, void *> &pool = size <= SMALL_MAX ? c.small : c.large;
  auto it = pool.lower_bound(size);
  if (it == pool.end() || it->first > size + size / 4) return NULL;
  void *p = it->second;
  c.in_use += it->first;
  c.cached -= it->first;
  c.live[p] = it->first;
  c.idle.erase(p);
  pool.erase(it);
  return p;
}

/* Returns every cached block to the driver (c.mu held). Waits for the stream first: a cached block
   may still be read or written by queued kernels. */
int release_cached(Cache &c) {
  if (c.idle.empty()) return CN_OK;
  int st = cn_cuda_status(cudaStreamSynchronize(cn_stream()), "empty_cache: waiting for the stream");
  if (st) return st;
  for (auto &kv : c.idle) {
    cn_count(CN_COUNT_DRIVER_FREE, 0);
    int fs = cn_cuda_status(cudaFree(kv.first), "empty_cache: cudaFree");
    if (fs && !st) st = fs;
  }
  c.idle.clear();
  c.small.clear();
  c.large.clear();
  c.cached = 0;
  return st;
}

/* Adds graph `id` to the block's owners (c.mu held). */
void own(Cache &c, void *p, int64_t id) {
  std::vector<int64_t> &o = c.owners[p];
  if (o.empty() || o.back() != id) o.push_back(id);
}

/* A block no graph uses any more, freed by its caller: into the cache (c.mu held). */
void to_cache(Cache &c, void *p, int64_t size) {
  c.in_use -= size;
  c.cached += size;
  c.idle[p] = size;
  (size <= SMALL_MAX ? c.small : c.large).insert(std::make_pair(size, p));
#ifdef CN_EMU_SANITIZE
  cn_emu::sanitize_block(p, 0, (size_t)size, false);
#endif
}

/* Drops graph `id` from every block's owners; a held block left without one goes to the cache
   (c.mu held). */
void disown(Cache &c, int64_t id) {
  for (auto it = c.owners.begin(); it != c.owners.end();) {
    std::vector<int64_t> &o = it->second;
    for (size_t i = 0; i < o.size(); i++) {
      if (o[i] == id) {
        o.erase(o.begin() + (std::ptrdiff_t)i);
        break;
      }
    }
    if (!o.empty()) {
      ++it;
      continue;
    }
    auto h = c.held.find(it->first);
    if (h != c.held.end()) {
      to_cache(c, h->first, h->second);
      c.held.erase(h);
    }
    it = c.owners.erase(it);
  }
}

/* During a capture: best fit among the blocks the capture freed, then the cache (c.mu held). */
void *take_for_capture(Cache &c, int64_t size) {
  auto it = c.capture_free.lower_bound(size);
  if (it != c.capture_free.end() && it->first <= size + size / 4) {
    void *p = it->second;
    c.live[p] = it->first;
    c.capture_free.erase(it);
    return p;
  }
  void *p = take_cached(c, size);
  if (p) own(c, p, c.capture);
  return p;
}

int oom(Cache &c, int64_t asked, int64_t size) {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    (void)cudaGetLastError();
    free_b = total_b = 0;
  }
  char limit[64];
  if (c.limit) snprintf(limit, sizeof limit, "%lld bytes", (long long)c.limit);
  else snprintf(limit, sizeof limit, "none");
  return cn_fail(CN_ERR_OOM,
                 "out of device memory: asked for %lld bytes with %lld in use and %lld cached (limit %s; "
                 "block of %lld bytes; the device has %llu of %llu bytes free)",
                 (long long)asked, (long long)c.in_use, (long long)c.cached, limit, (long long)size,
                 (unsigned long long)free_b, (unsigned long long)total_b);
}

#ifdef CN_EMULATION
/* A reused block is filled with 0xff again (NaN floats, -1 ints), as the emulator's cudaMalloc does:
   a kernel reading memory nobody wrote this time shows it (CN_EMU_POISON=0 turns it off). */
void poison(void *p, int64_t size) {
  static int on = -1;
  if (on < 0) {
    const char *v = getenv("CN_EMU_POISON");
    on = !(v && v[0] == '0' && v[1] == 0);
  }
  if (on) (void)cudaMemset(p, 0xff, (size_t)size);
}
#endif

}  // namespace

extern "C" int cn_alloc(void **ptr, int64_t bytes) {
  CN_REQUIRE(ptr != NULL, "alloc: ptr is NULL (expected a place for the device pointer)");
  *ptr = NULL;
  CN_REQUIRE(bytes >= 0, "alloc: bytes must be >= 0, got %lld", (long long)bytes);
  CN_TRY(cn_init());
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (bytes > ((int64_t)1 << 56)) return oom(c, bytes, bytes);
  const int64_t size = round_size(bytes);
  if (c.tracing) c.traced[size]++;

  if (c.capture) {
    void *p = take_for_capture(c, size);
    if (!p) {
      return cn_fail(CN_ERR_INVALID,
                     "alloc: %lld bytes during graph capture, and neither the cache nor the blocks the capture freed "
                     "hold a block of %lld bytes (the driver may not be called during a capture: run the step once "
                     "before capturing it, so that the cache holds its blocks)",
                     (long long)bytes, (long long)size);
    }
    if (c.in_use > c.peak) c.peak = c.in_use;
#ifdef CN_EMU_SANITIZE
    /* Whole block addressable: the graph may use it at another request's size. Not poisoned: no
       fill may run during a capture. */
    cn_emu::sanitize_block(p, (size_t)c.live[p], (size_t)c.live[p], true);
#endif
    *ptr = p;
    return CN_OK;
  }

  void *p = take_cached(c, size);
  if (!p) {
    if (c.limit && c.in_use + c.cached + size > c.limit) {
      CN_TRY(release_cached(c));
      if (c.in_use + size > c.limit) return oom(c, bytes, size);
    }
    cudaError_t err = cudaMalloc(&p, (size_t)size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError(); /* not a launch error: keep it out of the next CN_CHECK_LAUNCH */
      CN_TRY(release_cached(c));
      err = cudaMalloc(&p, (size_t)size);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        return oom(c, bytes, size);
      }
    }
    CN_TRY(cn_cuda_status(err, "alloc: cudaMalloc"));
    cn_count(CN_COUNT_DRIVER_ALLOC, size);
    c.live[p] = size;
    c.in_use += size;
  }
  if (c.in_use > c.peak) c.peak = c.in_use;
#ifdef CN_EMU_SANITIZE
  cn_emu::sanitize_block(p, (size_t)bytes, (size_t)size, true); /* `bytes` addressable and unwritten, the rest not */
#elif defined(CN_EMULATION)
  poison(p, size);
#endif
  *ptr = p;
  return CN_OK;
}

extern "C" int cn_free(void *ptr) {
  if (!ptr) return CN_OK;
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(ptr);
  if (it == c.live.end()) {
    if (c.idle.count(ptr) || c.held.count(ptr)) return cn_fail(CN_ERR_INVALID, "free: %p was freed already (a double free)", ptr);
    return cn_fail(CN_ERR_INVALID, "free: %p is not a block from cn_alloc (expected a pointer cn_alloc returned)",
                   ptr);
  }
  const int64_t size = it->second;
  c.live.erase(it);
  if (c.capture) { /* the graph's from now on; its later requests may reuse it */
    auto o = c.owners.find(ptr);
    if (o != c.owners.end() && !(o->second.size() == 1 && o->second[0] == c.capture)) {
      c.held[ptr] = size; /* an earlier graph uses it too: not reusable */
      own(c, ptr, c.capture);
    } else {
      own(c, ptr, c.capture);
      c.capture_free.insert(std::make_pair(size, ptr));
    }
    return CN_OK;
  }
  if (c.owners.count(ptr)) { /* a graph still uses it */
    c.held[ptr] = size;
    return CN_OK;
  }
  c.in_use -= size;
  c.cached += size;
  c.idle[ptr] = size;
#ifdef CN_EMU_SANITIZE
  cn_emu::sanitize_block(ptr, 0, (size_t)size, false); /* cached: any use until it is handed out again is an error */
#endif
  (size <= SMALL_MAX ? c.small : c.large).insert(std::make_pair(size, ptr));
  /* Stay under a limit lowered while the block was in use. */
  if (c.limit && c.in_use + c.cached > c.limit) return release_cached(c);
  return CN_OK;
}

extern "C" int cn_capture_trace_begin(void) {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.tracing = true;
  c.traced.clear();
  return CN_OK;
}

int cn_alloc_capture_prepare(void) {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.tracing = false;
  for (const auto &kv : c.traced) {
    const int64_t size = kv.first;
    std::multimap<int64_t, void *> &pool = size <= SMALL_MAX ? c.small : c.large;
    for (int64_t have = (int64_t)pool.count(size); have < kv.second; have++) {
      if (c.limit && c.in_use + c.cached + size > c.limit) break; /* the capture may still find enough */
      void *p = NULL;
      cudaError_t err = cudaMalloc(&p, (size_t)size);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        break;
      }
      CN_TRY(cn_cuda_status(err, "capture_begin: cudaMalloc (filling the cache for the capture)"));
      cn_count(CN_COUNT_DRIVER_ALLOC, size);
      c.in_use += size; /* to_cache moves it to the cached bytes */
      to_cache(c, p, size);
    }
  }
  c.traced.clear();
  return CN_OK;
}

void cn_alloc_capture_begin(int64_t id) {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.capture = id;
}

void cn_alloc_capture_end(int64_t id, bool ok) {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.capture = 0;
  for (auto &kv : c.capture_free) c.held[kv.second] = kv.first;
  c.capture_free.clear();
  if (!ok) disown(c, id); /* no graph: its freed blocks go back to the cache */
}

void cn_alloc_graph_release(int64_t id) {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  disown(c, id);
}

extern "C" int cn_empty_cache(void) {
  if (cn_capture_id()) return cn_capture_refuse("empty_cache", "returning blocks to the driver waits for the stream");
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return release_cached(c);
}

extern "C" int cn_memory_stats(int64_t *stats) {
  CN_REQUIRE(stats != NULL, "memory_stats: stats is NULL (expected an array of 4 int64)");
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  stats[0] = c.in_use;
  stats[1] = c.cached;
  stats[2] = c.peak;
  stats[3] = (int64_t)c.live.size();
  return CN_OK;
}

extern "C" int cn_set_memory_limit(int64_t bytes) {
  CN_REQUIRE(bytes >= 0, "set_memory_limit: bytes must be >= 0 (0 = no limit), got %lld", (long long)bytes);
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.limit = bytes;
  if (c.limit && c.in_use + c.cached > c.limit && !c.capture) return release_cached(c);
  return CN_OK;
}
