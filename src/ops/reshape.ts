/**
 * `flatten`, `squeeze`, `unsqueeze`: shape changes that are views (they share storage, like
 * `view`), with PyTorch's rules for negative and out-of-range dims.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { fmtShape } from "../backend/shape.ts";
import { dimArg } from "./_util.ts";
import { view } from "./view.ts";

/**
 * Merges dimensions `startDim..endDim` (inclusive; negative counts from the end) into one.
 *
 * @example
 * ```ts
 * import { flatten, Tensor } from "@convnet/convnet";
 * flatten(Tensor.zeros([10, 16, 14, 14]), 1).shape; // [10, 3136]
 * ```
 */
export function flatten<T extends TensorBase>(x: T, startDim = 0, endDim = -1): T {
  if (x.rank === 0) return view(x, [1]);
  const s = dimArg("flatten", startDim, x.rank), e = dimArg("flatten", endDim, x.rank);
  if (s > e) {
    throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape ${fmtShape(x.shape)}`);
  }
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return view(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/**
 * Removes size-1 dimensions: all of them, or only `dim` (left as it is when its size is not 1).
 *
 * @example
 * ```ts
 * import { squeeze, Tensor } from "@convnet/convnet";
 * squeeze(Tensor.zeros([2, 1, 3, 1])).shape; // [2, 3]
 * squeeze(Tensor.zeros([2, 1, 3, 1]), 1).shape; // [2, 3, 1]
 * ```
 */
export function squeeze<T extends TensorBase>(x: T, dim?: number): T {
  if (dim === undefined) return view(x, x.shape.filter((d) => d !== 1));
  const d = dimArg("squeeze", dim, x.rank);
  if (x.rank === 0 || x.shape[d] !== 1) return view(x, x.shape);
  return view(x, x.shape.filter((_, i) => i !== d));
}

/**
 * Inserts a size-1 dimension at `dim` (in [-rank - 1, rank]).
 *
 * @example
 * ```ts
 * import { Tensor, unsqueeze } from "@convnet/convnet";
 * unsqueeze(Tensor.zeros([2, 3]), 1).shape; // [2, 1, 3]
 * unsqueeze(Tensor.zeros([2, 3]), -1).shape; // [2, 3, 1]
 * ```
 */
export function unsqueeze<T extends TensorBase>(x: T, dim: number): T {
  const d = dimArg("unsqueeze", dim, x.rank + 1);
  return view(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}
