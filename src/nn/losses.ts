/**
 * Loss layers: PyTorch's criterion modules over the loss ops of `F`, with the same options and
 * state dict keys (class weights are the buffer `weight`, BCEWithLogitsLoss's positive weights
 * `pos_weight`, so they move with `to()` and load with `loadStateDict`).
 *
 * @module
 */
import * as F from "../tensor/functional.ts";
import { Tensor } from "../tensor/mod.ts";
import { checkLossOptions, ignoreIndexArg, numberArg, reductionArg } from "../ops/_loss.ts";
import { Module } from "./module.ts";

/** Throws unless `t` (the option `name`) is a Tensor or left out; returns it or null. */
function tensorOption(layer: string, name: string, t: unknown): Tensor | null {
  if (t === undefined || t === null) return null;
  if (!(t instanceof Tensor)) {
    throw new Error(`${layer}: ${name} must be a Tensor, got ${String(t)}`);
  }
  return t as Tensor;
}

/** Options of the layers that only reduce: {@linkcode MSELoss}, {@linkcode L1Loss}. */
export interface LossOptions {
  /** "mean" (default), "sum" or "none". */
  reduction?: F.Reduction;
}

/**
 * Negative log-likelihood of class indices under log-probabilities (after `LogSoftmax`);
 * `forward(logProbs [N, C] or [N, C, d1, ...], target [N] or [N, d1, ...] int32)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * const criterion = new nn.NLLLoss({ weight: tensor([1, 2, 1]), ignoreIndex: -1 });
 * const logp = new nn.LogSoftmax({ dim: 1 }).forward(tensor([[1, 2, 3], [0, 0, 5]]));
 * criterion.forward(logp, tensor([1, -1], [2], { dtype: "int32" })).item(); // 1.4076
 * ```
 */
export class NLLLoss extends Module {
  /** A weight per class [C] (the buffer `weight`), or null. */
  readonly weight: Tensor | null;
  /** The options given to `F.nllLoss`, the weight aside. */
  readonly options: Omit<F.NllLossOptions, "weight">;

  /** Creates the criterion; the options are `F.nllLoss`'s. */
  constructor(opts: F.NllLossOptions = {}) {
    super();
    checkLossOptions("NLLLoss", opts, ["weight", "ignoreIndex", "reduction"]);
    reductionArg("NLLLoss", opts.reduction);
    ignoreIndexArg("NLLLoss", opts.ignoreIndex);
    this.weight = this.registerBuffer("weight", tensorOption("NLLLoss", "weight", opts.weight));
    const { weight: _, ...rest } = opts;
    this.options = rest;
  }

  /** The loss of `logProbs` for the class indices `target`. */
  forward(logProbs: Tensor, target: Tensor): Tensor {
    return F.nllLoss(logProbs, target, { ...this.options, weight: this.weight });
  }
}

/**
 * Cross-entropy of logits and class indices, with PyTorch's class weights, ignoreIndex,
 * reductions and label smoothing; `forward(logits [N, C] or [N, C, d1, ...], targets [N] or
 * [N, d1, ...] int32)`. With no options it is the fused kernel of the training loop.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * const criterion = new nn.CrossEntropyLoss();
 * const loss = criterion.forward(tensor([[1, 2, 3]]), tensor([2], [1], { dtype: "int32" }));
 * const smoothed = new nn.CrossEntropyLoss({ labelSmoothing: 0.1, weight: tensor([1, 1, 2]) });
 * smoothed.forward(tensor([[1, 2, 3]]), tensor([2], [1], { dtype: "int32" }));
 * ```
 */
export class CrossEntropyLoss extends Module {
  /** A weight per class [C] (the buffer `weight`), or null. */
  readonly weight: Tensor | null;
  /** The options given to `F.crossEntropy`, the weight aside. */
  readonly options: Omit<F.CrossEntropyOptions, "weight">;

  /** Creates the criterion; the options are `F.crossEntropy`'s. */
  constructor(opts: F.CrossEntropyOptions = {}) {
    super();
    const name = "CrossEntropyLoss";
    checkLossOptions(name, opts, ["weight", "ignoreIndex", "reduction", "labelSmoothing"]);
    reductionArg(name, opts.reduction);
    ignoreIndexArg(name, opts.ignoreIndex);
    numberArg(name, "labelSmoothing", opts.labelSmoothing, 0, 0, 1);
    this.weight = this.registerBuffer("weight", tensorOption(name, "weight", opts.weight));
    const { weight: _, ...rest } = opts;
    this.options = rest;
  }

  /** The loss of `logits` for the class indices `targets`. */
  forward(logits: Tensor, targets: Tensor): Tensor {
    // No weight: leave the key out, so the default options keep the fused kernel.
    return F.crossEntropy(logits, targets, this.weight ? { ...this.options, weight: this.weight } : this.options);
  }
}

/**
 * Mean squared error; `forward(input, target)` of the same shape.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.MSELoss().forward(tensor([1, 2, 3]), tensor([1, 0, 0])).item(); // 13 / 3
 * ```
 */
export class MSELoss extends Module {
  /** The options given to `F.mseLoss`. */
  readonly options: LossOptions;
  /** Creates the criterion. */
  constructor(opts: LossOptions = {}) {
    super();
    checkLossOptions("MSELoss", opts, ["reduction"]);
    reductionArg("MSELoss", opts.reduction);
    this.options = { ...opts };
  }
  /** The loss of `input` against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, this.options);
  }
}

/**
 * Mean absolute error; `forward(input, target)` of the same shape.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.L1Loss({ reduction: "sum" }).forward(tensor([1, 2, 3]), tensor([1, 0, 0])).item(); // 5
 * ```
 */
export class L1Loss extends Module {
  /** The options given to `F.l1Loss`. */
  readonly options: LossOptions;
  /** Creates the criterion. */
  constructor(opts: LossOptions = {}) {
    super();
    checkLossOptions("L1Loss", opts, ["reduction"]);
    reductionArg("L1Loss", opts.reduction);
    this.options = { ...opts };
  }
  /** The loss of `input` against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, this.options);
  }
}

/**
 * Smooth L1 loss: quadratic below `beta` (default 1), linear above; `forward(input, target)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.SmoothL1Loss({ beta: 0.5 }).forward(tensor([0.2, 3]), tensor([0, 0])).item(); // (0.04 + 2.75) / 2
 * ```
 */
export class SmoothL1Loss extends Module {
  /** The options given to `F.smoothL1Loss`. */
  readonly options: F.SmoothL1LossOptions;
  /** Creates the criterion. */
  constructor(opts: F.SmoothL1LossOptions = {}) {
    super();
    checkLossOptions("SmoothL1Loss", opts, ["reduction", "beta"]);
    reductionArg("SmoothL1Loss", opts.reduction);
    numberArg("SmoothL1Loss", "beta", opts.beta, 1, 0);
    this.options = { ...opts };
  }
  /** The loss of `input` against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(input, target, this.options);
  }
}

/**
 * Binary cross-entropy of probabilities (after `Sigmoid`); `forward(p, target)` of the same
 * shape. Prefer {@linkcode BCEWithLogitsLoss} on logits: it is stable.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.BCELoss().forward(tensor([0.9, 0.2]), tensor([1, 0])).item(); // 0.1643
 * ```
 */
export class BCELoss extends Module {
  /** Scales each element's loss (the buffer `weight`), or null. */
  readonly weight: Tensor | null;
  /** The options given to `F.binaryCrossEntropy`, the weight aside. */
  readonly options: LossOptions;
  /** Creates the criterion; the options are `F.binaryCrossEntropy`'s. */
  constructor(opts: F.BinaryCrossEntropyOptions = {}) {
    super();
    checkLossOptions("BCELoss", opts, ["weight", "reduction"]);
    reductionArg("BCELoss", opts.reduction);
    this.weight = this.registerBuffer("weight", tensorOption("BCELoss", "weight", opts.weight));
    this.options = opts.reduction === undefined ? {} : { reduction: opts.reduction };
  }
  /** The loss of probabilities `p` against `target`. */
  forward(p: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropy(p, target, { ...this.options, weight: this.weight });
  }
}

/**
 * Sigmoid and binary cross-entropy in one stable step, on logits; `forward(logits, target)` of
 * the same shape. `posWeight` (the buffer `pos_weight`) weighs the positive term, e.g. per class.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * const criterion = new nn.BCEWithLogitsLoss({ posWeight: tensor([2, 1]) });
 * criterion.forward(tensor([[3, -2], [0, 1]]), tensor([[1, 0], [0, 1]])).item();
 * Object.keys(criterion.stateDict()); // ["pos_weight"]
 * ```
 */
export class BCEWithLogitsLoss extends Module {
  /** Scales each element's loss (the buffer `weight`), or null. */
  readonly weight: Tensor | null;
  /** Weight of the positive term (the buffer `pos_weight`), or null. */
  readonly posWeight: Tensor | null;
  /** The options given to `F.binaryCrossEntropyWithLogits`, the weights aside. */
  readonly options: LossOptions;
  /** Creates the criterion; the options are `F.binaryCrossEntropyWithLogits`'s. */
  constructor(opts: F.BinaryCrossEntropyWithLogitsOptions = {}) {
    super();
    const name = "BCEWithLogitsLoss";
    checkLossOptions(name, opts, ["weight", "posWeight", "reduction"]);
    reductionArg(name, opts.reduction);
    this.weight = this.registerBuffer("weight", tensorOption(name, "weight", opts.weight));
    this.posWeight = this.registerBuffer("pos_weight", tensorOption(name, "posWeight", opts.posWeight));
    this.options = opts.reduction === undefined ? {} : { reduction: opts.reduction };
  }
  /** The loss of `logits` against `target`. */
  forward(logits: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(logits, target, {
      ...this.options,
      weight: this.weight,
      posWeight: this.posWeight,
    });
  }
}
