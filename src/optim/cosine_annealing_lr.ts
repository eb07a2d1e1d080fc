import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import type { Optimizer } from "./optimizer.ts";
import { checkInt, checkNumber, checkOptions, type SchedulerStateDict, type StateReader } from "./_lr_state.ts";

/** Options of {@linkcode CosineAnnealingLR}. */
export interface CosineAnnealingLROptions {
  /** Steps from the initial learning rate down to `etaMin` (half a cosine period). */
  tMax: number;
  /** The lowest learning rate (default 0). */
  etaMin?: number;
}

/**
 * Anneals each group's learning rate from its initial value to `etaMin` along half a cosine over `tMax`
 * steps (and back up after, if stepped on), with PyTorch's recursive formula: each step rescales the
 * current `lr`, so changes made to it from outside carry through, and values equal PyTorch's to rounding.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = new optim.CosineAnnealingLR(opt, { tMax: 10, etaMin: 0.001 });
 * for (let epoch = 0; epoch < 10; epoch++) sched.step();
 * sched.getLastLr(); // [0.001] (to rounding)
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  #tMax: number;
  #etaMin: number;

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: CosineAnnealingLROptions) {
    checkOptions("CosineAnnealingLR", opts, "{ tMax, etaMin? }");
    checkOptionKeys("CosineAnnealingLR", opts, ["tMax", "etaMin"]);
    super("CosineAnnealingLR", optimizer);
    this.#tMax = checkInt("CosineAnnealingLR", "tMax", opts.tMax, 1);
    this.#etaMin = checkNumber("CosineAnnealingLR", "etaMin", opts.etaMin ?? 0, { min: 0 });
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    const [epoch, tMax, etaMin] = [this.lastEpoch, this.#tMax, this.#etaMin];
    const groups = this.optimizer.paramGroups;
    if (epoch === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && epoch > 0) {
      return this.baseLrs.map((base) => etaMin + (base - etaMin) * (1 + Math.cos(epoch * Math.PI / tMax)) / 2);
    }
    if ((epoch - 1 - tMax) % (2 * tMax) === 0) {
      // The step after a trough, where the ratio below would divide by 1 + cos(π) = 0.
      return groups.map((g, i) => g.lr + (this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2);
    }
    const ratio = (1 + Math.cos(Math.PI * epoch / tMax)) / (1 + Math.cos(Math.PI * (epoch - 1) / tMax));
    return groups.map((g) => ratio * (g.lr - etaMin) + etaMin);
  }

  /** The learning rates at `lastEpoch` computed from the base rates (PyTorch's `_get_closed_form_lr()`). */
  protected override closedFormLr(): number[] {
    const [epoch, tMax, etaMin] = [this.lastEpoch, this.#tMax, this.#etaMin];
    return this.baseLrs.map((base) => etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2);
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    return { T_max: this.#tMax, eta_min: this.#etaMin };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const tMax = state.int("T_max"), etaMin = state.number("eta_min");
    if (tMax < 1) state.fail("T_max", "an integer ≥ 1", tMax);
    return () => [this.#tMax, this.#etaMin] = [tMax, etaMin];
  }
}
