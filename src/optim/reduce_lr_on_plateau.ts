import { checkOptionKeys } from "../ops/_util.ts";
import { Tensor } from "../tensor/mod.ts";
import type { Optimizer } from "./optimizer.ts";
import {
  checkChoice,
  checkInt,
  checkNumber,
  checkOptimizer,
  perGroup,
  type SchedulerStateDict,
  show,
  StateReader,
} from "./_lr_state.ts";

/** Options of {@linkcode ReduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  /** "min" (default): the metric should fall (a loss); "max": it should rise (an accuracy). */
  mode?: "min" | "max";
  /** Factor applied to the learning rates on a plateau, in [0, 1) (default 0.1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** How much better than the best a metric must be to count as an improvement (default 1e-4). */
  threshold?: number;
  /** "rel" (default): better than `best · (1 ∓ threshold)`; "abs": better than `best ∓ threshold`. */
  thresholdMode?: "rel" | "abs";
  /** Epochs after a reduction during which bad epochs are not counted (default 0). */
  cooldown?: number;
  /** Lower bound of the learning rate: one, or one per parameter group (default 0). */
  minLr?: number | number[];
  /** A reduction smaller than this is skipped (default 1e-8). */
  eps?: number;
}

const MODES = ["min", "max"] as const;
const THRESHOLD_MODES = ["rel", "abs"] as const;

/**
 * Reduces the learning rates by `factor` when a metric has stopped improving for more than `patience`
 * epochs, as PyTorch's ReduceLROnPlateau does. Call `step(metric)` once per epoch with the validation
 * loss (or accuracy, with `mode: "max"`).
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = new optim.ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
 * for (const loss of [1.0, 0.8, 0.8, 0.8]) sched.step(loss);
 * sched.getLastLr(); // [0.05]: two epochs without improvement
 * ```
 */
export class ReduceLROnPlateau {
  /** The optimizer whose learning rates are reduced. */
  readonly optimizer: Optimizer;
  /** Epochs counted by `step()`. */
  lastEpoch = 0;
  /** The best metric so far (±Infinity before the first step). */
  best: number;
  /** Epochs since the last improvement (reset by a reduction and during cooldown). */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  #mode: "min" | "max";
  #factor: number;
  #patience: number;
  #threshold: number;
  #thresholdMode: "rel" | "abs";
  #cooldown: number;
  #minLrs: number[];
  #eps: number;
  #verbose = false;
  #lastLr: number[] | null = null;

  /** Attaches the schedule to `optimizer` (its learning rates are left as they are). */
  constructor(optimizer: Optimizer, opts: ReduceLROnPlateauOptions = {}) {
    const name = "ReduceLROnPlateau";
    if (opts === null || typeof opts !== "object") {
      throw new Error(`${name}: options must be an object, got ${show(opts)}`);
    }
    checkOptionKeys(name, opts, [
      "mode",
      "factor",
      "patience",
      "threshold",
      "thresholdMode",
      "cooldown",
      "minLr",
      "eps",
    ]);
    checkOptimizer(name, optimizer);
    this.optimizer = optimizer;
    this.#mode = checkChoice(name, "mode", opts.mode ?? "min", MODES);
    this.#factor = checkNumber(name, "factor", opts.factor ?? 0.1, { min: 0, below: 1 });
    this.#patience = checkInt(name, "patience", opts.patience ?? 10, 0);
    this.#threshold = checkNumber(name, "threshold", opts.threshold ?? 1e-4, { min: 0 });
    this.#thresholdMode = checkChoice(name, "thresholdMode", opts.thresholdMode ?? "rel", THRESHOLD_MODES);
    this.#cooldown = checkInt(name, "cooldown", opts.cooldown ?? 0, 0);
    this.#minLrs = perGroup(
      name,
      "minLr",
      opts.minLr ?? 0,
      optimizer.paramGroups.length,
      (v, label) => checkNumber(name, label, v, { min: 0 }),
    );
    this.#eps = checkNumber(name, "eps", opts.eps ?? 1e-8, { min: 0 });
    this.best = this.#modeWorse;
  }

  /** Ends an epoch with its `metric` (a number, or a one-element tensor); reduces the rates on a plateau. */
  step(metric: number | Tensor): void {
    const current = metricValue(metric);
    this.lastEpoch++;
    if (this.#isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.#patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const newLr = Math.max(g.lr * this.#factor, this.#minLrs[i]);
        if (g.lr - newLr > this.#eps) g.lr = newLr;
      });
      this.cooldownCounter = this.#cooldown;
      this.numBadEpochs = 0;
    }
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The learning rate of each parameter group after the last step (its current rate before any step). */
  getLastLr(): number[] {
    return this.#lastLr ? [...this.#lastLr] : this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The state under PyTorch's key names (`best`, `num_bad_epochs`, `cooldown_counter`, ...). */
  stateDict(): SchedulerStateDict {
    return {
      factor: this.#factor,
      min_lrs: [...this.#minLrs],
      patience: this.#patience,
      verbose: this.#verbose,
      cooldown: this.#cooldown,
      cooldown_counter: this.cooldownCounter,
      mode: this.#mode,
      threshold: this.#threshold,
      threshold_mode: this.#thresholdMode,
      best: this.best,
      num_bad_epochs: this.numBadEpochs,
      mode_worse: this.#modeWorse,
      eps: this.#eps,
      last_epoch: this.lastEpoch,
      ...(this.#lastLr ? { _last_lr: [...this.#lastLr] } : {}),
    };
  }

  /**
   * Restores a state from `stateDict()` (ours or PyTorch's, as JSON); every key is checked and an unknown
   * one is an error. The optimizer's learning rates are not touched: restore them with the optimizer.
   */
  loadStateDict(state: SchedulerStateDict): void {
    const r = new StateReader("ReduceLROnPlateau", state);
    const groups = this.optimizer.paramGroups.length;
    const s = {
      factor: r.number("factor"),
      minLrs: r.numbers("min_lrs", groups),
      patience: r.int("patience"),
      verbose: r.bool("verbose"),
      cooldown: r.int("cooldown"),
      cooldownCounter: r.int("cooldown_counter"),
      mode: r.choice("mode", MODES),
      threshold: r.number("threshold"),
      thresholdMode: r.choice("threshold_mode", THRESHOLD_MODES),
      best: r.number("best"),
      numBadEpochs: r.int("num_bad_epochs"),
      eps: r.number("eps"),
      lastEpoch: r.int("last_epoch"),
      lastLr: r.has("_last_lr") ? r.numbers("_last_lr", groups) : null,
    };
    r.number("mode_worse"); // recomputed from mode, as PyTorch does
    r.done();
    this.#factor = s.factor;
    this.#minLrs = s.minLrs;
    this.#patience = s.patience;
    this.#verbose = s.verbose;
    this.#cooldown = s.cooldown;
    this.cooldownCounter = s.cooldownCounter;
    this.#mode = s.mode;
    this.#threshold = s.threshold;
    this.#thresholdMode = s.thresholdMode;
    this.best = s.best;
    this.numBadEpochs = s.numBadEpochs;
    this.#eps = s.eps;
    this.lastEpoch = s.lastEpoch;
    this.#lastLr = s.lastLr;
  }

  get #modeWorse(): number {
    return this.#mode === "min" ? Infinity : -Infinity;
  }

  #isBetter(a: number, best: number): boolean {
    if (this.#mode === "min") {
      return this.#thresholdMode === "rel" ? a < best * (1 - this.#threshold) : a < best - this.#threshold;
    }
    return this.#thresholdMode === "rel" ? a > best * (this.#threshold + 1) : a > best + this.#threshold;
  }
}

function metricValue(metric: number | Tensor): number {
  if (typeof metric === "number") return metric;
  if (metric instanceof Tensor && metric.size === 1) return metric.item();
  throw new Error(
    `ReduceLROnPlateau: step(metric) needs a number or a one-element tensor, got ${
      metric instanceof Tensor ? `a tensor of shape [${metric.shape.join(", ")}]` : show(metric)
    }`,
  );
}
