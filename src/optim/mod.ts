/**
 * Optimizers and learning-rate schedules with PyTorch's update rules.
 *
 * @module
 */
export { Optimizer, type ParamGroup, type ParamGroupInput } from "./optimizer.ts";
export { Adadelta, type AdadeltaOptions } from "./adadelta.ts";
export { SGD, type SgdOptions } from "./sgd.ts";
export { Adam, type AdamOptions } from "./adam.ts";
export { StepLR, type StepLROptions } from "./lr_scheduler.ts";
