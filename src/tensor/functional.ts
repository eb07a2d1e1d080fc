/**
 * `F`: the functional form of the network ops, with PyTorch's names (`F.conv2d`, `F.maxPool2d`,
 * `F.crossEntropy`, ...). Each is the op in src/ops that the layers call.
 *
 * @module
 */
export { conv2d, type Conv2dOptions } from "../ops/conv2d.ts";
export { avgPool2d, maxPool2d, type Pool2dOptions, sumPool2d } from "../ops/pool2d.ts";
export { linear } from "../ops/linear.ts";
export { crossEntropy } from "../ops/cross_entropy.ts";
export { relu } from "../ops/relu.ts";
export { sigmoid } from "../ops/sigmoid.ts";
export { tanh } from "../ops/tanh.ts";
export { logSoftmax, softmax } from "../ops/softmax.ts";
export { gelu, type GeluOptions } from "../ops/gelu.ts";
export { leakyRelu, type LeakyReluOptions } from "../ops/leaky_relu.ts";
export { silu } from "../ops/silu.ts";
export { elu, type EluOptions } from "../ops/elu.ts";
export { dropout, dropout2d, type DropoutOptions } from "../ops/dropout.ts";
export { checkOptionKeys, pair, type Size2 } from "../ops/_util.ts";
