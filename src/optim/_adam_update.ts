/**
 * Adam's update, shared by Adam and AdamW (kept out of the public `optim` namespace).
 *
 * @module
 */
import type { Batch, ParamState, StateLayout } from "./optimizer.ts";
import { adamComposite, decayParams } from "./_composite.ts";
import type { AdamParams } from "../backend/backend.ts";
import { countSteps, type DeviceHyper, frozenInGraph } from "./_device_hyper.ts";

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
 * `weightDecay` and AdamW's decoupled decay `decoupledDecay` (0 for Adam): the fused kernel where
 * the backend has one (on CUDA its hyper-parameters, step count and decay in `deviceHyper`'s buffer;
 * elsewhere the decay is a multiply first), the composite otherwise.
 */
export function adamUpdate(
  batch: Batch<AdamHyper>,
  states: ParamState[],
  weightDecay: number,
  decoupledDecay: number,
  deviceHyper: DeviceHyper,
): void {
  const { group: options, params, grads, key: step } = batch;
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
  frozenInGraph("amsgrad", () => [options.amsgrad]); // whether the max buffers exist
  if (!be.adamStep) {
    decayParams(params, options.lr, decoupledDecay);
    for (const s of states) s.step = step;
    adamComposite({ params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, sizes }, hyper);
    return;
  }
  const taken = () => states[0].step ?? 0; // the steps before this one (a graph's replays advance it)
  // On CUDA the kernel reads every value, AdamW's decay included, from the device buffer.
  const device = deviceHyper.storageFor(
    params,
    () => [options.lr, options.betas[0], options.betas[1], options.eps, weightDecay, taken(), decoupledDecay],
    5,
  );
  if (device === undefined) decayParams(params, options.lr, decoupledDecay);
  countSteps(states);
  be.adamStep({
    hyper: device,
    params: params.map((p) => p._data("Adam")),
    grads: grads.map((t) => t._data("Adam")),
    expAvgs: expAvgs.map((t) => t._data()),
    expAvgSqs: expAvgSqs.map((t) => t._data()),
    maxExpAvgSqs: maxExpAvgSqs && maxExpAvgSqs.map((t) => t._data()),
    sizes,
  }, hyper);
}
