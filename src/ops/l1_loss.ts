/**
 * `l1Loss`: the absolute error `|input − target|`, reduced; a composite (its gradient at 0 is 0,
 * as PyTorch's).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { checkLossOptions, checkPair, freeingTemporaries, reduceLoss, reductionArg } from "./_loss.ts";
import { abs } from "./abs.ts";
import type { ReductionOptions } from "./mse_loss.ts";
import { sub } from "./sub.ts";

/**
 * `|input − target|` elementwise, reduced, as PyTorch's `F.l1_loss`. `target` must have
 * `input`'s shape.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.l1Loss(tensor([1, 2, 3]), tensor([1, 0, 0])).item(); // 5 / 3
 * F.l1Loss(tensor([1, 2, 3]), tensor([1, 0, 0]), { reduction: "sum" }).item(); // 5
 * ```
 */
export function l1Loss<T extends TensorBase>(input: T, target: TensorBase, opts: ReductionOptions = {}): T {
  const op = "l1Loss";
  checkLossOptions(op, opts, ["reduction"]);
  const reduction = reductionArg(op, opts.reduction);
  checkPair(op, input, target);
  return freeingTemporaries([input, target], () => reduceLoss(abs(sub(input, target)), reduction));
}
