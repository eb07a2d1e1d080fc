/**
 * Freeing a composite op's temporaries when no graph will hold them.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { isGradEnabled } from "../autograd/mode.ts";
import { tidy } from "../autograd/tidy.ts";

/**
 * Runs `fn`, inside a `tidy` when no graph will be recorded (grad mode off, or no input requires
 * grad): then its temporaries are freed at once; otherwise the graph holds them until backward.
 */
export function freeingTemporaries<T extends TensorBase>(
  inputs: readonly (TensorBase | null | undefined)[],
  fn: () => T,
): T {
  const recorded = isGradEnabled() && inputs.some((t) => t?.requiresGrad);
  return recorded ? fn() : tidy(fn);
}
