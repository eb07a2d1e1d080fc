import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import type { Optimizer } from "./optimizer.ts";
import { checkGamma, checkOptions, type SchedulerStateDict, show, type StateReader } from "./_lr_state.ts";

/** Options of {@linkcode MultiStepLR}. */
export interface MultiStepLROptions {
  /** Epochs at which to decay; a milestone listed twice decays twice (PyTorch counts them). */
  milestones: number[];
  /** Factor applied at each milestone (default 0.1). */
  gamma?: number;
}

/**
 * Multiplies each group's learning rate by `gamma` when the epoch count reaches a milestone, as PyTorch's
 * MultiStepLR does (chainable: other changes to `lr` carry through).
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 1 });
 * const sched = new optim.MultiStepLR(opt, { milestones: [2, 4], gamma: 0.5 });
 * for (let epoch = 0; epoch < 4; epoch++) sched.step();
 * sched.getLastLr(); // [0.25]
 * ```
 */
export class MultiStepLR extends LRScheduler {
  /** Milestone → how many times it was listed. */
  #milestones: Map<number, number>;
  #gamma: number;

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: MultiStepLROptions) {
    checkOptions("MultiStepLR", opts, "{ milestones, gamma? }");
    checkOptionKeys("MultiStepLR", opts, ["milestones", "gamma"]);
    super("MultiStepLR", optimizer);
    const ms = opts.milestones;
    if (!Array.isArray(ms) || !ms.every((m) => Number.isInteger(m) && m >= 0)) {
      throw new Error(`MultiStepLR: milestones must be an array of integers ≥ 0, got ${show(ms)}`);
    }
    this.#milestones = new Map();
    for (const m of ms) this.#milestones.set(m, (this.#milestones.get(m) ?? 0) + 1);
    this.#gamma = checkGamma("MultiStepLR", opts.gamma ?? 0.1);
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    const count = this.#milestones.get(this.lastEpoch);
    return this.optimizer.paramGroups.map((g) => count === undefined ? g.lr : g.lr * this.#gamma ** count);
  }

  /** The learning rates at `lastEpoch` computed from the base rates (PyTorch's `_get_closed_form_lr()`). */
  protected override closedFormLr(): number[] {
    let passed = 0;
    for (const [m, count] of this.#milestones) if (m <= this.lastEpoch) passed += count;
    return this.baseLrs.map((lr) => lr * this.#gamma ** passed);
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    const milestones: Record<string, number> = {};
    for (const m of [...this.#milestones.keys()].sort((a, b) => a - b)) milestones[m] = this.#milestones.get(m)!;
    return { milestones, gamma: this.#gamma };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const raw = state.raw("milestones");
    const entries = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? Object.entries(raw) : null;
    const valid = entries?.every(([m, n]) => /^\d+$/.test(m) && Number.isInteger(n) && n >= 1);
    if (!entries || !valid) state.fail("milestones", "an object { milestone: count } of integers", raw);
    const milestones = new Map(entries.map(([m, n]) => [Number(m), n as number]));
    const gamma = state.number("gamma");
    return () => [this.#milestones, this.#gamma] = [milestones, gamma];
  }
}
