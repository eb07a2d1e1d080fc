/**
 * `neg`: `-x`.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";

/**
 * `-x`, elementwise (int32 too).
 *
 * @example
 * ```ts
 * import { neg, tensor } from "@convnet/convnet";
 * neg(tensor([1, -2])).toArray(); // [-1, 2]
 * ```
 */
export function neg<T extends TensorBase>(x: T): T {
  return unaryOp("neg", x, (g) => [neg(g)], true);
}
