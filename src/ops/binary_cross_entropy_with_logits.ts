/**
 * `binaryCrossEntropyWithLogits`: sigmoid and binary cross-entropy in one stable expression,
 * PyTorch's `(1 − t)·x + lw·softplus(−x)` with `lw = 1 + (posWeight − 1)·t` and softplus
 * computed as `log(e^−m + e^(−x−m)) + m`, `m = max(−x, 0)`, so no exponential overflows. A
 * composite; autograd gives the gradients of the input and the target.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { noGrad } from "../autograd/mode.ts";
import {
  checkLossOptions,
  checkPair,
  elementWeight,
  freeingTemporaries,
  reduceLoss,
  type Reduction,
  reductionArg,
} from "./_loss.ts";
import { add } from "./add.ts";
import { exp } from "./exp.ts";
import { log } from "./log.ts";
import { mul } from "./mul.ts";
import { neg } from "./neg.ts";
import { relu } from "./relu.ts";
import { sub } from "./sub.ts";

/** Options of {@linkcode binaryCrossEntropyWithLogits}. */
export interface BinaryCrossEntropyWithLogitsOptions {
  /** Scales each element's loss; broadcasts to the input's shape (default: none). */
  weight?: TensorBase | null;
  /**
   * Weight of the positive term, e.g. one per class [C] (negatives / positives); broadcasts to
   * the input's shape (default: none, i.e. 1).
   */
  posWeight?: TensorBase | null;
  /** "mean" (default), "sum" or "none". */
  reduction?: Reduction;
}

/**
 * `−weight·(posWeight·t·log σ(x) + (1 − t)·log(1 − σ(x)))` elementwise, computed stably from the
 * logits `x`, reduced, as PyTorch's `F.binary_cross_entropy_with_logits`. `target` has `x`'s
 * shape and gets a gradient too.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * const logits = tensor([[2, -1], [100, -100]]);
 * const target = tensor([[1, 0], [1, 1]]);
 * F.binaryCrossEntropyWithLogits(logits, target, { reduction: "none" }).toArray(); // [0.1269, 0.3133, 0, 100]
 * F.binaryCrossEntropyWithLogits(logits, target, { posWeight: tensor([3, 1]) }).item();
 * ```
 */
export function binaryCrossEntropyWithLogits<T extends TensorBase>(
  x: T,
  target: TensorBase,
  opts: BinaryCrossEntropyWithLogitsOptions = {},
): T {
  const op = "binaryCrossEntropyWithLogits";
  checkLossOptions(op, opts, ["weight", "posWeight", "reduction"]);
  const reduction = reductionArg(op, opts.reduction);
  checkPair(op, x, target);
  const weight = elementWeight(op, "weight", opts.weight, x);
  const posWeight = elementWeight(op, "posWeight", opts.posWeight, x);
  return freeingTemporaries([x, target, weight, posWeight], () => {
    // softplus(−x) = log(1 + e^−x); the shift m carries no gradient (the value does not depend on it).
    const m = noGrad(() => relu(neg(x)));
    const softplus = add(log(add(exp(neg(m)), exp(sub(neg(x), m)))), m);
    const negatives = mul(x, add(neg(target), 1));
    const logWeight = posWeight ? add(mul(sub(posWeight, 1), target), 1) : null;
    const loss = add(negatives, logWeight ? mul(softplus, logWeight) : softplus);
    return reduceLoss(weight ? mul(loss, weight) : loss, reduction);
  });
}
