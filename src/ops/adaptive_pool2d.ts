/**
 * `adaptiveAvgPool2d`, `adaptiveMaxPool2d`: pooling to a fixed output size, with PyTorch's
 * windows: output row i covers input rows [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉) (columns alike), so windows
 * may differ in size and overlap.
 *
 * Composites, one dimension at a time (a rectangle's mean is the mean of its rows' means, its
 * maximum the maximum of its rows' maxima), columns first:
 * - an output size equal to the input's: nothing to do;
 * - one that divides it (global pooling included): a view [..., o, k] and one reduction over k;
 * - otherwise, max: one `indexSelect` of every window padded to the longest by repeating its last
 *   element, and a max over the window; average: a product with the [size, o] matrix of 1/length
 *   inside each window.
 * 7×7 → 1×1 (ResNet's global pooling) is one reduction over H·W. The max gradient goes to the first
 * maximum in row-major order, as in PyTorch: each row's first maximum, then the first such row.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { fmtShape } from "../backend/shape.ts";
import { checkTensor, floatOnly } from "./_util.ts";
import { clone } from "./clone.ts";
import { indexSelect } from "./gather.ts";
import { matmul } from "./matmul.ts";
import { max } from "./max_min.ts";
import { mean } from "./mean.ts";
import { view } from "./view.ts";

/**
 * An adaptive pooling's output size: one number for both dimensions, or `[height, width]`, where
 * `null` keeps the input's size in that dimension (PyTorch's `None`).
 */
export type AdaptiveSize = number | readonly [number | null, number | null];

type Kind = "avg" | "max";

/** The window of output `i` of `out` over an input dimension of `size`: [start, end). */
function window(i: number, size: number, out: number): [number, number] {
  return [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)];
}

function outputSize(op: string, x: TensorBase, size: AdaptiveSize): [number, number] {
  const [h, w] = x.shape.slice(-2);
  const valid = (v: unknown) => v === null || (Number.isInteger(v) && (v as number) >= 1);
  const given: readonly unknown[] | null = typeof size === "number" ? [size, size] : Array.isArray(size) ? size : null;
  if (given === null || given.length !== 2 || !given.every(valid) || (typeof size === "number" && !valid(size))) {
    throw new Error(
      `${op}: outputSize must be an integer ≥ 1 or a pair [h, w] of them (null keeps the input's size), ` +
        `got ${JSON.stringify(size)}`,
    );
  }
  return [(given[0] as number | null) ?? h, (given[1] as number | null) ?? w];
}

/** Drops an intermediate no graph holds (the caller's input is never dropped). */
function done(t: TensorBase, input: TensorBase): void {
  if (t !== input && !t.requiresGrad) t.dispose();
}

/** Pools dimension `d` (the last or the one before) of `x` from its size to `out`. */
function poolDim<T extends TensorBase>(kind: Kind, x: T, d: number, out: number): T {
  const size = x.shape[d];
  if (out === size) return x;
  const split = (t: T, windowLength: number) => {
    const shape = [...t.shape.slice(0, d), out, windowLength, ...t.shape.slice(d + 1)];
    const windows = view(t, shape);
    const y = kind === "max" ? max(windows, d + 1) : mean(windows, d + 1);
    done(windows, x);
    return y;
  };
  if (size % out === 0) return split(x, size / out);
  if (kind === "avg") {
    // Along the last dimension y = x · P with P [size, out]; along the one before, y = Pᵀ · x.
    // P[s, i] = 1/length of window i where s lies in it, 0 elsewhere.
    const last = d === x.rank - 1;
    const weights = new Float64Array(size * out);
    for (let i = 0; i < out; i++) {
      const [start, end] = window(i, size, out);
      for (let s = start; s < end; s++) weights[last ? s * out + i : i * size + s] = 1 / (end - start);
    }
    const host = x.dtype === "float64" ? weights : Float32Array.from(weights);
    const operator = x._wrap(x._backend.fromHost(x.dtype, host), last ? [size, out] : [out, size]);
    const y = last ? matmul(x, operator) : matmul(operator, x);
    if (!y.requiresGrad) operator.dispose(); // else y's graph holds it for the backward
    return y;
  }
  let longest = 0;
  for (let i = 0; i < out; i++) {
    const [start, end] = window(i, size, out);
    longest = Math.max(longest, end - start);
  }
  const positions = new Int32Array(out * longest);
  for (let i = 0; i < out; i++) {
    const [start, end] = window(i, size, out);
    for (let j = 0; j < longest; j++) positions[i * longest + j] = Math.min(start + j, end - 1);
  }
  const index = x._wrap(x._backend.fromHost("int32", positions), [positions.length], "int32");
  const gathered = indexSelect(x, d, index);
  index.dispose();
  const y = split(gathered, longest);
  done(gathered, x);
  return y;
}

function adaptivePool<T extends TensorBase>(kind: Kind, op: string, x: T, size: AdaptiveSize): T {
  checkTensor(op, "input", x);
  if (x.rank !== 3 && x.rank !== 4) {
    throw new Error(`${op}: input must be 3-d [C, H, W] or 4-d [N, C, H, W], got shape ${fmtShape(x.shape)}`);
  }
  floatOnly(op, x);
  if (x.size === 0) throw new Error(`${op}: input ${fmtShape(x.shape)} is empty; expected every size ≥ 1`);
  const [oh, ow] = outputSize(op, x, size);
  const [h, w] = x.shape.slice(-2);
  const lead = x.shape.slice(0, -2);
  if (oh === 1 && ow === 1 && !(h === 1 && w === 1)) {
    // Global pooling: one reduction over H·W.
    const flat = view(x, [...lead, h * w]);
    const pooled = kind === "max" ? max(flat, -1) : mean(flat, -1);
    done(flat, x);
    const y = view(pooled, [...lead, 1, 1]);
    done(pooled, x);
    return y;
  }
  const cols = poolDim(kind, x, x.rank - 1, ow);
  const y = poolDim(kind, cols, x.rank - 2, oh);
  if (y !== cols) done(cols, x);
  return y === x ? clone(x) : y;
}

/**
 * Average pooling to `outputSize` ([oh, ow], or one number for both) over [N, C, H, W] or
 * [C, H, W]: output (i, j) is the mean of rows [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉) and the columns alike.
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * F.adaptiveAvgPool2d(Tensor.randn([2, 512, 7, 7]), 1).shape; // [2, 512, 1, 1]
 * F.adaptiveAvgPool2d(Tensor.ones([1, 3, 10, 9]), [3, 4]).shape; // [1, 3, 3, 4]
 * ```
 */
export function adaptiveAvgPool2d<T extends TensorBase>(x: T, outputSize: AdaptiveSize): T {
  return adaptivePool("avg", "adaptiveAvgPool2d", x, outputSize);
}

/**
 * Max pooling to `outputSize` with {@linkcode adaptiveAvgPool2d}'s windows; the gradient goes to
 * each window's first maximum (row-major), as in PyTorch.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * const x = tensor([[[1, 5, 2], [7, 0, 3]]]); // [1, 2, 3]
 * F.adaptiveMaxPool2d(x, [1, 2]).toArray(); // [7, 5]: windows over columns [0, 2) and [1, 3)
 * ```
 */
export function adaptiveMaxPool2d<T extends TensorBase>(x: T, outputSize: AdaptiveSize): T {
  return adaptivePool("max", "adaptiveMaxPool2d", x, outputSize);
}
