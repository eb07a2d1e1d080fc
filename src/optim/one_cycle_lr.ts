import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import type { Optimizer } from "./optimizer.ts";
import {
  checkChoice,
  checkInt,
  checkNumber,
  checkOptimizer,
  checkOptions,
  initialLrOf,
  perGroup,
  type SchedulerStateDict,
  show,
  type StateReader,
} from "./_lr_state.ts";

/** Options of {@linkcode OneCycleLR}. Give `totalSteps`, or `epochs` and `stepsPerEpoch`. */
export interface OneCycleLROptions {
  /** The peak learning rate: one, or one per parameter group. */
  maxLr: number | number[];
  /** Steps in the cycle (calls of `step()` after construction). */
  totalSteps?: number;
  /** With `stepsPerEpoch`, gives `totalSteps = epochs · stepsPerEpoch`. */
  epochs?: number;
  /** With `epochs`, gives `totalSteps = epochs · stepsPerEpoch`. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the learning rate, in [0, 1] (default 0.3). */
  pctStart?: number;
  /** "cos" (default) or "linear" annealing between the phase ends. */
  annealStrategy?: "cos" | "linear";
  /** Cycle momentum (SGD) or `betas[0]` (Adam) inversely to the learning rate (default true). */
  cycleMomentum?: boolean;
  /** Momentum at the learning-rate peak: one, or one per group (default 0.85). */
  baseMomentum?: number | number[];
  /** Momentum at the start and end of the cycle: one, or one per group (default 0.95). */
  maxMomentum?: number | number[];
  /** The initial learning rate is `maxLr / divFactor` (default 25). */
  divFactor?: number;
  /** The final learning rate is the initial one `/ finalDivFactor` (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, down to the initial rate, down to the final one) as in the paper (default false). */
  threePhase?: boolean;
}

type LrKey = "initial_lr" | "max_lr" | "min_lr";
type MomentumKey = "max_momentum" | "base_momentum";
/** One phase of the cycle, as PyTorch's `_schedule_phases` holds it. */
interface Phase {
  end_step: number;
  start_lr: LrKey;
  end_lr: LrKey;
  start_momentum: MomentumKey;
  end_momentum: MomentumKey;
}

const LR_KEYS: readonly LrKey[] = ["initial_lr", "max_lr", "min_lr"];
const MOMENTUM_KEYS: readonly MomentumKey[] = ["max_momentum", "base_momentum"];
const OPTION_KEYS = [
  "maxLr",
  "totalSteps",
  "epochs",
  "stepsPerEpoch",
  "pctStart",
  "annealStrategy",
  "cycleMomentum",
  "baseMomentum",
  "maxMomentum",
  "divFactor",
  "finalDivFactor",
  "threePhase",
];

/**
 * The 1cycle policy, as PyTorch's OneCycleLR: the learning rate rises from `maxLr / divFactor` to `maxLr`
 * over `pctStart` of the cycle, then falls to `maxLr / divFactor / finalDivFactor`; momentum (or Adam's
 * `betas[0]`) moves the opposite way between `maxMomentum` and `baseMomentum`. Step it after every batch;
 * stepping past `totalSteps` is an error. Not chainable: it sets the rates outright.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1, momentum: 0.9 });
 * const sched = new optim.OneCycleLR(opt, { maxLr: 1, epochs: 2, stepsPerEpoch: 10 });
 * sched.getLastLr(); // [0.04] (to rounding)
 * for (let batch = 0; batch < 5; batch++) sched.step();
 * sched.getLastLr(); // [1]: the peak, 30% into the 20 steps
 * ```
 */
export class OneCycleLR extends LRScheduler {
  #totalSteps: number;
  #phases: Phase[];
  #anneal: (start: number, end: number, pct: number) => number;
  #cycleMomentum: boolean;
  #useBeta1: boolean;
  readonly #maxLrs: number[];
  readonly #minLrs: number[];
  readonly #maxMomentums: number[];
  readonly #baseMomentums: number[];

  /** Attaches the schedule to `optimizer` and sets its learning rates (and momenta) to the cycle's start. */
  constructor(optimizer: Optimizer, opts: OneCycleLROptions) {
    const name = "OneCycleLR";
    checkOptions(name, opts, "{ maxLr, totalSteps | epochs and stepsPerEpoch, ... }");
    checkOptionKeys(name, opts, OPTION_KEYS);
    checkOptimizer(name, optimizer);
    const totalSteps = totalStepsOf(opts);
    const groups = optimizer.paramGroups.length;
    const pctStart = checkNumber(name, "pctStart", opts.pctStart ?? 0.3, { min: 0, max: 1 });
    const strategy = checkChoice(name, "annealStrategy", opts.annealStrategy ?? "cos", ["cos", "linear"]);
    const divFactor = checkNumber(name, "divFactor", opts.divFactor ?? 25, { above: 0 });
    const finalDivFactor = checkNumber(name, "finalDivFactor", opts.finalDivFactor ?? 1e4, { above: 0 });
    const lrCheck = (v: unknown, label: string) => checkNumber(name, label, v, { min: 0 });
    const maxLrs = perGroup(name, "maxLr", opts.maxLr, groups, lrCheck);
    const initialLrs = maxLrs.map((lr) => lr / divFactor);
    super(name, optimizer, initialLrs);
    this.#totalSteps = totalSteps;
    this.#phases = phasesOf(totalSteps, pctStart, opts.threePhase ?? false);
    this.#anneal = strategy === "cos" ? annealCos : annealLinear;
    this.#maxLrs = maxLrs;
    this.#minLrs = initialLrs.map((lr) => lr / finalDivFactor);
    const momentumCheck = (v: unknown, label: string) => checkNumber(name, label, v, { min: 0 });
    this.#maxMomentums = perGroup(name, "maxMomentum", opts.maxMomentum ?? 0.95, groups, momentumCheck);
    this.#baseMomentums = perGroup(name, "baseMomentum", opts.baseMomentum ?? 0.85, groups, momentumCheck);
    const cycle = opts.cycleMomentum ?? true;
    if (typeof cycle !== "boolean") throw new Error(`${name}: cycleMomentum must be a boolean, got ${show(cycle)}`);
    this.#cycleMomentum = cycle;
    this.#useBeta1 = cycle ? this.#checkMomentumSupport() : false;
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    const step = this.lastEpoch;
    if (step > this.#totalSteps) {
      throw new Error(`OneCycleLR: step() called ${step} times, past the cycle's totalSteps (${this.#totalSteps})`);
    }
    // The first phase whose end is not behind `step` (the last one takes any step after it).
    let start = 0, index = 0;
    while (index < this.#phases.length - 1 && step > this.#phases[index].end_step) {
      start = this.#phases[index++].end_step;
    }
    const phase = this.#phases[index];
    const length = phase.end_step - start;
    if (length === 0) {
      throw new Error(`OneCycleLR: phase ${index + 1} of the cycle has no steps (pctStart too small or too large)`);
    }
    const pct = (step - start) / length;
    return this.optimizer.paramGroups.map((g, i) => {
      const lr = this.#anneal(this.#lr(phase.start_lr, g, i), this.#lr(phase.end_lr, g, i), pct);
      if (this.#cycleMomentum) {
        const m = this.#anneal(this.#momentum(phase.start_momentum, i), this.#momentum(phase.end_momentum, i), pct);
        const group = g as unknown as { momentum: number; betas: number[] };
        if (this.#useBeta1) group.betas = [m, ...group.betas.slice(1)];
        else group.momentum = m;
      }
      return lr;
    });
  }

  #lr(key: LrKey, group: { lr: number }, i: number): number {
    return key === "initial_lr" ? initialLrOf(group) : key === "max_lr" ? this.#maxLrs[i] : this.#minLrs[i];
  }

  #momentum(key: MomentumKey, i: number): number {
    return key === "max_momentum" ? this.#maxMomentums[i] : this.#baseMomentums[i];
  }

  /** Whether the optimizer cycles `betas[0]` (else `momentum`); throws when it has neither. */
  #checkMomentumSupport(): boolean {
    const groups = this.optimizer.paramGroups as unknown as Record<string, unknown>[];
    if (groups.every((g) => Array.isArray(g.betas))) return true;
    if (groups.every((g) => typeof g.momentum === "number")) return false;
    throw new Error(
      `OneCycleLR: cycleMomentum needs an optimizer with momentum or betas (SGD, Adam), got ${this.optimizer.constructor.name}; ` +
        "pass cycleMomentum: false",
    );
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    return {
      total_steps: this.#totalSteps,
      _schedule_phases: this.#phases.map((p) => ({ ...p })),
      cycle_momentum: this.#cycleMomentum,
      ...(this.#cycleMomentum ? { use_beta1: this.#useBeta1 } : {}),
    };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const totalSteps = state.int("total_steps");
    if (totalSteps < 1) state.fail("total_steps", "an integer ≥ 1", totalSteps);
    const raw = state.raw("_schedule_phases");
    const phases = Array.isArray(raw) && raw.length >= 1 && raw.every(isPhase) ? raw.map((p) => ({ ...p })) : null;
    if (!phases) state.fail("_schedule_phases", "an array of { end_step, start_lr, end_lr, ... } phases", raw);
    const cycle = state.bool("cycle_momentum");
    const useBeta1 = cycle || state.has("use_beta1") ? state.bool("use_beta1") : false;
    if (cycle && useBeta1 !== this.#checkMomentumSupport()) {
      state.fail("use_beta1", `${!useBeta1} for ${this.optimizer.constructor.name}`, useBeta1);
    }
    return () => {
      [this.#totalSteps, this.#phases, this.#cycleMomentum, this.#useBeta1] = [totalSteps, phases, cycle, useBeta1];
    };
  }
}

function totalStepsOf(opts: OneCycleLROptions): number {
  const { totalSteps, epochs, stepsPerEpoch } = opts;
  if (totalSteps !== undefined) {
    if (epochs !== undefined || stepsPerEpoch !== undefined) {
      throw new Error("OneCycleLR: give either totalSteps or epochs and stepsPerEpoch, not both");
    }
    return checkInt("OneCycleLR", "totalSteps", totalSteps, 1);
  }
  if (epochs === undefined || stepsPerEpoch === undefined) {
    throw new Error(
      `OneCycleLR: the cycle's length is required: totalSteps, or epochs and stepsPerEpoch (got ${
        show({ epochs, stepsPerEpoch })
      })`,
    );
  }
  return checkInt("OneCycleLR", "epochs", epochs, 1) * checkInt("OneCycleLR", "stepsPerEpoch", stepsPerEpoch, 1);
}

function phasesOf(totalSteps: number, pctStart: number, threePhase: boolean): Phase[] {
  const up: Phase = {
    end_step: pctStart * totalSteps - 1,
    start_lr: "initial_lr",
    end_lr: "max_lr",
    start_momentum: "max_momentum",
    end_momentum: "base_momentum",
  };
  if (!threePhase) {
    return [up, {
      end_step: totalSteps - 1,
      start_lr: "max_lr",
      end_lr: "min_lr",
      start_momentum: "base_momentum",
      end_momentum: "max_momentum",
    }];
  }
  return [up, {
    end_step: 2 * pctStart * totalSteps - 2,
    start_lr: "max_lr",
    end_lr: "initial_lr",
    start_momentum: "base_momentum",
    end_momentum: "max_momentum",
  }, {
    end_step: totalSteps - 1,
    start_lr: "initial_lr",
    end_lr: "min_lr",
    start_momentum: "max_momentum",
    end_momentum: "max_momentum",
  }];
}

function isPhase(p: unknown): p is Phase {
  const q = p as Phase;
  return p !== null && typeof p === "object" && typeof q.end_step === "number" && LR_KEYS.includes(q.start_lr) &&
    LR_KEYS.includes(q.end_lr) && MOMENTUM_KEYS.includes(q.start_momentum) && MOMENTUM_KEYS.includes(q.end_momentum) &&
    Object.keys(p).length === 5;
}

/** Cosine from `start` to `end` as `pct` goes from 0 to 1 (PyTorch's `_annealing_cos`). */
function annealCos(start: number, end: number, pct: number): number {
  const cosOut = Math.cos(Math.PI * pct) + 1;
  return end + (start - end) / 2 * cosOut;
}

/** Straight from `start` to `end` as `pct` goes from 0 to 1 (PyTorch's `_annealing_linear`). */
function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}
