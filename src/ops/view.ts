/**
 * `view` and `reshape`: the same storage with another shape. Tensors here are always
 * contiguous, so these never copy, and a write through one is seen by the other.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { inferShape } from "./_util.ts";

/**
 * The same data with another shape (shares storage). One dimension may be -1: it is inferred.
 *
 * @example
 * ```ts
 * import { Tensor, view } from "@convnet/convnet";
 * const x = Tensor.zeros([10, 16, 14, 14]);
 * view(x, [x.shape[0], -1]).shape; // [10, 3136]
 * ```
 */
export function view<T extends TensorBase>(x: T, shape: readonly number[]): T {
  const target = inferShape("view", x.shape, shape);
  const out = x._share(target);
  return record(out, [x], (g) => [view(g, x.shape)], "view");
}
