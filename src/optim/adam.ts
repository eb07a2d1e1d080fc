import { checkRange } from "./_check.ts";
import { Optimizer, type ParamGroup, type ParamGroupInput, type StateLayout } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { adamLayout, adamUpdate } from "./_adam_update.ts";
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
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * ```
 */
export class Adam extends Optimizer<AdamOptions> {
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

  /** `step`, `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with AMSGrad), as PyTorch's. */
  protected stateLayout(group: ParamGroup<AdamOptions>): StateLayout {
    return adamLayout(group);
  }

  /** One update of every parameter with a gradient (one backend call per parameter group and step count). */
  step(): void {
    for (const batch of this.batches((p) => (this.state.get(p)?.step ?? 0) + 1)) {
      const g = batch.group;
      const states = batch.params.map((p) => this.stateOf(p, adamLayout(g).buffers));
      adamUpdate(batch, states, g.weightDecay, 0, this.deviceHyper);
    }
  }
}
