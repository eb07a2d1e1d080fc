/**
 * `relu`: `max(x, 0)`. Its backward is `where(x > 0, dy, 0)`: one fused pass on backends with
 * `reluBackward`, a comparison and a `where` on the others.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { unaryOp } from "./_elementwise.ts";
import { fullLike, scalarRaw, whereRaw } from "./_kernels.ts";

/**
 * `max(x, 0)`, elementwise (NaN stays NaN, as in PyTorch).
 *
 * @example
 * ```ts
 * import { relu, tensor } from "@convnet/convnet";
 * relu(tensor([-1, 2])).toArray(); // [0, 2]
 * ```
 */
export function relu<T extends TensorBase>(x: T): T {
  return unaryOp("relu", x, (g) => [reluBackward(g, x)]);
}

function reluBackward(g: TensorBase, x: TensorBase): TensorBase {
  const be = x._backend;
  if (be.reluBackward) {
    const gData = g._data("relu"), xData = x._data("relu");
    const dx = be.alloc(x.dtype, x.size);
    be.reluBackward(dx, gData, xData, x.size);
    return x._wrap(dx, x.shape);
  }
  const mask = scalarRaw("gt", x, 0);
  const zero = fullLike(x, 0, []);
  const dx = whereRaw(mask, g, zero);
  mask.dispose();
  zero.dispose();
  return dx;
}
