/**
 * `batchNorm`: PyTorch's `F.batch_norm`, a composite. In training it normalises each channel
 * (dim 1) with the batch's mean and biased variance over every other dim, and moves the running
 * statistics towards the batch's (the variance unbiased) by writing into their storage; in
 * evaluation it normalises with the running statistics.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { noGrad } from "../autograd/mode.ts";
import { tidy } from "../autograd/tidy.ts";
import { fmtShape } from "../backend/shape.ts";
import { add } from "./add.ts";
import { mul } from "./mul.ts";
import { pow } from "./pow.ts";
import { sub } from "./sub.ts";
import { view } from "./view.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { checkEps, checkVector, freeingTemporaries, scaleShift, standardize } from "./_norm.ts";

/** Options of {@linkcode batchNorm}. */
export interface BatchNormOptions {
  /** Scale per channel, [C] (default none: 1). */
  weight?: TensorBase | null;
  /** Shift per channel, [C] (default none: 0). */
  bias?: TensorBase | null;
  /** Normalise with the batch's statistics and update the running ones (default false: use the running ones). */
  training?: boolean;
  /** Weight of the batch's statistics in the running update: `new = (1 − momentum)·old + momentum·batch` (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalisation of `x` [N, C, ...] per channel, as PyTorch's `F.batch_norm`.
 * `runningMean` and `runningVar` ([C], or null) are required when `training` is false; when
 * training they are updated in place (the variance with N / (N − 1), N the values per channel).
 * They carry no gradient.
 *
 * @example
 * ```ts
 * import { F, Tensor, tensor } from "@convnet/convnet";
 * const x = tensor([[1, 10], [3, 30]]);
 * const runningMean = Tensor.zeros([2]), runningVar = Tensor.ones([2]);
 * F.batchNorm(x, runningMean, runningVar, { training: true }).toArray(); // ≈ [-1, -1, 1, 1]
 * runningMean.toArray(); // [0.2, 2]: 0.9·0 + 0.1·[2, 20]
 * ```
 */
export function batchNorm<T extends TensorBase>(
  x: T,
  runningMean: TensorBase | null,
  runningVar: TensorBase | null,
  opts: BatchNormOptions = {},
): T {
  const op = "batchNorm";
  checkOptionKeys(op, opts, ["weight", "bias", "training", "momentum", "eps"]);
  checkTensor(op, "input", x);
  floatOnly(op, x);
  if (x.rank < 2) {
    throw new Error(`${op}: input must be [N, C, ...] with at least 2 dimensions, got shape ${fmtShape(x.shape)}`);
  }
  const channels = x.shape[1];
  const perChannel = "one value per channel";
  checkVector(op, "weight", opts.weight, x, [channels], perChannel);
  checkVector(op, "bias", opts.bias, x, [channels], perChannel);
  checkVector(op, "runningMean", runningMean, x, [channels], perChannel);
  checkVector(op, "runningVar", runningVar, x, [channels], perChannel);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new Error(`${op}: runningMean and runningVar must both be tensors or both be null`);
  }
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  if (typeof momentum !== "number" || !Number.isFinite(momentum)) {
    throw new Error(`${op}: momentum must be a finite number, got ${String(momentum)}`);
  }
  const eps = checkEps(op, opts.eps ?? 1e-5);
  const channelShape = x.shape.map((_, i) => (i === 1 ? channels : 1));
  const { weight, bias } = opts;

  if (!training) {
    if (runningMean === null || runningVar === null) {
      throw new Error(`${op}: runningMean and runningVar are required in evaluation mode (training: false)`);
    }
    // The running statistics are constants here: (x − mean) · (var + eps)^−½.
    return freeingTemporaries([x, weight, bias], () => {
      const mu = view(runningMean.detach(), channelShape);
      const invStd = pow(add(view(runningVar.detach(), channelShape), eps), -0.5);
      return scaleShift(mul(sub(x, mu), invStd), weight, bias, channelShape);
    });
  }

  const count = x.size / channels;
  if (count <= 1) {
    throw new Error(
      `${op}: expected more than 1 value per channel when training, got input of shape ${fmtShape(x.shape)}`,
    );
  }
  const reduced = x.shape.map((_, i) => i).filter((i) => i !== 1);
  return freeingTemporaries([x, weight, bias], () => {
    const { y, mean, variance } = standardize(x, reduced, eps);
    if (runningMean !== null && runningVar !== null) {
      noGrad(() =>
        tidy(() => {
          const unbiased = count / (count - 1);
          overwrite(op, runningMean, add(mul(runningMean, 1 - momentum), mul(view(mean, [channels]), momentum)));
          overwrite(
            op,
            runningVar,
            add(mul(runningVar, 1 - momentum), mul(view(variance, [channels]), momentum * unbiased)),
          );
        })
      );
    }
    return scaleShift(y, weight, bias, channelShape);
  });
}

/** Writes `value` into `target`'s storage: the update is seen by every tensor sharing it (a module's buffer). */
function overwrite(op: string, target: TensorBase, value: TensorBase): void {
  target._backend.copy(target._data(op), value._data(op), target.size);
}
