/**
 * `tidy` and `keep`: deterministic freeing of the temporaries of a block of code.
 *
 * @module
 */
import { popScope, pushScope, untrack } from "./mode.ts";
import { TensorBase } from "./tensor_base.ts";

/**
 * Runs `fn` and disposes every tensor created inside it that it does not return
 * (returned tensors may sit in an array or a plain object). Nests.
 *
 * @example
 * ```ts
 * import { tensor, tidy } from "@convnet/convnet";
 * const a = tensor([1, 2, 3]);
 * const total = tidy(() => a.mul(2).add(1).sum().item()); // the temporaries are freed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = pushScope();
  let result: T;
  let parent;
  try {
    result = fn();
  } finally {
    parent = popScope(scope);
  }
  const kept = new Set<TensorBase>();
  collectTensors(result, kept);
  for (const t of scope) {
    if (kept.has(t as TensorBase)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/**
 * Exempts `t` from the enclosing {@linkcode tidy} scopes (for state that outlives a step).
 *
 * @example
 * ```ts
 * import { keep, tensor, tidy } from "@convnet/convnet";
 * let state;
 * tidy(() => { state = keep(tensor([0])); });
 * ```
 */
export function keep<T extends TensorBase>(t: T): T {
  untrack(t);
  return t;
}

function collectTensors(v: unknown, out: Set<TensorBase>): void {
  if (v instanceof TensorBase) out.add(v);
  else if (Array.isArray(v)) { for (const x of v) collectTensors(x, out); }
  else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collectTensors(x, out);
  }
}
