/**
 * `silu` (swish): x·sigmoid(x). A composite; its gradient σ(x)·(1 + x·(1 − σ(x))) comes from
 * `mul` and `sigmoid`'s rules.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { checkTensor, floatOnly } from "./_util.ts";
import { mul } from "./mul.ts";
import { sigmoid } from "./sigmoid.ts";

/**
 * The sigmoid linear unit x·sigmoid(x), elementwise, as PyTorch's `F.silu`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.silu(tensor([-1, 0, 1])).toArray(); // [-0.2689414, 0, 0.7310586]
 * ```
 */
export function silu<T extends TensorBase>(x: T): T {
  checkTensor("silu", "input", x);
  floatOnly("silu", x);
  return mul(x, sigmoid(x));
}
