/**
 * Elementwise ops, broadcasting and reductions on the CPU.
 *
 * @module
 */
import type { BinaryOp, Broadcast, ReduceOp, ScalarOp, UnaryOp } from "../backend.ts";
import type { TsStorage } from "./_types.ts";

const unaryFns: Record<UnaryOp, (v: number) => number> = {
  neg: (v) => -v,
  exp: Math.exp,
  log: Math.log,
  relu: (v) => (v > 0 ? v : Number.isNaN(v) ? v : 0),
  sqrt: Math.sqrt,
  abs: Math.abs,
};

const binaryFns: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  eq: (a, b) => (a === b ? 1 : 0),
  reluGrad: (a, b) => (b > 0 ? a : 0),
};

const scalarFns: Record<ScalarOp, (x: number, s: number) => number> = {
  add: (x, s) => x + s,
  sub: (x, s) => x - s,
  rsub: (x, s) => s - x,
  mul: (x, s) => x * s,
  div: (x, s) => x / s,
  rdiv: (x, s) => s / x,
  pow: (x, s) => x ** s,
};

/** `out = op(x)`. */
export function unary(op: UnaryOp, out: TsStorage, x: TsStorage, size: number): void {
  if (op === "relu") {
    // The hot one in training: an inlined loop (NaN stays NaN, as in PyTorch).
    for (let i = 0; i < size; i++) out[i] = x[i] > 0 || x[i] !== x[i] ? x[i] : 0;
    return;
  }
  const f = unaryFns[op];
  for (let i = 0; i < size; i++) out[i] = f(x[i]);
}

/** `out = op(x, s)`. */
export function scalar(op: ScalarOp, out: TsStorage, x: TsStorage, s: number, size: number): void {
  const f = scalarFns[op];
  for (let i = 0; i < size; i++) out[i] = f(x[i], s);
}

/** `out = op(a, b)`, walking the output in order with each operand's broadcast strides. */
export function binary(op: BinaryOp, out: TsStorage, a: TsStorage, b: TsStorage, bc: Broadcast): void {
  const f = binaryFns[op];
  if (isContiguous(bc.aStrides, bc.shape) && isContiguous(bc.bStrides, bc.shape)) {
    // Same shapes, no broadcasting: one flat loop.
    const size = bc.shape.reduce((p, d) => p * d, 1);
    if (op === "reluGrad") { for (let i = 0; i < size; i++) out[i] = b[i] > 0 ? a[i] : 0; }
    else for (let i = 0; i < size; i++) out[i] = f(a[i], b[i]);
    return;
  }
  forEachBroadcast(bc, (o, ia, ib) => {
    out[o] = f(a[ia], b[ib]);
  });
}

/** `out = x` broadcast to `bc.shape` (operand strides in `bc.aStrides`). */
export function expand(out: TsStorage, x: TsStorage, bc: Broadcast): void {
  forEachBroadcast(bc, (o, ia) => {
    out[o] = x[ia];
  });
}

/** Reduces [outer, n, inner] over the middle axis. */
export function reduce(op: ReduceOp, out: TsStorage, x: TsStorage, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      if (op === "sum") {
        let s = 0;
        for (let j = 0; j < n; j++) s += x[base + j * inner];
        out[o * inner + i] = s;
      } else {
        let best = -Infinity, at = 0;
        for (let j = 0; j < n; j++) {
          const v = x[base + j * inner];
          if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
            best = v;
            at = j;
          }
        }
        out[o * inner + i] = op === "max" ? best : at;
      }
    }
  }
}

function isContiguous(strides: readonly number[], shape: readonly number[]): boolean {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expect) return false;
    expect *= shape[d];
  }
  return true;
}

/** Visits every output index with the matching flat indices into the two operands. */
function forEachBroadcast(bc: Broadcast, fn: (o: number, ia: number, ib: number) => void): void {
  const { shape, aStrides, bStrides } = bc;
  const rank = shape.length;
  const size = shape.reduce((p, d) => p * d, 1);
  if (size === 0) return;
  if (rank === 0) return fn(0, 0, 0);
  const last = rank - 1, inner = shape[last], sa = aStrides[last], sb = bStrides[last];
  const idx = new Array<number>(rank).fill(0);
  let ia = 0, ib = 0;
  for (let o = 0; o < size; o += inner) {
    for (let j = 0; j < inner; j++) fn(o + j, ia + j * sa, ib + j * sb);
    // Advance the multi-index over the outer dimensions.
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      ia += aStrides[d];
      ib += bStrides[d];
      if (idx[d] < shape[d]) break;
      ia -= aStrides[d] * shape[d];
      ib -= bStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}
