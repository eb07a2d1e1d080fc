/**
 * Grad mode and tidy scopes: whether ops record the graph right now, and the stack of
 * `tidy` scopes that collect the tensors created inside them.
 *
 * @module
 */

/** What a tidy scope collects: anything that can be disposed. */
export interface Disposable {
  /** Frees it now. */
  dispose(): void;
}

let gradEnabled = true;
const scopes: Set<Disposable>[] = [];

/**
 * Runs `fn` without recording operations for autograd (like `torch.no_grad()`).
 *
 * @example
 * ```ts
 * import { noGrad, tensor } from "@convnet/convnet";
 * const w = tensor([1, 2], [2], { requiresGrad: true });
 * const y = noGrad(() => w.mul(2)); // y.requiresGrad === false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Whether operations are being recorded for autograd right now.
 *
 * @example
 * ```ts
 * import { isGradEnabled, noGrad } from "@convnet/convnet";
 * noGrad(() => isGradEnabled()); // false
 * ```
 */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Sets grad mode and returns the previous one (the backward engine turns it off). @internal */
export function setGradEnabled(on: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = on;
  return prev;
}

/** Adds a new tensor to the innermost tidy scope, if any. @internal */
export function trackInScope(t: Disposable): void {
  scopes.at(-1)?.add(t);
}

/** Opens a tidy scope. @internal */
export function pushScope(): Set<Disposable> {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  return scope;
}

/**
 * Closes `scope` (the innermost one when omitted) and returns the open scope that was around it.
 * Scopes close by identity, so a DataLoader's per-batch scope opened inside a `tidy` (a loop
 * driven by hand) cannot make the tidy close the wrong one. @internal
 */
export function popScope(scope?: Set<Disposable>): Set<Disposable> | undefined {
  const at = scope === undefined ? scopes.length - 1 : scopes.lastIndexOf(scope);
  if (at < 0) return scopes.at(-1);
  scopes.splice(at, 1);
  return scopes[at - 1];
}

/** Removes `t` from every open scope (`keep`). @internal */
export function untrack(t: Disposable): void {
  for (const s of scopes) s.delete(t);
}
