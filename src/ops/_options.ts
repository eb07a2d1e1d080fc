/**
 * The option helpers `F` exports for custom ops and layers (`checkOptionKeys`, `pair`, `Size2`,
 * `Reduction`), in one module that holds nothing else, so `F`'s documentation lists them.
 *
 * @module
 */

/** How a loss reduces its per-element values: PyTorch's `reduction`. */
export type Reduction = "mean" | "sum" | "none";

/** A size given once for both dimensions, or as `[height, width]`. */
export type Size2 = number | readonly [number, number];

/**
 * Throws on option keys the op does not know (a typo must not be silently ignored).
 *
 * @example
 * ```ts
 * import { F } from "@convnet/convnet";
 * F.checkOptionKeys("myOp", { scale: 2 }, ["scale", "bias"]); // ok
 * // F.checkOptionKeys("myOp", { scael: 2 }, ["scale"]) throws: unknown option "scael"
 * ```
 */
export function checkOptionKeys(op: string, opts: object, allowed: readonly string[]): void {
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new Error(`${op}: unknown option "${key}"; expected one of ${allowed.join(", ")}`);
    }
  }
}

/**
 * Reads a `Size2` option as `[h, w]`, checking it is an integer ≥ `min`.
 *
 * @example
 * ```ts
 * import { F } from "@convnet/convnet";
 * F.pair("myPool", "kernelSize", 3, 2, 1); // [3, 3]
 * F.pair("myPool", "stride", undefined, [2, 1], 1); // [2, 1]
 * ```
 */
export function pair(op: string, name: string, v: Size2 | undefined, fallback: Size2, min: number): [number, number] {
  const val = v ?? fallback;
  const p: readonly unknown[] | null = typeof val === "number" ? [val, val] : Array.isArray(val) ? val : null;
  if (!p || p.length !== 2 || !p.every((x) => Number.isInteger(x) && (x as number) >= min)) {
    throw new Error(
      `${op}: ${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${JSON.stringify(val)}`,
    );
  }
  return [p[0] as number, p[1] as number];
}
