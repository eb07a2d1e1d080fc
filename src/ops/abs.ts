/**
 * `abs`: the absolute value; its gradient is sign(x) (0 at 0, as PyTorch).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { fullLike, scalarRaw, whereRaw } from "./_kernels.ts";

/**
 * The absolute value, elementwise (int32 too).
 *
 * @example
 * ```ts
 * import { abs, tensor } from "@convnet/convnet";
 * abs(tensor([-1.5, 2])).toArray(); // [1.5, 2]
 * ```
 */
export function abs<T extends TensorBase>(x: T): T {
  return unaryOp("abs", x, (g) => {
    // sign(x) · g: g where x > 0, −g where x < 0, 0 at 0.
    const pos = scalarRaw("gt", x, 0), negative = scalarRaw("lt", x, 0);
    const zero = fullLike(g, 0, []), minus = scalarRaw("mul", g, -1);
    const inner = whereRaw(negative, minus, zero);
    const dx = whereRaw(pos, g, inner);
    for (const t of [pos, negative, zero, minus, inner]) t.dispose();
    return [dx];
  }, true);
}
