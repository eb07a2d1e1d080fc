/**
 * What batchNorm, layerNorm and groupNorm share: standardising over some dims, the optional
 * per-element scale and shift, the checks of those vectors, and freeing temporaries when no
 * graph needs them.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { fmtShape } from "../backend/shape.ts";
import { add } from "./add.ts";
import { mean } from "./mean.ts";
import { mul } from "./mul.ts";
import { pow } from "./pow.ts";
import { sub } from "./sub.ts";
import { view } from "./view.ts";
import { checkFloat, checkTensor, sameDevice } from "./_util.ts";

/** `x` standardised over some dims, with the statistics it used (the reduced dims kept as size 1). */
export interface Standardized<T> {
  /** `(x − mean) / √(variance + eps)`. */
  y: T;
  /** The mean over the reduced dims. */
  mean: T;
  /** The biased variance (divided by N) over the reduced dims. */
  variance: T;
}

/** `(x − mean) / √(var + eps)` over `dims`, with the biased variance, as PyTorch normalises. */
export function standardize<T extends TensorBase>(x: T, dims: readonly number[], eps: number): Standardized<T> {
  const mu = mean(x, dims, { keepDim: true });
  const centred = sub(x, mu);
  const variance = mean(mul(centred, centred), dims, { keepDim: true });
  return { y: mul(centred, pow(add(variance, eps), -0.5)), mean: mu, variance };
}

/** `y · weight + bias` (each optional), the vectors viewed as `shape` to broadcast against `y`. */
export function scaleShift<T extends TensorBase>(
  y: T,
  weight: TensorBase | null | undefined,
  bias: TensorBase | null | undefined,
  shape: readonly number[],
): T {
  let out = y;
  if (weight) out = mul(out, view(weight, shape));
  if (bias) out = add(out, view(bias, shape));
  return out;
}

/** Throws unless `v` (weight, bias, a running statistic) is absent or a float tensor of `shape` beside `x`. */
export function checkVector(
  op: string,
  arg: string,
  v: TensorBase | null | undefined,
  x: TensorBase,
  shape: readonly number[],
  what: string,
): void {
  if (v === null || v === undefined) return;
  checkTensor(op, arg, v);
  checkFloat(op, arg, v, x.dtype);
  sameDevice(op, x, v);
  if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
    throw new Error(
      `${op}: ${arg} must have shape ${fmtShape(shape)} (${what} of input ${fmtShape(x.shape)}), ` +
        `got ${fmtShape(v.shape)}`,
    );
  }
}

/** Throws unless `eps` is a finite number ≥ 0. */
export function checkEps(op: string, eps: unknown): number {
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
    throw new Error(`${op}: eps must be a finite number ≥ 0, got ${String(eps)}`);
  }
  return eps;
}

export { freeingTemporaries } from "./_scope.ts";
