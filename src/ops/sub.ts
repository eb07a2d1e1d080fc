/**
 * `sub`: `a - b` with broadcasting, or `a - s` for a number.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { binaryOp, scalarOp } from "./_elementwise.ts";
import { neg } from "./neg.ts";

/**
 * `a - b` (a tensor of the same or a broadcastable shape, or a number).
 *
 * @example
 * ```ts
 * import { sub, tensor } from "@convnet/convnet";
 * sub(tensor([3, 4]), 1).toArray(); // [2, 3]
 * ```
 */
export function sub<T extends TensorBase>(a: T, b: TensorBase | number): T {
  if (typeof b === "number") return scalarOp("sub", a, b, (g) => [g]);
  return binaryOp("sub", a, b, (g) => [g, neg(g)]);
}
