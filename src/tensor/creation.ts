/**
 * Creating tensors from values and ranges: `tensor`, `arange`, `eye`, `zerosLike`, `onesLike`,
 * `randint` (PyTorch's draws from the same MT19937 stream).
 *
 * @module
 */
import type { DType } from "../backend/backend.ts";
import { cpu } from "../backend/device.ts";
import { checkShape, fmtShape, numel } from "../backend/shape.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { type Generator, globalGenerator } from "./random.ts";
import { Tensor, type TensorOptions } from "./tensor.ts";

/** Values accepted by {@linkcode tensor}: nested arrays of numbers, or a flat typed array. */
export type TensorValues =
  | number
  | readonly number[]
  | readonly (readonly number[])[]
  | readonly NestedNumbers[]
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | BigInt64Array;

/** Arbitrarily nested arrays of numbers. */
export type NestedNumbers = number | readonly NestedNumbers[];

// ---- creation from values ----

function flatten(values: NestedNumbers, out: number[], shape: number[], depth: number): void {
  if (typeof values === "number") {
    if (depth !== shape.length && shape.length > 0) {
      throw new Error(`tensor: ragged nested array: a number at depth ${depth}, expected an array of ${shape[depth]}`);
    }
    out.push(values);
    return;
  }
  if (shape.length === depth) {
    // Numbers already sit at this depth: an array here makes the nesting ragged.
    if (out.length > 0) throw new Error(`tensor: ragged nested array: an array at depth ${depth}, expected a number`);
    shape.push(values.length);
  } else if (shape[depth] !== values.length) {
    throw new Error(`tensor: ragged nested array: a row has ${values.length} elements, expected ${shape[depth]}`);
  }
  for (const v of values) flatten(v, out, shape, depth + 1);
}

/**
 * Creates a tensor from numbers: nested arrays (their nesting gives the shape) or a flat
 * array or typed array with an explicit `shape`. Values are copied.
 *
 * @example
 * ```ts
 * import { tensor } from "@convnet/convnet";
 * const a = tensor([[1, 2, 3], [4, 5, 6]]);             // shape [2, 3], float32
 * const b = tensor(new Float32Array(6), [3, 2]);        // shape [3, 2]
 * const labels = tensor([3, 1, 4], [3], { dtype: "int32" });
 * ```
 */
export function tensor(values: TensorValues, shape?: readonly number[], opts: TensorOptions = {}): Tensor {
  let flat: ArrayLike<number | bigint>;
  let inferred: number[];
  if (ArrayBuffer.isView(values)) {
    flat = values;
    inferred = [values.length];
  } else {
    const out: number[] = [];
    inferred = [];
    flatten(values as NestedNumbers, out, inferred, 0);
    flat = out;
  }
  const finalShape = shape ? [...shape] : inferred;
  checkShape("tensor", finalShape);
  if (numel(finalShape) !== flat.length) {
    throw new Error(
      `tensor: ${flat.length} values cannot fill shape ${fmtShape(finalShape)} (${numel(finalShape)} elements)`,
    );
  }
  const dtype = opts.dtype ??
    (values instanceof Int32Array
      ? "int32"
      : values instanceof Float64Array
      ? "float64"
      : values instanceof BigInt64Array
      ? "int64"
      : "float32");
  const host = toHostArray(dtype, flat);
  const dev = opts.device ?? cpu;
  return new Tensor(dev.backend.fromHost(dtype, host), finalShape, dtype, dev, opts.requiresGrad ?? false);
}

/** Values as the host typed array of `dtype` (int64 from numbers or bigints; the rest from numbers). */
function toHostArray(
  dtype: DType,
  flat: ArrayLike<number | bigint>,
): Float32Array | Float64Array | Int32Array | BigInt64Array {
  // A typed array converts in one native pass (a Float32Array of a whole dataset included).
  const typed = ArrayBuffer.isView(flat) && !(flat instanceof BigInt64Array);
  switch (dtype) {
    case "float32":
      return typed ? new Float32Array(flat as ArrayLike<number>) : Float32Array.from(flat, Number);
    case "float64":
      return typed ? new Float64Array(flat as ArrayLike<number>) : Float64Array.from(flat, Number);
    case "int32":
      return typed ? new Int32Array(flat as ArrayLike<number>) : Int32Array.from(flat, Number);
    case "int64":
      return BigInt64Array.from(Array.from(flat, (v) => (typeof v === "bigint" ? v : BigInt(Math.trunc(v)))));
    default:
      throw new Error(
        `tensor: unknown dtype ${JSON.stringify(dtype)}; expected "float32", "float64", "int32" or "int64"`,
      );
  }
}

/** Options of {@linkcode arange}. */
export interface ArangeOptions extends Omit<TensorOptions, "requiresGrad"> {
  /** The spacing (default 1; may be negative or fractional). */
  step?: number;
}

/**
 * `start, start + step, …` below `end` (above it for a negative step); with one argument,
 * `0 … end − 1`. int32 when start, end and step are integers, float32 otherwise, as PyTorch.
 *
 * @example
 * ```ts
 * import { arange } from "@convnet/convnet";
 * arange(4).toArray(); // Int32Array [0, 1, 2, 3]
 * arange(1, 2, { step: 0.25 }).toArray(); // Float32Array [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(start: number, end?: number, opts: ArangeOptions = {}): Tensor {
  checkOptionKeys("arange", opts, ["step", "dtype", "device"]);
  const [from, to] = end === undefined ? [0, start] : [start, end];
  const step = opts.step ?? 1;
  if (![from, to, step].every(Number.isFinite) || step === 0) {
    throw new Error(`arange: start ${from}, end ${to} and step ${step} must be finite numbers, step non-zero`);
  }
  const count = Math.max(0, Math.ceil((to - from) / step));
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = from + i * step;
  const integral = [from, to, step].every(Number.isInteger);
  return tensor(values, [count], { dtype: opts.dtype ?? (integral ? "int32" : "float32"), device: opts.device });
}

/**
 * The identity matrix: `n` × `m` (default `n` × `n`) with ones on the diagonal.
 *
 * @example
 * ```ts
 * import { eye } from "@convnet/convnet";
 * eye(2).toArray(); // Float32Array [1, 0, 0, 1]
 * ```
 */
export function eye(n: number, m: number = n, opts: TensorOptions = {}): Tensor {
  checkShape("eye", [n, m]);
  const values = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return tensor(values, [n, m], { dtype: "float32", ...opts });
}

/**
 * Zeros with the shape, dtype and device of `x`.
 *
 * @example
 * ```ts
 * import { tensor, zerosLike } from "@convnet/convnet";
 * zerosLike(tensor([1, 2, 3])).toArray(); // Float32Array [0, 0, 0]
 * ```
 */
export function zerosLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return Tensor.zeros(x.shape, { dtype: x.dtype, device: x.device, ...opts });
}

/**
 * Ones with the shape, dtype and device of `x`.
 *
 * @example
 * ```ts
 * import { onesLike, tensor } from "@convnet/convnet";
 * onesLike(tensor([1, 2, 3])).toArray(); // Float32Array [1, 1, 1]
 * ```
 */
export function onesLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return Tensor.ones(x.shape, { dtype: x.dtype, device: x.device, ...opts });
}

/** Options of {@linkcode randint}. */
export interface RandintOptions extends Omit<TensorOptions, "requiresGrad"> {
  /** The smallest value (default 0). */
  low?: number;
  /** The generator to draw from (default: the global one). */
  generator?: Generator;
}

/**
 * Integers uniform in [low, high) (int32 by default), drawn as PyTorch's `torch.randint` draws
 * them from the same MT19937 stream: after `manualSeed(s)` the values equal
 * `torch.manual_seed(s); torch.randint(low, high, shape)`.
 *
 * @example
 * ```ts
 * import { manualSeed, randint } from "@convnet/convnet";
 * manualSeed(0);
 * randint(10, [5]).toArray(); // Int32Array [4, 9, 3, 0, 3], as torch.randint(0, 10, (5,))
 * ```
 */
export function randint(high: number, shape: readonly number[], opts: RandintOptions = {}): Tensor {
  checkOptionKeys("randint", opts, ["low", "generator", "dtype", "device"]);
  checkShape("randint", shape);
  const low = opts.low ?? 0;
  const range = high - low;
  if (!Number.isInteger(low) || !Number.isInteger(high) || range <= 0 || range > 2 ** 32) {
    throw new Error(`randint: expected integers low < high with high − low ≤ 2^32, got low ${low}, high ${high}`);
  }
  const g = opts.generator ?? globalGenerator();
  const values = new Float64Array(numel(shape));
  // PyTorch's CPU kernel for ranges below 2^32: one 32-bit draw modulo the range.
  for (let i = 0; i < values.length; i++) values[i] = (g.nextUint32() % range) + low;
  return tensor(values, shape, { dtype: opts.dtype ?? "int32", device: opts.device });
}
