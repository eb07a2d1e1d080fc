/**
 * `clamp`: values limited to [min, max]; the gradient passes where min ≤ x ≤ max (bounds
 * included, as PyTorch 1.13).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { fullLike, scalarRaw, whereRaw } from "./_kernels.ts";
import { checkOptionKeys } from "./_util.ts";

/** Options of {@linkcode clamp}: at least one bound. */
export interface ClampOptions {
  /** Lower bound. */
  min?: number;
  /** Upper bound. */
  max?: number;
}

/**
 * `min(max(x, min), max)` elementwise; either bound may be left out.
 *
 * @example
 * ```ts
 * import { clamp, tensor } from "@convnet/convnet";
 * clamp(tensor([-2, 0.5, 3]), { min: 0, max: 1 }).toArray(); // [0, 0.5, 1]
 * ```
 */
export function clamp<T extends TensorBase>(x: T, opts: ClampOptions): T {
  const op = "clamp";
  if (opts === null || typeof opts !== "object") throw new Error(`${op}: expected options { min?, max? }`);
  checkOptionKeys(op, opts, ["min", "max"]);
  const { min, max } = opts;
  if (min === undefined && max === undefined) throw new Error(`${op}: at least one of min and max is required`);
  for (const [name, v] of [["min", min], ["max", max]] as const) {
    if (v !== undefined && typeof v !== "number") throw new Error(`${op}: ${name} must be a number, got ${String(v)}`);
  }
  let y: T = x;
  if (min !== undefined) y = scalarRaw("max", y, min);
  if (max !== undefined) {
    const next = scalarRaw("min", y, max);
    if (y !== x) y.dispose();
    y = next;
  }
  return record(y, [x], (g) => {
    const zero = fullLike(g, 0, []);
    let dx = g;
    for (const [cmp, bound] of [["ge", min], ["le", max]] as const) {
      if (bound === undefined) continue;
      const inside = scalarRaw(cmp, x, bound);
      const next = whereRaw(inside, dx, zero);
      inside.dispose();
      if (dx !== g) dx.dispose();
      dx = next;
    }
    zero.dispose();
    return [dx];
  }, op);
}
