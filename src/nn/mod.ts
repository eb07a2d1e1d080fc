/**
 * Layers and the `Module` base class.
 *
 * @module
 */
export { Module, parameter } from "./module.ts";
export {
  AvgPool2d,
  Conv2d,
  type Conv2dLayerOptions,
  CrossEntropyLoss,
  Flatten,
  Linear,
  MaxPool2d,
  ReLU,
  SumPool2d,
} from "./layers.ts";
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
