/**
 * `binaryCrossEntropy`: the loss of probabilities against targets in [0, 1], with PyTorch's
 * clamp of each log to ≥ −100 and its gradient `(p − t) / max(p·(1 − p), 1e-12)`, which stays
 * finite where a sigmoid saturated to exactly 0 or 1.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { binaryRaw, scalarRaw, unaryRaw } from "./_kernels.ts";
import {
  checkLossOptions,
  checkPair,
  elementWeight,
  freeingTemporaries,
  reduceLoss,
  type Reduction,
  reductionArg,
} from "./_loss.ts";
import { mul } from "./mul.ts";

/** Options of {@linkcode binaryCrossEntropy}. */
export interface BinaryCrossEntropyOptions {
  /** Scales each element's loss; broadcasts to the input's shape (default: none). */
  weight?: TensorBase | null;
  /** "mean" (default), "sum" or "none". */
  reduction?: Reduction;
}

/**
 * `−weight·(t·log p + (1 − t)·log(1 − p))` elementwise, each log clamped to ≥ −100, reduced, as
 * PyTorch's `F.binary_cross_entropy`. `p` holds probabilities in [0, 1] (values outside give
 * NaN: they are not checked, which would need a device sync); `target` has `p`'s shape and gets
 * a gradient too.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * const p = tensor([0.9, 0.2, 1]);
 * F.binaryCrossEntropy(p, tensor([1, 0, 0]), { reduction: "none" }).toArray(); // [0.1054, 0.2231, 100]
 * ```
 */
export function binaryCrossEntropy<T extends TensorBase>(
  p: T,
  target: TensorBase,
  opts: BinaryCrossEntropyOptions = {},
): T {
  const op = "binaryCrossEntropy";
  checkLossOptions(op, opts, ["weight", "reduction"]);
  const reduction = reductionArg(op, opts.reduction);
  checkPair(op, p, target);
  const weight = elementWeight(op, "weight", opts.weight, p);
  return freeingTemporaries([p, target, weight], () => {
    const loss = elementwise(op, p, target);
    return reduceLoss(weight ? mul(loss, weight) : loss, reduction);
  });
}

/** `log(x)` clamped to ≥ −100 (PyTorch's bound, so p = 0 or 1 costs 100, not ∞). */
function clampedLog<T extends TensorBase>(x: T): T {
  const l = unaryRaw("log", x);
  const out = scalarRaw("max", l, -100);
  l.dispose();
  return out;
}

/** The unweighted, unreduced loss, with PyTorch's gradients for `p` and `target`. */
function elementwise<T extends TensorBase>(op: string, p: T, t: TensorBase): T {
  const q = scalarRaw("rsub", p, 1);
  const logP = clampedLog(p), logQ = clampedLog(q);
  const tMinus1 = scalarRaw("sub", t, 1);
  const a = binaryRaw("mul", tMinus1, logQ), b = binaryRaw("mul", t, logP);
  const loss = binaryRaw("sub", a, b) as TensorBase as T; // (t − 1)·log(1 − p) − t·log p
  for (const tmp of [q, logP, logQ, tMinus1, a, b]) tmp.dispose();
  return record(loss, [p, t], (g) => {
    // The backward runs inside a tidy: its temporaries are freed when it returns.
    let dp: TensorBase | null = null, dt: TensorBase | null = null;
    const oneMinusP = scalarRaw("rsub", p, 1);
    if (p.requiresGrad) {
      const variance = scalarRaw("max", binaryRaw("mul", p, oneMinusP), 1e-12);
      dp = binaryRaw("div", binaryRaw("mul", g, binaryRaw("sub", p, t)), variance);
    }
    if (t.requiresGrad) {
      // −logit(p) = log(1 − p) − log p, unclamped as PyTorch's target gradient.
      dt = binaryRaw("mul", g, binaryRaw("sub", unaryRaw("log", oneMinusP), unaryRaw("log", p)));
    }
    return [dp, dt];
  }, op);
}
