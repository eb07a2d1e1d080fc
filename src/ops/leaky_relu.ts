/**
 * `leakyRelu`: x where x > 0, else negativeSlope·x. A composite (a comparison and a `where`), so
 * the gradient is 1 where x > 0 and negativeSlope elsewhere (x = 0 included, as PyTorch).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { gt } from "./compare.ts";
import { mul } from "./mul.ts";
import { where } from "./where.ts";

/** Options of {@linkcode leakyRelu}. */
export interface LeakyReluOptions {
  /** The slope for x ≤ 0 (default 0.01). */
  negativeSlope?: number;
}

/**
 * x where x > 0, else negativeSlope·x, elementwise, as PyTorch's `F.leaky_relu`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.leakyRelu(tensor([-2, 3])).toArray(); // [-0.02, 3]
 * F.leakyRelu(tensor([-2, 3]), { negativeSlope: 0.5 }).toArray(); // [-1, 3]
 * ```
 */
export function leakyRelu<T extends TensorBase>(x: T, opts: LeakyReluOptions = {}): T {
  const op = "leakyRelu";
  checkTensor(op, "input", x);
  checkOptionKeys(op, opts, ["negativeSlope"]);
  const slope = opts.negativeSlope ?? 0.01;
  if (typeof slope !== "number" || !Number.isFinite(slope)) {
    throw new Error(`${op}: negativeSlope must be a finite number, got ${String(opts.negativeSlope)}`);
  }
  floatOnly(op, x);
  return where(gt(x, 0), x, mul(x, slope));
}
