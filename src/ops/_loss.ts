/**
 * What the loss ops share: their option checks (reduction, weights, ignoreIndex), the reduction
 * itself, the class-index targets of `nllLoss` and `crossEntropy` (ignored entries masked out,
 * the mean divided by the weight of the targets kept), and freeing temporaries when no graph
 * is recorded.
 *
 * @module
 */
import type { Reduction } from "./_options.ts";
export type { Reduction } from "./_options.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { fmtShape } from "../backend/shape.ts";
import { fullLike, sameShape, scalarRaw, whereRaw } from "./_kernels.ts";
import { broadcastShapes, checkFloat, checkOptionKeys, checkTensor, sameDevice } from "./_util.ts";
import { div } from "./div.ts";
import { gather, indexSelect } from "./gather.ts";
import { mean } from "./mean.ts";
import { mul } from "./mul.ts";
import { neg } from "./neg.ts";
import { sum } from "./sum.ts";
import { view } from "./view.ts";
import { where } from "./where.ts";

const REDUCTIONS: readonly Reduction[] = ["mean", "sum", "none"];

/** Checks `opts` is an options object with only `allowed` keys. */
export function checkLossOptions(op: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new Error(`${op}: options must be an object with keys among ${allowed.join(", ")}, got ${String(opts)}`);
  }
  checkOptionKeys(op, opts, allowed);
}

/** The reduction option, "mean" when left out. */
export function reductionArg(op: string, reduction: unknown): Reduction {
  if (reduction === undefined) return "mean";
  if (!REDUCTIONS.includes(reduction as Reduction)) {
    throw new Error(`${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  }
  return reduction as Reduction;
}

/** A finite number option at least `min` (and at most `max`), `fallback` when left out. */
export function numberArg(op: string, name: string, v: unknown, fallback: number, min: number, max = Infinity): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new Error(`${op}: ${name} must be a number ${range}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The ignoreIndex option: an integer, −100 when left out (PyTorch's default). */
export function ignoreIndexArg(op: string, v: unknown): number {
  if (v === undefined) return -100;
  if (!Number.isInteger(v)) throw new Error(`${op}: ignoreIndex must be an integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/** `loss` reduced: itself, its sum or its mean (NaN for an empty loss, as PyTorch). */
export function reduceLoss<T extends TensorBase>(loss: T, reduction: Reduction): T {
  if (reduction === "none") return loss;
  return reduction === "sum" ? sum(loss) : mean(loss);
}

/** Throws unless `target` is a tensor of `input`'s shape, dtype and device (elementwise losses). */
export function checkPair(op: string, input: TensorBase, target: TensorBase): void {
  checkTensor(op, "input", input);
  checkTensor(op, "target", target);
  checkFloat(op, "input", input);
  checkFloat(op, "target", target, input.dtype);
  sameDevice(op, input, target);
  if (!sameShape(input.shape, target.shape)) {
    throw new Error(
      `${op}: target has shape ${fmtShape(target.shape)} but input has ${fmtShape(input.shape)}; expected the ` +
        "same shape (PyTorch would broadcast them with a warning; reshape one of them)",
    );
  }
}

/**
 * Throws unless `w` (the option `name`) is a float tensor of `input`'s dtype and device that
 * broadcasts to `input`'s shape without enlarging it; null when left out.
 */
export function elementWeight(op: string, name: string, w: unknown, input: TensorBase): TensorBase | null {
  if (w === undefined || w === null) return null;
  checkTensor(op, name, w);
  checkFloat(op, name, w, input.dtype);
  sameDevice(op, input, w);
  let fits: boolean;
  try {
    fits = sameShape(broadcastShapes(op, input.shape, w.shape), input.shape);
  } catch {
    fits = false;
  }
  if (!fits) {
    throw new Error(
      `${op}: ${name} has shape ${fmtShape(w.shape)}, which does not broadcast to the input's ` +
        `${fmtShape(input.shape)}; expected a shape that broadcasts to it`,
    );
  }
  return w;
}

/**
 * Checks class scores `input` ([C], [N, C] or [N, C, d1, ...]) and int32 class indices `target`
 * ([], [N] or [N, d1, ...]), named as the op names its arguments; the option `weight` must be
 * a float tensor of shape [C]. Returns the weight, or null.
 */
export function checkClassTargets(
  op: string,
  input: TensorBase,
  target: TensorBase,
  weight: unknown,
  [inputName, targetName]: readonly [string, string] = ["input", "target"],
): TensorBase | null {
  checkTensor(op, inputName, input);
  checkFloat(op, inputName, input);
  if (input.rank === 0) {
    throw new Error(`${op}: ${inputName} must be [C], [N, C] or [N, C, d1, ...] class scores, got a 0-d tensor`);
  }
  if (!(target instanceof TensorBase) || target.dtype !== "int32") {
    throw new Error(
      `${op}: ${targetName} must be an int32 tensor of class indices, got ${
        target instanceof TensorBase ? `${target.dtype} ${fmtShape(target.shape)}` : String(target)
      }`,
    );
  }
  const expected = input.rank === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
  if (!sameShape(target.shape, expected)) {
    throw new Error(
      `${op}: ${targetName} must have shape ${fmtShape(expected)} for ${inputName} ${fmtShape(input.shape)}, ` +
        `got ${fmtShape(target.shape)}; expected ${inputName} [N, C] with ${targetName} [N], ` +
        `[N, C, d1, ...] with [N, d1, ...], or [C] with 0-d ${targetName}`,
    );
  }
  sameDevice(op, input, target);
  if (input.size === 0) {
    throw new Error(`${op}: ${inputName} ${fmtShape(input.shape)} is empty; expected at least one class score`);
  }
  if (weight === undefined || weight === null) return null;
  checkTensor(op, "weight", weight);
  checkFloat(op, "weight", weight, input.dtype);
  sameDevice(op, input, weight);
  const c = input.rank === 1 ? input.shape[0] : input.shape[1];
  if (weight.rank !== 1 || weight.shape[0] !== c) {
    throw new Error(`${op}: weight has shape ${fmtShape(weight.shape)}; expected one weight per class, [${c}]`);
  }
  return weight;
}

/** Class targets of a batch, ready for `nllLoss` and label smoothing. */
export interface ClassTargets<T extends TensorBase> {
  /** int32 [N, d...]: 1 where the target is not ignoreIndex. */
  kept: TensorBase;
  /** Each kept target's class weight (1 without weights), 0 where ignored, [N, d...]. */
  weights: T;
  /** int32 [N, d...]: the targets with ignored ones replaced by class 0, safe to gather with. */
  safe: TensorBase;
}

/** The kept mask and the per-target weights of `target` (int32, [N, d...]). */
export function classTargets<T extends TensorBase>(
  logp: T,
  target: TensorBase,
  weight: TensorBase | null,
  ignoreIndex: number,
): ClassTargets<T> {
  const kept = scalarRaw("ne", target, ignoreIndex);
  const classZero = fullLike(target, 0, []);
  const safe = whereRaw(kept, target, classZero);
  classZero.dispose();
  let weights: T;
  if (weight) {
    const picked = indexSelect(weight, 0, view(safe, [safe.size])) as TensorBase as T;
    weights = where(kept, view(picked, target.shape), 0);
  } else {
    const one = fullLike(logp, 1, []), zero = fullLike(logp, 0, []);
    weights = whereRaw(kept, one, zero);
    one.dispose();
    zero.dispose();
  }
  return { kept, weights, safe };
}

/**
 * The negative log-likelihood of class `target` under log-probabilities `logp` [N, C, d...],
 * weighted, 0 where the target is ignored, reduced; the mean divides by the sum of the kept
 * targets' weights (NaN when every target is ignored, as PyTorch).
 */
export function negativeLogLikelihood<T extends TensorBase>(
  op: string,
  logp: T,
  target: TensorBase,
  classes: ClassTargets<T>,
  reduction: Reduction,
  ignoreIndex: number,
): T {
  const index = view(classes.safe, [target.shape[0], 1, ...target.shape.slice(1)]);
  let picked: T;
  try {
    picked = gather(logp, 1, index);
  } catch (e) {
    throw new Error(
      `${op}: a target is out of range; expected class indices in [0, ${logp.shape[1]}) or ignoreIndex ` +
        `${ignoreIndex} (${(e as Error).message})`,
      { cause: e },
    );
  }
  // Ignored entries picked class 0; `where` keeps them at 0 even if that log-probability is −∞.
  const weighted = mul(neg(view(picked, target.shape)), classes.weights);
  const loss = where(classes.kept, weighted, 0);
  return reduceClassLoss(loss, classes, reduction);
}

/** Sum, none, or the sum over the kept targets' total weight. */
export function reduceClassLoss<T extends TensorBase>(loss: T, classes: ClassTargets<T>, reduction: Reduction): T {
  if (reduction === "none") return loss;
  if (reduction === "sum") return sum(loss);
  return div(sum(loss), sum(classes.weights));
}

export { freeingTemporaries } from "./_scope.ts";
