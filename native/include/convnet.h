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
 * - dtype codes: CN_F32 = 0 (float), CN_I32 = 1 (int32_t).
 */
#ifndef CONVNET_H
#define CONVNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum cn_dtype { CN_F32 = 0, CN_I32 = 1 };

/* Status codes. */
enum cn_status {
  CN_OK = 0,
  CN_ERR_INVALID = 1,      /* a bad argument */
  CN_ERR_OOM = 2,          /* out of device memory */
  CN_ERR_CUDA = 3,         /* the CUDA runtime reported an error */
  CN_ERR_NO_DEVICE = 4,    /* no driver or no device */
  CN_ERR_KERNEL = 5,       /* a kernel reported bad data (e.g. a target out of range) */
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

/* ---- elementwise (dtype: CN_F32 or CN_I32 for the operands; see each op) ---- */

/* out[i] = value. */
int cn_fill(int32_t dtype, void *out, double value, int64_t n);
/* out[i] = (out_dtype) x[i]; float -> int truncates toward zero. */
int cn_cast(int32_t out_dtype, void *out, int32_t x_dtype, const void *x, int64_t n);

enum cn_unary_op { CN_NEG = 0, CN_EXP = 1, CN_LOG = 2, CN_RELU = 3, CN_SQRT = 4, CN_ABS = 5 };
/* out = op(x); float32 except NEG and ABS, which also take int32. */
int cn_unary(int32_t op, int32_t dtype, void *out, const void *x, int64_t n);

enum cn_binary_op { CN_ADD = 0, CN_SUB = 1, CN_MUL = 2, CN_DIV = 3, CN_EQ = 4, CN_RELU_GRAD = 5 };
/* out = op(a, b) with broadcasting: for output dimension d < rank, a is read at stride a_strides[d]
   (0 where broadcast), b at b_strides[d]. rank <= 8. EQ writes int32 0/1; RELU_GRAD is a * (b > 0).
   dtype is the operands' type; out has it too except for EQ. */
int cn_binary(int32_t op, int32_t dtype, void *out, const void *a, const void *b, int32_t rank, const int64_t *shape,
              const int64_t *a_strides, const int64_t *b_strides);

enum cn_scalar_op { CN_S_ADD = 0, CN_S_SUB = 1, CN_S_RSUB = 2, CN_S_MUL = 3, CN_S_DIV = 4, CN_S_RDIV = 5, CN_S_POW = 6 };
/* out = op(x, s): x + s, x - s, s - x, x * s, x / s, s / x, x ** s. */
int cn_scalar(int32_t op, int32_t dtype, void *out, const void *x, double s, int64_t n);
/* out[i] += x[i]. */
int cn_add_inplace(int32_t dtype, void *out, const void *x, int64_t n);
/* out = x broadcast to shape (x read at x_strides[d], 0 where broadcast); rank <= 8. */
int cn_expand(int32_t dtype, void *out, const void *x, int32_t rank, const int64_t *shape, const int64_t *x_strides);

enum cn_reduce_op { CN_R_SUM = 0, CN_R_MAX = 1, CN_R_ARGMAX = 2 };
/* x viewed as [outer, n, inner], reduced over n into [outer, inner]. ARGMAX writes int32 (first max). */
int cn_reduce(int32_t op, int32_t dtype, void *out, const void *x, int64_t outer, int64_t n, int64_t inner);

/* ---- GEMM ---- */

/* c[m, n] = alpha * op(a) * op(b) + beta * c; op(a) is [m, k] (a stored [k, m] when trans_a),
   op(b) is [k, n] (b stored [n, k] when trans_b). Row-major, float32. */
int cn_gemm(float *c, const float *a, const float *b, int32_t m, int32_t n, int32_t k, int32_t trans_a,
            int32_t trans_b, float alpha, float beta);

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

/* ---- pooling ---- */

enum cn_pool_kind { CN_POOL_MAX = 0, CN_POOL_AVG = 1, CN_POOL_SUM = 2 };

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

/* ---- fused log-softmax + NLL (cross-entropy, mean over the batch) ---- */

/* loss[0] = -mean_i logp[i, t_i]; logp [n, c] saved for backward. A target outside [0, c) is a
   kernel error, reported by the next call that waits, naming the index and value. */
int cn_log_softmax_nll_forward(float *loss, float *logp, const float *logits, const int32_t *targets, int32_t n,
                               int32_t c);
/* dlogits = (exp(logp) - onehot(t)) * dloss[0] / n. */
int cn_log_softmax_nll_backward(float *dlogits, const float *logp, const int32_t *targets, const float *dloss,
                                int32_t n, int32_t c);

/* ---- optimizers: one call updates `count` tensors (pointer tables are host arrays) ---- */

int cn_adadelta_step(int32_t count, float *const *params, const float *const *grads, float *const *square_avg,
                     float *const *acc_delta, const int64_t *sizes, float lr, float rho, float eps,
                     float weight_decay);
/* momentum_buf may be NULL when momentum == 0; first != 0 on the step that initialises the buffers. */
int cn_sgd_step(int32_t count, float *const *params, const float *const *grads, float *const *momentum_buf,
                const int64_t *sizes, float lr, float momentum, float dampening, int32_t nesterov,
                float weight_decay, int32_t first);
/* max_exp_avg_sq may be NULL unless amsgrad; step counts from 1. */
int cn_adam_step(int32_t count, float *const *params, const float *const *grads, float *const *exp_avg,
                 float *const *exp_avg_sq, float *const *max_exp_avg_sq, const int64_t *sizes, float lr,
                 float beta1, float beta2, float eps, float weight_decay, int32_t amsgrad, int32_t step);

/* ---- data: build a batch from a dataset kept on the device as bytes ---- */

/* For b < batch: images[b, :] = ((bytes[idx[b], :] / 255) - mean) / std, labels[b] = label_bytes[idx[b]],
   with idx a host array of `batch` sample indices and `pixels` bytes per sample. */
int cn_gather_normalize(float *images, int32_t *labels, const uint8_t *bytes, const uint8_t *label_bytes,
                        const int32_t *idx, int32_t batch, int32_t pixels, float mean, float std);

#ifdef __cplusplus
}
#endif

#endif /* CONVNET_H */
