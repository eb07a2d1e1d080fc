// The blocked SGEMM core shared by gemm.c and conv2d.c (see gemm.c for the blocking and the napkin math).
//
// Rules every kernel here follows, because every thread instantiates the module on one shared memory:
// - no C globals and no static data (they would live in the shared memory, written by all threads);
// - nothing on the shadow stack (no local arrays, no address-taken locals): every instance starts its
//   stack pointer at the same address; per-thread memory comes in as `scratch`, owned by one thread.
// scripts/build_wasm.ts checks both on the compiled module (no data segment, __stack_pointer unused).
#ifndef CN_WASM_GEMM_H
#define CN_WASM_GEMM_H

#include <stdint.h>

// Micro-tile: MR rows × NR columns of c held in 8 f32x4 registers across the k loop.
#define MR 4
#define NR 8
// Depth of one packed block: an NR-wide panel of B is KC × 8 floats = 8 KiB (L1).
#define KC 256
// Rows of op(a) packed at once: MC × KC floats = 64 KiB (L2).
#define MC 64
// Columns of op(b) packed at once: KC × NC floats = 1 MiB (L2/L3).
#define NC 1024

// Floats of scratch one call of gemm_core needs: the A block, the B block and one edge tile.
#define GEMM_SCRATCH_FLOATS (MC * KC + KC * NC + MR * NR)

// Where op(b) comes from.
enum BSource {
  B_STRIDED = 0, // op(b)(p, j) = b[p * brs + j * bcs]
  B_IM2COL = 1,  // op(b)(p, j) = im2col(x)[p][j]: p = (channel, tap row, tap column), j = output position
  B_IM2COL_T = 2 // op(b)(p, j) = im2col(x)[j][p]: the transpose
};

// c[i * ldc + j] = alpha · Σ_p op(a)(i, p) · op(b)(p, j) + beta · c[i * ldc + j] for i < m, j < n, where
// op(a)(i, p) = a[i * ars + p * acs]. beta == 0 never reads c. For the im2col sources, b is the first
// channel of one sample (and group) and geom the convolution's 16 numbers (see conv2d.c).
void gemm_core(float *c, int ldc, const float *a, int ars, int acs, int bsource, const float *b, int brs, int bcs,
               const int32_t *geom, int m, int n, int k, float alpha, float beta, float *scratch);

#endif
