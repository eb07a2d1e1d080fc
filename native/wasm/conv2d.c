// 2-d convolution for WebAssembly SIMD: forward, backward-input and backward-weight as GEMMs on
// gemm.c's core, with im2col done while packing (the packed B block is read straight from the image,
// so no [c·kh·kw × oh·ow] buffer is ever written).
//
// Per sample and group (kg = k / groups out channels, depth = c / groups · kh · kw, ohw = oh · ow):
//   forward          y_b   [kg × ohw]   = w_g [kg × depth] · im2col(x_b) [depth × ohw]        (+ bias)
//   backward-weight  dw_g  [kg × depth] += dy_b [kg × ohw] · im2col(x_b)ᵀ [ohw × depth]
//   backward-input   dcol  [depth × NC] = w_gᵀ · dy_b[:, chunk of NC positions], then added into dx
//                    (col2im), so the scratch holds one chunk, not the whole column matrix.
//
// Napkin math: the ResNet layer 64 → 64, 3×3, 56×56 is 2 · 64 · 576 · 3136 = 231 MFLOP per sample
// each way: at the GEMM's 20–25 GFLOP/s about 10 ms per sample per core. The seed's conv1 (1 → 32,
// 28×28) is a thin GEMM (depth 9): packing costs as much as the arithmetic there.
//
// Each function computes a range [lo, hi) of samples (forward, backward-input) or out channels
// (backward-weight), with the same sums in the same order whatever the range.
#include <wasm_simd128.h>

#include "gemm.h"

enum { G_N, G_C, G_H, G_W, G_K, G_KH, G_KW, G_OH, G_OW, G_SH, G_SW, G_PH, G_PW, G_DH, G_DW, G_GROUPS };

static inline int min_int(int a, int b) { return a < b ? a : b; }

// Scratch floats one thread needs for the convolution with these numbers.
__attribute__((export_name("conv2d_scratch_floats"))) int conv2d_scratch_floats(const int32_t *g) {
  int depth = g[G_C] / g[G_GROUPS] * g[G_KH] * g[G_KW];
  return GEMM_SCRATCH_FLOATS + depth * NC;
}

// y = conv2d(x, w) + bias for samples [lo, hi). bias may be 0 (none).
__attribute__((export_name("conv2d_forward"))) void conv2d_forward(float *y, const float *x, const float *w,
                                                                   const float *bias, const int32_t *g, int lo, int hi,
                                                                   float *scratch) {
  int groups = g[G_GROUPS], kg = g[G_K] / groups, cg = g[G_C] / groups;
  int depth = cg * g[G_KH] * g[G_KW], ohw = g[G_OH] * g[G_OW], plane = g[G_H] * g[G_W];
  for (int b = lo; b < hi; b++) {
    for (int gr = 0; gr < groups; gr++) {
      float *yg = y + (b * g[G_K] + gr * kg) * ohw;
      const float *xg = x + (b * g[G_C] + gr * cg) * plane;
      gemm_core(yg, ohw, w + gr * kg * depth, depth, 1, B_IM2COL, xg, 0, 0, g, kg, ohw, depth, 1.0f, 0.0f, scratch);
      if (!bias) continue;
      for (int k = 0; k < kg; k++) {
        v128_t bv = wasm_f32x4_splat(bias[gr * kg + k]);
        float *row = yg + k * ohw;
        int p = 0;
        for (; p + 4 <= ohw; p += 4) wasm_v128_store(row + p, wasm_f32x4_add(wasm_v128_load(row + p), bv));
        for (; p < ohw; p++) row[p] += bias[gr * kg + k];
      }
    }
  }
}

// dw = ∂(Σ y·dy)/∂w for out channels [lo, hi): the sum over the batch, sample by sample into dw.
__attribute__((export_name("conv2d_backward_weight"))) void conv2d_backward_weight(float *dw, const float *dy,
                                                                                   const float *x, const int32_t *g,
                                                                                   int lo, int hi, float *scratch) {
  int groups = g[G_GROUPS], kg = g[G_K] / groups, cg = g[G_C] / groups;
  int depth = cg * g[G_KH] * g[G_KW], ohw = g[G_OH] * g[G_OW], plane = g[G_H] * g[G_W];
  for (int b = 0; b < g[G_N]; b++) {
    for (int k = lo; k < hi;) {
      // The out channels of [k, hi) in k's group: one GEMM against that group's image.
      int gr = k / kg, k_end = min_int(hi, (gr + 1) * kg);
      const float *xg = x + (b * g[G_C] + gr * cg) * plane;
      gemm_core(dw + k * depth, depth, dy + (b * g[G_K] + k) * ohw, ohw, 1, B_IM2COL_T, xg, 0, 0, g, k_end - k, depth,
                ohw, 1.0f, b == 0 ? 0.0f : 1.0f, scratch);
      k = k_end;
    }
  }
}

// dx[b, group] += dcol (one chunk of output positions [j0, j0 + nc)): the transpose of im2col.
static void col2im_add(float *dx, const float *dcol, const int32_t *g, int depth, int j0, int nc) {
  int kh = g[G_KH], kw = g[G_KW], ow = g[G_OW], h = g[G_H], w = g[G_W];
  for (int row = 0; row < depth; row++) {
    int channel = row / (kh * kw), i = row / kw % kh, j = row % kw;
    float *dxc = dx + channel * h * w;
    const float *src = dcol + row * nc;
    int o = j0 / ow, q = j0 % ow;
    for (int col = 0; col < nc; col++) {
      int ih = o * g[G_SH] - g[G_PH] + i * g[G_DH], iw = q * g[G_SW] - g[G_PW] + j * g[G_DW];
      if ((unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w) dxc[ih * w + iw] += src[col];
      if (++q == ow) q = 0, o++;
    }
  }
}

// dx = ∂(Σ y·dy)/∂x for samples [lo, hi).
__attribute__((export_name("conv2d_backward_input"))) void conv2d_backward_input(float *dx, const float *dy,
                                                                                 const float *w, const int32_t *g,
                                                                                 int lo, int hi, float *scratch) {
  int groups = g[G_GROUPS], kg = g[G_K] / groups, cg = g[G_C] / groups;
  int depth = cg * g[G_KH] * g[G_KW], ohw = g[G_OH] * g[G_OW], plane = g[G_H] * g[G_W];
  float *dcol = scratch + GEMM_SCRATCH_FLOATS;
  v128_t zero = wasm_f32x4_splat(0.0f);
  float *start = dx + lo * g[G_C] * plane, *end = dx + hi * g[G_C] * plane;
  for (; start + 4 <= end; start += 4) wasm_v128_store(start, zero);
  for (; start < end; start++) *start = 0.0f;
  for (int b = lo; b < hi; b++) {
    for (int gr = 0; gr < groups; gr++) {
      const float *dyg = dy + (b * g[G_K] + gr * kg) * ohw, *wg = w + gr * kg * depth;
      float *dxg = dx + (b * g[G_C] + gr * cg) * plane;
      for (int j0 = 0; j0 < ohw; j0 += NC) {
        int nc = min_int(NC, ohw - j0);
        gemm_core(dcol, nc, wg, 1, depth, B_STRIDED, dyg + j0, ohw, 1, 0, depth, nc, kg, 1.0f, 0.0f, scratch);
        col2im_add(dxg, dcol, g, depth, j0, nc);
      }
    }
  }
}

// db[k] = Σ dy[:, k, :, :] for out channels [lo, hi): 4 lanes of sums per plane, added in a fixed order.
__attribute__((export_name("conv2d_backward_bias"))) void conv2d_backward_bias(float *db, const float *dy,
                                                                               const int32_t *g, int lo, int hi) {
  int plane = g[G_OH] * g[G_OW], p4 = plane & ~3;
  for (int k = lo; k < hi; k++) {
    float total = 0.0f;
    for (int b = 0; b < g[G_N]; b++) {
      const float *d = dy + (b * g[G_K] + k) * plane;
      v128_t s = wasm_f32x4_splat(0.0f);
      for (int i = 0; i < p4; i += 4) s = wasm_f32x4_add(s, wasm_v128_load(d + i));
      float t = (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) +
                (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3));
      for (int i = p4; i < plane; i++) t += d[i];
      total += t;
    }
    db[k] = total;
  }
}
