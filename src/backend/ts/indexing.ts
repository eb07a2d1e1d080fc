/**
 * Moving elements by position on the CPU: strided copies (views, transposes, slices,
 * concatenation, broadcasting), and gather / scatter-add along one axis.
 *
 * @module
 */
import type { AxisGeometry, StridedCopy } from "../backend.ts";
import type { TsStorage } from "./_types.ts";
import { checkLength, dtypeOf, numeric } from "./storage.ts";
import { checkReach, forEachRow, plan } from "./_walk.ts";

/** Element access shared by number and bigint storage (a copy moves values without looking at them). */
type Cells = { [i: number]: number | bigint };

/** Rows at least this long are copied with `set` (a subarray per row costs more than a short loop). */
const BLOCK_COPY = 64;

/**
 * `out[outOffset + Σ i_d·outStrides_d] (+)= x[xOffset + Σ i_d·xStrides_d]` over `layout.shape`.
 * int64 storage may be copied but not accumulated.
 */
export function copyStrided(out: TsStorage, x: TsStorage, layout: StridedCopy): void {
  const { shape, outStrides, outOffset, xStrides, xOffset } = layout;
  const accumulate = layout.accumulate ?? false;
  if (dtypeOf(x) !== dtypeOf(out)) {
    throw new Error(`copyStrided: x is ${dtypeOf(x)} storage but out is ${dtypeOf(out)}; expected the same dtype`);
  }
  if (accumulate) numeric("copyStrided (accumulate)", out);
  checkReach("copyStrided", "out", out.length, { shape, strides: outStrides, offset: outOffset });
  checkReach("copyStrided", "x", x.length, { shape, strides: xStrides, offset: xOffset });
  const w = plan(shape, [outStrides, xStrides]);
  const [so, sx] = w.step, n = w.count;
  if (accumulate) {
    const o = out as Float32Array, xs = x as Float32Array; // number storage (checked above)
    forEachRow(w, [outOffset, xOffset], (io, ix) => {
      for (let j = 0; j < n; j++, io += so, ix += sx) o[io] += xs[ix];
    });
  } else if (so === 1 && sx === 1 && n >= BLOCK_COPY) {
    const o = out as Float32Array, xs = x as Float32Array; // the same type: set copies raw elements
    forEachRow(w, [outOffset, xOffset], (io, ix) => o.set(xs.subarray(ix, ix + n), io));
  } else {
    const o = out as Cells, xs = x as Cells;
    forEachRow(w, [outOffset, xOffset], (io, ix) => {
      for (let j = 0; j < n; j++, io += so, ix += sx) o[io] = xs[ix];
    });
  }
}

/**
 * Fails unless every index lies in [0, n): the message names the op, the first bad index's
 * position and value, and the valid range.
 */
function checkIndices(op: string, index: TsStorage, geom: AxisGeometry): Int32Array {
  if (!(index instanceof Int32Array)) {
    throw new Error(`${op}: index must be int32 storage, got ${dtypeOf(index)}`);
  }
  const { outer, n, m, inner } = geom;
  for (const [k, v] of Object.entries(geom)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: geometry ${k} = ${v}; expected a non-negative integer`);
  }
  const count = outer * m * inner;
  checkLength(op, "index", index, count);
  for (let p = 0; p < count; p++) {
    const v = index[p];
    if (v < 0 || v >= n) {
      const a = Math.floor(p / (m * inner)), j = Math.floor(p / inner) % m, i = p % inner;
      throw new Error(
        `${op}: index ${v} at position ${p} (outer ${a}, ${j} along the axis, inner ${i}) is out of range; ` +
          `expected a value in [0, ${n})`,
      );
    }
  }
  return index;
}

/** `out[o, j, i] = x[o, index[o, j, i], i]`; every index is checked before anything is written. */
export function gather(out: TsStorage, x: TsStorage, index: TsStorage, geom: AxisGeometry): void {
  const o = numeric("gather", out), xs = numeric("gather", x);
  const idx = checkIndices("gather", index, geom);
  const { outer, n, m, inner } = geom;
  checkLength("gather", "x", xs, outer * n * inner);
  checkLength("gather", "out", o, outer * m * inner);
  for (let a = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      const row = (a * m + j) * inner;
      for (let i = 0; i < inner; i++) o[row + i] = xs[(a * n + idx[row + i]) * inner + i];
    }
  }
}

/** `out[o, index[o, j, i], i] += src[o, j, i]`, j ascending; every index is checked before anything is added. */
export function scatterAdd(out: TsStorage, src: TsStorage, index: TsStorage, geom: AxisGeometry): void {
  const o = numeric("scatterAdd", out), s = numeric("scatterAdd", src);
  const idx = checkIndices("scatterAdd", index, geom);
  const { outer, n, m, inner } = geom;
  checkLength("scatterAdd", "src", s, outer * m * inner);
  checkLength("scatterAdd", "out", o, outer * n * inner);
  for (let a = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      const row = (a * m + j) * inner;
      for (let i = 0; i < inner; i++) o[(a * n + idx[row + i]) * inner + i] += s[row + i];
    }
  }
}
