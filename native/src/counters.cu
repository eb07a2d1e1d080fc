/*
 * counters.cu: what the library asked of the card, counted (common.h's cn_count, called by the
 * launches, copies, memsets and the allocator), for the whole process (cn_stats) and for the
 * calling thread (cn_thread_stats: a test among others in one process), and the names of the
 * calling thread's last launches (cn_thread_launches: which kernels a step ran).
 */
#include <atomic>
#include <stdio.h>
#include <string.h>

#include "common.h"

/* Event counts and bytes per counter (enum cn_counter), read by cn_stats. */
static std::atomic<int64_t> g_count[CN_COUNTERS];
static std::atomic<int64_t> g_count_bytes[CN_COUNTERS];
/* The same, for the calling thread only. */
static thread_local int64_t t_count[CN_COUNTERS], t_count_bytes[CN_COUNTERS];
/* The calling thread's last CN_THREAD_RECENT launch names, and how many launches it made. */
#define CN_THREAD_RECENT 16
static thread_local char t_recent[CN_THREAD_RECENT][48];
static thread_local int64_t t_launched = 0;

void cn_count(int counter, int64_t bytes) {
  if (counter < 0 || counter >= CN_COUNTERS) return;
  g_count[counter].fetch_add(1, std::memory_order_relaxed);
  if (bytes) g_count_bytes[counter].fetch_add(bytes, std::memory_order_relaxed);
  t_count[counter] += 1;
  t_count_bytes[counter] += bytes;
}

void cn_note_thread_launch(const char *what) {
  snprintf(t_recent[t_launched++ % CN_THREAD_RECENT], sizeof t_recent[0], "%s", what);
}

static int write_stats(char *buf, int32_t buf_len, const long long *n, const long long *b) {
  CN_REQUIRE(buf != NULL, "stats: buf is NULL (expected a buffer of buf_len bytes)");
  CN_REQUIRE(buf_len > 0, "stats: buf_len must be > 0, got %d", buf_len);
  char json[512];
  const int len = snprintf(json, sizeof json,
                           "{\"launches\":%lld,\"graphLaunches\":%lld,\"syncs\":%lld,\"h2dCopies\":%lld,"
                           "\"h2dBytes\":%lld,\"d2hCopies\":%lld,\"d2hBytes\":%lld,\"d2dCopies\":%lld,"
                           "\"d2dBytes\":%lld,\"memsets\":%lld,\"memsetBytes\":%lld,\"driverAllocs\":%lld,"
                           "\"driverAllocBytes\":%lld,\"driverFrees\":%lld}",
                           n[CN_COUNT_LAUNCH], n[CN_COUNT_GRAPH_LAUNCH], n[CN_COUNT_SYNC], n[CN_COUNT_H2D],
                           b[CN_COUNT_H2D], n[CN_COUNT_D2H], b[CN_COUNT_D2H], n[CN_COUNT_D2D], b[CN_COUNT_D2D],
                           n[CN_COUNT_MEMSET], b[CN_COUNT_MEMSET], n[CN_COUNT_DRIVER_ALLOC],
                           b[CN_COUNT_DRIVER_ALLOC], n[CN_COUNT_DRIVER_FREE]);
  CN_REQUIRE(len < buf_len, "stats: buf_len %d is too small (expected at least %d bytes)", buf_len, len + 1);
  memcpy(buf, json, (size_t)len + 1);
  return CN_OK;
}

extern "C" int cn_stats(char *buf, int32_t buf_len) {
  long long n[CN_COUNTERS], b[CN_COUNTERS];
  for (int i = 0; i < CN_COUNTERS; i++) {
    n[i] = (long long)g_count[i].load(std::memory_order_relaxed);
    b[i] = (long long)g_count_bytes[i].load(std::memory_order_relaxed);
  }
  return write_stats(buf, buf_len, n, b);
}

extern "C" int cn_thread_stats(char *buf, int32_t buf_len) {
  long long n[CN_COUNTERS], b[CN_COUNTERS];
  for (int i = 0; i < CN_COUNTERS; i++) n[i] = (long long)t_count[i], b[i] = (long long)t_count_bytes[i];
  return write_stats(buf, buf_len, n, b);
}

extern "C" int cn_thread_launches(char *buf, int32_t buf_len) {
  CN_REQUIRE(buf != NULL, "thread_launches: buf is NULL (expected a buffer of buf_len bytes)");
  CN_REQUIRE(buf_len > 0, "thread_launches: buf_len must be > 0, got %d", buf_len);
  /* A name of up to 47 bytes is at most 6 * 47 + 2 escaped and quoted, plus its comma. */
  char json[CN_THREAD_RECENT * 300 + 3];
  size_t len = 0;
  json[len++] = '[';
  const int64_t first = t_launched > CN_THREAD_RECENT ? t_launched - CN_THREAD_RECENT : 0;
  for (int64_t i = first; i < t_launched; i++) {
    if (i > first) json[len++] = ',';
    cn_json_string(json + len, sizeof json - len - 2, t_recent[i % CN_THREAD_RECENT]);
    len += strlen(json + len);
  }
  json[len++] = ']';
  json[len] = 0;
  CN_REQUIRE((int64_t)len < buf_len, "thread_launches: buf_len %d is too small (expected at least %d bytes)", buf_len,
             (int)len + 1);
  memcpy(buf, json, len + 1);
  return CN_OK;
}
