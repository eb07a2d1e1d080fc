import { checkRange, Optimizer, type ParamGroupInput } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { adamComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";

/** Options of {@linkcode Adam}. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment averages (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad: boolean;
}

/**
 * Adam (and AMSGrad), as PyTorch computes it.
 *
 * @example
 * ```ts
 * import { nn, optim } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * ```
 */
export class Adam extends Optimizer<AdamOptions> {
  #steps = new Map<Tensor, number>();

  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(params: Tensor[] | ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    checkOptionKeys("Adam", opts, ["lr", "betas", "eps", "weightDecay", "amsgrad"]);
    super(
      "Adam",
      params,
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...opts },
      (o) => {
        checkRange("Adam", "lr", o.lr, 0);
        if (!Array.isArray(o.betas) || o.betas.length !== 2) {
          throw new Error(`Adam: betas must be a pair [beta1, beta2], got ${JSON.stringify(o.betas)}`);
        }
        checkRange("Adam", "betas[0]", o.betas[0], 0, 1);
        checkRange("Adam", "betas[1]", o.betas[1], 0, 1);
        checkRange("Adam", "eps", o.eps, 0);
        checkRange("Adam", "weightDecay", o.weightDecay, 0);
      },
    );
  }

  /** One update of every parameter with a gradient (one backend call per parameter group and step count). */
  step(): void {
    for (const { group: g, params, grads, key: step } of this.batches((p) => (this.#steps.get(p) ?? 0) + 1)) {
      const names = g.amsgrad ? ["expAvg", "expAvgSq", "maxExpAvgSq"] : ["expAvg", "expAvgSq"];
      const states = params.map((p) => this.stateOf(p, names));
      for (const p of params) this.#steps.set(p, step);
      const expAvgs = states.map((s) => s.expAvg), expAvgSqs = states.map((s) => s.expAvgSq);
      const maxExpAvgSqs = g.amsgrad ? states.map((s) => s.maxExpAvgSq) : null;
      const sizes = params.map((p) => p.size);
      const hyper = {
        lr: g.lr,
        beta1: g.betas[0],
        beta2: g.betas[1],
        eps: g.eps,
        weightDecay: g.weightDecay,
        amsgrad: g.amsgrad,
        step,
      };
      const be = params[0]._backend;
      if (!be.adamStep) {
        adamComposite({ params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, sizes }, hyper);
        continue;
      }
      be.adamStep({
        params: params.map((p) => p._data("Adam")),
        grads: grads.map((t) => t._data("Adam")),
        expAvgs: expAvgs.map((t) => t._data()),
        expAvgSqs: expAvgSqs.map((t) => t._data()),
        maxExpAvgSqs: maxExpAvgSqs && maxExpAvgSqs.map((t) => t._data()),
        sizes,
      }, hyper);
    }
  }
}
