/**
 * `smoothL1Loss`: quadratic below `beta`, linear above (Huber's loss divided by `beta`); a
 * composite whose `where` routes the gradient to the branch taken.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import {
  checkLossOptions,
  checkPair,
  freeingTemporaries,
  numberArg,
  reduceLoss,
  type Reduction,
  reductionArg,
} from "./_loss.ts";
import { abs } from "./abs.ts";
import { lt } from "./compare.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";
import { where } from "./where.ts";

/** Options of {@linkcode smoothL1Loss}. */
export interface SmoothL1LossOptions {
  /** "mean" (default), "sum" or "none". */
  reduction?: Reduction;
  /** Where the loss turns from quadratic to linear, ≥ 0 (default 1; 0 gives the L1 loss). */
  beta?: number;
}

/**
 * `0.5·d²/beta` where `|d| < beta`, else `|d| − 0.5·beta`, for `d = input − target`, reduced, as
 * PyTorch's `F.smooth_l1_loss`. `target` must have `input`'s shape.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.smoothL1Loss(tensor([0.5, 3]), tensor([0, 0]), { reduction: "none" }).toArray(); // [0.125, 2.5]
 * F.smoothL1Loss(tensor([0.5, 3]), tensor([0, 0]), { beta: 2 }).item(); // (0.0625 + 2) / 2
 * ```
 */
export function smoothL1Loss<T extends TensorBase>(input: T, target: TensorBase, opts: SmoothL1LossOptions = {}): T {
  const op = "smoothL1Loss";
  checkLossOptions(op, opts, ["reduction", "beta"]);
  const reduction = reductionArg(op, opts.reduction);
  const beta = numberArg(op, "beta", opts.beta, 1, 0);
  checkPair(op, input, target);
  return freeingTemporaries([input, target], () => {
    const d = sub(input, target);
    const size = abs(d);
    // beta 0 is the L1 loss (PyTorch's special case); the quadratic branch would divide by 0.
    if (beta === 0) return reduceLoss(size, reduction);
    const quadratic = mul(mul(d, d), 0.5 / beta);
    const linear = sub(size, 0.5 * beta);
    return reduceLoss(where(lt(size, beta), quadratic, linear), reduction);
  });
}
