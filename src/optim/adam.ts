import {
  type Batch,
  checkRange,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type StateLayout,
} from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { adamComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";
import type { AdamParams } from "../backend/backend.ts";

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
      adamUpdate(batch, states, g.weightDecay);
    }
  }
}

/** Adam's and AdamW's state layout. */
export function adamLayout(group: { amsgrad: boolean }): StateLayout {
  return {
    step: true,
    buffers: group.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"],
  };
}

/**
 * One Adam step of a batch of parameters sharing a step count (`batch.key`), with the L2 penalty
 * `weightDecay` (AdamW passes 0 and decays the parameters itself): the fused kernel where the
 * backend has one, the composite otherwise.
 */
export function adamUpdate(batch: Batch<AdamOptions>, states: ParamState[], weightDecay: number): void {
  const { group: options, params, grads, key: step } = batch;
  for (const s of states) s.step = step;
  const buffer = (name: string) => states.map((s) => s.buffers[name]!);
  const expAvgs = buffer("exp_avg"), expAvgSqs = buffer("exp_avg_sq");
  const maxExpAvgSqs = options.amsgrad ? buffer("max_exp_avg_sq") : null;
  const sizes = params.map((p) => p.size);
  const hyper: AdamParams = {
    lr: options.lr,
    beta1: options.betas[0],
    beta2: options.betas[1],
    eps: options.eps,
    weightDecay,
    amsgrad: options.amsgrad,
    step,
  };
  const be = params[0]._backend;
  if (!be.adamStep) {
    adamComposite({ params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, sizes }, hyper);
    return;
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
