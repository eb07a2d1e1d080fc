import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import { sequentialHooks } from "./_lr_hooks.ts";
import type { Optimizer } from "./optimizer.ts";
import {
  checkOptimizer,
  checkOptions,
  peekInitialLr,
  type SchedulerStateDict,
  show,
  StateReader,
} from "./_lr_state.ts";

/** Options of {@linkcode SequentialLR}. */
export interface SequentialLROptions {
  /** The schedulers to run one after another, all attached to the same optimizer. */
  schedulers: LRScheduler[];
  /** The steps at which the next scheduler takes over: increasing, one fewer than `schedulers`. */
  milestones: number[];
}

/**
 * Runs `schedulers[0]` until `milestones[0]`, then `schedulers[1]` (restarted at its epoch 0) until
 * `milestones[1]`, and so on, as PyTorch's SequentialLR does; typically a warm-up followed by a decay.
 * Build the schedulers on the optimizer first, then hand them over: SequentialLR resets the learning
 * rates to their initial values and undoes the schedulers' construction steps, as PyTorch does.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const warmup = new optim.LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 * const decay = new optim.CosineAnnealingLR(opt, { tMax: 45 });
 * const sched = new optim.SequentialLR(opt, { schedulers: [warmup, decay], milestones: [5] });
 * sched.getLastLr(); // [0.01] (to rounding)
 * ```
 */
export class SequentialLR {
  /** The optimizer all the schedulers are attached to. */
  readonly optimizer: Optimizer;
  /** Steps taken since construction. */
  lastEpoch: number;
  readonly #schedulers: LRScheduler[];
  #milestones: number[];
  #lastLr: number[];

  /** Takes over `schedulers` on `optimizer` and performs the first one's step 0. */
  constructor(optimizer: Optimizer, opts: SequentialLROptions) {
    const name = "SequentialLR";
    checkOptions(name, opts, "{ schedulers, milestones }");
    checkOptionKeys(name, opts, ["schedulers", "milestones"]);
    checkOptimizer(name, optimizer);
    const { schedulers, milestones } = opts;
    if (!Array.isArray(schedulers) || schedulers.length === 0) {
      throw new Error(`${name}: schedulers must be a non-empty array of schedulers, got ${show(schedulers)}`);
    }
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) {
        throw new Error(
          `${name}: schedulers[${i}] must be an epoch scheduler (StepLR, LinearLR, ...), got ${show(s)}`,
        );
      }
      if (s.optimizer !== optimizer) {
        throw new Error(`${name}: schedulers[${i}] is attached to another optimizer than the one given`);
      }
    });
    this.#checkMilestones(milestones, schedulers.length);
    this.optimizer = optimizer;
    this.#schedulers = [...schedulers];
    this.#milestones = [...milestones];
    this.lastEpoch = 0;
    for (const g of optimizer.paramGroups) g.lr = peekInitialLr(g) ?? g.lr;
    for (const s of schedulers) s.lastEpoch -= 1;
    sequentialHooks().initialStep(schedulers[0]);
    this.#lastLr = schedulers[0].getLastLr();
  }

  /** Advances one step, handing over to the next scheduler (restarted at its epoch 0) at a milestone. */
  step(): void {
    this.lastEpoch++;
    const index = this.#milestones.filter((m) => m <= this.lastEpoch).length;
    const scheduler = this.#schedulers[index];
    if (index > 0 && this.#milestones[index - 1] === this.lastEpoch) sequentialHooks().stepFromZero(scheduler);
    else scheduler.step();
    this.#lastLr = scheduler.getLastLr();
  }

  /** The learning rate of each parameter group as last set. */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /** The state under PyTorch's key names, with each scheduler's state in `_schedulers`. */
  stateDict(): SchedulerStateDict {
    return {
      _milestones: [...this.#milestones],
      last_epoch: this.lastEpoch,
      _last_lr: [...this.#lastLr],
      _schedulers: this.#schedulers.map((s) => s.stateDict()),
    };
  }

  /**
   * Restores a state from `stateDict()` (ours or PyTorch's, as JSON), the schedulers' included. The
   * optimizer's learning rates are not touched: restore them with the optimizer.
   */
  loadStateDict(state: SchedulerStateDict): void {
    const r = new StateReader("SequentialLR", state);
    const milestones = r.numbers("_milestones");
    this.#checkMilestones(milestones, this.#schedulers.length, "SequentialLR.loadStateDict: _milestones");
    const lastEpoch = r.int("last_epoch");
    const lastLr = r.numbers("_last_lr", this.optimizer.paramGroups.length);
    const states = r.array("_schedulers", this.#schedulers.length);
    r.done();
    this.#schedulers.forEach((s, i) => s.loadStateDict(states[i] as SchedulerStateDict));
    [this.#milestones, this.lastEpoch, this.#lastLr] = [milestones, lastEpoch, lastLr];
  }

  #checkMilestones(milestones: unknown, schedulers: number, what = "SequentialLR: milestones"): void {
    const ok = Array.isArray(milestones) && milestones.length === schedulers - 1 &&
      milestones.every((m, i) => Number.isInteger(m) && m >= 1 && (i === 0 || m > milestones[i - 1]));
    if (!ok) {
      throw new Error(
        `${what} must be ${schedulers - 1} increasing integers ≥ 1 (one fewer than the ${schedulers} schedulers), ` +
          `got ${show(milestones)}`,
      );
    }
  }
}
