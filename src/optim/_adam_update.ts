/**
 * Adam's update, shared by Adam and AdamW (kept out of the public `optim` namespace).
 *
 * @module
 */
import type { Batch, ParamState, StateLayout } from "./optimizer.ts";
import { adamComposite } from "./_composite.ts";
import type { AdamParams } from "../backend/backend.ts";

/** Adam's and AdamW's state layout. */
export function adamLayout(group: { amsgrad: boolean }): StateLayout {
  return {
    step: true,
    buffers: group.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"],
  };
}

/** The options Adam's update reads (Adam's and AdamW's options have them; no import of adam.ts, no cycle). */
type AdamHyper = { lr: number; betas: [number, number]; eps: number; amsgrad: boolean };

/**
 * One Adam step of a batch of parameters sharing a step count (`batch.key`), with the L2 penalty
 * `weightDecay` (AdamW passes 0 and decays the parameters itself): the fused kernel where the
 * backend has one, the composite otherwise.
 */
export function adamUpdate(batch: Batch<AdamHyper>, states: ParamState[], weightDecay: number): void {
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
