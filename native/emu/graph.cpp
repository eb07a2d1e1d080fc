/*
 * graph.cpp: stream capture and CUDA graphs on the emulator.
 *
 * A capture is a list of nodes in the order the host issued them: kernel launches (cuda_emu.h's
 * launch() hands over a heap copy of its body, which holds the kernel's arguments by value, as a
 * card's kernel node holds its parameters) and the Async copies and fills on the capturing stream.
 * cudaStreamEndCapture turns the list into a graph; cudaGraphInstantiateWithFlags shares it with an
 * executable graph; cudaGraphLaunch runs the nodes in order, each as the eager call would have run.
 * The emulator's streams are synchronous, so in-order replay is the graph's only schedule.
 *
 * One capture at a time, in the global mode whatever the mode asked (the strictest; the library asks
 * for it): the calls a card refuses during a global capture fail and invalidate it (graph.h).
 */
#include "emu_internal.h"
#include "graph.h"

#include <memory>
#include <mutex>
#include <vector>

using namespace cn_emu;

namespace {

enum NodeKind { NODE_KERNEL, NODE_COPY, NODE_SET };

struct Node {
  NodeKind kind = NODE_KERNEL;
  /* kernel */
  const char *name = nullptr, *file = nullptr;
  int line = 0;
  dim3 grid, block;
  void (*fn)(void *) = nullptr;
  void *ctx = nullptr;
  void (*destroy)(void *) = nullptr;
  /* copy and fill */
  void *dst = nullptr;
  const void *src = nullptr;
  size_t bytes = 0;
  cudaMemcpyKind copy_kind = cudaMemcpyDefault;
  int value = 0;

  Node() = default;
  Node(const Node &) = delete;
  Node &operator=(const Node &) = delete;
  ~Node() {
    if (destroy) destroy(ctx);
  }
};

using Nodes = std::vector<std::unique_ptr<Node>>;

std::mutex g_mutex;
bool g_active = false; /* a capture is running (g_mutex held to change; read by capturing()) */
bool g_invalidated = false;
const char *g_refused = nullptr; /* the call that invalidated the capture */
cudaStream_t g_stream = nullptr;
std::shared_ptr<Nodes> g_nodes;

inline cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}

}  // namespace

struct CUgraph_st {
  std::shared_ptr<Nodes> nodes;
};
struct CUgraphExec_st {
  std::shared_ptr<Nodes> nodes;
};

bool cn_emu::capturing(void) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_active;
}

void cn_emu::capture_launch(const char *name, const char *file, int line, dim3 grid, dim3 block, void (*fn)(void *),
                            void *ctx, void (*destroy)(void *)) {
  std::unique_ptr<Node> n(new Node());
  n->kind = NODE_KERNEL, n->name = name, n->file = file, n->line = line, n->grid = grid, n->block = block;
  n->fn = fn, n->ctx = ctx, n->destroy = destroy;
  /* A card checks the configuration when the launch is captured (launch_erased's checks, in short). */
  const uint64_t threads = (uint64_t)block.x * block.y * block.z;
  if (!grid.x || !grid.y || !grid.z || !threads || threads > 1024 || block.z > 64 || grid.y > 65535 ||
      grid.z > 65535) {
    t_last_error = cudaErrorInvalidConfiguration;
    return;
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_active) { /* the capture ended between capturing() and here: nothing to record into */
    return;
  }
  g_nodes->push_back(std::move(n));
}

bool cn_emu::capture_refuses(const char *call) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_active) return false;
  if (!g_invalidated) g_refused = call;
  g_invalidated = true;
  return true;
}

bool cn_emu::capture_records_copy(cudaStream_t stream, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                                  cudaError_t *result) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_active || stream != g_stream) return false;
  *result = cudaSuccess;
  if (bytes == 0) return true;
  if (!dst || !src) return *result = cudaErrorInvalidValue, true;
  std::unique_ptr<Node> n(new Node());
  n->kind = NODE_COPY, n->dst = dst, n->src = src, n->bytes = bytes, n->copy_kind = kind;
  g_nodes->push_back(std::move(n));
  return true;
}

bool cn_emu::capture_records_set(cudaStream_t stream, void *ptr, int value, size_t bytes, cudaError_t *result) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_active || stream != g_stream) return false;
  *result = cudaSuccess;
  if (bytes == 0) return true;
  if (!ptr) return *result = cudaErrorInvalidValue, true;
  std::unique_ptr<Node> n(new Node());
  n->kind = NODE_SET, n->dst = ptr, n->value = value, n->bytes = bytes;
  g_nodes->push_back(std::move(n));
  return true;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  (void)mode; /* always global (above) */
  if (!stream) return fail(cudaErrorStreamCaptureUnsupported); /* the legacy default stream cannot capture */
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_active) return fail(cudaErrorStreamCaptureUnsupported); /* one at a time (a card: "already capturing") */
  g_active = true, g_invalidated = false, g_refused = nullptr, g_stream = stream;
  g_nodes = std::make_shared<Nodes>();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
  if (!graph) return fail(cudaErrorInvalidValue);
  *graph = nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_active || stream != g_stream) return fail(cudaErrorStreamCaptureUnmatched);
  g_active = false;
  std::shared_ptr<Nodes> nodes = std::move(g_nodes);
  g_stream = nullptr;
  if (g_invalidated) {
    if (env_long("CN_EMU_GRAPH_VERBOSE", 0)) fprintf(stderr, "cuda_emu: the capture was invalidated by %s\n", g_refused);
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *graph = new CUgraph_st{std::move(nodes)};
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status) {
  if (!status) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_active || stream != g_stream) *status = cudaStreamCaptureStatusNone;
  else *status = g_invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
  if (!exec || !graph || flags != 0) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}

/* Runs the nodes in order; stops at the first that fails (its error, as the eager call's). */
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  (void)stream;
  if (!exec) return fail(cudaErrorInvalidResourceHandle);
  if (capture_refuses("cudaGraphLaunch")) return fail(cudaErrorStreamCaptureUnsupported);
  for (const std::unique_ptr<Node> &n : *exec->nodes) {
    cudaError_t e = cudaSuccess;
    switch (n->kind) {
      case NODE_KERNEL:
        launch_erased(n->name, n->file, n->line, n->grid, n->block, n->fn, n->ctx);
        e = cudaPeekAtLastError();
        break;
      case NODE_COPY: e = copy_now(n->dst, n->src, n->bytes, n->copy_kind); break;
      case NODE_SET: e = set_now(n->dst, n->value, n->bytes); break;
    }
    if (e != cudaSuccess) return fail(e);
  }
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  if (!exec) return fail(cudaErrorInvalidResourceHandle);
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  if (!graph) return fail(cudaErrorInvalidResourceHandle);
  delete graph;
  return cudaSuccess;
}
