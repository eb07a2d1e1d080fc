/**
 * `sigmoid`: 1 / (1 + e^−x); its gradient is y·(1 − y).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";
import { neg } from "./neg.ts";

/**
 * The logistic sigmoid 1 / (1 + e^−x), elementwise.
 *
 * @example
 * ```ts
 * import { sigmoid, tensor } from "@convnet/convnet";
 * sigmoid(tensor([0])).item(); // 0.5
 * ```
 */
export function sigmoid<T extends TensorBase>(x: T): T {
  // y·(1 − y) = y − y² = −(y·y − y)
  return unaryOp("sigmoid", x, (g, y) => [mul(g, neg(sub(mul(y, y), y)))]);
}
