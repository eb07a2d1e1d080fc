/**
 * `add`: `a + b` with broadcasting, or `a + s` for a number.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { binaryOp, scalarOp } from "./_elementwise.ts";

/**
 * `a + b` (a tensor of the same or a broadcastable shape, or a number).
 *
 * @example
 * ```ts
 * import { add, tensor } from "@convnet/convnet";
 * add(tensor([[1, 2], [3, 4]]), tensor([10, 20])).toArray(); // [11, 22, 13, 24]
 * ```
 */
export function add<T extends TensorBase>(a: T, b: TensorBase | number): T {
  if (typeof b === "number") return scalarOp("add", a, b, (g) => [g]);
  return binaryOp("add", a, b, (g) => [g, g]);
}
