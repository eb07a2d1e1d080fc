/**
 * `layerNorm`: PyTorch's `F.layer_norm`, a composite: each sample normalised over its trailing
 * `normalizedShape` dims with their mean and biased variance, then scaled and shifted elementwise.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { fmtShape } from "../backend/shape.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { checkEps, checkVector, freeingTemporaries, scaleShift, standardize } from "./_norm.ts";

/** Options of {@linkcode layerNorm}. */
export interface LayerNormOptions {
  /** Scale per element, shaped as `normalizedShape` (default none: 1). */
  weight?: TensorBase | null;
  /** Shift per element, shaped as `normalizedShape` (default none: 0). */
  bias?: TensorBase | null;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * Layer normalisation over the trailing dims of `x` given by `normalizedShape` (a size or a
 * list of sizes), as PyTorch's `F.layer_norm`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.layerNorm(tensor([[1, 3], [10, 30]]), 2).toArray(); // ≈ [-1, 1, -1, 1]
 * ```
 */
export function layerNorm<T extends TensorBase>(
  x: T,
  normalizedShape: number | readonly number[],
  opts: LayerNormOptions = {},
): T {
  const op = "layerNorm";
  checkOptionKeys(op, opts, ["weight", "bias", "eps"]);
  checkTensor(op, "input", x);
  floatOnly(op, x);
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(
      `${op}: normalizedShape must be a positive integer or a non-empty list of them, got ${
        JSON.stringify(normalizedShape)
      }`,
    );
  }
  const lead = x.rank - shape.length;
  if (lead < 0 || shape.some((d, i) => x.shape[lead + i] !== d)) {
    throw new Error(
      `${op}: normalizedShape ${fmtShape(shape)} must match the last dims of the input, ` +
        `expected input of shape [*, ${shape.join(", ")}], got ${fmtShape(x.shape)}`,
    );
  }
  const what = "normalizedShape";
  checkVector(op, "weight", opts.weight, x, shape, what);
  checkVector(op, "bias", opts.bias, x, shape, what);
  const eps = checkEps(op, opts.eps ?? 1e-5);
  const dims = shape.map((_, i) => lead + i);
  return freeingTemporaries(
    [x, opts.weight, opts.bias],
    () => scaleShift(standardize(x, dims, eps).y, opts.weight, opts.bias, shape),
  );
}
