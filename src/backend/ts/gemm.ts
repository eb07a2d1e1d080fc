/**
 * Matrix multiply on the CPU: `c = alpha · op(a) · op(b) + beta · c`.
 *
 * Each output row is accumulated in a float64 scratch row, in an order that reads
 * `b` row by row (contiguous) whatever the transposes are, then written once.
 *
 * @module
 */
import type { FloatArray } from "./_types.ts";

/** Sizes and flags of one GEMM call; see `Backend.gemm`. */
export interface GemmOptions {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
}

let scratch = new Float64Array(0);

/** `c = alpha · op(a) · op(b) + beta · c`, `c` is [m, n]. */
export function gemm(c: FloatArray, a: FloatArray, b: FloatArray, o: GemmOptions): void {
  const { m, n, k, transA, transB, alpha, beta } = o;
  if (scratch.length < n) scratch = new Float64Array(n);
  const row = scratch;
  for (let i = 0; i < m; i++) {
    if (transB) {
      // c[i, j] = Σ_p a(i, p) · b[j, p]: dot products of contiguous rows of b.
      for (let j = 0; j < n; j++) {
        let s = 0;
        const bOff = j * k;
        if (transA) { for (let p = 0; p < k; p++) s += a[p * m + i] * b[bOff + p]; }
        else {
          const aOff = i * k;
          for (let p = 0; p < k; p++) s += a[aOff + p] * b[bOff + p];
        }
        row[j] = s;
      }
    } else {
      // c[i, :] = Σ_p a(i, p) · b[p, :]: axpy over contiguous rows of b.
      row.fill(0, 0, n);
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        if (av === 0) continue;
        const bOff = p * n;
        for (let j = 0; j < n; j++) row[j] += av * b[bOff + j];
      }
    }
    const cOff = i * n;
    if (beta === 0) { for (let j = 0; j < n; j++) c[cOff + j] = alpha * row[j]; }
    else for (let j = 0; j < n; j++) c[cOff + j] = alpha * row[j] + beta * c[cOff + j];
  }
}
