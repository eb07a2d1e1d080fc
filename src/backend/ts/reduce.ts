/**
 * Reductions over the middle axis of [outer, n, inner] on the CPU.
 *
 * Sums accumulate in float64 from j = 0 up. max/min keep the first extreme, and a NaN wins
 * (the first NaN), as in PyTorch; argmax/argmin write that element's position as int32.
 *
 * @module
 */
import type { ReduceOp } from "../backend.ts";
import { REDUCE_OPS } from "../_ops_table.ts";
import type { TsStorage } from "./_types.ts";
import { checkLength, dtypeOf, numeric } from "./storage.ts";

/** Reduces [outer, n, inner] over n into [outer, inner]. */
export function reduce(op: ReduceOp, out: TsStorage, x: TsStorage, outer: number, n: number, inner: number): void {
  const name = `reduce ${op}`;
  const o = numeric(name, out), xs = numeric(name, x);
  if (!(op in REDUCE_OPS)) {
    throw new Error(`reduce: unknown op ${JSON.stringify(op)}; expected one of ${Object.keys(REDUCE_OPS)}`);
  }
  const index = op === "argmax" || op === "argmin";
  if (index && !(o instanceof Int32Array)) {
    throw new Error(`${name}: writes int32 positions, but out is ${dtypeOf(o)} storage`);
  }
  checkLength(name, "x", xs, outer * n * inner);
  checkLength(name, "out", o, outer * inner);
  if (op === "sum") {
    for (let a = 0; a < outer; a++) {
      for (let i = 0; i < inner; i++) {
        const base = a * n * inner + i;
        let s = 0;
        for (let j = 0; j < n; j++) s += xs[base + j * inner];
        o[a * inner + i] = s;
      }
    }
    return;
  }
  const max = op === "max" || op === "argmax";
  for (let a = 0; a < outer; a++) {
    for (let i = 0; i < inner; i++) {
      const base = a * n * inner + i;
      let best = max ? -Infinity : Infinity, at = 0;
      for (let j = 0; j < n; j++) {
        const v = xs[base + j * inner];
        if (max ? v > best : v < best) {
          best = v;
          at = j;
        } else if (v !== v && best === best) {
          best = v;
          at = j;
        }
      }
      o[a * inner + i] = index ? at : best;
    }
  }
}
