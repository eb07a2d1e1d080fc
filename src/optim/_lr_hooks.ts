/**
 * SequentialLR's access to a scheduler's PyTorch `_initial_step()` and `step(0)`: set by
 * `LRScheduler`'s static block, read by `SequentialLR` (kept out of the public `optim` namespace).
 *
 * @module
 */
/**
 * The two private steps SequentialLR drives, on an `LRScheduler` (typed `object` here so that this
 * module imports nothing from lr_scheduler.ts: no import cycle).
 */
export interface SequentialHooks {
  /** PyTorch's `_initial_step()`. */
  initialStep(s: object): void;
  /** `step(0)`: recompute from epoch 0. */
  stepFromZero(s: object): void;
}

let hooks: SequentialHooks | null = null;

/** Called once by `LRScheduler`'s static block. */
export function setSequentialHooks(h: SequentialHooks): void {
  hooks = h;
}

/** The hooks (LRScheduler's module has always run by the time a SequentialLR exists). */
export function sequentialHooks(): SequentialHooks {
  if (hooks === null) throw new Error("SequentialLR: internal error: LRScheduler's hooks are not set");
  return hooks;
}
