/*
 * order.cpp: which thread starts and resumes first, and which block runs first. A real GPU gives
 * no order at all, so a kernel whose result depends on one has a bug (a missing __syncthreads, a
 * race between blocks on a global value). The emulator runs the same launch in any of:
 *   forward       thread 0 first, blocks x fastest then y then z (the default, the fastest);
 *   reverse       the last thread first, the last block first;
 *   random:SEED   a permutation of the threads (drawn again at every barrier) and of the blocks,
 *                 from SEED, the launch's number since the order was set, and the block: the same
 *                 program with the same SEED runs in the same order every time.
 * Chosen by cn_emu_set_order() (the tests switch orders within one process), else by the
 * environment variable CN_EMU_ORDER, read at each launch (so `CN_EMU_ORDER=reverse deno test ...`
 * and `deno task emu:run --order` need no rebuild). fibers.cpp asks order_* below at launch, block
 * start and barrier completion.
 */
#include "emu_internal.h"

#include <stdlib.h>

#include <mutex>
#include <string>

namespace cn_emu {

namespace {

struct OrderSetting {
  int kind = ORDER_FORWARD;
  uint64_t seed = 0;
};

std::mutex g_order_mutex;
bool g_order_explicit = false; /* set by cn_emu_set_order: the environment no longer counts */
OrderSetting g_explicit;
std::string g_env_text;        /* the CN_EMU_ORDER text g_env was parsed from */
OrderSetting g_env;
OrderSetting g_now;            /* the running launch's order */
uint64_t g_launch = 0;         /* launches since the order last changed */

/* Parses "forward", "reverse" or "random:SEED" (SEED: a decimal integer >= 0); false otherwise. */
bool parse_order(const char *text, OrderSetting *out) {
  if (strcmp(text, "forward") == 0) {
    *out = OrderSetting{ORDER_FORWARD, 0};
    return true;
  }
  if (strcmp(text, "reverse") == 0) {
    *out = OrderSetting{ORDER_REVERSE, 0};
    return true;
  }
  if (strncmp(text, "random:", 7) == 0 && text[7] >= '0' && text[7] <= '9') {
    char *end = nullptr;
    errno = 0;
    unsigned long long seed = strtoull(text + 7, &end, 10);
    if (*end || errno) return false;
    *out = OrderSetting{ORDER_RANDOM, (uint64_t)seed};
    return true;
  }
  return false;
}

/* splitmix64: a well-mixed 64-bit function of x. */
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t launch_key() { return mix64(g_now.seed ^ mix64(g_launch)); }

}  // namespace

int order_begin_launch() {
  std::lock_guard<std::mutex> lock(g_order_mutex);
  OrderSetting next;
  if (g_order_explicit) {
    next = g_explicit;
  } else {
    const char *env = getenv("CN_EMU_ORDER");
    std::string text = env ? env : "";
    if (text != g_env_text) {
      OrderSetting parsed;
      if (!text.empty() && !parse_order(text.c_str(), &parsed))
        die("CN_EMU_ORDER must be forward, reverse or random:SEED (SEED a decimal integer), got \"%s\"", text.c_str());
      g_env = text.empty() ? OrderSetting{} : parsed;
      g_env_text = text;
    }
    next = g_env;
  }
  if (next.kind != g_now.kind || next.seed != g_now.seed) g_launch = 0;
  g_now = next;
  g_launch++;
  return g_now.kind;
}

uint64_t order_block(uint64_t i, uint64_t n) {
  if (g_now.kind == ORDER_FORWARD || n <= 1) return i;
  if (g_now.kind == ORDER_REVERSE) return n - 1 - i;
  /* A 4-round Feistel network is a bijection of [0, 2^bits); walking its cycle until the value
     falls below n makes it one of [0, n) (at most 4 steps on average: 2^bits < 4n). */
  int bits = 64 - __builtin_clzll(n - 1);
  if (bits & 1) bits++;
  const int half = bits / 2;
  const uint64_t mask = half >= 64 ? ~0ull : ((1ull << half) - 1);
  const uint64_t key = launch_key();
  uint64_t x = i;
  do {
    uint64_t l = x >> half, r = x & mask;
    for (uint64_t round = 0; round < 4; round++) {
      uint64_t f = mix64(r ^ mix64(key + round)) & mask;
      uint64_t nl = r;
      r = l ^ f;
      l = nl;
    }
    x = (l << half) | r;
  } while (x >= n);
  return x;
}

void order_threads(int *perm, int n, uint64_t block, uint64_t salt) {
  for (int i = 0; i < n; i++) perm[i] = g_now.kind == ORDER_REVERSE ? n - 1 - i : i;
  if (g_now.kind != ORDER_RANDOM) return;
  uint64_t s = mix64(launch_key() ^ mix64(block * 0x100000001b3ull + salt));
  for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
    s = mix64(s);
    int j = (int)((s >> 11) % (uint64_t)(i + 1));
    int tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

}  // namespace cn_emu

extern "C" __attribute__((visibility("default"))) int cn_emu_set_order(const char *order) {
  using namespace cn_emu;
  std::lock_guard<std::mutex> lock(g_order_mutex);
  if (!order || !*order) {
    g_order_explicit = false;
    return 0;
  }
  OrderSetting parsed;
  if (!parse_order(order, &parsed)) return -1;
  g_explicit = parsed;
  g_order_explicit = true;
  return 0;
}
