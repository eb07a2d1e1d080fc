/**
 * `softmax` and `logSoftmax` along a dimension, composites written stably: the maximum is
 * subtracted first, so large logits do not overflow.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { noGrad } from "../autograd/mode.ts";
import { dimArg, floatOnly } from "./_util.ts";
import { div } from "./div.ts";
import { exp } from "./exp.ts";
import { log } from "./log.ts";
import { max } from "./max_min.ts";
import { sub } from "./sub.ts";
import { sum } from "./sum.ts";

/** `x − max(x)` along `dim` (the shift carries no gradient: softmax does not depend on it). */
function shifted<T extends TensorBase>(op: string, x: T, dim: number): T {
  floatOnly(op, x);
  const d = dimArg(op, dim, x.rank);
  const top = noGrad(() => max(x, d, { keepDim: true }));
  const out = sub(x, top);
  top.dispose();
  return out;
}

/**
 * `e^x / Σ e^x` along `dim`.
 *
 * @example
 * ```ts
 * import { softmax, tensor } from "@convnet/convnet";
 * softmax(tensor([[1, 1], [0, Math.log(3)]]), 1).toArray(); // [0.5, 0.5, 0.25, 0.75]
 * ```
 */
export function softmax<T extends TensorBase>(x: T, dim: number): T {
  const e = exp(shifted("softmax", x, dim));
  return div(e, sum(e, dim, { keepDim: true }));
}

/**
 * `x − log Σ e^x` along `dim`: the log of {@linkcode softmax}, computed stably.
 *
 * @example
 * ```ts
 * import { logSoftmax, tensor } from "@convnet/convnet";
 * logSoftmax(tensor([[0, 0]]), 1).toArray(); // [-0.6931472, -0.6931472]
 * ```
 */
export function logSoftmax<T extends TensorBase>(x: T, dim: number): T {
  const z = shifted("logSoftmax", x, dim);
  return sub(z, log(sum(exp(z), dim, { keepDim: true })));
}
