/**
 * `sqrt`: the square root; d/dx √x = 1 / (2√x).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { div } from "./div.ts";

/**
 * The square root, elementwise (NaN below 0).
 *
 * @example
 * ```ts
 * import { sqrt, tensor } from "@convnet/convnet";
 * sqrt(tensor([4, 9])).toArray(); // [2, 3]
 * ```
 */
export function sqrt<T extends TensorBase>(x: T): T {
  return unaryOp("sqrt", x, (g, y) => [div(div(g, y), 2)]);
}
