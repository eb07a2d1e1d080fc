/**
 * `where`: `condition ? a : b` elementwise, all three broadcast together. The gradient goes to
 * `a` where the condition holds and to `b` elsewhere.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { fullLike, sumTo, whereRaw } from "./_kernels.ts";
import { checkTensor } from "./_util.ts";

/**
 * `a` where `condition` (int32, a comparison's result) is non-zero, else `b`; `b` may be a number.
 *
 * @example
 * ```ts
 * import { tensor, where } from "@convnet/convnet";
 * const x = tensor([-1, 2, -3]);
 * where(x.gt(0), x, 0).toArray(); // [0, 2, 0]
 * ```
 */
export function where<T extends TensorBase>(condition: TensorBase, a: T, b: TensorBase | number): T {
  checkTensor("where", "input", a);
  const other = typeof b === "number" ? fullLike(a, b, []) : b;
  const y = whereRaw(condition, a, other);
  return record(
    y,
    [a, other],
    (g) => {
      const zero = fullLike(g, 0, []);
      const ga = a.requiresGrad ? sumTo(whereRaw(condition, g, zero), a.shape) : null;
      const gb = other.requiresGrad ? sumTo(whereRaw(condition, zero, g), other.shape) : null;
      zero.dispose();
      return [ga, gb];
    },
    "where",
    typeof b === "number" ? () => other.dispose() : undefined,
  );
}
