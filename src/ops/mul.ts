/**
 * `mul`: `a * b` elementwise with broadcasting, or `a * s` for a number.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { binaryOp, scalarOp } from "./_elementwise.ts";

/**
 * `a * b`, elementwise (a tensor of the same or a broadcastable shape, or a number).
 *
 * @example
 * ```ts
 * import { mul, tensor } from "@convnet/convnet";
 * mul(tensor([1, 2]), tensor([3, 4])).toArray(); // [3, 8]
 * ```
 */
export function mul<T extends TensorBase>(a: T, b: TensorBase | number): T {
  if (typeof b === "number") return scalarOp("mul", a, b, (g) => [mul(g, b)]);
  return binaryOp("mul", a, b, (g) => [
    a.requiresGrad ? mul(g, b) : null,
    b.requiresGrad ? mul(g, a) : null,
  ]);
}
