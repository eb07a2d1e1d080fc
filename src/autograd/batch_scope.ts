/**
 * Per-batch scopes: what bounds memory in a training loop written without `tidy`.
 *
 * A loop body runs between two calls to its iterator's `next()`. Each batch opens a scope (like
 * `tidy`'s) before the batch is built; the next `next()` disposes every tensor the scope caught
 * (the batch, the forward pass, the loss, anything the body made) and opens the next one. So a
 * PyTorch-style loop over a `DataLoader`, which frees nothing itself, holds one batch's tensors at
 * a time. What outlives a batch is exempt: parameters and buffers (`nn.parameter`,
 * `registerBuffer`), optimizer state and gradients (made with `keep`), and anything the body passes
 * to `keep()`.
 *
 * A body that only collects batches without using them (`[...loader]`, `Array.from(loader)`)
 * frees nothing: those batches live until disposed or garbage-collected.
 *
 * Leaving a loop early (`break`, an exception, destructuring one batch) hands the current batch's
 * tensors to the scope around the loop (a `tidy`, or none: then they live until disposed or
 * garbage-collected), so `for (const b of loader) { sample = b; break; }` keeps `sample`. The
 * loop's normal end disposes the last batch. An iterator dropped half-way (driven by hand with
 * `next()` and forgotten) stops catching tensors once the garbage collector takes it.
 *
 * @module
 */
import { type Disposable, popScope, pushScope } from "./mode.ts";
import { TensorBase } from "./tensor_base.ts";

/** What a later use of a tensor freed here says about why. */
const WHY = " when the DataLoader loop moved past the batch that made it (tensors made in a " +
  "`for (... of loader)` body live until the next batch: read values with item() or toArray() " +
  "inside the body, or call keep(t) to carry a tensor further)";

/** The open scope of each live iterator, so that a dropped one stops catching tensors. */
interface Holder {
  scope: Set<Disposable> | null;
}
const dropped = new FinalizationRegistry<Holder>((h) => {
  if (h.scope) popScope(h.scope);
  h.scope = null;
});

function disposeAll(scope: Set<Disposable>): void {
  for (const t of scope) {
    if (t instanceof TensorBase) {
      if (!t.isDisposed) t._disposedWhy = WHY;
    }
    t.dispose();
  }
  scope.clear();
}

/** Whether the body used a batch tensor or made tensors of its own. */
function usedOrAdded(scope: Set<Disposable>, batch: Disposable[]): boolean {
  if (scope.size !== batch.length) return true;
  return batch.some((t) => !scope.has(t) || (t instanceof TensorBase && t._used));
}

function* scoped<T>(items: Iterator<T>, holder: Holder): Generator<T, void, undefined> {
  let finished = false;
  try {
    for (;;) {
      holder.scope = pushScope();
      const r = items.next(); // the batch itself is made inside its scope
      if (r.done) break;
      const batch = [...holder.scope];
      for (const t of batch) if (t instanceof TensorBase) t._used = false; // made, not yet used by the body
      yield r.value;
      const scope = holder.scope;
      holder.scope = null;
      const parent = popScope(scope);
      if (usedOrAdded(scope, batch)) disposeAll(scope);
      else if (parent) { for (const t of scope) parent.add(t); // collected unread: [...loader]
       }
    }
    finished = true;
  } finally {
    const scope = holder.scope;
    holder.scope = null;
    if (scope) {
      const parent = popScope(scope);
      if (finished) disposeAll(scope);
      else if (parent) { for (const t of scope) parent.add(t); }
    }
    if (!finished) items.return?.();
  }
}

/**
 * Wraps an iterator so that each item's loop body runs in its own scope (see the module's doc).
 * The returned iterator is single-use, like a generator. @internal
 */
export function perBatchScope<T>(items: Iterator<T>): Generator<T, void, undefined> {
  const holder: Holder = { scope: null };
  const it = scoped(items, holder);
  dropped.register(it, holder);
  return it;
}
