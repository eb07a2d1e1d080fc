/*
 * graph.h: what runtime.cpp and graph.cpp share about stream capture (hidden inside the library).
 * runtime.cpp asks before each call whether a capture refuses it or records it; graph.cpp replays
 * recorded copies and fills through runtime.cpp's copy_now/set_now.
 */
#ifndef CN_EMU_GRAPH_H
#define CN_EMU_GRAPH_H

#include "cuda_emu.h"

namespace cn_emu {

/* True when a global-mode capture is active: the capture is invalidated and the caller (`call`, a
   call a card refuses during capture) returns cudaErrorStreamCaptureUnsupported. */
CN_EMU_API bool capture_refuses(const char *call);
/* True when `stream` is capturing: the copy or fill is recorded instead of run; *result is the
   call's status (device ranges are checked now, as a card checks a captured node's). */
CN_EMU_API bool capture_records_copy(cudaStream_t stream, void *dst, const void *src, size_t bytes,
                                     cudaMemcpyKind kind, cudaError_t *result);
CN_EMU_API bool capture_records_set(cudaStream_t stream, void *ptr, int value, size_t bytes, cudaError_t *result);

/* The copy and the fill themselves (runtime.cpp): range checks, then the work. */
CN_EMU_API cudaError_t copy_now(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
CN_EMU_API cudaError_t set_now(void *ptr, int value, size_t bytes);

}  // namespace cn_emu

#endif /* CN_EMU_GRAPH_H */
