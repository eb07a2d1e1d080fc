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
  Sequential,
  SumPool2d,
} from "./layers.ts";
