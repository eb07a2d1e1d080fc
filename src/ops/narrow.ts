/**
 * Slicing along one dimension: `narrow`, `select`, `split`, `chunk`. Each piece is a copy (one
 * strided-copy kernel); its gradient is written back into a zero tensor of the input's shape.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { contiguousStrides, fmtShape } from "../backend/shape.ts";
import { fullLike } from "./_kernels.ts";
import { dimArg } from "./_util.ts";
import { view } from "./view.ts";

/** Copies entries [start, start + length) of dimension `dim` of `x`, or adds `piece` back into them. */
function region(x: TensorBase, dim: number, start: number, length: number) {
  const strides = contiguousStrides(x.shape);
  const shape = x.shape.map((d, i) => (i === dim ? length : d));
  return { shape, strides, offset: start * strides[dim], pieceStrides: contiguousStrides(shape) };
}

/**
 * The `length` entries of dimension `dim` starting at `start` (a copy; negative `start` counts
 * from the end).
 *
 * @example
 * ```ts
 * import { narrow, tensor } from "@convnet/convnet";
 * narrow(tensor([[1, 2, 3], [4, 5, 6]]), 1, 1, 2).toArray(); // [2, 3, 5, 6]
 * ```
 */
export function narrow<T extends TensorBase>(x: T, dim: number, start: number, length: number): T {
  const op = "narrow";
  if (x.rank === 0) throw new Error(`${op}: cannot narrow a 0-d tensor; expected rank ≥ 1`);
  const d = dimArg(op, dim, x.rank);
  const size = x.shape[d];
  const from = Number.isInteger(start) && start < 0 ? start + size : start;
  if (!Number.isInteger(from) || !Number.isInteger(length) || from < 0 || length < 0 || from + length > size) {
    throw new Error(
      `${op}: start ${start} and length ${length} do not fit dimension ${dim} of ${fmtShape(x.shape)} ` +
        `(size ${size}); expected 0 ≤ start and start + length ≤ ${size}`,
    );
  }
  const r = region(x, d, from, length);
  const xData = x._data(op);
  const out = x._backend.alloc(x.dtype, r.shape.reduce((p, s) => p * s, 1));
  x._backend.copyStrided(out, xData, {
    shape: r.shape,
    outStrides: r.pieceStrides,
    outOffset: 0,
    xStrides: r.strides,
    xOffset: r.offset,
  });
  return record(x._wrap(out, r.shape), [x], (g) => {
    const dx = fullLike(x, 0);
    x._backend.copyStrided(dx._data(op), g._data(op), {
      shape: r.shape,
      outStrides: r.strides,
      outOffset: r.offset,
      xStrides: r.pieceStrides,
      xOffset: 0,
    });
    return [dx];
  }, op);
}

/**
 * Entry `index` of dimension `dim`, that dimension removed (a copy; negative index counts from the end).
 *
 * @example
 * ```ts
 * import { select, tensor } from "@convnet/convnet";
 * select(tensor([[1, 2, 3], [4, 5, 6]]), 0, 1).toArray(); // [4, 5, 6]
 * ```
 */
export function select<T extends TensorBase>(x: T, dim: number, index: number): T {
  if (x.rank === 0) throw new Error("select: cannot select from a 0-d tensor; expected rank ≥ 1");
  const d = dimArg("select", dim, x.rank);
  const size = x.shape[d];
  if (!Number.isInteger(index) || index < -size || index >= size) {
    throw new Error(
      `select: index ${index} is out of range for dimension ${dim} of ${fmtShape(x.shape)}; ` +
        `expected [${-size}, ${size - 1}]`,
    );
  }
  const piece = narrow(x, d, index < 0 ? index + size : index, 1);
  const out = view(piece, x.shape.filter((_, i) => i !== d));
  if (!piece.requiresGrad) piece.dispose();
  return out;
}

/**
 * Pieces along `dim`: of `splitSizeOrSections` entries each (the last may be smaller), or of the
 * listed sizes, which must add up to the dimension (copies).
 *
 * @example
 * ```ts
 * import { split, Tensor } from "@convnet/convnet";
 * split(Tensor.zeros([5, 2]), 2).map((t) => t.shape); // [[2, 2], [2, 2], [1, 2]]
 * split(Tensor.zeros([5, 2]), [1, 4]).map((t) => t.shape); // [[1, 2], [4, 2]]
 * ```
 */
export function split<T extends TensorBase>(x: T, splitSizeOrSections: number | readonly number[], dim = 0): T[] {
  if (x.rank === 0) throw new Error("split: cannot split a 0-d tensor; expected rank ≥ 1");
  const d = dimArg("split", dim, x.rank);
  const size = x.shape[d];
  let sizes: number[];
  if (typeof splitSizeOrSections === "number") {
    const step = splitSizeOrSections;
    if (!Number.isInteger(step) || step < 0 || (step === 0 && size !== 0)) {
      throw new Error(`split: split size ${step} is invalid for dimension ${dim} of size ${size}; expected ≥ 1`);
    }
    sizes = [];
    for (let at = 0; at < size; at += step) sizes.push(Math.min(step, size - at));
    if (sizes.length === 0) sizes.push(0);
  } else {
    sizes = [...splitSizeOrSections];
    const total = sizes.reduce((p, s) => p + s, 0);
    if (!sizes.every((s) => Number.isInteger(s) && s >= 0) || total !== size) {
      throw new Error(
        `split: sizes ${JSON.stringify(sizes)} add up to ${total}, but dimension ${dim} of ` +
          `${fmtShape(x.shape)} has ${size}; expected non-negative integers summing to ${size}`,
      );
    }
  }
  let at = 0;
  return sizes.map((s) => {
    const piece = narrow(x, d, at, s);
    at += s;
    return piece;
  });
}

/**
 * `chunks` pieces along `dim` of ⌈size / chunks⌉ entries each (the last smaller; fewer pieces
 * when the size does not need them all), as PyTorch's `chunk`.
 *
 * @example
 * ```ts
 * import { chunk, Tensor } from "@convnet/convnet";
 * chunk(Tensor.zeros([5]), 3).map((t) => t.shape); // [[2], [2], [1]]
 * ```
 */
export function chunk<T extends TensorBase>(x: T, chunks: number, dim = 0): T[] {
  if (!Number.isInteger(chunks) || chunks < 1) {
    throw new Error(`chunk: chunks must be a positive integer, got ${JSON.stringify(chunks)}`);
  }
  if (x.rank === 0) throw new Error("chunk: cannot chunk a 0-d tensor; expected rank ≥ 1");
  const size = x.shape[dimArg("chunk", dim, x.rank)];
  return split(x, Math.max(1, Math.ceil(size / chunks)), dim);
}
