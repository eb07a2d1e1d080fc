/**
 * Layers and the `Module` base class.
 *
 * @module
 */
export { Module, parameter } from "./module.ts";
export { type ModelSummary, summary, type SummaryOptions, type SummaryRow } from "./summary.ts";
export { AvgPool2d, Conv2d, type Conv2dLayerOptions, Flatten, Linear, MaxPool2d, ReLU, SumPool2d } from "./layers.ts";
export {
  BatchNorm1d,
  BatchNorm2d,
  type BatchNormLayerOptions,
  GroupNorm,
  type GroupNormLayerOptions,
  LayerNorm,
  type LayerNormLayerOptions,
} from "./normalization.ts";
export { AdaptiveAvgPool2d, AdaptiveMaxPool2d, ConvTranspose2d, type ConvTranspose2dLayerOptions } from "./spatial.ts";
export {
  Dropout,
  Dropout2d,
  type DropoutLayerOptions,
  ELU,
  GELU,
  Identity,
  LeakyReLU,
  LogSoftmax,
  Sigmoid,
  SiLU,
  Softmax,
  type SoftmaxLayerOptions,
  Tanh,
} from "./activations.ts";
export { ModuleList, Sequential } from "./containers.ts";
export {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  L1Loss,
  type LossOptions,
  MSELoss,
  NLLLoss,
  SmoothL1Loss,
} from "./losses.ts";
