/**
 * `cat` and `stack`: tensors joined along a dimension, each copied into its region of the
 * output by one strided copy; the gradient is cut back into the pieces the same way.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { contiguousStrides, fmtShape, numel } from "../backend/shape.ts";
import { checkTensor, dimArg, sameDevice, sameDtype } from "./_util.ts";
import { narrow } from "./narrow.ts";
import { unsqueeze } from "./reshape.ts";

/**
 * The tensors joined along `dim`; all other dimensions must agree.
 *
 * @example
 * ```ts
 * import { cat, tensor } from "@convnet/convnet";
 * cat([tensor([[1, 2]]), tensor([[3, 4], [5, 6]])], 0).shape; // [3, 2]
 * ```
 */
export function cat<T extends TensorBase>(tensors: readonly T[], dim = 0): T {
  const op = "cat";
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new Error(`${op}: expected a non-empty array of tensors, got ${String(tensors)}`);
  }
  tensors.forEach((t, i) => checkTensor(op, `tensors[${i}]`, t));
  const first = tensors[0];
  if (first.rank === 0) throw new Error(`${op}: zero-dimensional tensors cannot be concatenated; use stack`);
  const d = dimArg(op, dim, first.rank);
  for (const [i, t] of tensors.entries()) {
    sameDevice(op, first, t);
    sameDtype(op, first, t);
    if (t.rank !== first.rank || t.shape.some((s: number, j: number) => j !== d && s !== first.shape[j])) {
      throw new Error(
        `${op}: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ${fmtShape(first.shape)}; ` +
          `expected the same sizes except in dimension ${dim}`,
      );
    }
  }
  const shape = first.shape.map((s: number, j: number) => (j === d ? tensors.reduce((p, t) => p + t.shape[d], 0) : s));
  const strides = contiguousStrides(shape);
  const be = first._backend;
  const data = tensors.map((t) => t._data(op));
  const out = be.alloc(first.dtype, numel(shape));
  let at = 0;
  tensors.forEach((t, i) => {
    be.copyStrided(out, data[i], {
      shape: t.shape,
      outStrides: strides,
      outOffset: at * strides[d],
      xStrides: contiguousStrides(t.shape),
      xOffset: 0,
    });
    at += t.shape[d];
  });
  return record(first._wrap(out, shape), tensors, (g) => {
    let from = 0;
    return tensors.map((t) => {
      const piece = t.requiresGrad ? narrow(g, d, from, t.shape[d]) : null;
      from += t.shape[d];
      return piece;
    });
  }, op);
}

/**
 * The tensors (all of one shape) stacked along a new dimension `dim`.
 *
 * @example
 * ```ts
 * import { stack, tensor } from "@convnet/convnet";
 * stack([tensor([1, 2]), tensor([3, 4])], 1).toArray(); // [1, 3, 2, 4]
 * ```
 */
export function stack<T extends TensorBase>(tensors: readonly T[], dim = 0): T {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new Error(`stack: expected a non-empty array of tensors, got ${String(tensors)}`);
  }
  tensors.forEach((t, i) => checkTensor("stack", `tensors[${i}]`, t));
  for (const [i, t] of tensors.entries()) {
    if (t.rank !== tensors[0].rank || t.shape.some((s: number, j: number) => s !== tensors[0].shape[j])) {
      throw new Error(
        `stack: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ${fmtShape(tensors[0].shape)}; ` +
          "expected equal shapes",
      );
    }
  }
  const d = dimArg("stack", dim, tensors[0].rank + 1);
  const parts = tensors.map((t) => unsqueeze(t, d));
  const out = cat(parts, d);
  for (const p of parts) if (!p.requiresGrad) p.dispose();
  return out;
}
