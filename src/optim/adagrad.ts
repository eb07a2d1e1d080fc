import { checkRange } from "./_check.ts";
import { Optimizer, type ParamGroup, type ParamGroupInput, type StateLayout } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { adagradComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";
import { countSteps, frozenInGraph } from "./_device_hyper.ts";

/** Options of {@linkcode Adagrad}. */
export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** The learning rate at step t is `lr / (1 + (t − 1)·lrDecay)` (default 0). */
  lrDecay: number;
  /** Added to the denominator (default 1e-10). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** The starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue: number;
}

/**
 * Adagrad, as PyTorch computes it: `s += g²; θ −= clr·g / (√s + ε)` with
 * `clr = lr / (1 + (step − 1)·lrDecay)`. Two differences from PyTorch 1.13: a parameter's state is
 * created at its first step (PyTorch creates every parameter's at construction, with step 0), and
 * a group's own `initialAccumulatorValue` is used (PyTorch fills every group's sum with the
 * constructor's value).
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.Adagrad(model.parameters(), { lr: 0.1, initialAccumulatorValue: 0.1 });
 * ```
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(params: Tensor[] | ParamGroupInput<AdagradOptions>[], opts: Partial<AdagradOptions> = {}) {
    checkOptionKeys("Adagrad", opts, ["lr", "lrDecay", "eps", "weightDecay", "initialAccumulatorValue"]);
    super(
      "Adagrad",
      params,
      { lr: 1e-2, lrDecay: 0, eps: 1e-10, weightDecay: 0, initialAccumulatorValue: 0, ...opts },
      (o) => {
        checkRange("Adagrad", "lr", o.lr, 0);
        checkRange("Adagrad", "lrDecay", o.lrDecay, 0);
        checkRange("Adagrad", "eps", o.eps, 0);
        checkRange("Adagrad", "weightDecay", o.weightDecay, 0);
        checkRange("Adagrad", "initialAccumulatorValue", o.initialAccumulatorValue, 0);
      },
    );
  }

  /** `step` and `sum`, as PyTorch's. */
  protected stateLayout(_group: ParamGroup<AdagradOptions>): StateLayout {
    return { step: true, buffers: ["sum"] };
  }

  /** One update of every parameter with a gradient (per parameter group and step count; elementwise kernels). */
  step(): void {
    for (const { group: g, params, grads, key: step } of this.batches((p) => (this.state.get(p)?.step ?? 0) + 1)) {
      const states = params.map((p) => this.stateOf(p, ["sum"], { fill: g.initialAccumulatorValue }));
      // Elementwise kernels taking the values as arguments: a CUDA graph holds them (and the step,
      // with a learning-rate decay), so a change captures it again.
      const taken = () => states[0].step ?? 0;
      frozenInGraph(
        "Adagrad's [lr, lrDecay, weightDecay, eps, step]",
        () => [g.lr, g.lrDecay, g.weightDecay, g.eps, g.lrDecay === 0 ? 0 : taken()],
      );
      countSteps(states);
      adagradComposite({ params, grads, sums: states.map((s) => s.buffers.sum!) }, {
        lr: g.lr,
        lrDecay: g.lrDecay,
        weightDecay: g.weightDecay,
        eps: g.eps,
        step,
      });
    }
  }
}
