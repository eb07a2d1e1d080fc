/*
 * capture.h: what graph.cu, runtime.cu and allocator.cu share about a capture of the stream. Not
 * part of the C ABI.
 */
#ifndef CN_CAPTURE_H
#define CN_CAPTURE_H

#include <stdint.h>

/* The id of the capture running (1, 2, ...), or 0 when none. */
int64_t cn_capture_id(void);
/* Refuses `call` during a capture: records the first refusal (cn_capture_end reports it) and
   returns CN_ERR_INVALID with a message naming the call and `why`. */
int cn_capture_refuse(const char *call, const char *why);

/* allocator.cu: before a capture, fills the cache with the blocks cn_capture_trace_begin counted
   (stops the count); CN_OK or the driver's error. */
int cn_alloc_capture_prepare(void);
/* allocator.cu: a capture `id` starts; ends (ok: its blocks now belong to graph `id`; failed: they
   go back to the cache or to their other graphs); graph `id` is destroyed. */
void cn_alloc_capture_begin(int64_t id);
void cn_alloc_capture_end(int64_t id, bool ok);
void cn_alloc_graph_release(int64_t id);

#endif /* CN_CAPTURE_H */
