/**
 * `variance` (`Tensor.var`): the mean squared deviation, over all elements or some dims,
 * divided by N − 1 (unbiased, the default) or N. A composite: mean, sub, mul, sum.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { checkOptionKeys, dimsArg } from "./_util.ts";
import { div } from "./div.ts";
import { mean } from "./mean.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";
import { sum } from "./sum.ts";

/** Options of {@linkcode variance}. */
export interface VarOptions {
  /** Divide by N − 1 (Bessel's correction; default true) instead of N. */
  unbiased?: boolean;
  /** Keep the reduced dimensions as size 1 (default false). */
  keepDim?: boolean;
}

/**
 * The variance over all elements or over `dims`, as PyTorch's `Tensor.var`.
 *
 * @example
 * ```ts
 * import { tensor, variance } from "@convnet/convnet";
 * variance(tensor([1, 2, 3, 4])).item(); // 1.6666666
 * tensor([1, 2, 3, 4]).var(0, { unbiased: false }).item(); // 1.25
 * ```
 */
export function variance<T extends TensorBase>(x: T, dims?: number | readonly number[], opts: VarOptions = {}): T {
  checkOptionKeys("var", opts, ["unbiased", "keepDim"]);
  const reduced = dimsArg("var", dims, x.rank);
  const count = reduced.reduce((p, d) => p * x.shape[d], 1);
  const centred = sub(x, mean(x, reduced, { keepDim: true }));
  const squares = sum(mul(centred, centred), reduced, { keepDim: opts.keepDim ?? false });
  return div(squares, (opts.unbiased ?? true) ? count - 1 : count);
}
