/**
 * `mean`: the sum divided by the number of elements reduced.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { dimsArg } from "./_util.ts";
import { div } from "./div.ts";
import { type ReduceOptions, sum } from "./sum.ts";

/**
 * The mean of all elements, or over `dims` (one or several).
 *
 * @example
 * ```ts
 * import { mean, tensor } from "@convnet/convnet";
 * mean(tensor([[1, 2], [3, 4]]), 1).toArray(); // [1.5, 3.5]
 * ```
 */
export function mean<T extends TensorBase>(x: T, dims?: number | readonly number[], opts: ReduceOptions = {}): T {
  const count = dimsArg("mean", dims, x.rank).reduce((p, d) => p * x.shape[d], 1);
  const total = sum(x, dims, opts);
  const out = div(total, dims === undefined ? x.size : count);
  if (!total.requiresGrad) total.dispose();
  return out;
}
