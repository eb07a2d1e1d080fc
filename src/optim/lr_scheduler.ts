import { checkOptionKeys } from "../ops/_util.ts";
import type { Optimizer } from "./optimizer.ts";

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
 * import { nn, optim } from "../../mod.ts";
 * const opt = new optim.Adadelta(new nn.Linear(4, 2).parameters(), { lr: 1.0 });
 * const sched = new optim.StepLR(opt, { stepSize: 1, gamma: 0.7 });
 * sched.step();
 * sched.getLastLr(); // [0.7]
 * ```
 */
export class StepLR {
  /** Epochs counted so far. */
  lastEpoch = 0;
  readonly #opt: Optimizer;
  readonly #stepSize: number;
  readonly #gamma: number;

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: StepLROptions) {
    if (opts === undefined) throw new Error("StepLR: options { stepSize, gamma? } are required");
    checkOptionKeys("StepLR", opts, ["stepSize", "gamma"]);
    if (!Number.isInteger(opts.stepSize) || opts.stepSize < 1) {
      throw new Error(`StepLR: stepSize must be a positive integer, got ${JSON.stringify(opts.stepSize)}`);
    }
    const gamma = opts.gamma ?? 0.1;
    if (typeof gamma !== "number" || !Number.isFinite(gamma) || gamma < 0) {
      throw new Error(`StepLR: gamma must be a number ≥ 0, got ${JSON.stringify(opts.gamma)}`);
    }
    this.#opt = optimizer;
    this.#stepSize = opts.stepSize;
    this.#gamma = gamma;
  }

  /** Ends an epoch: decays the learning rates when the epoch count reaches a multiple of `stepSize`. */
  step(): void {
    this.lastEpoch++;
    if (this.lastEpoch % this.#stepSize === 0) {
      for (const g of this.#opt.paramGroups) g.lr = g.lr * this.#gamma;
    }
  }

  /** The current learning rate of each parameter group. */
  getLastLr(): number[] {
    return this.#opt.paramGroups.map((g) => g.lr);
  }
}
