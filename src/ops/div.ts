/**
 * `div`: `a / b` elementwise with broadcasting, or `a / s` for a number.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { binaryOp, scalarOp } from "./_elementwise.ts";
import { mul } from "./mul.ts";
import { neg } from "./neg.ts";

/**
 * `a / b`, elementwise (a tensor of the same or a broadcastable shape, or a number).
 *
 * @example
 * ```ts
 * import { div, tensor } from "@convnet/convnet";
 * div(tensor([1, 2]), 2).toArray(); // [0.5, 1]
 * ```
 */
export function div<T extends TensorBase>(a: T, b: TensorBase | number): T {
  if (typeof b === "number") return scalarOp("div", a, b, (g) => [div(g, b)]);
  return binaryOp("div", a, b, (g) => [
    a.requiresGrad ? div(g, b) : null,
    b.requiresGrad ? neg(div(mul(g, a), mul(b, b))) : null,
  ]);
}
