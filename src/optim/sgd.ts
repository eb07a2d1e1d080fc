import { checkRange, Optimizer, type ParamGroupInput } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { sgdComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";

/** Options of {@linkcode SGD}. */
export interface SgdOptions {
  /** Learning rate (required). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

/**
 * Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay.
 *
 * @example
 * ```ts
 * import { nn, optim } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
 * ```
 */
export class SGD extends Optimizer<SgdOptions> {
  #started = new WeakSet<Tensor>();

  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(
    params: Tensor[] | ParamGroupInput<SgdOptions>[],
    opts: Partial<SgdOptions> & { lr: number },
  ) {
    checkOptionKeys("SGD", opts ?? {}, ["lr", "momentum", "dampening", "nesterov", "weightDecay"]);
    if (opts === undefined || opts.lr === undefined) throw new Error("SGD: lr is required, e.g. { lr: 0.01 }");
    super("SGD", params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...opts }, (o) => {
      checkRange("SGD", "lr", o.lr, 0);
      checkRange("SGD", "momentum", o.momentum, 0);
      checkRange("SGD", "dampening", o.dampening, 0);
      checkRange("SGD", "weightDecay", o.weightDecay, 0);
      if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
        throw new Error(
          `SGD: nesterov needs momentum > 0 and dampening 0, got momentum ${o.momentum}, dampening ${o.dampening}`,
        );
      }
    });
  }

  /** One update of every parameter with a gradient (one backend call per parameter group). */
  step(): void {
    // Parameters whose momentum buffer starts now are batched apart from the others.
    for (const { group: g, params, grads, key } of this.batches((p) => this.#started.has(p) ? 0 : 1)) {
      const bufs = g.momentum !== 0 ? params.map((p) => this.stateOf(p, ["momentumBuffer"]).momentumBuffer) : null;
      for (const p of params) this.#started.add(p);
      const sizes = params.map((p) => p.size);
      const hyper = {
        lr: g.lr,
        momentum: g.momentum,
        dampening: g.dampening,
        nesterov: g.nesterov,
        weightDecay: g.weightDecay,
        first: key === 1,
      };
      const be = params[0]._backend;
      if (!be.sgdStep) {
        sgdComposite({ params, grads, momentumBufs: bufs, sizes }, hyper);
        continue;
      }
      be.sgdStep({
        params: params.map((p) => p._data("SGD")),
        grads: grads.map((t) => t._data("SGD")),
        momentumBufs: bufs && bufs.map((t) => t._data()),
        sizes,
      }, hyper);
    }
  }
}
