import { checkRange } from "./_check.ts";
import { Optimizer, type ParamGroup, type ParamGroupInput, type StateLayout } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { adamLayout, adamUpdate } from "./_adam_update.ts";
import type { Tensor } from "../tensor/mod.ts";

/** Options of {@linkcode AdamW}. */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment averages (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps: number;
  /** Decoupled weight decay: each step multiplies the parameters by `1 − lr·weightDecay` (default 1e-2). */
  weightDecay: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad: boolean;
}

/**
 * AdamW, as PyTorch computes it: the parameters first decay (`θ ·= 1 − lr·weightDecay`), then take
 * Adam's step without an L2 term in the gradient.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
 * ```
 */
export class AdamW extends Optimizer<AdamWOptions> {
  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(params: Tensor[] | ParamGroupInput<AdamWOptions>[], opts: Partial<AdamWOptions> = {}) {
    checkOptionKeys("AdamW", opts, ["lr", "betas", "eps", "weightDecay", "amsgrad"]);
    super(
      "AdamW",
      params,
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...opts },
      (o) => {
        checkRange("AdamW", "lr", o.lr, 0);
        if (!Array.isArray(o.betas) || o.betas.length !== 2) {
          throw new Error(`AdamW: betas must be a pair [beta1, beta2], got ${JSON.stringify(o.betas)}`);
        }
        checkRange("AdamW", "betas[0]", o.betas[0], 0, 1);
        checkRange("AdamW", "betas[1]", o.betas[1], 0, 1);
        checkRange("AdamW", "eps", o.eps, 0);
        checkRange("AdamW", "weightDecay", o.weightDecay, 0);
      },
    );
  }

  /** `step`, `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with AMSGrad), as PyTorch's. */
  protected stateLayout(group: ParamGroup<AdamWOptions>): StateLayout {
    return adamLayout(group);
  }

  /** One update of every parameter with a gradient (per parameter group and step count: a decay and an Adam step). */
  step(): void {
    for (const batch of this.batches((p) => (this.state.get(p)?.step ?? 0) + 1)) {
      const g = batch.group;
      const states = batch.params.map((p) => this.stateOf(p, adamLayout(g).buffers));
      adamUpdate(batch, states, 0, g.weightDecay, this.deviceHyper);
    }
  }
}
