import { checkRange } from "./_check.ts";
import { Optimizer, type ParamGroup, type ParamGroupInput, type StateLayout } from "./optimizer.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { rmspropComposite } from "./_composite.ts";
import type { Tensor } from "../tensor/mod.ts";
import { countSteps, frozenInGraph } from "./_device_hyper.ts";

/** Options of {@linkcode RMSprop}. */
export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Decay of the running averages (default 0.99). */
  alpha: number;
  /** Added to the denominator (default 1e-8). */
  eps: number;
  /** Divide by the centered second moment `v − ḡ²` (an estimate of the variance; default false). */
  centered: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

/**
 * RMSprop, as PyTorch computes it: `v = αv + (1−α)g²`, `avg = √v + ε` (centered: `√(v − ḡ²) + ε`
 * with `ḡ = αḡ + (1−α)g`), then `θ −= lr·g/avg`, or with momentum `b = μb + g/avg; θ −= lr·b`.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.RMSprop(model.parameters(), { lr: 1e-2, momentum: 0.9, centered: true });
 * ```
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  /** Creates the optimizer over `params` (or parameter groups). */
  constructor(params: Tensor[] | ParamGroupInput<RMSpropOptions>[], opts: Partial<RMSpropOptions> = {}) {
    checkOptionKeys("RMSprop", opts, ["lr", "momentum", "alpha", "eps", "centered", "weightDecay"]);
    super(
      "RMSprop",
      params,
      { lr: 1e-2, momentum: 0, alpha: 0.99, eps: 1e-8, centered: false, weightDecay: 0, ...opts },
      (o) => {
        checkRange("RMSprop", "lr", o.lr, 0);
        checkRange("RMSprop", "momentum", o.momentum, 0);
        checkRange("RMSprop", "alpha", o.alpha, 0);
        checkRange("RMSprop", "eps", o.eps, 0);
        checkRange("RMSprop", "weightDecay", o.weightDecay, 0);
      },
    );
  }

  /** `step`, `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered), as PyTorch's. */
  protected stateLayout(group: ParamGroup<RMSpropOptions>): StateLayout {
    return { step: true, buffers: bufferNames(group) };
  }

  /** One update of every parameter with a gradient (elementwise kernels, on any backend). */
  step(): void {
    for (const { group: g, params, grads } of this.batches()) {
      const states = params.map((p) => this.stateOf(p, bufferNames(g)));
      // Elementwise kernels taking the values as arguments: a CUDA graph holds them, so a change
      // captures it again.
      frozenInGraph(
        "RMSprop's [lr, alpha, eps, weightDecay, momentum, centered]",
        () => [g.lr, g.alpha, g.eps, g.weightDecay, g.momentum, g.centered],
      );
      countSteps(states);
      const buffer = (name: string) => states.map((s) => s.buffers[name]!);
      rmspropComposite({
        params,
        grads,
        squareAvgs: buffer("square_avg"),
        gradAvgs: g.centered ? buffer("grad_avg") : null,
        momentumBufs: g.momentum > 0 ? buffer("momentum_buffer") : null,
      }, { lr: g.lr, alpha: g.alpha, eps: g.eps, weightDecay: g.weightDecay, momentum: g.momentum });
    }
  }
}

/** The buffers PyTorch keeps for `group`'s options, in its order. */
function bufferNames(group: RMSpropOptions): string[] {
  return [
    "square_avg",
    ...(group.momentum > 0 ? ["momentum_buffer"] : []),
    ...(group.centered ? ["grad_avg"] : []),
  ];
}
