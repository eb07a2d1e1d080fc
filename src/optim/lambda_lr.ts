import { checkOptionKeys } from "../ops/_util.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import type { Optimizer } from "./optimizer.ts";
import { checkOptions, perGroup, type SchedulerStateDict, show, type StateReader } from "./_lr_state.ts";

/** A learning-rate factor as a function of the epoch count (0 at construction). */
export type LrLambda = (epoch: number) => number;

/** Options of {@linkcode LambdaLR}. */
export interface LambdaLROptions {
  /** The factor on each group's initial learning rate: one function, or one per parameter group. */
  lrLambda: LrLambda | LrLambda[];
}

/**
 * Sets each group's learning rate to its initial value times `lrLambda(epoch)`, as PyTorch's LambdaLR does.
 * The functions are not part of `stateDict()` (PyTorch writes `null` for them too).
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const opt = new optim.SGD(new nn.Linear(4, 2).parameters(), { lr: 0.1 });
 * const sched = new optim.LambdaLR(opt, { lrLambda: (epoch) => Math.min(1, (epoch + 1) / 5) });
 * sched.getLastLr(); // [0.02] (to rounding)
 * ```
 */
export class LambdaLR extends LRScheduler {
  readonly #lrLambdas: LrLambda[];

  /** Attaches the schedule to `optimizer`. */
  constructor(optimizer: Optimizer, opts: LambdaLROptions) {
    checkOptions("LambdaLR", opts, "{ lrLambda }");
    checkOptionKeys("LambdaLR", opts, ["lrLambda"]);
    super("LambdaLR", optimizer);
    this.#lrLambdas = perGroup("LambdaLR", "lrLambda", opts.lrLambda, optimizer.paramGroups.length, (f, label) => {
      if (typeof f !== "function") {
        throw new Error(`LambdaLR: ${label} must be a function (epoch) => factor, got ${show(f)}`);
      }
      return f as LrLambda;
    });
    this.initialStep();
  }

  /** The learning rates of the next `step()`, from the current ones (PyTorch's chainable `get_lr()`). */
  protected getLr(): number[] {
    return this.baseLrs.map((lr, i) => {
      const factor = this.#lrLambdas[i](this.lastEpoch);
      if (typeof factor !== "number" || !Number.isFinite(factor)) {
        throw new Error(
          `LambdaLR: lrLambda(${this.lastEpoch}) of group ${i} returned ${show(factor)}, expected a finite number`,
        );
      }
      return lr * factor;
    });
  }

  /** This scheduler's own entries of `stateDict()`, under PyTorch's names. */
  protected override hyperState(): SchedulerStateDict {
    return { lr_lambdas: this.#lrLambdas.map(() => null) };
  }

  /** Checks this scheduler's entries of a state dict; returns the function that applies them. */
  protected override loadHyperState(state: StateReader): () => void {
    const lambdas = state.array("lr_lambdas", this.#lrLambdas.length);
    if (lambdas.some((x) => x !== null)) {
      state.fail("lr_lambdas", "nulls (the state of callable objects cannot be restored here)", lambdas);
    }
    return () => {};
  }
}
