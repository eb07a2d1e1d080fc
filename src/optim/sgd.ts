import { checkRange } from "./_check.ts";
import { Optimizer, type ParamGroupInput, type StateLayout } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { sgdComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";
import { frozenInGraph } from "./_device_hyper.ts";

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
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
 * ```
 */
export class SGD extends Optimizer<SgdOptions> {
  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(
    params: Tensor[] | ParamGroupInput<SgdOptions>[],
    opts: Partial<SgdOptions> & { lr: number },
  ) {
    checkOptionKeys("SGD", opts ?? {}, ["lr", "momentum", "dampening", "nesterov", "weightDecay"]);
    if (opts === undefined || opts.lr === undefined) throw new Error("SGD: lr is required, e.g. { lr: 0.01 }");
    const { lr, ...rest } = opts; // lr first, as in PyTorch's parameter groups
    super("SGD", params, { lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...rest }, (o) => {
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

  /** `momentum_buffer` (a tensor, or null without momentum), as PyTorch's; no step count. */
  protected stateLayout(): StateLayout {
    return { step: false, buffers: [], optional: ["momentum_buffer"] };
  }

  /** One update of every parameter with a gradient (one backend call per parameter group). */
  step(): void {
    // Parameters whose momentum buffer starts now (PyTorch: None) are batched apart from the others.
    const started = (p: Tensor) => this.state.get(p)?.buffers.momentum_buffer ? 0 : 1;
    for (const { group: g, params, grads, key } of this.batches(started)) {
      const states = params.map((p) => this.stateOf(p, [], { step: false }));
      let bufs: Tensor[] | null = null;
      if (g.momentum !== 0) {
        bufs = params.map((p) => this.stateOf(p, ["momentum_buffer"]).buffers.momentum_buffer!);
      } else {
        for (const s of states) s.buffers.momentum_buffer ??= null;
      }
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
      frozenInGraph("SGD's momentum ≠ 0", () => [g.momentum !== 0]); // which kernel, and whether buffers exist
      if (!be.sgdStep) {
        sgdComposite({ params, grads, momentumBufs: bufs, sizes }, hyper);
        continue;
      }
      be.sgdStep({
        hyper: this.deviceHyper.storageFor(
          params,
          () => [g.lr, g.momentum, g.dampening, g.weightDecay, g.nesterov ? 1 : 0],
        ),
        params: params.map((p) => p._data("SGD")),
        grads: grads.map((t) => t._data("SGD")),
        momentumBufs: bufs && bufs.map((t) => t._data()),
        sizes,
      }, hyper);
    }
  }
}
