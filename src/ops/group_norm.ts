/**
 * `groupNorm`: PyTorch's `F.group_norm`, a composite: the channels of each sample split into
 * `numGroups` groups, each normalised with its mean and biased variance, then scaled and shifted
 * per channel.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { fmtShape } from "../backend/shape.ts";
import { view } from "./view.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { checkEps, checkVector, freeingTemporaries, scaleShift, standardize } from "./_norm.ts";

/** Options of {@linkcode groupNorm}. */
export interface GroupNormOptions {
  /** Scale per channel, [C] (default none: 1). */
  weight?: TensorBase | null;
  /** Shift per channel, [C] (default none: 0). */
  bias?: TensorBase | null;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * Group normalisation of `x` [N, C, ...] with C split into `numGroups` groups of consecutive
 * channels, as PyTorch's `F.group_norm`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.groupNorm(tensor([[1, 3, 10, 30]]), 2).toArray(); // ≈ [-1, 1, -1, 1]
 * ```
 */
export function groupNorm<T extends TensorBase>(x: T, numGroups: number, opts: GroupNormOptions = {}): T {
  const op = "groupNorm";
  checkOptionKeys(op, opts, ["weight", "bias", "eps"]);
  checkTensor(op, "input", x);
  floatOnly(op, x);
  if (x.rank < 2) {
    throw new Error(`${op}: input must be [N, C, ...] with at least 2 dimensions, got shape ${fmtShape(x.shape)}`);
  }
  const channels = x.shape[1];
  if (!Number.isInteger(numGroups) || numGroups < 1 || channels % numGroups !== 0) {
    throw new Error(
      `${op}: numGroups must be a positive integer dividing the ${channels} channels of input ` +
        `${fmtShape(x.shape)}, got ${String(numGroups)}`,
    );
  }
  checkVector(op, "weight", opts.weight, x, [channels], "one value per channel");
  checkVector(op, "bias", opts.bias, x, [channels], "one value per channel");
  const eps = checkEps(op, opts.eps ?? 1e-5);
  const channelShape = x.shape.map((_, i) => (i === 1 ? channels : 1));
  return freeingTemporaries([x, opts.weight, opts.bias], () => {
    const grouped = view(x, [x.shape[0], numGroups, x.size / (x.shape[0] * numGroups)]);
    const y = view(standardize(grouped, [2], eps).y, x.shape);
    return scaleShift(y, opts.weight, opts.bias, channelShape);
  });
}
