/**
 * Shape arithmetic shared by every layer: element counts, contiguous strides, formatting.
 *
 * @module
 */

/**
 * Formats a shape as `[2, 3]` (for error messages).
 *
 * @example
 * ```ts
 * import { fmtShape } from "@convnet/convnet";
 * fmtShape([2, 3]); // "[2, 3]"
 * ```
 */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** The number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Throws unless every dimension is a non-negative integer. */
export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: shape ${fmtShape(shape)} is invalid; expected non-negative integers`);
    }
  }
}

/** Bytes per element of a dtype. */
export function dtypeBytes(dtype: string): number {
  return dtype === "float64" || dtype === "int64" ? 8 : 4;
}
