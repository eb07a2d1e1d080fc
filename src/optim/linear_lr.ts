import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import type { Optimizer } from "./optimizer.ts";
import { checkInt, checkNumber, type SchedulerStateDict, show, type StateReader } from "./_lr_state.ts";

/** Options of {@linkcode LinearLR}. */
export interface LinearLROptions {
  /** Factor on the initial learning rate at step 0, in (0, 1] (default 1/3). */
  startFactor?: number;
  /** Factor reached after `totalIters` steps and kept after, in [0, 1] (default 1). */
  endFactor?: number;
  /** Steps over which the factor changes linearly (default 5). */
  totalIters?: number;
}

/**
 * Scales each group's learning rate by a factor moving linearly from `startFactor` to `endFactor` over
 * `totalIters` steps (a warm-up, or a linear decay), with PyTorch's chainable formula.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = new optim.LinearLR(opt, { startFactor: 0.5, totalIters: 4 });
 * sched.getLastLr(); // [0.05]
 * for (let epoch = 0; epoch < 4; epoch++) sched.step();
 * sched.getLastLr(); // [0.1] (to rounding)
 * ```
 */
export class LinearLR extends LRScheduler {
  #startFactor: number;
  #endFactor: number;
  #totalIters: number;

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: LinearLROptions = {}) {
    if (opts === null || typeof opts !== "object") {
      throw new Error(`LinearLR: options must be an object, got ${show(opts)}`);
    }
    checkOptionKeys("LinearLR", opts, ["startFactor", "endFactor", "totalIters"]);
    super("LinearLR", optimizer);
    this.#startFactor = checkNumber("LinearLR", "startFactor", opts.startFactor ?? 1 / 3, { above: 0, max: 1 });
    this.#endFactor = checkNumber("LinearLR", "endFactor", opts.endFactor ?? 1, { min: 0, max: 1 });
    this.#totalIters = checkInt("LinearLR", "totalIters", opts.totalIters ?? 5, 1);
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    const [epoch, start, end, total] = [this.lastEpoch, this.#startFactor, this.#endFactor, this.#totalIters];
    const groups = this.optimizer.paramGroups;
    if (epoch === 0) return groups.map((g) => g.lr * start);
    if (epoch > total) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (end - start) / (total * start + (epoch - 1) * (end - start))));
  }

  /** The learning rates at `lastEpoch` computed from the base rates (PyTorch's `_get_closed_form_lr()`). */
  protected override closedFormLr(): number[] {
    const [epoch, start, end, total] = [this.lastEpoch, this.#startFactor, this.#endFactor, this.#totalIters];
    return this.baseLrs.map((lr) => lr * (start + (end - start) * Math.min(total, epoch) / total));
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    return { start_factor: this.#startFactor, end_factor: this.#endFactor, total_iters: this.#totalIters };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const start = state.number("start_factor"), end = state.number("end_factor");
    const total = state.int("total_iters");
    if (!(start > 0 && start <= 1)) state.fail("start_factor", "a number in (0, 1]", start);
    if (!(end >= 0 && end <= 1)) state.fail("end_factor", "a number in [0, 1]", end);
    if (total < 1) state.fail("total_iters", "an integer ≥ 1", total);
    return () => [this.#startFactor, this.#endFactor, this.#totalIters] = [start, end, total];
  }
}
