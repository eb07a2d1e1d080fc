/**
 * `nllLoss`: the negative log-likelihood of class indices under log-probabilities, with
 * PyTorch's class weights, ignoreIndex and reductions. A composite (gather, where, sums), so it
 * runs on every backend; autograd gives its backward.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import {
  checkClassTargets,
  checkLossOptions,
  classTargets,
  freeingTemporaries,
  ignoreIndexArg,
  negativeLogLikelihood,
  type Reduction,
  reductionArg,
} from "./_loss.ts";
import { view } from "./view.ts";

/** Options of {@linkcode nllLoss}. */
export interface NllLossOptions {
  /** A weight per class, [C] (default: all 1). */
  weight?: TensorBase | null;
  /** Targets equal to this contribute nothing, not even to the mean's denominator (default −100). */
  ignoreIndex?: number;
  /** "mean" (default: divided by the total weight of the targets kept), "sum" or "none". */
  reduction?: Reduction;
}

/**
 * `−weight[t]·logProbs[n, t, ...]` for each target `t`, as PyTorch's `F.nll_loss`: `logProbs`
 * is [N, C] with `target` [N], [N, C, d1, ...] with `target` [N, d1, ...], or [C] with a 0-d
 * `target` (int32 class indices). With "mean", every target ignored gives NaN, as in PyTorch.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * const logp = tensor([[-0.5, -1, -2], [-3, -0.1, -4]]);
 * const target = tensor([0, 1], [2], { dtype: "int32" });
 * F.nllLoss(logp, target).item(); // 0.3
 * F.nllLoss(logp, target, { reduction: "none", weight: tensor([2, 1, 1]) }).toArray(); // [1, 0.1]
 * ```
 */
export function nllLoss<T extends TensorBase>(logProbs: T, target: TensorBase, opts: NllLossOptions = {}): T {
  const op = "nllLoss";
  checkLossOptions(op, opts, ["weight", "ignoreIndex", "reduction"]);
  const reduction = reductionArg(op, opts.reduction);
  const ignoreIndex = ignoreIndexArg(op, opts.ignoreIndex);
  const weight = checkClassTargets(op, logProbs, target, opts.weight);
  return freeingTemporaries([logProbs, weight], () => {
    const unbatched = logProbs.rank === 1;
    const logp = unbatched ? view(logProbs, [1, logProbs.shape[0]]) : logProbs;
    const targets = unbatched ? view(target, [1]) : target;
    const loss = negativeLogLikelihood(
      op,
      logp,
      targets,
      classTargets(logp, targets, weight, ignoreIndex),
      reduction,
      ignoreIndex,
    );
    return unbatched && reduction === "none" ? view(loss, []) : loss;
  });
}
