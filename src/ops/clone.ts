/**
 * `clone`: a copy with its own storage.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";

/**
 * A copy with its own storage; gradients flow through it.
 *
 * @example
 * ```ts
 * import { clone, tensor } from "@convnet/convnet";
 * const c = clone(tensor([1, 2]));
 * ```
 */
export function clone<T extends TensorBase>(x: T): T {
  const xData = x._data("clone");
  const out = x._backend.alloc(x.dtype, x.size);
  x._backend.copy(out, xData, x.size);
  return record(x._wrap(out, x.shape), [x], (g) => [g], "clone");
}
