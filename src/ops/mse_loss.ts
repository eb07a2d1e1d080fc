/**
 * `mseLoss`: the squared error `(input − target)²`, reduced; a composite, so both arguments get
 * gradients on every backend.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { checkLossOptions, checkPair, freeingTemporaries, reduceLoss, type Reduction, reductionArg } from "./_loss.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";

/** Options of the losses that only reduce: {@linkcode mseLoss}, `l1Loss`. */
export interface ReductionOptions {
  /** "mean" (default), "sum" or "none". */
  reduction?: Reduction;
}

/**
 * `(input − target)²` elementwise, reduced, as PyTorch's `F.mse_loss`. `target` must have
 * `input`'s shape (PyTorch broadcasts with a warning; here that is an error).
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])).item(); // 13 / 3
 * F.mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0]), { reduction: "none" }).toArray(); // [0, 4, 9]
 * ```
 */
export function mseLoss<T extends TensorBase>(input: T, target: TensorBase, opts: ReductionOptions = {}): T {
  const op = "mseLoss";
  checkLossOptions(op, opts, ["reduction"]);
  const reduction = reductionArg(op, opts.reduction);
  checkPair(op, input, target);
  return freeingTemporaries([input, target], () => {
    const d = sub(input, target);
    return reduceLoss(mul(d, d), reduction);
  });
}
