/**
 * Elementwise primitives on the CPU: unary, binary with broadcasting, tensor-number ops and
 * `where`, each element computed by the ops table's function (float32 rounding on store).
 * Comparisons write int32 0/1, so their `out` is an Int32Array whatever the operands are.
 *
 * @module
 */
import type { BinaryOp, Broadcast, ScalarOp, UnaryOp, WhereLayout } from "../backend.ts";
import { BINARY_FNS, COMPARISONS, SCALAR_FNS, UNARY_FNS } from "../_ops_table.ts";
import type { NumArray, TsStorage } from "./_types.ts";
import { checkLength, dtypeOf, numeric } from "./storage.ts";
import { checkReach, contiguousStrides, forEachRow, plan } from "./_walk.ts";

/** Fails unless a comparison writes into int32 storage. */
function checkOut(op: string, comparison: boolean, out: NumArray): void {
  if (comparison && !(out instanceof Int32Array)) {
    throw new Error(`${op}: a comparison writes int32 0/1, but out is ${dtypeOf(out)} storage`);
  }
}

/** `out = op(x)`. */
export function unary(op: UnaryOp, out: TsStorage, x: TsStorage, size: number): void {
  const name = `unary ${op}`;
  const o = numeric(name, out), xs = numeric(name, x);
  checkLength(name, "x", xs, size);
  checkLength(name, "out", o, size);
  if (op === "relu") {
    // The hot one in training: an inlined loop (NaN stays NaN, as in PyTorch).
    for (let i = 0; i < size; i++) o[i] = xs[i] > 0 || xs[i] !== xs[i] ? xs[i] : 0;
    return;
  }
  const f = UNARY_FNS[op];
  if (!f) throw new Error(`unary: unknown op ${JSON.stringify(op)}; expected one of ${Object.keys(UNARY_FNS)}`);
  for (let i = 0; i < size; i++) o[i] = f(xs[i]);
}

/** `out = op(x, s)`. */
export function scalar(op: ScalarOp, out: TsStorage, x: TsStorage, s: number, size: number): void {
  const name = `scalar ${op}`;
  const o = numeric(name, out), xs = numeric(name, x);
  const f = SCALAR_FNS[op];
  if (!f) throw new Error(`scalar: unknown op ${JSON.stringify(op)}; expected one of ${Object.keys(SCALAR_FNS)}`);
  checkOut(name, COMPARISONS.has(op), o);
  checkLength(name, "x", xs, size);
  checkLength(name, "out", o, size);
  for (let i = 0; i < size; i++) o[i] = f(xs[i], s);
}

/** `out = op(a, b)`, walking the output in order with each operand's broadcast strides. */
export function binary(op: BinaryOp, out: TsStorage, a: TsStorage, b: TsStorage, bc: Broadcast): void {
  const name = `binary ${op}`;
  const o = numeric(name, out), as = numeric(name, a), bs = numeric(name, b);
  const f = BINARY_FNS[op];
  if (!f) throw new Error(`binary: unknown op ${JSON.stringify(op)}; expected one of ${Object.keys(BINARY_FNS)}`);
  checkOut(name, COMPARISONS.has(op), o);
  const { shape } = bc;
  const outStrides = contiguousStrides(shape);
  checkReach(name, "out", o.length, { shape, strides: outStrides, offset: 0 });
  checkReach(name, "a", as.length, { shape, strides: bc.aStrides, offset: 0 });
  checkReach(name, "b", bs.length, { shape, strides: bc.bStrides, offset: 0 });
  const w = plan(shape, [outStrides, bc.aStrides, bc.bStrides]);
  const [, sa, sb] = w.step; // out is dense: its rows are contiguous
  if (w.outer.length === 0 && sa === 1 && sb === 1) {
    // Same shapes, no broadcasting: one flat loop.
    for (let i = 0; i < w.size; i++) o[i] = f(as[i], bs[i]);
    return;
  }
  const n = w.count;
  forEachRow(w, [0, 0, 0], (io, ia, ib) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = f(as[ia], bs[ib]);
  });
}

/** `out = cond ? a : b` with broadcasting; `cond` is int32, `a`, `b` and `out` share a dtype. */
export function where(out: TsStorage, cond: TsStorage, a: TsStorage, b: TsStorage, layout: WhereLayout): void {
  const o = numeric("where", out), as = numeric("where", a), bs = numeric("where", b);
  if (!(cond instanceof Int32Array)) {
    throw new Error(`where: cond must be int32 storage (non-zero = true), got ${dtypeOf(cond)}`);
  }
  for (const [label, s] of [["a", as], ["b", bs]] as const) {
    if (dtypeOf(s) !== dtypeOf(o)) {
      throw new Error(`where: ${label} is ${dtypeOf(s)} storage but out is ${dtypeOf(o)}; expected the same dtype`);
    }
  }
  const { shape } = layout;
  const outStrides = contiguousStrides(shape);
  checkReach("where", "out", o.length, { shape, strides: outStrides, offset: 0 });
  checkReach("where", "cond", cond.length, { shape, strides: layout.condStrides, offset: 0 });
  checkReach("where", "a", as.length, { shape, strides: layout.aStrides, offset: 0 });
  checkReach("where", "b", bs.length, { shape, strides: layout.bStrides, offset: 0 });
  const w = plan(shape, [outStrides, layout.condStrides, layout.aStrides, layout.bStrides]);
  const [, sc, sa, sb] = w.step, n = w.count; // out is dense: its rows are contiguous
  forEachRow(w, [0, 0, 0, 0], (io, ic, ia, ib) => {
    for (let j = 0; j < n; j++, ic += sc, ia += sa, ib += sb) o[io + j] = cond[ic] !== 0 ? as[ia] : bs[ib];
  });
}
