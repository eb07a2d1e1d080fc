/**
 * SequentialLR's access to a scheduler's PyTorch `_initial_step()` and `step(0)`: set by
 * `LRScheduler`'s static block, read by `SequentialLR` (kept out of the public `optim` namespace).
 *
 * @module
 */
import type { LRScheduler } from "./lr_scheduler.ts";

/** The two private steps SequentialLR drives. */
export interface SequentialHooks {
  /** PyTorch's `_initial_step()`. */
  initialStep(s: LRScheduler): void;
  /** `step(0)`: recompute from epoch 0. */
  stepFromZero(s: LRScheduler): void;
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
