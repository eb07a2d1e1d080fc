/**
 * Optimizers and learning-rate schedules with PyTorch's update rules.
 *
 * @module
 */
export { Optimizer, type ParamGroup, type ParamGroupInput } from "./optimizer.ts";
export { Adadelta, type AdadeltaOptions } from "./adadelta.ts";
export { SGD, type SgdOptions } from "./sgd.ts";
export { Adam, type AdamOptions } from "./adam.ts";
export { type OptimizerStateDict, type ParamGroupState, type ParamState, type StateLayout } from "./optimizer.ts";
export { AdamW, type AdamWOptions } from "./adamw.ts";
export { RMSprop, type RMSpropOptions } from "./rmsprop.ts";
export { Adagrad, type AdagradOptions } from "./adagrad.ts";
export { clipGradNorm, type ClipGradNormOptions, clipGradValue } from "./clip.ts";
export { LRScheduler, type SchedulerStateDict, StepLR, type StepLROptions } from "./lr_scheduler.ts";
export { MultiStepLR, type MultiStepLROptions } from "./multi_step_lr.ts";
export { ExponentialLR, type ExponentialLROptions } from "./exponential_lr.ts";
export { CosineAnnealingLR, type CosineAnnealingLROptions } from "./cosine_annealing_lr.ts";
export { LinearLR, type LinearLROptions } from "./linear_lr.ts";
export { LambdaLR, type LambdaLROptions, type LrLambda } from "./lambda_lr.ts";
export { OneCycleLR, type OneCycleLROptions } from "./one_cycle_lr.ts";
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from "./reduce_lr_on_plateau.ts";
export { SequentialLR, type SequentialLROptions } from "./sequential_lr.ts";
