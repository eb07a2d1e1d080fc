/**
 * `to`: a copy on another device. The only op that crosses devices.
 *
 * @module
 */
import type { Device } from "../backend/backend.ts";
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";

/**
 * A copy on `dev` (`x` itself when already there). Gradients flow back through it.
 *
 * @example
 * ```ts
 * import { device, tensor, to } from "@convnet/convnet";
 * const t = to(tensor([1, 2]), device("cpu"));
 * ```
 */
export function to<T extends TensorBase>(x: T, dev: Device): T {
  if (dev === x.device) return x;
  const host = x.toHost();
  const Ctor = x.constructor as new (s: unknown, shape: readonly number[], dtype: T["dtype"], d: Device) => T;
  const out = new Ctor(dev.backend.fromHost(x.dtype, host), x.shape, x.dtype, dev);
  const from = x.device;
  return record(out, [x], (g) => [to(g, from)], "to");
}
