/**
 * Helpers for the layers' `extraRepr()`: settings written as PyTorch writes them, so a printed
 * network reads the same in both (`kernel_size=(3, 3)`, `bias=False`).
 *
 * @module
 */
import type { Size2 } from "../tensor/functional.ts";

/** A size as a Python pair, `(3, 3)`, whether given as one number or two; `fallback` when absent. */
export function pyPair(v: Size2 | undefined, fallback: number): string {
  const [h, w] = typeof v === "number" ? [v, v] : v ?? [fallback, fallback];
  return `(${h}, ${w})`;
}

/** A size as it was given, as PyTorch's pooling layers print it: `2` or `(2, 3)`; `fallback` when absent. */
export function pySize(v: Size2 | undefined, fallback: Size2): string {
  const s = v ?? fallback;
  return typeof s === "number" ? String(s) : `(${s[0]}, ${s[1]})`;
}

/** `True` or `False`. */
export function pyBool(b: boolean): string {
  return b ? "True" : "False";
}
