/**
 * Gradient clipping, as PyTorch's `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`:
 * the gradients are scaled or clamped in place on their device.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { binaryRaw, reduceAllRaw, scalarRaw, unaryRaw } from "../ops/_kernels.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { cat } from "../ops/cat.ts";
import { Tensor } from "../tensor/mod.ts";
import { update, writeBack } from "./_composite.ts";

/** Options of {@linkcode clipGradNorm}. */
export interface ClipGradNormOptions {
  /** The p of the p-norm: a number > 0, or `Infinity` for the largest magnitude (default 2). */
  normType?: number;
  /** Throw when the total norm is NaN or infinite, leaving the gradients as they are (default false). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients of `params` in place so that their total norm (the norm of all of them
 * as one vector) is at most `maxNorm`, by `min(1, maxNorm / (total + 1e-6))` as PyTorch does;
 * returns the total norm before clipping (0 when no parameter has a gradient).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@convnet/convnet";
 * const w = tensor([0, 0], [2], { requiresGrad: true });
 * w.grad = tensor([3, 4]);
 * optim.clipGradNorm([w], 1); // 5; w.grad is now about [0.6, 0.8]
 * ```
 */
export function clipGradNorm(
  params: Tensor | Iterable<Tensor>,
  maxNorm: number,
  opts: ClipGradNormOptions = {},
): number {
  checkOptionKeys("clipGradNorm", opts, ["normType", "errorIfNonfinite"]);
  const { normType = 2, errorIfNonfinite = false } = opts;
  if (typeof maxNorm !== "number" || !(maxNorm >= 0)) {
    throw new Error(`clipGradNorm: maxNorm must be a number ≥ 0, got ${JSON.stringify(maxNorm)}`);
  }
  if (typeof normType !== "number" || !(normType > 0)) {
    throw new Error(`clipGradNorm: normType must be a number > 0 or Infinity, got ${JSON.stringify(normType)}`);
  }
  const grads = gradsOf("clipGradNorm", params);
  if (grads.length === 0) return 0;
  let total = 0;
  update(() => {
    const norms = grads.map((g) => pNorm(g, normType));
    const all = norms.length === 1 ? norms[0] : cat(norms, 0);
    const totalNorm = normType === Infinity ? reduceAllRaw("max", all, []) : pNorm(all, normType, []);
    total = totalNorm.item();
    if (errorIfNonfinite && !Number.isFinite(total)) return;
    const coef = scalarRaw("min", scalarRaw("rdiv", scalarRaw("add", totalNorm, 1e-6), maxNorm), 1);
    for (const g of grads) writeBack(g, binaryRaw("mul", g, coef));
  });
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} of the gradients is ${total}; ` +
        "the gradients were left as they are (errorIfNonfinite is true)",
    );
  }
  return total;
}

/**
 * Clamps the gradients of `params` in place to `[−clipValue, clipValue]`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@convnet/convnet";
 * const w = tensor([0, 0, 0], [3], { requiresGrad: true });
 * w.grad = tensor([-3, 0.5, 2]);
 * optim.clipGradValue([w], 1); // w.grad is now [-1, 0.5, 1]
 * ```
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (typeof clipValue !== "number" || !(clipValue >= 0)) {
    throw new Error(`clipGradValue: clipValue must be a number ≥ 0, got ${JSON.stringify(clipValue)}`);
  }
  const grads = gradsOf("clipGradValue", params);
  update(() => {
    for (const g of grads) writeBack(g, scalarRaw("min", scalarRaw("max", g, -clipValue), clipValue));
  });
}

/** The gradients of the parameters that have one, all on one device. */
function gradsOf(op: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : params && Symbol.iterator in Object(params) ? [...params] : null;
  if (!list) throw new Error(`${op}: params must be a Tensor or an iterable of Tensors, got ${String(params)}`);
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${op}: params[${i}] is not a Tensor`);
    if (!p.grad) return;
    if (p.grad.dtype !== "float32" && p.grad.dtype !== "float64") {
      throw new Error(`${op}: params[${i}] has a ${p.grad.dtype} gradient; expected float32 or float64`);
    }
    if (grads.length && p.grad.device !== grads[0].device) {
      throw new Error(
        `${op}: the gradients are on several devices (${grads[0].device.type} and ${p.grad.device.type}); ` +
          "expected one",
      );
    }
    grads.push(p.grad);
  });
  return grads;
}

/** The p-norm of all of `x`'s elements, as a tensor of `shape` (default [1]). */
function pNorm<T extends TensorBase>(x: T, p: number, shape: readonly number[] = [1]): T {
  if (p === Infinity) return reduceAllRaw("max", unaryRaw("abs", x), shape);
  if (p === 1) return reduceAllRaw("sum", unaryRaw("abs", x), shape);
  if (p === 2) return unaryRaw("sqrt", reduceAllRaw("sum", binaryRaw("mul", x, x), shape));
  return scalarRaw("pow", reduceAllRaw("sum", scalarRaw("pow", unaryRaw("abs", x), p), shape), 1 / p);
}
