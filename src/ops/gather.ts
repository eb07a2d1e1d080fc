/**
 * `gather` and `indexSelect`: values picked along one dimension by an int32 index (the
 * backend's gather primitive); their gradient is the matching scatter-add into zeros.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { fmtShape } from "../backend/shape.ts";
import { expandRaw, fullLike } from "./_kernels.ts";
import { checkTensor, dimArg, noInt64, reduceDims, sameDevice } from "./_util.ts";
import { narrow } from "./narrow.ts";

/** `out[..., j, ...] = x[..., index[..., j, ...], ...]` along `d`, where `index` has `x`'s shape except along `d`. */
function gatherAlong<T extends TensorBase>(op: string, x: T, d: number, index: TensorBase, ownsIndex = false): T {
  const { outer, n, inner } = reduceDims(x.shape, d, true);
  const m = index.shape[d];
  const xData = x._data(op), indexData = index._data(op);
  const out = x._backend.alloc(x.dtype, index.size);
  x._backend.gather(out, xData, indexData, { outer, n, m, inner });
  return record(
    x._wrap(out, index.shape),
    [x],
    (g) => {
      const dx = fullLike(x, 0);
      x._backend.scatterAdd(dx._data(op), g._data(op), index._data(op), { outer, n, m, inner });
      return [dx];
    },
    op,
    ownsIndex ? () => index.dispose() : undefined,
  );
}

function checkIndex(op: string, x: TensorBase, index: TensorBase): void {
  checkTensor(op, "index", index);
  sameDevice(op, x, index);
  noInt64(op, x);
  if (index.dtype !== "int32") {
    throw new Error(`${op}: index must be an int32 tensor, got ${index.dtype} ${fmtShape(index.shape)}`);
  }
}

/**
 * Values picked along `dim`: `out[i][j][k] = x[i][index[i][j][k]][k]` for `dim` 1. `index`
 * (int32) has `x`'s rank and is no larger than `x` in the other dimensions; the output has its shape.
 *
 * @example
 * ```ts
 * import { gather, tensor } from "@convnet/convnet";
 * const x = tensor([[1, 2], [3, 4]]);
 * gather(x, 1, tensor([[0, 0], [1, 0]], undefined, { dtype: "int32" })).toArray(); // [1, 1, 4, 3]
 * ```
 */
export function gather<T extends TensorBase>(x: T, dim: number, index: TensorBase): T {
  const op = "gather";
  checkIndex(op, x, index);
  const d = dimArg(op, dim, x.rank);
  if (index.rank !== x.rank || index.shape.some((s, i) => i !== d && s > x.shape[i])) {
    throw new Error(
      `${op}: index ${fmtShape(index.shape)} must have the rank of the input ${fmtShape(x.shape)} and be no ` +
        `larger in every dimension but ${dim}`,
    );
  }
  // Cut the input to the index's size in the other dimensions (autograd pads the gradient back).
  let src: T = x;
  for (let i = 0; i < x.rank; i++) {
    if (i !== d && index.shape[i] < src.shape[i]) {
      const next = narrow(src, i, 0, index.shape[i]);
      if (src !== x && !src.requiresGrad) src.dispose();
      src = next;
    }
  }
  return gatherAlong(op, src, d, index);
}

/**
 * The entries of dimension `dim` listed by the 1-d int32 `index`, in its order (repeats allowed).
 *
 * @example
 * ```ts
 * import { indexSelect, tensor } from "@convnet/convnet";
 * const x = tensor([[1, 2], [3, 4], [5, 6]]);
 * indexSelect(x, 0, tensor([2, 0], [2], { dtype: "int32" })).toArray(); // [5, 6, 1, 2]
 * ```
 */
export function indexSelect<T extends TensorBase>(x: T, dim: number, index: TensorBase): T {
  const op = "indexSelect";
  checkIndex(op, x, index);
  if (index.rank > 1) throw new Error(`${op}: index must be 1-d, got shape ${fmtShape(index.shape)}`);
  const d = dimArg(op, dim, x.rank);
  if (x.rank === 0) throw new Error(`${op}: cannot index a 0-d tensor; expected rank ≥ 1`);
  const m = index.size;
  const shaped = index._share(x.shape.map((_, i) => (i === d ? m : 1)));
  const full = expandRaw(shaped, x.shape.map((s, i) => (i === d ? m : s)));
  if (full !== shaped) shaped.dispose();
  return gatherAlong(op, x, d, full, true);
}
