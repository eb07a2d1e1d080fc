// SGEMM for WebAssembly SIMD: c = alpha · op(a) · op(b) + beta · c, row-major float32.
//
// The GotoBLAS / BLIS blocking (the same as src/backend/ts/gemm_fast.ts, in float32 and f32x4):
//
//   for each NC-wide block of columns          (jc)
//     for each KC-deep block of the sum        (pc)   pack op(b)[pc.., jc..] into NR-wide panels
//       for each MC-tall block of rows         (ic)   pack op(a)[ic.., pc..] into MR-tall panels
//         for each NR panel, each MR panel            micro-kernel: an MR × NR tile of c
//
// Packing makes every load in the hot loop contiguous whatever the transposes (and lets conv2d.c pack
// straight from the image: no im2col buffer). The micro-kernel keeps the 4 × 8 tile in 8 f32x4
// registers; per step of k it loads 2 vectors of b, splats 4 scalars of a and does 8 multiplies and 8
// adds (wasm SIMD has no fused multiply-add in clang 14's baseline).
//
// Napkin math, one core of this machine (x86-64, 2 SSE/AVX ports): 2 f32x4 ops per cycle = 8 flops per
// cycle (a mul and an add each count 4) ≈ 20 GFLOP/s at 2.5 GHz if V8 issued perfectly; a 4 × 8 tile
// needs 16 vector ops per 2 loads + 4 splats, so it is bound by the arithmetic, not the loads.
//
// Every element of c is summed in the same order (p ascending inside a KC block, blocks ascending)
// whatever part of c a thread computes, so splitting c across threads changes no bit.
#include <wasm_simd128.h>

#include "gemm.h"

static inline int min_int(int a, int b) { return a < b ? a : b; }

// Copies rows [i0, i0 + mc) × columns [p0, p0 + kc) of op(a) into MR-tall panels: element (r, p) at
// (r / MR) · MR · kc + p · MR + r % MR. Rows past mc (up to a multiple of MR) are zero.
static void pack_a(float *ap, const float *a, int ars, int acs, int i0, int mc, int p0, int kc) {
  for (int r0 = 0; r0 < mc; r0 += MR) {
    float *panel = ap + r0 * kc;
    int rows = min_int(MR, mc - r0);
    if (rows == MR && ars == 1) {
      // op(a) column-major (a transposed): the 4 rows of one column are contiguous.
      const float *src = a + (i0 + r0) + p0 * acs;
      for (int p = 0; p < kc; p++) wasm_v128_store(panel + p * MR, wasm_v128_load(src + p * acs));
      continue;
    }
    for (int r = 0; r < MR; r++) {
      if (r < rows) {
        const float *src = a + (i0 + r0 + r) * ars + p0 * acs;
        for (int p = 0; p < kc; p++) panel[p * MR + r] = src[p * acs];
      } else {
        for (int p = 0; p < kc; p++) panel[p * MR + r] = 0.0f;
      }
    }
  }
}

// Copies rows [p0, p0 + kc) × columns [j0, j0 + nc) of a strided op(b) into NR-wide panels: element
// (p, j) at (j / NR) · NR · kc + p · NR + j % NR. Columns past nc are zero.
static void pack_b_strided(float *bp, const float *b, int brs, int bcs, int p0, int kc, int j0, int nc) {
  for (int c0 = 0; c0 < nc; c0 += NR) {
    float *panel = bp + c0 * kc;
    int cols = min_int(NR, nc - c0);
    if (cols == NR && bcs == 1) {
      // op(b) row-major: 8 contiguous floats per row of the panel.
      const float *src = b + p0 * brs + j0 + c0;
      for (int p = 0; p < kc; p++) {
        wasm_v128_store(panel + p * NR, wasm_v128_load(src + p * brs));
        wasm_v128_store(panel + p * NR + 4, wasm_v128_load(src + p * brs + 4));
      }
      continue;
    }
    for (int j = 0; j < NR; j++) {
      if (j < cols) {
        const float *src = b + p0 * brs + (j0 + c0 + j) * bcs;
        for (int p = 0; p < kc; p++) panel[p * NR + j] = src[p * brs];
      } else {
        for (int p = 0; p < kc; p++) panel[p * NR + j] = 0.0f;
      }
    }
  }
}

// The convolution's numbers (the order of convParams in src/backend/ts/_kernels.ts).
enum { G_N, G_C, G_H, G_W, G_K, G_KH, G_KW, G_OH, G_OW, G_SH, G_SW, G_PH, G_PW, G_DH, G_DW, G_GROUPS };

// One element of im2col(x): row `row` = (channel, tap i, tap j), output position (o, q); 0 in the padding.
static inline float im2col_at(const float *x, const int32_t *g, int channel, int i, int j, int o, int q) {
  int ih = o * g[G_SH] - g[G_PH] + i * g[G_DH], iw = q * g[G_SW] - g[G_PW] + j * g[G_DW];
  if ((unsigned)ih >= (unsigned)g[G_H] || (unsigned)iw >= (unsigned)g[G_W]) return 0.0f;
  return x[(channel * g[G_H] + ih) * g[G_W] + iw];
}

// pack_b_strided's layout, with op(b) = im2col(x): rows are (channel, tap) and columns output positions.
static void pack_b_im2col(float *bp, const float *x, const int32_t *g, int p0, int kc, int j0, int nc) {
  int kh = g[G_KH], kw = g[G_KW], ow = g[G_OW], ncp = (nc + NR - 1) / NR * NR;
  for (int p = 0; p < kc; p++) {
    int row = p0 + p, channel = row / (kh * kw), i = row / kw % kh, j = row % kw;
    int o = j0 / ow, q = j0 % ow;
    for (int col = 0; col < ncp; col++) {
      float v = 0.0f;
      if (col < nc) {
        v = im2col_at(x, g, channel, i, j, o, q);
        if (++q == ow) q = 0, o++;
      }
      bp[(col / NR) * NR * kc + p * NR + col % NR] = v;
    }
  }
}

// pack_b_strided's layout, with op(b) = im2col(x)ᵀ: rows are output positions and columns (channel, tap).
static void pack_b_im2col_t(float *bp, const float *x, const int32_t *g, int p0, int kc, int j0, int nc) {
  int kh = g[G_KH], kw = g[G_KW], ow = g[G_OW], ncp = (nc + NR - 1) / NR * NR;
  for (int col = 0; col < ncp; col++) {
    float *dst = bp + (col / NR) * NR * kc + col % NR;
    if (col >= nc) {
      for (int p = 0; p < kc; p++) dst[p * NR] = 0.0f;
      continue;
    }
    int row = j0 + col, channel = row / (kh * kw), i = row / kw % kh, j = row % kw;
    int o = p0 / ow, q = p0 % ow;
    for (int p = 0; p < kc; p++) {
      dst[p * NR] = im2col_at(x, g, channel, i, j, o, q);
      if (++q == ow) q = 0, o++;
    }
  }
}

// c[0:rows, 0:cols] (row stride ldc) = alpha · ap · bp + beta · c, over kc steps; beta == 0 never reads c.
// A partial tile goes through `edge` (MR × NR floats of scratch) so that the arithmetic is the same.
static void micro_kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int rows, int cols, float alpha,
                         float beta, float *edge) {
  v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; p++, ap += MR, bp += NR) {
    v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
    v128_t a0 = wasm_v128_load32_splat(ap), a1 = wasm_v128_load32_splat(ap + 1);
    v128_t a2 = wasm_v128_load32_splat(ap + 2), a3 = wasm_v128_load32_splat(ap + 3);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0)), c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0)), c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0)), c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0)), c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
  }
  int full = rows == MR && cols == NR;
  float *out = full ? c : edge;
  int ld = full ? ldc : NR;
  if (!full && beta != 0.0f) {
    for (int r = 0; r < rows; r++)
      for (int j = 0; j < cols; j++) edge[r * NR + j] = c[r * ldc + j];
  }
  v128_t va = wasm_f32x4_splat(alpha), vb = wasm_f32x4_splat(beta);
#define CN_PUT(row, half, acc)                                                                          \
  do {                                                                                                   \
    float *at = out + (row) * ld + 4 * (half);                                                           \
    v128_t v = wasm_f32x4_mul(va, acc);                                                                  \
    if (beta != 0.0f) v = wasm_f32x4_add(v, wasm_f32x4_mul(vb, wasm_v128_load(at)));                     \
    wasm_v128_store(at, v);                                                                              \
  } while (0)
  CN_PUT(0, 0, c00);
  CN_PUT(0, 1, c01);
  CN_PUT(1, 0, c10);
  CN_PUT(1, 1, c11);
  CN_PUT(2, 0, c20);
  CN_PUT(2, 1, c21);
  CN_PUT(3, 0, c30);
  CN_PUT(3, 1, c31);
#undef CN_PUT
  if (!full) {
    for (int r = 0; r < rows; r++)
      for (int j = 0; j < cols; j++) c[r * ldc + j] = edge[r * NR + j];
  }
}

void gemm_core(float *c, int ldc, const float *a, int ars, int acs, int bsource, const float *b, int brs, int bcs,
               const int32_t *geom, int m, int n, int k, float alpha, float beta, float *scratch) {
  float *ap = scratch, *bp = scratch + MC * KC, *edge = bp + KC * NC;
  if (k == 0) { // no sum: c = beta · c
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  for (int jc = 0; jc < n; jc += NC) {
    int nc = min_int(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      int kc = min_int(KC, k - pc);
      float beta_here = pc == 0 ? beta : 1.0f; // later blocks add to what the first wrote
      if (bsource == B_IM2COL) pack_b_im2col(bp, b, geom, pc, kc, jc, nc);
      else if (bsource == B_IM2COL_T) pack_b_im2col_t(bp, b, geom, pc, kc, jc, nc);
      else pack_b_strided(bp, b, brs, bcs, pc, kc, jc, nc);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = min_int(MC, m - ic);
        pack_a(ap, a, ars, acs, ic, mc, pc, kc);
        for (int jr = 0; jr < nc; jr += NR) {
          for (int ir = 0; ir < mc; ir += MR) {
            micro_kernel(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, min_int(MR, mc - ir),
                         min_int(NR, nc - jr), alpha, beta_here, edge);
          }
        }
      }
    }
  }
}

// Scratch floats one thread needs for gemm_f32 (the TypeScript side allocates it per call).
__attribute__((export_name("gemm_scratch_floats"))) int gemm_scratch_floats(void) { return GEMM_SCRATCH_FLOATS; }

// Widest c that the dot loop takes (a · bᵀ with few columns: the seed's 3136 → 10 linear layer forward).
#define DOT_MAX_N 16

static inline float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// c[i, j] = alpha · Σ_p a[i, p] · b[j, p] + beta · c[i, j] for rows [i0, i1) and columns [j0, j1): each
// output a dot product of two contiguous rows, 2 rows × 4 columns at a time (8 f32x4 sums, 6 loads per
// 8 multiply-adds), straight from the operands: packing would cost as much as the product. Past the
// edge, rows and columns repeat the last one and their sums are dropped.
static void dot_loop(float *c, const float *a, const float *b, int n, int k, float alpha, float beta, int i0, int i1,
                     int j0, int j1) {
  int k4 = k & ~3;
  for (int i = i0; i < i1; i += 2) {
    const float *x0 = a + i * k, *x1 = a + min_int(i + 1, i1 - 1) * k;
    for (int j = j0; j < j1; j += 4) {
      const float *y0 = b + j * k, *y1 = b + min_int(j + 1, j1 - 1) * k;
      const float *y2 = b + min_int(j + 2, j1 - 1) * k, *y3 = b + min_int(j + 3, j1 - 1) * k;
      v128_t s00 = wasm_f32x4_splat(0.0f), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00,
             s13 = s00;
      for (int p = 0; p < k4; p += 4) {
        v128_t u0 = wasm_v128_load(x0 + p), u1 = wasm_v128_load(x1 + p);
        v128_t v0 = wasm_v128_load(y0 + p), v1 = wasm_v128_load(y1 + p);
        v128_t v2 = wasm_v128_load(y2 + p), v3 = wasm_v128_load(y3 + p);
        s00 = wasm_f32x4_add(s00, wasm_f32x4_mul(u0, v0)), s01 = wasm_f32x4_add(s01, wasm_f32x4_mul(u0, v1));
        s02 = wasm_f32x4_add(s02, wasm_f32x4_mul(u0, v2)), s03 = wasm_f32x4_add(s03, wasm_f32x4_mul(u0, v3));
        s10 = wasm_f32x4_add(s10, wasm_f32x4_mul(u1, v0)), s11 = wasm_f32x4_add(s11, wasm_f32x4_mul(u1, v1));
        s12 = wasm_f32x4_add(s12, wasm_f32x4_mul(u1, v2)), s13 = wasm_f32x4_add(s13, wasm_f32x4_mul(u1, v3));
      }
      float t00 = hsum(s00), t01 = hsum(s01), t02 = hsum(s02), t03 = hsum(s03);
      float t10 = hsum(s10), t11 = hsum(s11), t12 = hsum(s12), t13 = hsum(s13);
      for (int p = k4; p < k; p++) {
        t00 += x0[p] * y0[p], t01 += x0[p] * y1[p], t02 += x0[p] * y2[p], t03 += x0[p] * y3[p];
        t10 += x1[p] * y0[p], t11 += x1[p] * y1[p], t12 += x1[p] * y2[p], t13 += x1[p] * y3[p];
      }
      int cols = min_int(4, j1 - j);
      for (int r = 0; r < 2 && i + r < i1; r++) {
        float *row = c + (i + r) * n + j;
        for (int q = 0; q < cols; q++) {
          float t = r == 0 ? (q == 0 ? t00 : q == 1 ? t01 : q == 2 ? t02 : t03)
                           : (q == 0 ? t10 : q == 1 ? t11 : q == 2 ? t12 : t13);
          row[q] = beta == 0.0f ? alpha * t : alpha * t + beta * row[q];
        }
      }
    }
  }
}

// Rows [i0, i1) × columns [j0, j1) of c[m × n] = alpha · op(a) · op(b) + beta · c, where a is [m × k]
// (or [k × m] when trans_a) and b is [k × n] (or [n × k] when trans_b). The loop is picked from the
// whole product's shape (never the part's), so a split changes no sum.
__attribute__((export_name("gemm_f32"))) void gemm_f32(float *c, const float *a, const float *b, int m, int n, int k,
                                                       int trans_a, int trans_b, float alpha, float beta, int i0,
                                                       int i1, int j0, int j1, float *scratch) {
  int ars = trans_a ? 1 : k, acs = trans_a ? m : 1;
  int brs = trans_b ? 1 : n, bcs = trans_b ? k : 1;
  if (i1 <= i0 || j1 <= j0) return;
  if (trans_b && !trans_a && n <= DOT_MAX_N && k > 0) {
    dot_loop(c, a, b, n, k, alpha, beta, i0, i1, j0, j1);
    return;
  }
  gemm_core(c + i0 * n + j0, n, a + i0 * ars, ars, acs, B_STRIDED, b + j0 * bcs, brs, bcs, 0, i1 - i0, j1 - j0, k,
            alpha, beta, scratch);
}
