/*
 * graph.cu: a training step captured once as a CUDA graph and replayed (cn_capture_begin,
 * cn_capture_end, cn_graph_launch, cn_graph_destroy).
 *
 * Why: the seed's step is ~20 small launches; each costs the host a few microseconds to issue,
 * more than the card needs to run it. A graph launch issues them all at once (one host call,
 * ~2-3 us), and the JavaScript autograd that produced them does not run again.
 *
 * How: the library's one stream is captured in the global mode (the strictest: any call that could
 * synchronise fails instead of silently breaking the graph). The caching allocator hands out only
 * blocks it already holds and keeps every block the capture allocated or freed reserved for the
 * graph (allocator.cu), so the addresses baked into the kernels' arguments stay valid across
 * replays. Host copies and waits are refused by the library itself with a message naming the call
 * (runtime.cu), before the driver would invalidate the capture with a vaguer error.
 */
#include <atomic>
#include <mutex>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "common.h"

namespace {

struct Graph {
  cudaGraphExec_t exec;
  int64_t id;
};

std::mutex g_mutex;
std::atomic<int64_t> g_capture(0); /* the capture running, 0 when none */
int64_t g_next_id = 0;
char g_refusal[512];               /* the first refused call of the running capture, "" if none */

}  // namespace

int64_t cn_capture_id(void) { return g_capture.load(std::memory_order_acquire); }

int cn_capture_refuse(const char *call, const char *why) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: not allowed during graph capture (%s)", call, why);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_refusal[0]) snprintf(g_refusal, sizeof g_refusal, "%s", msg);
  }
  return cn_fail(CN_ERR_INVALID, "%s", msg);
}

extern "C" int cn_capture_begin(void) {
  CN_TRY(cn_init());
  std::lock_guard<std::mutex> lock(g_mutex);
  CN_REQUIRE(g_capture.load() == 0, "capture_begin: a capture is already running (end it with cn_capture_end first)");
  CN_TRY(cn_alloc_capture_prepare());
  CN_TRY(cn_cuda_status(cudaStreamBeginCapture(cn_stream(), cudaStreamCaptureModeGlobal),
                        "capture_begin: cudaStreamBeginCapture"));
  const int64_t id = ++g_next_id;
  g_refusal[0] = 0;
  cn_alloc_capture_begin(id);
  g_capture.store(id, std::memory_order_release);
  return CN_OK;
}

extern "C" int cn_capture_end(void **graph) {
  CN_REQUIRE(graph != NULL, "capture_end: graph is NULL (expected a place for the graph handle)");
  *graph = NULL;
  const int64_t id = cn_capture_id();
  CN_REQUIRE(id != 0, "capture_end: no capture is running (start one with cn_capture_begin)");
  cudaGraph_t g = NULL;
  const cudaError_t err = cudaStreamEndCapture(cn_stream(), &g);
  char refusal[512];
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_capture.store(0, std::memory_order_release);
    snprintf(refusal, sizeof refusal, "%s", g_refusal);
  }
  cudaGraphExec_t exec = NULL;
  cudaError_t ierr = cudaSuccess;
  if (err == cudaSuccess && !refusal[0]) ierr = cudaGraphInstantiateWithFlags(&exec, g, 0);
  if (g) (void)cudaGraphDestroy(g);
  const bool ok = err == cudaSuccess && !refusal[0] && ierr == cudaSuccess;
  cn_alloc_capture_end(id, ok);
  if (refusal[0]) {
    (void)cudaGetLastError();
    return cn_fail(CN_ERR_INVALID, "capture_end: the capture failed: %s", refusal);
  }
  CN_TRY(cn_cuda_status(err, "capture_end: cudaStreamEndCapture (a call made during the capture invalidated it)"));
  CN_TRY(cn_cuda_status(ierr, "capture_end: cudaGraphInstantiateWithFlags"));
  Graph *h = new Graph{exec, id};
  *graph = h;
  return CN_OK;
}

extern "C" int cn_graph_launch(void *graph) {
  CN_REQUIRE(graph != NULL, "graph_launch: graph is NULL (expected a handle from cn_capture_end)");
  if (cn_capture_id()) return cn_capture_refuse("graph_launch", "a graph cannot be launched into another capture");
  Graph *h = static_cast<Graph *>(graph);
  cn_count(CN_COUNT_GRAPH_LAUNCH, 0);
  /* A replayed kernel may record a data error (a target out of range): check it at the next wait. */
  (void)cn_kernel_error_slot();
  return cn_cuda_status(cudaGraphLaunch(h->exec, cn_stream()), "graph_launch: cudaGraphLaunch");
}

extern "C" int cn_graph_destroy(void *graph) {
  if (!graph) return CN_OK;
  Graph *h = static_cast<Graph *>(graph);
  const cudaError_t err = cudaGraphExecDestroy(h->exec);
  cn_alloc_graph_release(h->id);
  delete h;
  return cn_cuda_status(err, "graph_destroy: cudaGraphExecDestroy");
}
