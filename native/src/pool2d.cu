/*
 * pool2d.cu: max, average and sum pooling over [n, c, h, w], forward and backward, with PyTorch's
 * rules exactly as the TypeScript backend (src/backend/ts/pool2d.ts) applies them:
 * - the window of output (o, q) starts at (o * stride_h - pad_h, q * stride_w - pad_w);
 * - max treats padding as -Inf, keeps the first maximum in row-major window order, a NaN wins (the
 *   first one), and records its index ih * w + iw within the plane;
 * - avg divides by the window clipped to the padded input (count_include_pad), sum just adds.
 * Sums run in double and round once, as TS's JavaScript numbers do: results are bit-identical.
 *
 * Forward: one thread per output, looping over its window (windows overlap at most a few times, so
 * x is read ~kh*kw/(sh*sw) times, mostly from L1/L2).
 *
 * Backward is a gather, not a scatter: one thread per input element loops over the output windows
 * that cover it (ceil(kh/sh) * ceil(kw/sw) of them: 1 for the usual 2x2/stride-2) and adds their
 * contributions; max adds dy of the windows whose recorded index is this element. No atomics, no
 * zero-fill pass, every dx written once and coalesced, and the additions happen in the same order
 * as TS's scatter loop (windows in row-major order), so the float roundings agree bit for bit.
 * A scatter would need atomicAdd as soon as windows overlap, whose order is not deterministic.
 */
#include "common.h"

#define POOL_THREADS 256

struct PoolGeom {
  int h, w, oh, ow, kh, kw, sh, sw, ph, pw;
};

template <class IDX>
__global__ void __launch_bounds__(POOL_THREADS)
    pool2d_forward_kernel(float *y, int32_t *indices, const float *x, PoolGeom g, IDX total, int kind) {
  const IDX plane_y = (IDX)g.oh * g.ow, plane_x = (IDX)g.h * g.w;
  for (IDX t = (IDX)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (IDX)blockDim.x * gridDim.x) {
    const IDX p = t / plane_y;
    const int r = (int)(t - p * plane_y);
    const int o = r / g.ow, q = r - o * g.ow;
    const int hs = o * g.sh - g.ph, ws = q * g.sw - g.pw;
    const int he = min(hs + g.kh, g.h + g.ph), we = min(ws + g.kw, g.w + g.pw);
    const int h0 = max(hs, 0), h1 = min(he, g.h), w0 = max(ws, 0), w1 = min(we, g.w);
    const float *xp = x + p * plane_x;
    if (kind == CN_POOL_MAX) {
      float best = -INFINITY;
      int at = h0 * g.w + w0;
      for (int ih = h0; ih < h1; ++ih) {
        for (int iw = w0; iw < w1; ++iw) {
          const float v = xp[ih * g.w + iw];
          if (v > best || v != v) {
            best = v;
            at = ih * g.w + iw;
            if (v != v) {
              ih = h1; /* the first NaN wins: leave both loops */
              break;
            }
          }
        }
      }
      y[t] = best;
      indices[t] = at;
    } else {
      double s = 0.0;
      for (int ih = h0; ih < h1; ++ih)
        for (int iw = w0; iw < w1; ++iw) s += xp[ih * g.w + iw];
      y[t] = kind == CN_POOL_AVG ? (float)(s / (double)((he - hs) * (we - ws))) : (float)s;
    }
  }
}

/* The windows (rows o0..o1, columns q0..q1 of the output) covering input pixel (ih, iw):
   o * sh - ph <= ih < o * sh - ph + kh, and the same across. */
struct Covering {
  int o0, o1, q0, q1;
};
__device__ __forceinline__ Covering covering(int ih, int iw, const PoolGeom &g) {
  const int nh = ih + g.ph - g.kh + 1, nw = iw + g.pw - g.kw + 1;
  Covering c;
  c.o0 = nh <= 0 ? 0 : (nh + g.sh - 1) / g.sh, c.o1 = min((ih + g.ph) / g.sh, g.oh - 1);
  c.q0 = nw <= 0 ? 0 : (nw + g.sw - 1) / g.sw, c.q1 = min((iw + g.pw) / g.sw, g.ow - 1);
  return c;
}

/* At least 5 blocks per SM (48 registers at most): with no register target CUDA 11.8's ptxas spilled
   the loop index across the average's double-division slow path (a call) on sm_90, at 40 registers;
   with this one neither 11.8 nor 13.0 spills (44 to 48 registers). Same loads, in the same order. */
template <class IDX>
__global__ void __launch_bounds__(POOL_THREADS, 5)
    pool2d_backward_kernel(float *dx, const float *dy, const int32_t *indices, PoolGeom g, IDX total, int kind) {
  const IDX plane_y = (IDX)g.oh * g.ow, plane_x = (IDX)g.h * g.w;
  for (IDX t = (IDX)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (IDX)blockDim.x * gridDim.x) {
    const IDX p = t / plane_x;
    const int r = (int)(t - p * plane_x);
    const int ih = r / g.w, iw = r - ih * g.w;
    const Covering cv = covering(ih, iw, g);
    const int o0 = cv.o0, o1 = cv.o1, q0 = cv.q0, q1 = cv.q1;
    const float *dyp = dy + p * plane_y;
    float acc = 0.0f;
    if (kind == CN_POOL_MAX) {
      const int32_t *ip = indices + p * plane_y;
      for (int o = o0; o <= o1; ++o)
        for (int q = q0; q <= q1; ++q)
          if (ip[o * g.ow + q] == r) acc += dyp[o * g.ow + q];
    } else {
      for (int o = o0; o <= o1; ++o) {
        const int hs = o * g.sh - g.ph, he = min(hs + g.kh, g.h + g.ph);
        for (int q = q0; q <= q1; ++q) {
          const float d = dyp[o * g.ow + q];
          if (kind == CN_POOL_AVG) {
            const int ws = q * g.sw - g.pw, we = min(ws + g.kw, g.w + g.pw);
            acc = (float)((double)acc + (double)d / (double)((he - hs) * (we - ws)));
          } else {
            acc += d;
          }
        }
      }
    }
    dx[t] = acc;
  }
}

/* Max pooling's backward with ReLU's gradient (max_pool2d_relu_backward): as the MAX branch above,
   each window's dy counted only where its pooled value y > 0, which is where the ReLU's input at the
   argmax was positive: pool2d_backward then relu_backward's bits in one launch. */
template <class IDX>
__global__ void __launch_bounds__(POOL_THREADS)
    max_pool2d_relu_backward_kernel(float *dx, const float *dy, const float *y, const int32_t *indices, PoolGeom g,
                                    IDX total) {
  const IDX plane_y = (IDX)g.oh * g.ow, plane_x = (IDX)g.h * g.w;
  for (IDX t = (IDX)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (IDX)blockDim.x * gridDim.x) {
    const IDX p = t / plane_x;
    const int r = (int)(t - p * plane_x);
    const int ih = r / g.w, iw = r - ih * g.w;
    const Covering cv = covering(ih, iw, g);
    const int o0 = cv.o0, o1 = cv.o1, q0 = cv.q0, q1 = cv.q1;
    const float *dyp = dy + p * plane_y, *yp = y + p * plane_y;
    const int32_t *ip = indices + p * plane_y;
    float acc = 0.0f;
    bool positive = false;
    for (int o = o0; o <= o1; ++o)
      for (int q = q0; q <= q1; ++q)
        if (ip[o * g.ow + q] == r) {
          acc += dyp[o * g.ow + q];
          positive = yp[o * g.ow + q] > 0.0f; /* the same for every window whose argmax is r */
        }
    dx[t] = positive ? acc : 0.0f;
  }
}

/* ------------------------------------------------------------------ launchers */

static const char *kind_name(int32_t kind) {
  return kind == CN_POOL_MAX ? "MAX" : kind == CN_POOL_AVG ? "AVG" : kind == CN_POOL_SUM ? "SUM" : "?";
}

static int check_geom(const char *fn, int32_t kind, const cn_pool2d_geom *g, PoolGeom *pg) {
  CN_REQUIRE(kind >= CN_POOL_MAX && kind <= CN_POOL_SUM, "%s: kind %d is not a pooling (expected 0..2: MAX AVG SUM)",
             fn, kind);
  CN_REQUIRE(g != NULL, "%s: geometry is NULL", fn);
  CN_REQUIRE(g->n >= 0 && g->c >= 0 && g->h > 0 && g->w > 0,
             "%s: input size must be [n >= 0, c >= 0, h > 0, w > 0], got [%d, %d, %d, %d]", fn, g->n, g->c, g->h,
             g->w);
  CN_REQUIRE(g->kh > 0 && g->kw > 0, "%s: kernel size must be positive, got %dx%d", fn, g->kh, g->kw);
  CN_REQUIRE(g->stride_h > 0 && g->stride_w > 0, "%s: stride must be positive, got (%d, %d)", fn, g->stride_h,
             g->stride_w);
  CN_REQUIRE(g->pad_h >= 0 && g->pad_w >= 0 && 2 * g->pad_h <= g->kh && 2 * g->pad_w <= g->kw,
             "%s: padding must be in [0, kernel / 2], got (%d, %d) for a %dx%d kernel", fn, g->pad_h, g->pad_w, g->kh,
             g->kw);
  const int64_t oh = ((int64_t)g->h + 2 * g->pad_h - g->kh) / g->stride_h + 1;
  const int64_t ow = ((int64_t)g->w + 2 * g->pad_w - g->kw) / g->stride_w + 1;
  CN_REQUIRE(g->h + 2 * (int64_t)g->pad_h >= g->kh && g->w + 2 * (int64_t)g->pad_w >= g->kw && g->oh == oh &&
                 g->ow == ow,
             "%s: output size is %dx%d but a %dx%d input with kernel %dx%d, stride (%d, %d), padding (%d, %d) gives "
             "%lldx%lld",
             fn, g->oh, g->ow, g->h, g->w, g->kh, g->kw, g->stride_h, g->stride_w, g->pad_h, g->pad_w, (long long)oh,
             (long long)ow);
  CN_REQUIRE((int64_t)g->h * g->w < INT32_MAX && (int64_t)g->oh * g->ow < INT32_MAX,
             "%s: planes must have fewer than 2^31 elements, got %dx%d", fn, g->h, g->w);
  pg->h = g->h, pg->w = g->w, pg->oh = g->oh, pg->ow = g->ow, pg->kh = g->kh, pg->kw = g->kw;
  pg->sh = g->stride_h, pg->sw = g->stride_w, pg->ph = g->pad_h, pg->pw = g->pad_w;
  return CN_OK;
}

extern "C" int cn_pool2d_forward(int32_t kind, float *y, int32_t *indices, const float *x, const cn_pool2d_geom *g) {
  PoolGeom pg;
  CN_TRY(check_geom("pool2d_forward", kind, g, &pg));
  const int64_t total = (int64_t)g->n * g->c * g->oh * g->ow;
  if (total == 0) return CN_OK;
  CN_REQUIRE(y != NULL && x != NULL, "pool2d_forward: %s is NULL (kind %s)", y ? "x" : "y", kind_name(kind));
  CN_REQUIRE(kind != CN_POOL_MAX || indices != NULL, "pool2d_forward: indices is NULL (MAX pooling records them)");
  CN_TRY(cn_init());
  if (total < INT32_MAX && (int64_t)g->n * g->c * g->h * g->w < INT32_MAX) {
    auto k = pool2d_forward_kernel<int32_t>;
    CN_LAUNCH(k, cn_blocks(total, POOL_THREADS), POOL_THREADS, y, indices, x, pg, (int32_t)total, (int)kind);
  } else {
    auto k = pool2d_forward_kernel<int64_t>;
    CN_LAUNCH(k, cn_blocks(total, POOL_THREADS), POOL_THREADS, y, indices, x, pg, total, (int)kind);
  }
  return CN_CHECK_LAUNCH("pool2d_forward");
}

extern "C" int cn_pool2d_backward(int32_t kind, float *dx, const float *dy, const int32_t *indices,
                                  const cn_pool2d_geom *g) {
  PoolGeom pg;
  CN_TRY(check_geom("pool2d_backward", kind, g, &pg));
  const int64_t total = (int64_t)g->n * g->c * g->h * g->w;
  if (total == 0) return CN_OK;
  CN_REQUIRE(dx != NULL && dy != NULL, "pool2d_backward: %s is NULL (kind %s)", dx ? "dy" : "dx", kind_name(kind));
  CN_REQUIRE(kind != CN_POOL_MAX || indices != NULL,
             "pool2d_backward: indices is NULL (MAX pooling needs the forward pass's indices)");
  CN_TRY(cn_init());
  if (total < INT32_MAX && (int64_t)g->n * g->c * g->oh * g->ow < INT32_MAX) {
    auto k = pool2d_backward_kernel<int32_t>;
    CN_LAUNCH(k, cn_blocks(total, POOL_THREADS), POOL_THREADS, dx, dy, indices, pg, (int32_t)total, (int)kind);
  } else {
    auto k = pool2d_backward_kernel<int64_t>;
    CN_LAUNCH(k, cn_blocks(total, POOL_THREADS), POOL_THREADS, dx, dy, indices, pg, total, (int)kind);
  }
  return CN_CHECK_LAUNCH("pool2d_backward");
}

int cn_check_pool2d_geom(const char *fn, const cn_pool2d_geom *g) {
  PoolGeom pg;
  return check_geom(fn, CN_POOL_MAX, g, &pg);
}

extern "C" int cn_max_pool2d_relu_backward(float *dx, const float *dy, const float *y, const int32_t *indices,
                                           const cn_pool2d_geom *g) {
  PoolGeom pg;
  CN_TRY(check_geom("max_pool2d_relu_backward", CN_POOL_MAX, g, &pg));
  const int64_t total = (int64_t)g->n * g->c * g->h * g->w;
  if (total == 0) return CN_OK;
  CN_REQUIRE(dx && dy && y && indices, "max_pool2d_relu_backward: %s is NULL",
             !dx ? "dx" : !dy ? "dy" : !y ? "y" : "indices");
  CN_TRY(cn_init());
  if (total < INT32_MAX && (int64_t)g->n * g->c * g->oh * g->ow < INT32_MAX) {
    auto k = max_pool2d_relu_backward_kernel<int32_t>;
    CN_LAUNCH(k, cn_blocks(total, POOL_THREADS), POOL_THREADS, dx, dy, y, indices, pg, (int32_t)total);
  } else {
    auto k = max_pool2d_relu_backward_kernel<int64_t>;
    CN_LAUNCH(k, cn_blocks(total, POOL_THREADS), POOL_THREADS, dx, dy, y, indices, pg, total);
  }
  return CN_CHECK_LAUNCH("max_pool2d_relu_backward");
}
