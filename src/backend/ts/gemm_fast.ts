/**
 * The fast GEMM: `c = alpha · op(a) · op(b) + beta · c` on float32, accumulated in float64.
 *
 * Three loops, picked by the shape of the whole product (never by the part a thread
 * computes, so a split does not change any sum):
 *
 * - **packed** (the general case): the classic GotoBLAS / BLIS layout in plain TypeScript.
 *   Blocks of op(a) and op(b) are copied into float64 panels 4 rows (or columns) wide, so
 *   the transposes cost nothing in the hot loop and every load is a contiguous float64; a
 *   4×4 micro-kernel keeps 16 sums in locals and does 16 multiply-adds per 8 loads. V8
 *   issues about two float64 operations per cycle, so the ceiling is about 5 GFLOP/s per
 *   core at 2.6 GHz; this reaches about 4.5 on 512³ (the plain rows of gemm.ts: 2.2).
 * - **dot** (`a · bᵀ` with few columns, e.g. the 3136 → 10 linear layer forward): each
 *   output is a dot product of two contiguous rows; 2 × 5 of them at a time, straight
 *   from float32 (packing would cost as much as the product). 3.9 GFLOP/s against 2.4 packed.
 * - **rows** (op(b) not transposed and a short k, e.g. the same layer's two gradients):
 *   each row of c is a combination of k contiguous rows of b, 4 at a time, 2 rows of c at
 *   once into float64 rows. 3.3–4.2 GFLOP/s against 2.3–3.1 packed.
 *
 * @module
 */
import type { GemmOptions } from "./gemm.ts";

/** Depth of one packed block: 4-wide panels of 256 float64 take 8 KiB, well inside L1. */
const KC = 256;
/** Rows of op(a) packed at once (64 × 256 float64 = 128 KiB, in L2). */
const MC = 64;
/** Columns of op(b) packed at once (512 × 256 float64 = 1 MiB). */
const NC = 512;

let aPack: Float64Array = new Float64Array(0);
let bPack: Float64Array = new Float64Array(0);
let acc: Float64Array = new Float64Array(0);

function grown(buf: Float64Array, size: number): Float64Array {
  return buf.length >= size ? buf : new Float64Array(size);
}

/** Widest op(b)ᵀ that the dot loop takes. */
const DOT_MAX_N = 16;
/** Deepest k that the rows loop takes. */
const ROWS_MAX_K = 64;

/**
 * Rows [i0, i1) × columns [j0, j1) of `c = alpha · op(a) · op(b) + beta · c`. `c` may be a
 * Float64Array (an accumulator; then `beta = 1` adds the product to it).
 */
export function gemmBlock(
  c: Float32Array | Float64Array,
  a: Float32Array,
  b: Float32Array,
  o: GemmOptions,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): void {
  if (o.transB && !o.transA && o.n <= DOT_MAX_N) dotLoop(c, a, b, o, i0, i1, j0, j1);
  else if (!o.transB && o.k <= ROWS_MAX_K) rowsLoop(c, a, b, o, i0, i1, j0, j1);
  else packedLoop(c, a, b, o, i0, i1, j0, j1);
}

/** The packed loop of {@linkcode gemmBlock}. */
function packedLoop(
  c: Float32Array | Float64Array,
  a: Float32Array,
  b: Float32Array,
  o: GemmOptions,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): void {
  const { m, n, k, transA, transB, alpha, beta } = o;
  // op(a)(i, p) = a[i * sai + p * sap]; op(b)(p, j) = b[p * sbp + j * sbj].
  const sai = transA ? 1 : k, sap = transA ? m : 1;
  const sbp = transB ? 1 : n, sbj = transB ? k : 1;
  for (let ib = i0; ib < i1; ib += MC) {
    const mb = Math.min(MC, i1 - ib), mp = (mb + 3) & ~3;
    for (let jb = j0; jb < j1; jb += NC) {
      const nb = Math.min(NC, j1 - jb), np = (nb + 3) & ~3;
      acc = grown(acc, mp * np);
      acc.fill(0, 0, mp * np);
      for (let p0 = 0; p0 < k; p0 += KC) {
        const kc = Math.min(KC, k - p0);
        aPack = grown(aPack, mp * kc);
        bPack = grown(bPack, np * kc);
        // Panel r holds rows 4r..4r+3, element (i, p) at r·4·kc + 4p + i%4; padding rows are 0.
        packPanels(aPack, a, ib, mb, mp, p0, kc, sai, sap);
        packPanels(bPack, b, jb, nb, np, p0, kc, sbj, sbp);
        microKernels(acc, aPack, bPack, mp, np, kc);
      }
      for (let i = 0; i < mb; i++) {
        const co = (ib + i) * n + jb, ao = i * np;
        if (beta === 0) { for (let j = 0; j < nb; j++) c[co + j] = alpha * acc[ao + j]; }
        else for (let j = 0; j < nb; j++) c[co + j] = alpha * acc[ao + j] + beta * c[co + j];
      }
    }
  }
}

/** The whole of `c` (see {@linkcode gemmBlock}). */
export function gemm(c: Float32Array, a: Float32Array, b: Float32Array, o: GemmOptions): void {
  gemmBlock(c, a, b, o, 0, o.m, 0, o.n);
}

/** Copies `rows` rows (from `r0`, stride `sr`) × `kc` columns (from `p0`, stride `sp`) into 4-row panels. */
function packPanels(
  out: Float64Array,
  src: Float32Array,
  r0: number,
  rows: number,
  padded: number,
  p0: number,
  kc: number,
  sr: number,
  sp: number,
): void {
  for (let r = 0; r < padded; r++) {
    const base = (r >> 2) * 4 * kc + (r & 3);
    if (r < rows) {
      let s = (r0 + r) * sr + p0 * sp;
      for (let p = 0, d = base; p < kc; p++, d += 4, s += sp) out[d] = src[s];
    } else for (let p = 0, d = base; p < kc; p++, d += 4) out[d] = 0;
  }
}

/** `acc[mp × np] += aPack · bPack` in 4×4 tiles; 16 sums stay in locals across the kc loop. */
function microKernels(acc: Float64Array, ap: Float64Array, bp: Float64Array, mp: number, np: number, kc: number): void {
  for (let ir = 0; ir < mp; ir += 4) {
    const aBase = ir * kc;
    for (let jr = 0; jr < np; jr += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0, ai = aBase, bi = jr * kc; p < kc; p++, ai += 4, bi += 4) {
        const a0 = ap[ai], a1 = ap[ai + 1], a2 = ap[ai + 2], a3 = ap[ai + 3];
        const b0 = bp[bi], b1 = bp[bi + 1], b2 = bp[bi + 2], b3 = bp[bi + 3];
        c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
        c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
        c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
        c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
      }
      let o = ir * np + jr;
      acc[o] += c00, acc[o + 1] += c01, acc[o + 2] += c02, acc[o + 3] += c03, o += np;
      acc[o] += c10, acc[o + 1] += c11, acc[o + 2] += c12, acc[o + 3] += c13, o += np;
      acc[o] += c20, acc[o + 1] += c21, acc[o + 2] += c22, acc[o + 3] += c23, o += np;
      acc[o] += c30, acc[o + 1] += c31, acc[o + 2] += c32, acc[o + 3] += c33;
    }
  }
}

/** Writes `c[i, j] = alpha · s + beta · c[i, j]`. */
function put(c: Float32Array | Float64Array, i: number, s: number, alpha: number, beta: number): void {
  c[i] = beta === 0 ? alpha * s : alpha * s + beta * c[i];
}

/** The dot loop of {@linkcode gemmBlock}: `c[i, j] = Σ_p a[i, p] · b[j, p]`, 2 rows × 5 columns at a time. */
function dotLoop(
  c: Float32Array | Float64Array,
  a: Float32Array,
  b: Float32Array,
  o: GemmOptions,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): void {
  const { n, k, alpha, beta } = o;
  for (let i = i0; i < i1; i += 2) {
    // Past the edge, rows and columns repeat the last one; their sums are dropped.
    const a0 = i * k, a1 = Math.min(i + 1, i1 - 1) * k;
    for (let j = j0; j < j1; j += 5) {
      const last = j1 - 1;
      const b0 = j * k, b1 = Math.min(j + 1, last) * k, b2 = Math.min(j + 2, last) * k;
      const b3 = Math.min(j + 3, last) * k, b4 = Math.min(j + 4, last) * k;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s04 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0, s14 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = a[a0 + p], x1 = a[a1 + p];
        const w0 = b[b0 + p], w1 = b[b1 + p], w2 = b[b2 + p], w3 = b[b3 + p], w4 = b[b4 + p];
        s00 += x0 * w0, s01 += x0 * w1, s02 += x0 * w2, s03 += x0 * w3, s04 += x0 * w4;
        s10 += x1 * w0, s11 += x1 * w1, s12 += x1 * w2, s13 += x1 * w3, s14 += x1 * w4;
      }
      const cols = Math.min(5, j1 - j), r0 = i * n + j, r1 = r0 + n;
      put(c, r0, s00, alpha, beta);
      if (cols > 1) put(c, r0 + 1, s01, alpha, beta);
      if (cols > 2) put(c, r0 + 2, s02, alpha, beta);
      if (cols > 3) put(c, r0 + 3, s03, alpha, beta);
      if (cols > 4) put(c, r0 + 4, s04, alpha, beta);
      if (i + 1 >= i1) continue;
      put(c, r1, s10, alpha, beta);
      if (cols > 1) put(c, r1 + 1, s11, alpha, beta);
      if (cols > 2) put(c, r1 + 2, s12, alpha, beta);
      if (cols > 3) put(c, r1 + 3, s13, alpha, beta);
      if (cols > 4) put(c, r1 + 4, s14, alpha, beta);
    }
  }
}

let rowsAcc: Float64Array = new Float64Array(0);

/**
 * The rows loop of {@linkcode gemmBlock}: `c[i, :] = Σ_p op(a)(i, p) · b[p, :]`, 2 rows of c
 * at once, 4 rows of b per sweep, into float64 rows.
 */
function rowsLoop(
  c: Float32Array | Float64Array,
  a: Float32Array,
  b: Float32Array,
  o: GemmOptions,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): void {
  const { m, n, k, transA, alpha, beta } = o;
  const sai = transA ? 1 : k, sap = transA ? m : 1; // op(a)(i, p) = a[i * sai + p * sap]
  const w = j1 - j0;
  if (rowsAcc.length < 2 * w) rowsAcc = new Float64Array(2 * w);
  const acc = rowsAcc;
  for (let i = i0; i < i1; i += 2) {
    const i2 = Math.min(i + 1, i1 - 1); // past the edge: repeat the last row, drop its sums
    acc.fill(0, 0, 2 * w);
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const x = i * sai + p * sap, y = i2 * sai + p * sap;
      const a00 = a[x], a01 = a[x + sap], a02 = a[x + 2 * sap], a03 = a[x + 3 * sap];
      const a10 = a[y], a11 = a[y + sap], a12 = a[y + 2 * sap], a13 = a[y + 3 * sap];
      const o0 = p * n + j0, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
      for (let j = 0; j < w; j++) {
        const b0 = b[o0 + j], b1 = b[o1 + j], b2 = b[o2 + j], b3 = b[o3 + j];
        acc[j] += a00 * b0 + a01 * b1 + a02 * b2 + a03 * b3;
        acc[w + j] += a10 * b0 + a11 * b1 + a12 * b2 + a13 * b3;
      }
    }
    for (; p < k; p++) {
      const a0 = a[i * sai + p * sap], a1 = a[i2 * sai + p * sap], ob = p * n + j0;
      for (let j = 0; j < w; j++) {
        const bv = b[ob + j];
        acc[j] += a0 * bv;
        acc[w + j] += a1 * bv;
      }
    }
    const r0 = i * n + j0, r1 = r0 + n;
    if (beta === 0) { for (let j = 0; j < w; j++) c[r0 + j] = alpha * acc[j]; }
    else for (let j = 0; j < w; j++) c[r0 + j] = alpha * acc[j] + beta * c[r0 + j];
    if (i + 1 >= i1) continue;
    if (beta === 0) { for (let j = 0; j < w; j++) c[r1 + j] = alpha * acc[w + j]; }
    else for (let j = 0; j < w; j++) c[r1 + j] = alpha * acc[w + j] + beta * c[r1 + j];
  }
}
