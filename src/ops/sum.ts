/**
 * `sum`: over all elements, one dimension or several, the reduced dimensions removed or kept as 1.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { expandRaw, reduceAllRaw, reduceRaw } from "./_kernels.ts";
import { checkOptionKeys, dimsArg } from "./_util.ts";

/** Options of the reductions. */
export interface ReduceOptions {
  /** Keep each reduced dimension as size 1 (PyTorch's `keepdim`; default false). */
  keepDim?: boolean;
}

/**
 * The sum of all elements, or over `dims` (one or several; negative counts from the end).
 *
 * @example
 * ```ts
 * import { sum, tensor } from "@convnet/convnet";
 * sum(tensor([[1, 2], [3, 4]]), 0).toArray(); // [4, 6]
 * sum(tensor([[1, 2], [3, 4]]), [0, 1], { keepDim: true }).shape; // [1, 1]
 * ```
 */
export function sum<T extends TensorBase>(x: T, dims?: number | readonly number[], opts: ReduceOptions = {}): T {
  checkOptionKeys("sum", opts, ["keepDim"]);
  const keepDim = opts.keepDim ?? false;
  const reduced = dimsArg("sum", dims, x.rank);
  const kept = x.shape.map((d, i) => (reduced.includes(i) ? 1 : d));
  const shape = keepDim ? kept : x.shape.filter((_, i) => !reduced.includes(i));
  let out: T;
  if (dims === undefined || reduced.length === x.rank) out = reduceAllRaw("sum", x, shape);
  else {
    out = x;
    for (let i = reduced.length - 1; i >= 0; i--) {
      const next = reduceRaw("sum", out, reduced[i], true);
      if (out !== x) out.dispose();
      out = next;
    }
    if (!keepDim) {
      const squeezed = out._share(shape);
      out.dispose();
      out = squeezed;
    }
  }
  return record(out, [x], (g) => {
    const gk = g._share(kept);
    const dx = expandRaw(gk, x.shape);
    if (dx !== gk) gk.dispose();
    return [dx];
  }, "sum");
}
