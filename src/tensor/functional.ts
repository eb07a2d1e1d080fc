/**
 * `F`: the functional form of the network ops, with PyTorch's names (`F.conv2d`, `F.maxPool2d`,
 * `F.crossEntropy`, ...). Each is the op in src/ops that the layers call.
 *
 * @module
 */
export { conv2d, type Conv2dOptions } from "../ops/conv2d.ts";
export { avgPool2d, maxPool2d, type Pool2dOptions, sumPool2d } from "../ops/pool2d.ts";
export { linear } from "../ops/linear.ts";
export { crossEntropy, type CrossEntropyOptions } from "../ops/cross_entropy.ts";
export { nllLoss, type NllLossOptions } from "../ops/nll_loss.ts";
export { mseLoss, type ReductionOptions } from "../ops/mse_loss.ts";
export { l1Loss } from "../ops/l1_loss.ts";
export { smoothL1Loss, type SmoothL1LossOptions } from "../ops/smooth_l1_loss.ts";
export { binaryCrossEntropy, type BinaryCrossEntropyOptions } from "../ops/binary_cross_entropy.ts";
export {
  binaryCrossEntropyWithLogits,
  type BinaryCrossEntropyWithLogitsOptions,
} from "../ops/binary_cross_entropy_with_logits.ts";
export type { Reduction } from "../ops/_loss.ts";
export { relu } from "../ops/relu.ts";
export { sigmoid } from "../ops/sigmoid.ts";
export { tanh } from "../ops/tanh.ts";
export { logSoftmax, softmax } from "../ops/softmax.ts";
export { batchNorm, type BatchNormOptions } from "../ops/batch_norm.ts";
export { layerNorm, type LayerNormOptions } from "../ops/layer_norm.ts";
export { groupNorm, type GroupNormOptions } from "../ops/group_norm.ts";
export { gelu, type GeluOptions } from "../ops/gelu.ts";
export { leakyRelu, type LeakyReluOptions } from "../ops/leaky_relu.ts";
export { silu } from "../ops/silu.ts";
export { elu, type EluOptions } from "../ops/elu.ts";
export { dropout, dropout2d, type DropoutOptions } from "../ops/dropout.ts";
export { adaptiveAvgPool2d, adaptiveMaxPool2d, type AdaptiveSize } from "../ops/adaptive_pool2d.ts";
export { convTranspose2d, type ConvTranspose2dOptions } from "../ops/conv_transpose2d.ts";
export { checkOptionKeys, pair, type Size2 } from "../ops/_util.ts";
