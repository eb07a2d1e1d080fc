/**
 * `pow`: `x ** exponent` for a number exponent.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { scalarOp } from "./_elementwise.ts";
import { mul } from "./mul.ts";

/**
 * `x ** exponent` for a number exponent.
 *
 * @example
 * ```ts
 * import { pow, tensor } from "@convnet/convnet";
 * pow(tensor([2, 3]), 2).toArray(); // [4, 9]
 * ```
 */
export function pow<T extends TensorBase>(x: T, exponent: number): T {
  return scalarOp("pow", x, exponent, (g) => [mul(mul(g, pow(x, exponent - 1)), exponent)]);
}
