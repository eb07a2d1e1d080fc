/**
 * `crossEntropy`: log-softmax and negative log-likelihood, with PyTorch 1.13's class weights,
 * ignoreIndex, reductions and label smoothing. With the default options on [N, C] logits it is
 * one fused kernel each way where the backend has them (the training loop's path); otherwise the
 * composite `nllLoss(logSoftmax(x, 1), ...)`, plus the smoothing term.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { isGradEnabled } from "../autograd/mode.ts";
import type { Backend, StepKernels } from "../backend/backend.ts";
import {
  checkClassTargets,
  checkLossOptions,
  classTargets,
  freeingTemporaries,
  ignoreIndexArg,
  negativeLogLikelihood,
  numberArg,
  reduceClassLoss,
  type Reduction,
  reductionArg,
} from "./_loss.ts";
import { add } from "./add.ts";
import { mul } from "./mul.ts";
import { neg } from "./neg.ts";
import { logSoftmax } from "./softmax.ts";
import { sum } from "./sum.ts";
import { view } from "./view.ts";
import { where } from "./where.ts";

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** A weight per class, [C] (default: all 1). */
  weight?: TensorBase | null;
  /**
   * Targets equal to this contribute nothing, not even to the mean's denominator (default −100,
   * as PyTorch); the fused kernels, which the default options use, ignore −100 rows the same way.
   */
  ignoreIndex?: number;
  /** "mean" (default: divided by the total weight of the targets kept), "sum" or "none". */
  reduction?: Reduction;
  /**
   * In [0, 1] (default 0): the target becomes `(1 − s)·onehot + s / C`, PyTorch's
   * `label_smoothing` (the smoothing term is weighted by the class weights as PyTorch does).
   */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between `logits` and int32 class indices `targets`, as PyTorch's
 * `F.cross_entropy`: `logits` [N, C] with `targets` [N], [N, C, d1, ...] with [N, d1, ...], or
 * [C] with a 0-d target. A target outside [0, C) that is not ignoreIndex is an error naming its
 * value. With "mean", every target ignored gives NaN, as in PyTorch.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * const logits = tensor([[2, 0.5, -1], [0, 1, 0]], undefined, { requiresGrad: true });
 * const targets = tensor([0, 1], [2], { dtype: "int32" });
 * F.crossEntropy(logits, targets).backward();
 * F.crossEntropy(logits, targets, { labelSmoothing: 0.1, reduction: "sum" });
 * F.crossEntropy(logits, tensor([0, -100], [2], { dtype: "int32" }), { ignoreIndex: -100 });
 * ```
 */
export function crossEntropy<T extends TensorBase>(
  logits: T,
  targets: TensorBase,
  opts: CrossEntropyOptions = {},
): T {
  const op = "crossEntropy";
  checkLossOptions(op, opts, ["weight", "ignoreIndex", "reduction", "labelSmoothing"]);
  const reduction = reductionArg(op, opts.reduction);
  const ignoreIndex = ignoreIndexArg(op, opts.ignoreIndex);
  const labelSmoothing = numberArg(op, "labelSmoothing", opts.labelSmoothing, 0, 0, 1);
  const weight = checkClassTargets(op, logits, targets, opts.weight, ["logits", "targets"]);
  const be = logits._backend;
  const defaults = weight === null && opts.ignoreIndex === undefined && reduction === "mean" && labelSmoothing === 0;
  if (defaults && logits.rank === 2 && be.logSoftmaxNllForward && be.logSoftmaxNllBackward) {
    return fused(logits, targets); // −100, the default ignoreIndex, is ignored by the kernels too
  }
  return freeingTemporaries([logits, weight], () => {
    const unbatched = logits.rank === 1;
    const x = unbatched ? view(logits, [1, logits.shape[0]]) : logits;
    const t = unbatched ? view(targets, [1]) : targets;
    const logp = logSoftmax(x, 1);
    const classes = classTargets(logp, t, weight, ignoreIndex);
    let loss = negativeLogLikelihood(op, logp, t, classes, reduction, ignoreIndex);
    if (labelSmoothing > 0) {
      const c = x.shape[1];
      // PyTorch's smoothing term: −Σ_c weight[c]·logp[n, c], 0 where the target is ignored, reduced
      // like the loss (its mean over the same total weight of the targets kept).
      const classWeights = weight ? view(weight, x.shape.map((s, i) => (i === 1 ? s : 1))) : null;
      const all = neg(sum(classWeights ? mul(logp, classWeights) : logp, 1));
      const smooth = reduceClassLoss(where(classes.kept, all, 0), classes, reduction);
      loss = add(mul(loss, 1 - labelSmoothing), mul(smooth, labelSmoothing / c));
    }
    return unbatched && reduction === "none" ? view(loss, []) : loss;
  });
}

/**
 * The fused kernels: the loss and log-probabilities forward, one pass backward. Where the backend
 * has `logSoftmaxNllForwardGrad` and a gradient will be wanted, the forward also writes the
 * gradient for the implied 1 of `loss.backward()` (`unit`), which that backward hands over as is.
 */
function fused<T extends TensorBase>(logits: T, targets: TensorBase): T {
  const op = "crossEntropy";
  const be = logits._backend as Backend & StepKernels;
  const [n, c] = logits.shape;
  const nllBackward = be.logSoftmaxNllBackward!.bind(be);
  const loss = be.alloc(logits.dtype, 1);
  const logp = be.alloc(logits.dtype, n * c);
  let unit = be.logSoftmaxNllForwardGrad && isGradEnabled() && logits.requiresGrad
    ? be.alloc(logits.dtype, n * c)
    : null;
  try {
    if (unit) be.logSoftmaxNllForwardGrad!(loss, logp, unit, logits._data(op), targets._data(op), n, c);
    else be.logSoftmaxNllForward!(loss, logp, logits._data(op), targets._data(op), n, c);
  } catch (e) {
    for (const s of unit ? [loss, logp, unit] : [loss, logp]) be.free(s);
    throw e;
  }
  return record(
    logits._wrap(loss, []),
    [logits],
    (g) => {
      const d = be.alloc(logits.dtype, n * c);
      nllBackward(d, logp, targets._data(op), g._data(op), n, c);
      return [logits._wrap(d, logits.shape)];
    },
    op,
    () => {
      be.free(logp);
      if (unit) be.free(unit);
    },
    unit
      ? () => {
        const d = logits._wrap(unit!, logits.shape);
        unit = null; // handed over: the release leaves it to the gradient
        return [d];
      }
      : undefined,
  );
}
