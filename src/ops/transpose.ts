/**
 * `permute`, `transpose` and `contiguous`. Tensors here are always contiguous, so a permutation
 * is a copy (one strided-copy kernel), and `contiguous` returns its input.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { contiguousStrides, fmtShape } from "../backend/shape.ts";
import { dimArg } from "./_util.ts";

/** `x` with its dimensions in the order `order` (a copy), without autograd. */
function permuteRaw<T extends TensorBase>(x: T, order: readonly number[]): T {
  const strides = contiguousStrides(x.shape);
  const shape = order.map((d) => x.shape[d]);
  const xData = x._data("permute");
  const out = x._backend.alloc(x.dtype, x.size);
  x._backend.copyStrided(out, xData, {
    shape,
    outStrides: contiguousStrides(shape),
    outOffset: 0,
    xStrides: order.map((d) => strides[d]),
    xOffset: 0,
  });
  return x._wrap(out, shape);
}

/**
 * The dimensions reordered: output dimension i is input dimension `dims[i]` (a copy).
 *
 * @example
 * ```ts
 * import { permute, Tensor } from "@convnet/convnet";
 * permute(Tensor.zeros([2, 3, 4]), [2, 0, 1]).shape; // [4, 2, 3]
 * ```
 */
export function permute<T extends TensorBase>(x: T, dims: readonly number[]): T {
  if (!Array.isArray(dims) || dims.length !== x.rank) {
    throw new Error(
      `permute: dims ${JSON.stringify(dims)} must list each of the ${x.rank} dimensions of ${fmtShape(x.shape)} once`,
    );
  }
  const order = dims.map((d) => dimArg("permute", d, x.rank));
  if (new Set(order).size !== order.length) {
    throw new Error(`permute: dims ${JSON.stringify(dims)} repeat a dimension; expected a permutation`);
  }
  const inverse = new Array<number>(order.length);
  order.forEach((d, i) => (inverse[d] = i));
  return record(permuteRaw(x, order), [x], (g) => [permuteRaw(g, inverse)], "permute");
}

/**
 * Dimensions `dim0` and `dim1` swapped (a copy).
 *
 * @example
 * ```ts
 * import { tensor, transpose } from "@convnet/convnet";
 * transpose(tensor([[1, 2, 3], [4, 5, 6]]), 0, 1).toArray(); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transpose<T extends TensorBase>(x: T, dim0: number, dim1: number): T {
  const a = dimArg("transpose", dim0, x.rank), b = dimArg("transpose", dim1, x.rank);
  const order = [...x.shape.keys()];
  [order[a], order[b]] = [order[b], order[a]];
  return permute(x, order);
}

/**
 * `x` itself: tensors here are always contiguous (kept for code ported from PyTorch).
 *
 * @example
 * ```ts
 * import { contiguous, Tensor } from "@convnet/convnet";
 * const x = Tensor.zeros([2, 3]);
 * contiguous(x) === x; // true
 * ```
 */
export function contiguous<T extends TensorBase>(x: T): T {
  x._data("contiguous");
  return x;
}
