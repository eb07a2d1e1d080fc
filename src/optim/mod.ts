/**
 * Optimizers and learning-rate schedules with PyTorch's update rules.
 *
 * @module
 */
export * from "./optimizer.ts";
export * from "./adadelta.ts";
export * from "./sgd.ts";
export * from "./adam.ts";
export * from "./adamw.ts";
export * from "./rmsprop.ts";
export * from "./adagrad.ts";
export * from "./clip.ts";
export * from "./lr_scheduler.ts";
export * from "./multi_step_lr.ts";
export * from "./exponential_lr.ts";
export * from "./cosine_annealing_lr.ts";
export * from "./linear_lr.ts";
export * from "./lambda_lr.ts";
export * from "./one_cycle_lr.ts";
export * from "./reduce_lr_on_plateau.ts";
export * from "./sequential_lr.ts";
