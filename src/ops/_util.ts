/**
 * What every op needs before it computes: argument checks with messages that name the op,
 * the argument, what was given and what was expected; broadcasting; dims counted from the end.
 *
 * @module
 */
export { checkOptionKeys, pair, type Size2 } from "./_options.ts";
import type { Broadcast } from "../backend/backend.ts";
import { contiguousStrides, fmtShape, numel } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";

/** Throws unless `t` is a tensor (it names `arg`). */
export function checkTensor(op: string, arg: string, t: unknown): asserts t is TensorBase {
  if (!(t instanceof TensorBase)) throw new Error(`${op}: ${arg} must be a Tensor, got ${String(t)}`);
}

/** Throws unless `t` is a tensor of `rank` dimensions laid out as `layout`. */
export function checkRank(op: string, arg: string, t: TensorBase, rank: number, layout: string): void {
  checkTensor(op, arg, t);
  if (t.rank !== rank) {
    throw new Error(`${op}: ${arg} must be ${rank}-d ${layout}, got shape ${fmtShape(t.shape)}`);
  }
}

/** Throws unless `t` is float32 or float64 (and, with `dtype`, that one). */
export function checkFloat(op: string, arg: string, t: TensorBase, dtype?: string): void {
  if (t.dtype === "int32" || t.dtype === "int64") {
    throw new Error(`${op}: ${arg} must be a float tensor, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
  if (dtype && t.dtype !== dtype) {
    throw new Error(`${op}: ${arg} is ${t.dtype} but the input is ${dtype}; expected the same dtype`);
  }
}

/** Throws unless `t` is float (an op with a gradient, or one only defined on reals). */
export function floatOnly(op: string, t: TensorBase): void {
  if (t.dtype === "int32" || t.dtype === "int64") {
    throw new Error(`${op}: expected a float tensor, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
}

/** Throws on int64 operands: int64 is storage only. */
export function noInt64(op: string, t: TensorBase): void {
  if (t.dtype === "int64") {
    throw new Error(`${op}: int64 tensors are storage only (${fmtShape(t.shape)}); cast to int32 or float32 first`);
  }
}

/** Throws unless all tensors live on the same device. */
export function sameDevice(op: string, ...ts: TensorBase[]): void {
  for (const t of ts) {
    if (t.device !== ts[0].device) {
      throw new Error(
        `${op}: tensors are on different devices (${ts[0].device.type} and ${t.device.type}); move them with .to()`,
      );
    }
  }
}

/** Throws unless both tensors have the same dtype. */
export function sameDtype(op: string, a: TensorBase, b: TensorBase): void {
  if (a.dtype !== b.dtype) {
    throw new Error(`${op}: dtypes differ (${a.dtype} and ${b.dtype}); expected the same dtype`);
  }
}

/** Numpy-style broadcasting of two shapes, with each operand's strides into its own buffer. */
export function broadcast(op: string, a: readonly number[], b: readonly number[]): Broadcast {
  const shape = broadcastShapes(op, a, b);
  return { shape, aStrides: broadcastStrides(a, shape), bStrides: broadcastStrides(b, shape) };
}

/** The shape two (or more) shapes broadcast to; an error naming the op and the dimension otherwise. */
export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let size = 1;
    for (const s of shapes) {
      const d = s[i - (rank - s.length)] ?? 1;
      if (d !== 1 && size !== 1 && d !== size) {
        throw new Error(
          `${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together ` +
            `(dimension ${i}: ${size} vs ${d}); expected equal sizes or 1`,
        );
      }
      if (d !== 1) size = d;
    }
    out.push(size);
  }
  return out;
}

/** Strides that read a contiguous tensor of `from` as if it had the broadcast shape `to` (0 where expanded). */
export function broadcastStrides(from: readonly number[], to: readonly number[]): number[] {
  const own = contiguousStrides(from);
  const lead = to.length - from.length;
  return to.map((_, i) => (i < lead || from[i - lead] === 1 ? 0 : own[i - lead]));
}

/** Checks a dim argument and counts a negative one from the end. */
export function dimArg(op: string, dim: number, rank: number): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= Math.max(rank, 1)) {
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of rank ${rank}; expected [${-rank}, ${rank - 1}]`);
  }
  return dim < 0 ? dim + Math.max(rank, 1) : dim;
}

/** The dims of a reduction: all of them when `dims` is undefined, sorted, without repeats. */
export function dimsArg(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined) return [...Array(rank).keys()];
  const list = typeof dims === "number" ? [dims] : [...dims];
  const out = [...new Set(list.map((d) => dimArg(op, d, rank)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new Error(`${op}: dims ${JSON.stringify(list)} repeat a dimension`);
  return out;
}

/** [outer, n, inner] around dimension `d`, and the shape after reducing it (kept as 1 or removed). */
export function reduceDims(
  shape: readonly number[],
  d: number,
  keepDim: boolean,
): { outer: number; n: number; inner: number; shape: number[] } {
  const outer = numel(shape.slice(0, d));
  const n = shape.length === 0 ? 1 : shape[d];
  const inner = numel(shape.slice(d + 1));
  const out = keepDim ? shape.map((s, i) => (i === d ? 1 : s)) : shape.filter((_, i) => i !== d);
  return { outer, n, inner, shape: out };
}

/** Resolves one `-1` in a target shape and checks the element count. */
export function inferShape(op: string, from: readonly number[], to: readonly number[]): number[] {
  const size = numel(from);
  const out = [...to];
  const free = out.flatMap((d, i) => (d === -1 ? [i] : []));
  if (free.length > 1) throw new Error(`${op}: only one dimension may be -1, got ${fmtShape(to)}`);
  for (const d of out) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) {
      throw new Error(`${op}: shape ${fmtShape(to)} is invalid; expected non-negative integers and at most one -1`);
    }
  }
  if (free.length === 1) {
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || size % known !== 0) {
      throw new Error(`${op}: cannot view ${fmtShape(from)} (${size} elements) as ${fmtShape(to)}`);
    }
    out[free[0]] = size / known;
  }
  if (numel(out) !== size) {
    throw new Error(
      `${op}: cannot view ${fmtShape(from)} (${size} elements) as ${fmtShape(to)} (${numel(out)} elements)`,
    );
  }
  return out;
}
