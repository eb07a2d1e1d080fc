/**
 * `elu`: x where x > 0, else alpha·(eˣ − 1). A composite; the exponential is taken of min(x, 0), so
 * a large positive x cannot overflow it into a NaN gradient.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { clamp } from "./clamp.ts";
import { gt } from "./compare.ts";
import { exp } from "./exp.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";
import { where } from "./where.ts";

/** Options of {@linkcode elu}. */
export interface EluOptions {
  /** The scale of the negative part, which tends to −alpha (default 1). */
  alpha?: number;
}

/**
 * The exponential linear unit, elementwise, as PyTorch's `F.elu`: x where x > 0, else
 * alpha·(eˣ − 1). Its gradient for x ≤ 0 is alpha·eˣ.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.elu(tensor([-1, 2])).toArray(); // [-0.6321206, 2]
 * F.elu(tensor([-1, 2]), { alpha: 2 }).toArray(); // [-1.2642411, 2]
 * ```
 */
export function elu<T extends TensorBase>(x: T, opts: EluOptions = {}): T {
  const op = "elu";
  checkTensor(op, "input", x);
  checkOptionKeys(op, opts, ["alpha"]);
  const alpha = opts.alpha ?? 1;
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new Error(`${op}: alpha must be a finite number, got ${String(opts.alpha)}`);
  }
  floatOnly(op, x);
  return where(gt(x, 0), x, mul(sub(exp(clamp(x, { max: 0 })), 1), alpha));
}
