import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import type { Optimizer } from "./optimizer.ts";
import { checkGamma, checkOptions, type SchedulerStateDict, type StateReader } from "./_lr_state.ts";

/** Options of {@linkcode ExponentialLR}. */
export interface ExponentialLROptions {
  /** Factor applied at every step. */
  gamma: number;
}

/**
 * Multiplies each group's learning rate by `gamma` at every step, as PyTorch's ExponentialLR does.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 1 });
 * const sched = new optim.ExponentialLR(opt, { gamma: 0.5 });
 * sched.step();
 * sched.step();
 * sched.getLastLr(); // [0.25]
 * ```
 */
export class ExponentialLR extends LRScheduler {
  #gamma: number;

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: ExponentialLROptions) {
    checkOptions("ExponentialLR", opts, "{ gamma }");
    checkOptionKeys("ExponentialLR", opts, ["gamma"]);
    super("ExponentialLR", optimizer);
    this.#gamma = checkGamma("ExponentialLR", opts.gamma);
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => this.lastEpoch === 0 ? g.lr : g.lr * this.#gamma);
  }

  /** The learning rates at `lastEpoch` computed from the base rates (PyTorch's `_get_closed_form_lr()`). */
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((lr) => lr * this.#gamma ** this.lastEpoch);
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    return { gamma: this.#gamma };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const gamma = state.number("gamma");
    return () => this.#gamma = gamma;
  }
}
