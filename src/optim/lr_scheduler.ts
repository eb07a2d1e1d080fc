/**
 * The `LRScheduler` base class (PyTorch's `_LRScheduler`) and `StepLR`.
 *
 * @module
 */
import { checkOptionKeys } from "../ops/_util.ts";
import type { Optimizer } from "./optimizer.ts";
import {
  checkGamma,
  checkOptimizer,
  initialLrOf,
  type SchedulerStateDict,
  setInitialLr,
  show,
  StateReader,
} from "./_lr_state.ts";

export type { SchedulerStateDict } from "./_lr_state.ts";
import { setSequentialHooks } from "./_lr_hooks.ts";

/**
 * Base class of the epoch-indexed schedulers, stepping as PyTorch's `_LRScheduler` does: the constructor
 * records each group's `initial_lr` (the first scheduler attached to a group sets it) as `baseLrs` and
 * performs step 0; each `step()` then advances `lastEpoch` and sets every group's `lr` from `getLr()`.
 * Subclasses use PyTorch's chainable (recursive) formulas, so several schedulers on one optimizer
 * compose as they do in PyTorch, and values match PyTorch's to rounding.
 *
 * `stateDict()` holds PyTorch's keys (`base_lrs`, `last_epoch`, `_step_count`, `_last_lr`, ... and the
 * subclass's hyper-parameters); like PyTorch, `loadStateDict()` leaves the optimizer alone, so restore
 * its learning rates (and momenta) too when resuming.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * class Halve extends optim.LRScheduler {
 *   constructor(opt: optim.Optimizer) {
 *     super("Halve", opt);
 *     this.initialStep();
 *   }
 *   protected getLr(): number[] {
 *     return this.optimizer.paramGroups.map((g) => this.lastEpoch === 0 ? g.lr : g.lr / 2);
 *   }
 * }
 * const sched = new Halve(new optim.SGD(new nn.Linear(2, 1).parameters(), { lr: 1 }));
 * sched.step();
 * sched.getLastLr(); // [0.5]
 * ```
 */
export abstract class LRScheduler {
  /** The optimizer whose parameter groups' `lr` this scheduler sets. */
  readonly optimizer: Optimizer;
  /** Each group's `initial_lr` (PyTorch's `base_lrs`). */
  baseLrs: number[];
  /** Steps taken since construction (0 right after it; PyTorch's `last_epoch`). */
  lastEpoch: number = -1;
  /** Calls of `step()`, the constructor's included (PyTorch's `_step_count`). */
  protected stepCount = 0;
  /** The scheduler's name in messages. */
  protected readonly name: string;
  #lastLr: number[] = [];
  #verbose = false;

  static {
    setSequentialHooks({
      initialStep: (s) => (s as LRScheduler).initialStep(),
      stepFromZero: (s) => (s as LRScheduler).#advance(0),
    });
  }

  /**
   * Attaches to `optimizer`; `initialLrs` overwrites the groups' `initial_lr` (as OneCycleLR does).
   * Subclasses call `initialStep()` once their own fields are set.
   */
  protected constructor(name: string, optimizer: Optimizer, initialLrs?: number[]) {
    checkOptimizer(name, optimizer);
    this.name = name;
    this.optimizer = optimizer;
    if (initialLrs) optimizer.paramGroups.forEach((g, i) => setInitialLr(g, initialLrs[i]));
    this.baseLrs = optimizer.paramGroups.map(initialLrOf);
  }

  /** The learning rates for `lastEpoch`, in PyTorch's chainable form (may read the groups' current `lr`). */
  protected abstract getLr(): number[];

  /** PyTorch's `_get_closed_form_lr()` where it has one (used when SequentialLR restarts a scheduler). */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** The hyper-parameter entries of the state dict, under PyTorch's names (fresh copies). */
  protected hyperState(): SchedulerStateDict {
    return {};
  }

  /** Reads (and checks) the hyper-parameter entries; returns what applies them once every key is checked. */
  protected loadHyperState(_state: StateReader): () => void {
    return () => {};
  }

  /** PyTorch's `_initial_step()`: resets the step count and performs step 0. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Ends an epoch (or a batch, for per-batch schedules): advances `lastEpoch` and sets each group's `lr`. */
  step(): void {
    this.#advance(null);
  }

  /** The learning rate of each parameter group as this scheduler last set it. */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /** The scheduler's state under PyTorch's key names (functions left out). */
  stateDict(): SchedulerStateDict {
    return {
      ...this.hyperState(),
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      verbose: this.#verbose,
      _step_count: this.stepCount,
      _get_lr_called_within_step: false,
      _last_lr: [...this.#lastLr],
    };
  }

  /**
   * Restores a state from `stateDict()` (ours or PyTorch's, as JSON); every key is checked and an unknown
   * one is an error. The optimizer's learning rates are not touched: restore them with the optimizer.
   */
  loadStateDict(state: SchedulerStateDict): void {
    const reader = new StateReader(this.name, state);
    const groups = this.optimizer.paramGroups.length;
    const applyHyper = this.loadHyperState(reader);
    const baseLrs = reader.numbers("base_lrs", groups);
    const lastEpoch = reader.int("last_epoch");
    const verbose = reader.bool("verbose");
    const stepCount = reader.int("_step_count");
    reader.bool("_get_lr_called_within_step");
    const lastLr = reader.numbers("_last_lr", groups);
    reader.done();
    applyHyper();
    this.baseLrs = baseLrs;
    this.lastEpoch = lastEpoch;
    this.stepCount = stepCount;
    this.#verbose = verbose;
    this.#lastLr = lastLr;
  }

  /** PyTorch's `step(epoch)`: with an epoch, jumps there using the closed form when there is one. */
  #advance(epoch: number | null): void {
    const [lastEpoch, stepCount] = [this.lastEpoch, this.stepCount];
    let values: number[];
    this.stepCount++;
    try {
      if (epoch === null) {
        this.lastEpoch++;
        values = this.getLr();
      } else {
        this.lastEpoch = epoch;
        values = this.closedFormLr() ?? this.getLr();
      }
    } catch (e) {
      [this.lastEpoch, this.stepCount] = [lastEpoch, stepCount];
      throw e;
    }
    this.optimizer.paramGroups.forEach((g, i) => g.lr = values[i]);
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
}

/** Options of {@linkcode StepLR}. */
export interface StepLROptions {
  /** Epochs between decays. */
  stepSize: number;
  /** Factor applied every `stepSize` epochs (default 0.1). */
  gamma?: number;
}

/**
 * Multiplies each group's learning rate by `gamma` every `stepSize` calls of `step()`
 * (call it once per epoch, after the optimizer's steps), as PyTorch's StepLR does.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.Adadelta(new nn.Linear(4, 2).parameters(), { lr: 1.0 });
 * const sched = new optim.StepLR(opt, { stepSize: 1, gamma: 0.7 });
 * sched.step();
 * sched.getLastLr(); // [0.7]
 * ```
 */
export class StepLR extends LRScheduler {
  #stepSize: number;
  #gamma: number;

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: StepLROptions) {
    if (opts === undefined) throw new Error("StepLR: options { stepSize, gamma? } are required");
    checkOptionKeys("StepLR", opts, ["stepSize", "gamma"]);
    super("StepLR", optimizer);
    this.#stepSize = checkStepSize(opts.stepSize);
    this.#gamma = checkGamma("StepLR", opts.gamma ?? 0.1);
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    const decay = this.lastEpoch !== 0 && this.lastEpoch % this.#stepSize === 0;
    return this.optimizer.paramGroups.map((g) => decay ? g.lr * this.#gamma : g.lr);
  }

  /** The learning rates at `lastEpoch` computed from the base rates (PyTorch's `_get_closed_form_lr()`). */
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((lr) => lr * this.#gamma ** Math.floor(this.lastEpoch / this.#stepSize));
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    return { step_size: this.#stepSize, gamma: this.#gamma };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const stepSize = state.int("step_size"), gamma = state.number("gamma");
    if (stepSize < 1) state.fail("step_size", "an integer ≥ 1", stepSize);
    return () => [this.#stepSize, this.#gamma] = [stepSize, gamma];
  }
}

function checkStepSize(v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new Error(`StepLR: stepSize must be a positive integer, got ${show(v)}`);
  }
  return v as number;
}
