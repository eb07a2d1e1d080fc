/**
 * `F`: the functional form of the network ops, with PyTorch's names (`F.conv2d`, `F.maxPool2d`,
 * `F.crossEntropy`, ...). Each is the op in src/ops that the layers call.
 *
 * @module
 */
export * from "../ops/conv2d.ts";
export * from "../ops/pool2d.ts";
export * from "../ops/linear.ts";
export * from "../ops/cross_entropy.ts";
export * from "../ops/nll_loss.ts";
export * from "../ops/mse_loss.ts";
export * from "../ops/l1_loss.ts";
export * from "../ops/smooth_l1_loss.ts";
export * from "../ops/binary_cross_entropy.ts";
export * from "../ops/binary_cross_entropy_with_logits.ts";
export * from "../ops/relu.ts";
export * from "../ops/sigmoid.ts";
export * from "../ops/tanh.ts";
export * from "../ops/softmax.ts";
export * from "../ops/batch_norm.ts";
export * from "../ops/layer_norm.ts";
export * from "../ops/group_norm.ts";
export * from "../ops/gelu.ts";
export * from "../ops/leaky_relu.ts";
export * from "../ops/silu.ts";
export * from "../ops/elu.ts";
export * from "../ops/dropout.ts";
export * from "../ops/adaptive_pool2d.ts";
export * from "../ops/conv_transpose2d.ts";
export * from "../ops/_options.ts";
