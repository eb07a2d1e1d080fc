/**
 * `exp`: `e^x`.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { mul } from "./mul.ts";

/**
 * `e^x`, elementwise.
 *
 * @example
 * ```ts
 * import { exp, tensor } from "@convnet/convnet";
 * exp(tensor([0])).item(); // 1
 * ```
 */
export function exp<T extends TensorBase>(x: T): T {
  return unaryOp("exp", x, (g, y) => [mul(g, y)]);
}
