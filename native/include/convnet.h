/*
 * convnet.h: the whole C ABI of convnet's native library (libconvnet_cuda.so, and its CPU
 * emulation twin libconvnet_emu.so, which has exactly the same symbols).
 *
 * Conventions
 * - Every function returns an int status: 0 = ok, anything else = error; cn_last_error()
 *   then returns the message (thread-local, valid until the next call). No C++ exception
 *   crosses this ABI.
 * - Pointers named like tensors (y, x, w, dy, ...) are device pointers from cn_alloc. Pointers
 *   to geometry structs, shapes, strides and pointer tables are host pointers, read during the call.
 * - Outputs first, then inputs, then sizes. Gradients are d-prefixed.
 * - One stream. Launches are asynchronous; only cn_memcpy_d2h and cn_synchronize wait.
 *   Errors found asynchronously by kernels (a class target out of range) are reported by the
 *   next call that waits.
 * - dtype codes: CN_F32 = 0 (float), CN_I32 = 1 (int32_t), CN_I64 = 2 (int64_t). int64 is storage
 *   only: cn_fill, cn_cast (to and from int32 and float32), cn_copy_strided without accumulate and
 *   the cn_memcpy_* copies take it; every other op answers CN_ERR_INVALID naming the dtype.
 * - Op codes (enum cn_unary_op, ...), dtype, distribution and pooling codes come from
 *   native/ops.def, the table TypeScript's codes are generated from too. A code that is not in the
 *   table is CN_ERR_INVALID, never some default op.
 */
#ifndef CONVNET_H
#define CONVNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum cn_dtype {
#define CN_DTYPE(NAME, ts, code) CN_##NAME = code,
#include "../ops.def"
};

/* Status codes: CN_OK = 0; CN_ERR_INVALID (a bad argument), CN_ERR_OOM (out of device memory),
   CN_ERR_CUDA (the CUDA runtime reported an error), CN_ERR_NO_DEVICE (no driver or no device),
   CN_ERR_KERNEL (a kernel reported bad data, e.g. a target out of range). */
enum cn_status {
#define CN_STATUS(NAME, ts, code) CN_##NAME = code,
#include "../ops.def"
};

/* ---- runtime ---- */

/* The message of the last failed call on this thread ("" if none). */
const char *cn_last_error(void);
/* Static description of the build: CUDA version, archs, emulation or not, e.g.
   "convnet native 0.1.0; CUDA 13.0; sm_80 sm_86 sm_89 sm_90 + compute_90 PTX". */
const char *cn_build_info(void);
/* Checks the driver and picks device 0; CN_ERR_NO_DEVICE with a message when either is missing. */
int cn_init(void);
/* JSON description of the device: {"name":..., "cc":"9.0", "sms":132, "memory":..., "driver":..., "runtime":...}. */
int cn_device_info(char *buf, int32_t buf_len);
/* Waits for all queued work; reports asynchronous kernel errors. */
int cn_synchronize(void);
/* JSON of the counters since the library was loaded (take differences): {"launches", "graphLaunches",
   "syncs" (waits for the stream), "h2dCopies", "h2dBytes", "d2hCopies", "d2hBytes", "d2dCopies",
   "d2dBytes", "memsets", "memsetBytes", "driverAllocs", "driverAllocBytes", "driverFrees"}. */
int cn_stats(char *buf, int32_t buf_len);
/* cn_stats for the calling thread's own calls only (tests that share the process with others). */
int cn_thread_stats(char *buf, int32_t buf_len);
/* JSON array of the names of the calling thread's last 16 kernel launches, oldest first: what a step
   launched, e.g. ["cn_gather_rows", "conv2d_relu_maxpool2d_forward", ...]. */
int cn_thread_launches(char *buf, int32_t buf_len);

/* ---- device memory (a caching allocator: freed blocks are kept for reuse) ---- */

/* Every successful cn_alloc returns a unique, non-NULL, 256-byte-aligned pointer, also for 0 bytes.
   Freeing NULL does nothing; freeing anything else not live from cn_alloc is CN_ERR_INVALID. */
int cn_alloc(void **ptr, int64_t bytes);
int cn_free(void *ptr);
/* Returns cached blocks to the driver. */
int cn_empty_cache(void);
/* stats[0] bytes in use, stats[1] bytes cached (free, kept), stats[2] peak bytes in use, stats[3] live blocks. */
int cn_memory_stats(int64_t *stats);
/* Caps in-use + cached bytes (0 = no cap): asking for more is CN_ERR_OOM, after emptying the cache. */
int cn_set_memory_limit(int64_t bytes);

int cn_memcpy_h2d(void *dst, const void *src, int64_t bytes);
int cn_memcpy_d2h(void *dst, const void *src, int64_t bytes); /* waits */
int cn_memcpy_d2d(void *dst, const void *src, int64_t bytes);

/* ---- CUDA graphs: capture the stream's work once, replay it (native/src/graph.cu) ---- */

/* Counts the block sizes the allocator hands out from now on (run the work to capture once, eagerly),
   so that cn_capture_begin can first fill the cache with as many blocks of each size. */
int cn_capture_trace_begin(void);
/* Starts capturing the library's stream: launches, device-to-device copies and fills queue into a
   graph instead of running. Allocations come from the cache only (filled first from the trace of
   cn_capture_trace_begin); host copies, waits and emptying the cache fail with CN_ERR_INVALID,
   naming the call. */
int cn_capture_begin(void);
/* Ends the capture; *graph receives the executable graph. A capture that failed (a refused call,
   a driver error) returns its first error and no graph. Blocks allocated or freed during the
   capture stay reserved for the graph until cn_graph_destroy, so its addresses stay valid. */
int cn_capture_end(void **graph);
/* Queues one replay of the graph on the library's stream. */
int cn_graph_launch(void *graph);
/* Frees the graph and returns the blocks only it held to the cache. */
int cn_graph_destroy(void *graph);

/* ---- elementwise (see native/ops.def for every op's formula) ---- */

/* out[i] = value: ToInt32 for int32 (as Int32Array.fill); for int64 truncated toward zero and
   wrapped modulo 2^64, NaN and infinities as 0 (as the TypeScript backend's toInt64). */
int cn_fill(int32_t dtype, void *out, double value, int64_t n);
/* out[i] = (out_dtype) x[i]; float -> int32 is JavaScript's ToInt32 (truncates, NaN and infinities
   give 0, wraps modulo 2^32); float -> int64 truncates and wraps modulo 2^64 (NaN and infinities
   give 0); int64 -> int32 keeps the low 32 bits; int64 -> float32 rounds through double (as
   Number(bigint) does); int32 -> float32 rounds to nearest. */
int cn_cast(int32_t out_dtype, void *out, int32_t x_dtype, const void *x, int64_t n);

enum cn_unary_op {
#define CN_UNARY_OP(NAME, ts, code, c_expr, ts_expr) CN_##NAME = code,
#include "../ops.def"
};
/* out = op(x), float32 or int32 (computed in double, stored as an Int32Array stores). */
int cn_unary(int32_t op, int32_t dtype, void *out, const void *x, int64_t n);

enum cn_binary_op {
#define CN_BINARY_OP(NAME, ts, code, c_expr, ts_expr) CN_##NAME = code,
#include "../ops.def"
};
/* out = op(a, b) with broadcasting: for output dimension d < rank, a is read at stride a_strides[d]
   (0 where broadcast), b at b_strides[d]. rank <= 8. dtype is the operands' type; out has it too,
   except for the comparisons (EQ NE GT LT GE LE), which write int32 0/1. */
int cn_binary(int32_t op, int32_t dtype, void *out, const void *a, const void *b, int32_t rank, const int64_t *shape,
              const int64_t *a_strides, const int64_t *b_strides);

enum cn_scalar_op {
#define CN_SCALAR_OP(NAME, ts, code, c_expr, ts_expr) CN_S_##NAME = code,
#include "../ops.def"
};
/* out = op(x, s), computed in double and rounded once; comparisons write int32 0/1. */
int cn_scalar(int32_t op, int32_t dtype, void *out, const void *x, double s, int64_t n);
/* out = cond ? a : b elementwise, cond int32 (non-zero = true), a, b and out of `dtype`; each
   operand read at its own strides per output dimension (0 where broadcast). rank <= 8. */
int cn_where(int32_t dtype, void *out, const int32_t *cond, const void *a, const void *b, int32_t rank,
             const int64_t *shape, const int64_t *cond_strides, const int64_t *a_strides, const int64_t *b_strides);
/* out[i] += x[i]. */
int cn_add_inplace(int32_t dtype, void *out, const void *x, int64_t n);
/* For every index i of shape: out[out_offset + sum_d i_d * out_strides[d]] = x[x_offset + sum_d
   i_d * x_strides[d]] (+= when accumulate; distinct indices must then not share an output
   element). Strides may be 0 (broadcast) or negative. rank <= 8. int64 only without accumulate. */
int cn_copy_strided(int32_t dtype, void *out, const void *x, int32_t rank, const int64_t *shape,
                    const int64_t *out_strides, int64_t out_offset, const int64_t *x_strides, int64_t x_offset,
                    int32_t accumulate);
/* dx[i] = x[i] > 0 ? dy[i] : 0 (ReLU's backward; a NaN x gives 0), float32. */
int cn_relu_backward(float *dx, const float *dy, const float *x, int64_t n);

enum cn_reduce_op {
#define CN_REDUCE_OP(NAME, ts, code, policy) CN_R_##NAME = code,
#include "../ops.def"
};
/* x viewed as [outer, n, inner], reduced over n into [outer, inner]. ARGMAX and ARGMIN write int32
   (the first extreme); a NaN wins MAX, MIN and their arg forms (the first NaN). n = 0: sum 0, max
   -inf, min +inf (int32: 0), arg 0. */
int cn_reduce(int32_t op, int32_t dtype, void *out, const void *x, int64_t outer, int64_t n, int64_t inner);

/* ---- gather / scatter along an axis: x viewed as [outer, n, inner], index as [outer, m, inner] ---- */

/* out[o, j, i] = x[o, index[o, j, i], i]; dtype float32 or int32, index int32. An index outside
   [0, n) writes 0 there and is a kernel error, reported by the next call that waits, naming the
   position and the value. */
int cn_gather(int32_t dtype, void *out, const void *x, const int32_t *index, int64_t outer, int64_t n, int64_t m,
              int64_t inner);
/* out[o, index[o, j, i], i] += src[o, j, i] (out is not cleared; atomic adds: with repeated indices
   the float32 sum's rounding depends on the order). An index outside [0, n) is skipped and
   reported like cn_gather's. */
int cn_scatter_add(int32_t dtype, void *out, const void *src, const int32_t *index, int64_t outer, int64_t n,
                   int64_t m, int64_t inner);

/* One batch's rows of one or two tensors, the indices read from host memory and passed by value in
   the launch (up to 768 rows per launch, chunked beyond): out0[r, i] = x0[index[r], i] for i < row0,
   out1[r, i] = x1[index[r], i] for i < row1, both sources holding n rows of 4-byte elements (row1 = 0:
   one tensor). An index outside [0, n) writes 0 and is reported like cn_gather's. */
int cn_gather_rows(void *out0, const void *x0, int64_t row0, void *out1, const void *x1, int64_t row1, int64_t n,
                   const int32_t *index, int64_t count);

/* ---- GEMM ---- */

/* y[m, n] = x[m, k] . w[n, k]^T + bias[n] (bias may be NULL): cn_gemm and the broadcast add, the same
   bits; one launch where cn_gemm takes its dot-product path (m*n <= 1024, k >= 1024). */
int cn_linear_forward(float *y, const float *x, const float *w, const float *bias, int32_t m, int32_t n, int32_t k);
/* A Linear layer's weight and bias gradients, dw[out, in] = dy[rows, out]^T . x[rows, in] and db[out] =
   the column sums of dy: the bits of cn_gemm and cn_reduce, one launch up to 32 rows. */
int cn_linear_backward_weight_bias(float *dw, float *db, const float *dy, const float *x, int32_t rows, int32_t out,
                                   int32_t in);

/* For b < batch: c_b[m, n] = alpha * op(a_b) * op(b_b) + beta * c_b, with a_b = a + b * stride_a,
   b_b = b + b * stride_b, c_b = c + b * stride_c (elements); stride_a or stride_b 0 shares one
   matrix across the batch; c matrices must not overlap (stride_c >= m * n when batch > 1).
   op(a) is [m, k] (a stored [k, m] when trans_a), op(b) is [k, n] (b stored [n, k] when trans_b).
   Row-major, float32; beta == 0: c is only written. */
int cn_gemm(float *c, const float *a, const float *b, int32_t m, int32_t n, int32_t k, int32_t trans_a,
            int32_t trans_b, float alpha, float beta, int32_t batch, int64_t stride_a, int64_t stride_b,
            int64_t stride_c);

/* ---- random numbers (Philox4x32-10, counter-based: no device state) ---- */

enum cn_distribution {
#define CN_DISTRIBUTION(NAME, ts, code) CN_##NAME = code,
#include "../ops.def"
};
/* Element i of out (float32) takes word i % 4 of philox4x32_10(counter = [lo32(q), hi32(q), 0, 0],
   key = [lo32(seed), hi32(seed)]) with q = i / 4 + offset (64-bit, wrapping); 10 rounds with the
   multipliers 0xD2511F53, 0xCD9E8D57 and key bumps 0x9E3779B9, 0xBB67AE85 (Random123's philox4x32).
   u = (word >> 8) * 2^-24, in [0, 1).
   - UNIFORM (p0 = low, p1 = high): lo = f32(low), span = f32(f32(high) - lo), value =
     f32(f32(u * span) + lo), each float32 operation rounded (no fused multiply-add);
   - BERNOULLI (p0 = p): 1 where u < f32(p), else 0;
   - NORMAL (p0 = mean, p1 = std): Box-Muller on the words of elements 2j and 2j + 1, in double:
     u1 = ((w_2j >> 8) + 1) * 2^-24 in (0, 1], u2 = (w_2j+1 >> 8) * 2^-24, r = sqrt(-2 log u1),
     t = 2 pi u2; element 2j gets f32(mean + std * r * cos t), element 2j + 1 f32(mean + std * r *
     sin t) (an odd last element takes the cos one). The specification is src/backend/philox.ts. */
int cn_random_fill(int32_t distribution, float *out, int64_t n, uint64_t seed, uint64_t offset, double p0,
                   double p1);
/* cn_random_fill with the seed and offset read from the device array state = {seed, offset, 0} when
   the kernel runs; the launch advances state[1] by ceil(n / 4) on the device (state[2] is the
   kernel's own: keep it 0). Allowed during a graph capture: each replay draws the next numbers. */
int cn_random_fill_state(int32_t distribution, float *out, int64_t n, uint64_t *state, double p0, double p1);

/* ---- convolution ---- */

typedef struct cn_conv2d_geom {
  int32_t n, c, h, w;         /* input [n, c, h, w] */
  int32_t k, kh, kw;          /* weight [k, c / groups, kh, kw] */
  int32_t oh, ow;             /* output [n, k, oh, ow] */
  int32_t stride_h, stride_w;
  int32_t pad_h, pad_w;
  int32_t dilation_h, dilation_w;
  int32_t groups;
} cn_conv2d_geom;

/* y = conv2d(x, w) + bias (bias may be NULL). */
int cn_conv2d_forward(float *y, const float *x, const float *w, const float *bias, const cn_conv2d_geom *g);
/* dx = d(sum y*dy)/dx (overwritten). */
int cn_conv2d_backward_input(float *dx, const float *dy, const float *w, const cn_conv2d_geom *g);
/* dw = d(sum y*dy)/dw (overwritten). */
int cn_conv2d_backward_weight(float *dw, const float *dy, const float *x, const cn_conv2d_geom *g);
/* db[k] = sum of dy[:, k, :, :] (overwritten). */
int cn_conv2d_backward_bias(float *db, const float *dy, const cn_conv2d_geom *g);
/* Both of the above (the same bits), in one launch when neither splits its reduction (R <= 32 and
   N*oh*ow <= 16384: the seed's layer), else the two calls. */
int cn_conv2d_backward_weight_bias(float *dw, float *db, const float *dy, const float *x, const cn_conv2d_geom *g);

/* ---- pooling ---- */

enum cn_pool_kind {
#define CN_POOL_KIND(NAME, ts, code) CN_POOL_##NAME = code,
#include "../ops.def"
};

typedef struct cn_pool2d_geom {
  int32_t n, c, h, w;
  int32_t kh, kw;
  int32_t oh, ow;
  int32_t stride_h, stride_w;
  int32_t pad_h, pad_w;
} cn_pool2d_geom;

/* PyTorch's rules: windows start at o*stride - pad; max treats padding as -inf, keeps the first
   maximum (NaN wins) and writes its index ih*w + iw into indices (int32, same size as y);
   avg divides by the window clipped to the padded input (count_include_pad); sum adds. */
int cn_pool2d_forward(int32_t kind, float *y, int32_t *indices, const float *x, const cn_pool2d_geom *g);
/* dx overwritten; max uses indices from the forward pass (NULL for avg and sum). */
int cn_pool2d_backward(int32_t kind, float *dx, const float *dy, const int32_t *indices, const cn_pool2d_geom *g);
/* Fused: y = maxPool2d(relu(conv2d(x, w) + bias)) and its argmax indices (as cn_pool2d_forward's), without
   writing the convolution's output; `pool` pools the [n, k, oh, ow] output of `conv`. bias may be NULL. */
int cn_conv2d_relu_maxpool2d_forward(float *y, int32_t *indices, const float *x, const float *w, const float *bias,
                                     const cn_conv2d_geom *conv, const cn_pool2d_geom *pool);
/* Fused: the gradient at the convolution's output of the above: dy at each window's argmax where y > 0, else 0. */
int cn_max_pool2d_relu_backward(float *dx, const float *dy, const float *y, const int32_t *indices,
                                const cn_pool2d_geom *g);

/* ---- fused log-softmax + NLL (cross-entropy, mean over the batch) ---- */

/* loss[0] = -mean_i logp[i, t_i]; logp [n, c] saved for backward. A target outside [0, c) is a
   kernel error, reported by the next call that waits, naming the index and value. */
int cn_log_softmax_nll_forward(float *loss, float *logp, const float *logits, const int32_t *targets, int32_t n,
                               int32_t c);
/* cn_log_softmax_nll_forward and, in the same launch when one block does the batch (n*c up to ~16K),
   dunit = the gradient for a loss gradient of 1 (cn_log_softmax_nll_backward's bits with dloss = 1). */
int cn_log_softmax_nll_forward_grad(float *loss, float *logp, float *dunit, const float *logits,
                                    const int32_t *targets, int32_t n, int32_t c);
/* dlogits = (exp(logp) - onehot(t)) * dloss[0] / n. */
int cn_log_softmax_nll_backward(float *dlogits, const float *logp, const int32_t *targets, const float *dloss,
                                int32_t n, int32_t c);

/* ---- optimizers: one call updates `count` tensors (pointer tables are host arrays) ----
 *
 * `hyper` is a device array of CN_OPT_HYPER_DOUBLES doubles holding the hyper-parameters, read by the
 * kernels when they run (so a captured CUDA graph follows what the host writes there between
 * replays); its last slot is the kernels' own (keep it 0). */
#define CN_OPT_HYPER_DOUBLES 8

/* hyper: lr, rho, eps, weight_decay. */
int cn_adadelta_step(int32_t count, float *const *params, const float *const *grads, float *const *square_avg,
                     float *const *acc_delta, const int64_t *sizes, double *hyper);
/* hyper: lr, momentum, dampening, weight_decay, nesterov (0 or 1). momentum_buf is NULL when momentum
   is 0 (the kernel then ignores it); first != 0 on the step that initialises the buffers. */
int cn_sgd_step(int32_t count, float *const *params, const float *const *grads, float *const *momentum_buf,
                const int64_t *sizes, double *hyper, int32_t first);
/* hyper: lr, beta1, beta2, eps, weight_decay, steps taken so far (>= 0): the update is step + 1's,
   and the launch advances hyper[5] by one on the device; then AdamW's decoupled weight decay (the
   parameter is first scaled by 1 - lr * it; 0 for Adam). max_exp_avg_sq may be NULL unless amsgrad. */
int cn_adam_step(int32_t count, float *const *params, const float *const *grads, float *const *exp_avg,
                 float *const *exp_avg_sq, float *const *max_exp_avg_sq, const int64_t *sizes, double *hyper,
                 int32_t amsgrad);

#ifdef __cplusplus
}
#endif

#endif /* CONVNET_H */
