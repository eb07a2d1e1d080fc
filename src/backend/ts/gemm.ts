/**
 * Matrix multiply on the CPU: `c = alpha · op(a) · op(b) + beta · c`, `batch` times.
 *
 * Each output row is accumulated in a float64 scratch row, in an order that reads
 * `b` row by row (contiguous) whatever the transposes are, then written once.
 *
 * @module
 */
import type { GemmOptions } from "../backend.ts";
import type { FloatArray, TsStorage } from "./_types.ts";
import { checkLength, numeric } from "./storage.ts";

export type { GemmOptions } from "../backend.ts";

/** Where the matrices of one batch entry start: a stride per operand (0 = the same matrix every time). */
export interface GemmBatch {
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** The batch layout of `o` with its defaults, after checking that every matrix lies inside its storage. */
export function gemmBatch(c: TsStorage, a: TsStorage, b: TsStorage, o: GemmOptions): GemmBatch {
  const { m, n, k } = o;
  for (const [name, v] of [["m", m], ["n", n], ["k", k]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`gemm: ${name} = ${v}; expected a non-negative integer`);
  }
  for (const s of [c, a, b]) numeric("gemm", s);
  const batch = o.batch ?? 1;
  const layout = { batch, strideA: o.strideA ?? m * k, strideB: o.strideB ?? k * n, strideC: o.strideC ?? m * n };
  if (!Number.isInteger(batch) || batch < 0) throw new Error(`gemm: batch = ${batch}; expected a non-negative integer`);
  const operands = [["a", a, layout.strideA, m * k], ["b", b, layout.strideB, k * n], ["c", c, layout.strideC, m * n]];
  for (const [name, s, stride, size] of operands as [string, TsStorage, number, number][]) {
    if (batch === 0 || size === 0) continue;
    checkLength("gemm", `${name} (${batch} matrices of ${size}, ${stride} apart)`, s, (batch - 1) * stride + size);
  }
  return layout;
}

/** `c = alpha · op(a) · op(b) + beta · c` for every batch entry (see `Backend.gemm`). */
export function gemm(c: TsStorage, a: TsStorage, b: TsStorage, o: GemmOptions): void {
  const { batch, strideA, strideB, strideC } = gemmBatch(c, a, b, o);
  const { m, n, k } = o;
  for (let t = 0; t < batch; t++) {
    const at = (s: TsStorage, stride: number, size: number) =>
      (s as FloatArray).subarray(t * stride, t * stride + size);
    gemmOne(at(c, strideC, m * n), at(a, strideA, m * k), at(b, strideB, k * n), o);
  }
}

let scratch = new Float64Array(0);

/** One product: `c = alpha · op(a) · op(b) + beta · c`, `c` is [m, n]. */
function gemmOne(c: FloatArray, a: FloatArray, b: FloatArray, o: GemmOptions): void {
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
