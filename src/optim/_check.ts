/**
 * Argument checks shared by the optimizers.
 *
 * @module
 */

/** Throws unless `v` is a finite number ≥ `min` (and < `below`, when given). */
export function checkRange(op: string, name: string, v: unknown, min: number, below?: number): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (below !== undefined && v >= below)) {
    const range = below === undefined ? `≥ ${min}` : `in [${min}, ${below})`;
    throw new Error(
      `${op}: ${name} must be a number ${range}, got ${typeof v === "number" ? String(v) : JSON.stringify(v)}`,
    );
  }
}
