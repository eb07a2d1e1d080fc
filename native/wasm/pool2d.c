// Max, average and sum pooling for WebAssembly, any window, stride and padding, with PyTorch's rules
// (those of src/backend/ts/pool2d.ts, the reference): a window starts at o · stride − pad; average
// pooling divides by the window clipped to the padded input (count_include_pad); max pooling treats
// padding as −∞ and keeps the first maximum, a NaN winning at once. Scalar code: windows are small and
// irregular, and the win over the TypeScript loops is in doing without their per-window closure.
// Memory-bound: each input is read about (kh / stride)·(kw / stride) times, from L1.
//
// Functions cover the planes (sample × channel) [lo, hi), so threads can split them.
#include <stdint.h>

enum { P_N, P_C, P_H, P_W, P_KH, P_KW, P_OH, P_OW, P_SH, P_SW, P_PH, P_PW };
enum { KIND_MAX = 0, KIND_AVG = 1, KIND_SUM = 2 }; // the order of POOL_KINDS in src/backend/ts/_kernels.ts

static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline int min_int(int a, int b) { return a < b ? a : b; }

// The window of output (o, q): rows [*h0, *h1) and columns [*w0, *w1) inside the input; returns its
// size clipped to the padded input (the average's divisor).
static inline int window(const int32_t *g, int o, int q, int *h0, int *h1, int *w0, int *w1) {
  int hs = o * g[P_SH] - g[P_PH], he = min_int(hs + g[P_KH], g[P_H] + g[P_PH]);
  int ws = q * g[P_SW] - g[P_PW], we = min_int(ws + g[P_KW], g[P_W] + g[P_PW]);
  *h0 = max_int(hs, 0), *h1 = min_int(he, g[P_H]), *w0 = max_int(ws, 0), *w1 = min_int(we, g[P_W]);
  return (he - hs) * (we - ws);
}

// y (and, for max, indices: argmax as ih · w + iw) from x, planes [lo, hi).
__attribute__((export_name("pool2d_forward"))) void pool2d_forward(int kind, float *y, int32_t *indices,
                                                                   const float *x, const int32_t *g, int lo, int hi) {
  int w = g[P_W], plane_x = g[P_H] * w, plane_y = g[P_OH] * g[P_OW];
  for (int p = lo; p < hi; p++) {
    const float *xp = x + p * plane_x;
    for (int o = 0; o < g[P_OH]; o++) {
      for (int q = 0; q < g[P_OW]; q++) {
        int h0, h1, w0, w1, yi = p * plane_y + o * g[P_OW] + q;
        int area = window(g, o, q, &h0, &h1, &w0, &w1);
        if (kind == KIND_MAX) {
          float best = -__builtin_inff();
          int at = h0 * w + w0;
          for (int ih = h0; ih < h1; ih++) {
            for (int iw = w0; iw < w1; iw++) {
              float v = xp[ih * w + iw];
              if (v > best || v != v) {
                best = v, at = ih * w + iw;
                if (v != v) goto done; // the first NaN wins, as in PyTorch
              }
            }
          }
        done:
          y[yi] = best, indices[yi] = at;
        } else {
          float s = 0.0f;
          for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++) s += xp[ih * w + iw];
          y[yi] = kind == KIND_AVG ? s / (float)area : s;
        }
      }
    }
  }
}

// dx (overwritten) from dy, planes [lo, hi): max adds each dy at its argmax, avg and sum spread it over
// the window (divided by its size for avg).
__attribute__((export_name("pool2d_backward"))) void pool2d_backward(int kind, float *dx, const float *dy,
                                                                     const int32_t *indices, const int32_t *g, int lo,
                                                                     int hi) {
  int w = g[P_W], plane_x = g[P_H] * w, plane_y = g[P_OH] * g[P_OW];
  for (int i = lo * plane_x; i < hi * plane_x; i++) dx[i] = 0.0f;
  for (int p = lo; p < hi; p++) {
    float *dxp = dx + p * plane_x;
    for (int o = 0; o < g[P_OH]; o++) {
      for (int q = 0; q < g[P_OW]; q++) {
        int yi = p * plane_y + o * g[P_OW] + q;
        if (kind == KIND_MAX) {
          dxp[indices[yi]] += dy[yi];
          continue;
        }
        int h0, h1, w0, w1;
        int area = window(g, o, q, &h0, &h1, &w0, &w1);
        float v = kind == KIND_AVG ? dy[yi] / (float)area : dy[yi];
        for (int ih = h0; ih < h1; ih++)
          for (int iw = w0; iw < w1; iw++) dxp[ih * w + iw] += v;
      }
    }
  }
}
