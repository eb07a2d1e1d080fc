/**
 * `max`, `min` (values, with gradients) and `argmax`, `argmin` (int32 indices), over one
 * dimension or all elements. Along a dimension the gradient goes to the first extreme (the index
 * `argmax` gives); over all elements it is shared evenly between ties, as PyTorch 1.13 does.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { binaryRaw, fullLike, reduceAllRaw, reduceRaw, whereRaw } from "./_kernels.ts";
import { checkOptionKeys, dimArg, floatOnly, noInt64, reduceDims } from "./_util.ts";
import type { ReduceOptions } from "./sum.ts";

function extreme<T extends TensorBase>(
  op: "max" | "min",
  x: T,
  dim: number | undefined,
  opts: ReduceOptions,
): T {
  checkOptionKeys(op, opts, ["keepDim"]);
  noInt64(op, x);
  if (x.size === 0) throw new Error(`${op}: the tensor ${JSON.stringify(x.shape)} is empty; expected elements`);
  const keepDim = opts.keepDim ?? false;
  if (dim === undefined) {
    const y = reduceAllRaw(op, x, keepDim ? x.shape.map(() => 1) : []);
    return record(y, [x], (g) => {
      // Shared evenly between the elements equal to the extreme.
      const mask = binaryRaw("eq", x, y);
      const ones = fullLike(x, 1), zeros = fullLike(x, 0);
      const hits = whereRaw(mask, ones, zeros);
      const count = reduceAllRaw("sum", hits, []);
      const share = binaryRaw("div", g._share([]), count);
      const dx = whereRaw(mask, share, zeros);
      for (const t of [mask, ones, zeros, hits, count, share]) t.dispose();
      return [dx];
    }, op);
  }
  const d = dimArg(op, dim, x.rank);
  const y = reduceRaw(op, x, d, keepDim);
  if (x.dtype === "int32") return y;
  floatOnly(op, x);
  return record(y, [x], (g) => {
    const idx = reduceRaw(op === "max" ? "argmax" : "argmin", x, d, true);
    const { outer, n, inner } = reduceDims(x.shape, d, true);
    const dx = fullLike(x, 0);
    x._backend.scatterAdd(dx._data(op), g._data(op), idx._data(op), { outer, n, m: 1, inner });
    idx.dispose();
    return [dx];
  }, op);
}

/**
 * The largest element, over all elements or along `dim` (values; gradients flow to the maximum).
 *
 * @example
 * ```ts
 * import { max, tensor } from "@convnet/convnet";
 * max(tensor([[1, 5], [7, 0]]), 1).toArray(); // [5, 7]
 * max(tensor([[1, 5], [7, 0]])).item(); // 7
 * ```
 */
export function max<T extends TensorBase>(x: T, dim?: number, opts: ReduceOptions = {}): T {
  return extreme("max", x, dim, opts);
}

/**
 * The smallest element, over all elements or along `dim`.
 *
 * @example
 * ```ts
 * import { min, tensor } from "@convnet/convnet";
 * min(tensor([[1, 5], [7, 0]]), 1).toArray(); // [1, 0]
 * ```
 */
export function min<T extends TensorBase>(x: T, dim?: number, opts: ReduceOptions = {}): T {
  return extreme("min", x, dim, opts);
}

function argExtreme<T extends TensorBase>(op: "argmax" | "argmin", x: T, dim: number, opts: ReduceOptions): T {
  checkOptionKeys(op, opts, ["keepDim"]);
  return reduceRaw(op, x, dimArg(op, dim, x.rank), opts.keepDim ?? false);
}

/**
 * The index of the largest element along `dim` (the first one on ties), as int32.
 *
 * @example
 * ```ts
 * import { argmax, tensor } from "@convnet/convnet";
 * argmax(tensor([[1, 5, 2], [7, 0, 1]]), 1).toArray(); // Int32Array [1, 0]
 * ```
 */
export function argmax<T extends TensorBase>(x: T, dim: number, opts: ReduceOptions = {}): T {
  return argExtreme("argmax", x, dim, opts);
}

/**
 * The index of the smallest element along `dim` (the first one on ties), as int32.
 *
 * @example
 * ```ts
 * import { argmin, tensor } from "@convnet/convnet";
 * argmin(tensor([[1, 5, 2], [7, 0, 1]]), 1).toArray(); // Int32Array [0, 1]
 * ```
 */
export function argmin<T extends TensorBase>(x: T, dim: number, opts: ReduceOptions = {}): T {
  return argExtreme("argmin", x, dim, opts);
}
