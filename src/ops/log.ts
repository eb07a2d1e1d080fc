/**
 * `log`: the natural logarithm.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { div } from "./div.ts";

/**
 * The natural logarithm, elementwise.
 *
 * @example
 * ```ts
 * import { log, tensor } from "@convnet/convnet";
 * log(tensor([1])).item(); // 0
 * ```
 */
export function log<T extends TensorBase>(x: T): T {
  return unaryOp("log", x, (g) => [div(g, x)]);
}
