/**
 * `tanh`: the hyperbolic tangent; its gradient is 1 − y².
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";
import { neg } from "./neg.ts";

/**
 * The hyperbolic tangent, elementwise.
 *
 * @example
 * ```ts
 * import { tanh, tensor } from "@convnet/convnet";
 * tanh(tensor([0, 100])).toArray(); // [0, 1]
 * ```
 */
export function tanh<T extends TensorBase>(x: T): T {
  // 1 − y² = −(y·y − 1)
  return unaryOp("tanh", x, (g, y) => [mul(g, neg(sub(mul(y, y), 1)))]);
}
