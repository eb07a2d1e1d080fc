/**
 * `defineOp`: a user's own op with its own backward, like PyTorch's `torch.autograd.Function`.
 *
 * @module
 */
import { noGrad } from "../autograd/mode.ts";
import { record } from "../autograd/graph.ts";
import type { Tensor } from "./tensor.ts";

/** What {@linkcode defineOp} needs: the forward computation and its gradient rule. */
export interface OpDefinition {
  /** Computes the output from the inputs (runs without recording: the backward below is the op's rule). */
  forward(...inputs: Tensor[]): Tensor;
  /**
   * Maps the output's gradient to one gradient per input (null where an input needs none), each of
   * that input's shape. Runs without recording, inside a tidy scope: temporaries are freed.
   */
  backward(grad: Tensor, inputs: readonly Tensor[], output: Tensor): (Tensor | null)[];
}

/**
 * Defines an op from a forward function and its backward rule; the result is called like any op
 * and takes part in autograd. Inputs and output are the caller's tensors (`Tensor`).
 *
 * @example
 * ```ts
 * import { defineOp, tensor } from "@convnet/convnet";
 * // softplus(x) = log(1 + e^x), with d/dx = sigmoid(x)
 * const softplus = defineOp("softplus", {
 *   forward: (x) => x.exp().add(1).log(),
 *   backward: (g, [x]) => [g.mul(x.sigmoid())],
 * });
 * const x = tensor([0, 1, -2], [3], { requiresGrad: true });
 * softplus(x).sum().backward();
 * x.grad!.toArray(); // sigmoid([0, 1, -2])
 * ```
 */
export function defineOp(name: string, def: OpDefinition): (...inputs: Tensor[]) => Tensor {
  if (typeof name !== "string" || name === "") throw new Error(`defineOp: name must be a non-empty string`);
  if (typeof def?.forward !== "function" || typeof def?.backward !== "function") {
    throw new Error(`defineOp: ${name} needs forward and backward functions`);
  }
  return (...inputs: Tensor[]): Tensor => {
    const output = noGrad(() => def.forward(...inputs));
    return record(output, inputs, (g) => {
      const grads = def.backward(g as Tensor, inputs, output);
      if (!Array.isArray(grads) || grads.length !== inputs.length) {
        throw new Error(
          `${name}: backward returned ${Array.isArray(grads) ? grads.length : typeof grads} gradients; ` +
            `expected one per input (${inputs.length}), null where none`,
        );
      }
      grads.forEach((gi, i) => {
        if (gi && (gi.size !== inputs[i].size)) {
          throw new Error(
            `${name}: backward's gradient ${i} has shape [${gi.shape.join(", ")}], expected the input's ` +
              `[${inputs[i].shape.join(", ")}]`,
          );
        }
      });
      return grads;
    }, name);
  };
}
