/**
 * Training: the seed's MNIST network and its train / evaluate loops.
 *
 * @example
 * ```ts
 * import { trainMnist } from "./mod.ts";
 * const { epochs } = await trainMnist({ epochs: 1, limit: 2000, testLimit: 1000 });
 * console.log(epochs[0].accuracy);
 * ```
 *
 * @module
 */
export { Net } from "./mnist_net.ts";
export {
  type EpochResult,
  evaluate,
  type EvaluateOptions,
  type EvaluateResult,
  formatLr,
  MNIST_NORMALIZE,
  type Progress,
  trainEpoch,
  type TrainEpochOptions,
  type TrainEpochResult,
  trainMnist,
  type TrainMnistOptions,
  type TrainMnistResult,
} from "./train.ts";
