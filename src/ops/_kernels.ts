/**
 * Backend kernels wrapped as tensor-in, tensor-out calls without autograd: the building blocks
 * op files use for their forward passes and inside backward closures.
 *
 * @module
 */
import type { BinaryOp, DType, ScalarOp, UnaryOp } from "../backend/backend.ts";
import { COMPARISONS } from "../backend/_ops_table.ts";
import { contiguousStrides, fmtShape, numel } from "../backend/shape.ts";
import type { TensorBase } from "../autograd/tensor_base.ts";
import {
  broadcast,
  broadcastShapes,
  broadcastStrides,
  checkTensor,
  floatOnly,
  noInt64,
  reduceDims,
  sameDevice,
  sameDtype,
} from "./_util.ts";

/** `op(x)` elementwise. */
export function unaryRaw<T extends TensorBase>(op: UnaryOp, x: T): T {
  noInt64(op, x);
  const xData = x._data(op);
  const out = x._backend.alloc(x.dtype, x.size);
  x._backend.unary(op, out, xData, x.size);
  return x._wrap(out, x.shape);
}

/** `op(x, s)` elementwise with a number; comparisons give int32 0/1. */
export function scalarRaw<T extends TensorBase>(op: ScalarOp, x: T, s: number): T {
  if (typeof s !== "number" || Number.isNaN(s) && op !== "add") {
    throw new Error(`${op}: expected a number or a tensor, got ${String(s)}`);
  }
  noInt64(op, x);
  const compares = COMPARISONS.has(op);
  const dtype: DType = compares ? "int32" : x.dtype;
  // PyTorch compares (and clamps) a float32 tensor with the number rounded to float32.
  const value = x.dtype === "float32" && (compares || op === "max" || op === "min") ? Math.fround(s) : s;
  const xData = x._data(op);
  const out = x._backend.alloc(dtype, x.size);
  x._backend.scalar(op, out, xData, value, x.size);
  return x._wrap(out, x.shape, dtype);
}

/** `op(a, b)` with broadcasting; comparisons give int32 0/1. */
export function binaryRaw<T extends TensorBase>(op: BinaryOp, a: T, b: TensorBase): T {
  checkTensor(op, "other", b);
  sameDevice(op, a, b);
  sameDtype(op, a, b);
  noInt64(op, a);
  const bc = broadcast(op, a.shape, b.shape);
  const dtype: DType = COMPARISONS.has(op) ? "int32" : a.dtype;
  const aData = a._data(op);
  const bData = b._data(op);
  const out = a._backend.alloc(dtype, numel(bc.shape));
  a._backend.binary(op, out, aData, bData, bc);
  return a._wrap(out, bc.shape, dtype);
}

/** `cond ? a : b` elementwise with broadcasting of all three; `cond` int32. */
export function whereRaw<T extends TensorBase>(cond: TensorBase, a: T, b: TensorBase): T {
  const op = "where";
  checkTensor(op, "condition", cond);
  checkTensor(op, "other", b);
  sameDevice(op, cond, a, b);
  sameDtype(op, a, b);
  if (cond.dtype !== "int32") {
    throw new Error(`${op}: the condition must be an int32 tensor of 0/1 (a comparison's result), got ${cond.dtype}`);
  }
  const shape = broadcastShapes(op, cond.shape, a.shape, b.shape);
  const condData = cond._data(op), aData = a._data(op), bData = b._data(op);
  const out = a._backend.alloc(a.dtype, numel(shape));
  a._backend.where(out, condData, aData, bData, {
    shape,
    condStrides: broadcastStrides(cond.shape, shape),
    aStrides: broadcastStrides(a.shape, shape),
    bStrides: broadcastStrides(b.shape, shape),
  });
  return a._wrap(out, shape);
}

/** `x` broadcast to `shape` as a new contiguous tensor (`x` itself when the shapes agree). */
export function expandRaw<T extends TensorBase>(x: T, shape: readonly number[]): T {
  if (sameShape(x.shape, shape)) return x;
  const target = broadcastShapes("expand", x.shape, shape);
  if (!sameShape(target, shape)) {
    throw new Error(`expand: ${fmtShape(x.shape)} cannot be expanded to ${fmtShape(shape)}`);
  }
  const xData = x._data("expand");
  const out = x._backend.alloc(x.dtype, numel(shape));
  x._backend.copyStrided(out, xData, {
    shape,
    outStrides: contiguousStrides(shape),
    outOffset: 0,
    xStrides: broadcastStrides(x.shape, shape),
    xOffset: 0,
  });
  return x._wrap(out, shape);
}

/** Sums `g` over the dimensions that broadcasting expanded, giving a tensor of `shape`. */
export function sumTo<T extends TensorBase>(g: T, shape: readonly number[]): T {
  if (sameShape(g.shape, shape)) return g;
  let t = g;
  const lead = g.rank - shape.length;
  for (let d = 0; d < g.rank; d++) {
    const target = d < lead ? 1 : shape[d - lead];
    if (g.shape[d] !== target) {
      const next = reduceRaw("sum", t, d, true);
      if (t !== g) t.dispose();
      t = next;
    }
  }
  const out = t._share(shape);
  if (t !== g) t.dispose();
  return out;
}

/** Reduces one dimension (`sum max min argmax argmin`); arg* give int32. */
export function reduceRaw<T extends TensorBase>(
  op: "sum" | "max" | "min" | "argmax" | "argmin",
  x: T,
  dim: number,
  keepDim: boolean,
): T {
  noInt64(op, x);
  const { outer, n, inner, shape } = reduceDims(x.shape, dim, keepDim);
  const dtype: DType = op === "argmax" || op === "argmin" ? "int32" : x.dtype;
  const xData = x._data(op);
  const out = x._backend.alloc(dtype, outer * inner);
  x._backend.reduce(op, out, xData, outer, n, inner);
  return x._wrap(out, shape, dtype);
}

/** Reduces all elements into a tensor of `shape` (all ones, or [] ). */
export function reduceAllRaw<T extends TensorBase>(op: "sum" | "max" | "min", x: T, shape: readonly number[]): T {
  noInt64(op, x);
  const xData = x._data(op);
  const out = x._backend.alloc(x.dtype, 1);
  x._backend.reduce(op, out, xData, 1, x.size, 1);
  return x._wrap(out, shape);
}

/** A tensor like `x` (or of `shape`) filled with `value`. */
export function fullLike<T extends TensorBase>(
  x: T,
  value: number,
  shape: readonly number[] = x.shape,
  dtype = x.dtype,
): T {
  const size = numel(shape);
  const out = x._backend.alloc(dtype, size);
  if (value !== 0) x._backend.fill(out, value, size);
  return x._wrap(out, shape, dtype);
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** How a gemm reads its operands. */
export interface GemmLayout {
  /** Read `a` as stored [k, m]. */
  transA?: boolean;
  /** Read `b` as stored [n, k]. */
  transB?: boolean;
  /** Matrices in the batch (default 1). */
  batch?: number;
  /** `a` is one matrix shared by the whole batch. */
  shareA?: boolean;
  /** `b` is one matrix shared by the whole batch. */
  shareB?: boolean;
}

/** `op(a) · op(b)` into a new tensor of `shape` ([..., m, n]), without autograd. */
export function gemmRaw<T extends TensorBase>(
  op: string,
  a: T,
  b: TensorBase,
  shape: readonly number[],
  layout: GemmLayout = {},
): T {
  sameDevice(op, a, b);
  floatOnly(op, a);
  sameDtype(op, a, b);
  const m = shape[shape.length - 2], n = shape[shape.length - 1];
  const transA = layout.transA ?? false, transB = layout.transB ?? false;
  const k = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const batch = layout.batch ?? 1;
  const aData = a._data(op), bData = b._data(op);
  const out = a._backend.alloc(a.dtype, numel(shape));
  a._backend.gemm(out, aData, bData, {
    m,
    n,
    k,
    transA,
    transB,
    alpha: 1,
    beta: 0,
    batch,
    strideA: layout.shareA ? 0 : m * k,
    strideB: layout.shareB ? 0 : k * n,
    strideC: m * n,
  });
  return a._wrap(out, shape);
}
