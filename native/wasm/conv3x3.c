// Direct 3×3 convolution (stride 1, padding 0 to 2, no dilation, no groups) for WebAssembly SIMD: forward and
// backward-weight here; backward-input is this forward run on dy with the weights flipped (mod.ts).
// The image is copied once per sample into a zero-bordered scratch plane, and each f32x4 of 4 adjacent
// outputs takes 9 unaligned loads and 9 multiplies and adds. No packing: im2col + GEMM (conv2d.c) spends
// about as long packing im2col as multiplying when there are 64 or fewer out channels, and measured
// 1.7–3× slower than this at 8, 16 and 64 input channels (28×28, 32 out channels).
//
// Napkin math (seed conv1, batch 10): 10 · 16 · 784 · 9 · 2 = 2.26 MFLOP each way. Per 4 outputs and
// input channel: 9 loads, 9 mul, 9 add, plus the accumulator's load and store: about 30 instructions for
// 72 flops, so 2–3 flops per instruction, 7–10 GFLOP/s per core where V8 sustains 3–4 instructions
// per cycle; backward-weight keeps its 9 sums in registers (no accumulator traffic) and does better.
//
// Output rows are computed in widths rounded up to 4 (wq ≥ ow) into the scratch; a padded input row has
// wq + 4 floats (the image at column padW, zeros around), so the loads at q + 0..2 + 3 of the last vector
// stay inside it (ow = w + 2·padW − 2, so padW + w ≤ wq + 2).
#include <wasm_simd128.h>
#include <stdint.h>

enum { G_N, G_C, G_H, G_W, G_K, G_KH, G_KW, G_OH, G_OW, G_SH, G_SW, G_PH, G_PW, G_DH, G_DW, G_GROUPS };

// The padded sample's layout: rows of pw = wq + 4 floats, (h + 2·padH) rows per channel.
#define CN_LAYOUT(g)                                                                                     \
  int wq = (g[G_OW] + 3) & ~3, pw = wq + 4, pp = (g[G_H] + 2 * g[G_PH]) * pw

// Scratch floats one thread needs: the padded sample, and one row of sums (or of dy).
__attribute__((export_name("conv3x3_scratch_floats"))) int conv3x3_scratch_floats(const int32_t *g) {
  CN_LAYOUT(g);
  (void)pw;
  return g[G_C] * pp + wq;
}

// Copies sample b (all channels) into `pad`: the image at row padH, column padW, zeros elsewhere.
static void pad_sample(float *pad, const float *x, const int32_t *g, int b) {
  CN_LAYOUT(g);
  int c_n = g[G_C], h = g[G_H], w = g[G_W];
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int i = 0; i + 4 <= c_n * pp; i += 4) wasm_v128_store(pad + i, zero);
  for (int c = 0; c < c_n; c++) {
    for (int r = 0; r < h; r++) {
      const float *src = x + ((b * c_n + c) * h + r) * w;
      float *dst = pad + c * pp + (r + g[G_PH]) * pw + g[G_PW];
      for (int q = 0; q < w; q++) dst[q] = src[q];
    }
  }
}

// One output plane, out channel k, from the padded sample `pad`, into `out` [oh × ow]; `row` is scratch.
static void forward_plane(float *out, const float *pad, float *row, const float *wt, const float *bias,
                          const int32_t *g, int k) {
  CN_LAYOUT(g);
  int c_n = g[G_C], oh = g[G_OH], ow = g[G_OW];
  v128_t b0 = wasm_f32x4_splat(bias ? bias[k] : 0.0f);
  for (int o = 0; o < oh; o++) {
    // The row's sums over every input channel, 4 columns at a time, in the scratch row.
    for (int q = 0; q < wq; q += 4) wasm_v128_store(row + q, b0);
    for (int c = 0; c < c_n; c++) {
      const float *f = wt + (k * c_n + c) * 9;
      v128_t w00 = wasm_f32x4_splat(f[0]), w01 = wasm_f32x4_splat(f[1]), w02 = wasm_f32x4_splat(f[2]);
      v128_t w10 = wasm_f32x4_splat(f[3]), w11 = wasm_f32x4_splat(f[4]), w12 = wasm_f32x4_splat(f[5]);
      v128_t w20 = wasm_f32x4_splat(f[6]), w21 = wasm_f32x4_splat(f[7]), w22 = wasm_f32x4_splat(f[8]);
      const float *r0 = pad + c * pp + o * pw, *r1 = r0 + pw, *r2 = r1 + pw;
      for (int q = 0; q < wq; q += 4) {
        v128_t s = wasm_v128_load(row + q);
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w00, wasm_v128_load(r0 + q)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w01, wasm_v128_load(r0 + q + 1)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w02, wasm_v128_load(r0 + q + 2)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w10, wasm_v128_load(r1 + q)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w11, wasm_v128_load(r1 + q + 1)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w12, wasm_v128_load(r1 + q + 2)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w20, wasm_v128_load(r2 + q)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w21, wasm_v128_load(r2 + q + 1)));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(w22, wasm_v128_load(r2 + q + 2)));
        wasm_v128_store(row + q, s);
      }
    }
    float *dst = out + o * ow;
    int q = 0;
    for (; q + 4 <= ow; q += 4) wasm_v128_store(dst + q, wasm_v128_load(row + q));
    for (; q < ow; q++) dst[q] = row[q];
  }
}

// y = conv2d(x, w) + bias for the (sample, out channel) pairs r = b · k + oc in [lo, hi).
__attribute__((export_name("conv3x3_forward"))) void conv3x3_forward(float *y, const float *x, const float *wt,
                                                                     const float *bias, const int32_t *g, int lo,
                                                                     int hi, float *scratch) {
  CN_LAYOUT(g);
  (void)wq, (void)pw;
  int k_n = g[G_K], plane = g[G_OH] * g[G_OW], padded = -1;
  for (int r = lo; r < hi; r++) {
    int b = r / k_n;
    if (b != padded) pad_sample(scratch, x, g, padded = b);
    forward_plane(y + r * plane, scratch, scratch + g[G_C] * pp, wt, bias, g, r - b * k_n);
  }
}

// Plane r = b · k + oc of the convolution into `out`, for a caller that consumes it plane by plane (the
// fused conv + ReLU + max pooling of mod.ts): pads sample b into the scratch first when `pad` is set.
__attribute__((export_name("conv3x3_forward_plane"))) void conv3x3_forward_plane(float *out, const float *x,
                                                                                 const float *wt, const float *bias,
                                                                                 const int32_t *g, int r, int pad,
                                                                                 float *scratch) {
  CN_LAYOUT(g);
  (void)wq, (void)pw;
  if (pad) pad_sample(scratch, x, g, r / g[G_K]);
  forward_plane(out, scratch, scratch + g[G_C] * pp, wt, bias, g, r % g[G_K]);
}

static inline float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// dw = ∂(Σ y·dy)/∂w for out channels [lo, hi): each tap sums dy · x over the batch, 4 columns per
// f32x4 (9 accumulators per (out, in) channel pair), lanes added at the end. Columns past w in the
// last vector are masked out of dy (the row that follows, or the scratch, sits there).
__attribute__((export_name("conv3x3_backward_weight"))) void conv3x3_backward_weight(float *dw, const float *dy,
                                                                                     const float *x,
                                                                                     const int32_t *g, int lo,
                                                                                     int hi, float *scratch) {
  CN_LAYOUT(g);
  int n = g[G_N], c_n = g[G_C], oh = g[G_OH], ow = g[G_OW], k_n = g[G_K], plane = oh * ow;
  float *pad = scratch, *dyrow = scratch + c_n * pp;
  // Lanes of the last, partial vector that lie inside the row.
  v128_t last = wasm_i32x4_lt(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat(ow & 3));
  for (int i = lo * c_n * 9; i < hi * c_n * 9; i++) dw[i] = 0.0f;
  for (int b = 0; b < n; b++) {
    pad_sample(pad, x, g, b);
    for (int k = lo; k < hi; k++) {
      for (int c = 0; c < c_n; c++) {
        v128_t s00 = wasm_f32x4_splat(0.0f), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;
        v128_t s20 = s00, s21 = s00, s22 = s00;
        for (int o = 0; o < oh; o++) {
          const float *d = dy + (b * k_n + k) * plane + o * ow;
          const float *r0 = pad + c * pp + o * pw, *r1 = r0 + pw, *r2 = r1 + pw;
#define CN_TAPS(e, q)                                                                                   \
  do {                                                                                                   \
    s00 = wasm_f32x4_add(s00, wasm_f32x4_mul(e, wasm_v128_load(r0 + (q))));                              \
    s01 = wasm_f32x4_add(s01, wasm_f32x4_mul(e, wasm_v128_load(r0 + (q) + 1)));                          \
    s02 = wasm_f32x4_add(s02, wasm_f32x4_mul(e, wasm_v128_load(r0 + (q) + 2)));                          \
    s10 = wasm_f32x4_add(s10, wasm_f32x4_mul(e, wasm_v128_load(r1 + (q))));                              \
    s11 = wasm_f32x4_add(s11, wasm_f32x4_mul(e, wasm_v128_load(r1 + (q) + 1)));                          \
    s12 = wasm_f32x4_add(s12, wasm_f32x4_mul(e, wasm_v128_load(r1 + (q) + 2)));                          \
    s20 = wasm_f32x4_add(s20, wasm_f32x4_mul(e, wasm_v128_load(r2 + (q))));                              \
    s21 = wasm_f32x4_add(s21, wasm_f32x4_mul(e, wasm_v128_load(r2 + (q) + 1)));                          \
    s22 = wasm_f32x4_add(s22, wasm_f32x4_mul(e, wasm_v128_load(r2 + (q) + 2)));                          \
  } while (0)
          int q = 0;
          for (; q + 4 <= ow; q += 4) {
            v128_t e = wasm_v128_load(d + q);
            CN_TAPS(e, q);
          }
          if (q < ow) { // the last, partial vector: through the scratch, lanes past ow masked to 0
            for (int t = 0; t < ow - q; t++) dyrow[t] = d[q + t];
            v128_t e = wasm_v128_and(wasm_v128_load(dyrow), last);
            CN_TAPS(e, q);
          }
#undef CN_TAPS
        }
        float *t = dw + (k * c_n + c) * 9;
        t[0] += hsum(s00), t[1] += hsum(s01), t[2] += hsum(s02);
        t[3] += hsum(s10), t[4] += hsum(s11), t[5] += hsum(s12);
        t[6] += hsum(s20), t[7] += hsum(s21), t[8] += hsum(s22);
      }
    }
  }
}
