import { checkRange } from "./_check.ts";
import { Optimizer, type ParamGroupInput, type StateLayout } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { adadeltaComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";
import { countSteps } from "./_device_hyper.ts";

/** Options of {@linkcode Adadelta}. */
export interface AdadeltaOptions {
  /** Scale of the update (default 1.0). */
  lr: number;
  /** Decay of the running averages (default 0.9). */
  rho: number;
  /** Added inside the square roots (default 1e-6). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

/**
 * Adadelta, exactly as PyTorch computes it (not TensorFlow.js's variant):
 * `v = ρv + (1−ρ)g²; Δ = √(u+ε) / √(v+ε) · g; u = ρu + (1−ρ)Δ²; θ −= lr·Δ`.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * ```
 */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(params: Tensor[] | ParamGroupInput<AdadeltaOptions>[], opts: Partial<AdadeltaOptions> = {}) {
    checkOptionKeys("Adadelta", opts, ["lr", "rho", "eps", "weightDecay"]);
    super("Adadelta", params, { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0, ...opts }, (o) => {
      checkRange("Adadelta", "lr", o.lr, 0);
      checkRange("Adadelta", "rho", o.rho, 0);
      if (o.rho > 1) throw new Error(`Adadelta: rho must be a number in [0, 1], got ${o.rho}`);
      checkRange("Adadelta", "eps", o.eps, 0);
      checkRange("Adadelta", "weightDecay", o.weightDecay, 0);
    });
  }

  /** `step`, `square_avg`, `acc_delta`, as PyTorch's. */
  protected stateLayout(): StateLayout {
    return { step: true, buffers: ["square_avg", "acc_delta"] };
  }

  /** One update of every parameter with a gradient (one backend call per parameter group). */
  step(): void {
    for (const { group: g, params, grads } of this.batches()) {
      const states = params.map((p) => this.stateOf(p, ["square_avg", "acc_delta"]));
      countSteps(states);
      const squareAvgs = states.map((s) => s.buffers.square_avg!), accDeltas = states.map((s) => s.buffers.acc_delta!);
      const sizes = params.map((p) => p.size);
      const hyper = { lr: g.lr, rho: g.rho, eps: g.eps, weightDecay: g.weightDecay };
      const be = params[0]._backend;
      if (!be.adadeltaStep) {
        adadeltaComposite({ params, grads, squareAvgs, accDeltas, sizes }, hyper);
        continue;
      }
      be.adadeltaStep({
        hyper: this.deviceHyper.storageFor(params, () => [g.lr, g.rho, g.eps, g.weightDecay]),
        params: params.map((p) => p._data("Adadelta")),
        grads: grads.map((t) => t._data("Adadelta")),
        squareAvgs: squareAvgs.map((t) => t._data()),
        accDeltas: accDeltas.map((t) => t._data()),
        sizes,
      }, hyper);
    }
  }
}
