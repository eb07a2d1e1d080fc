/**
 * The autograd engine, as plain as micrograd's: an op records a {@linkcode GradNode} on its
 * output (its inputs and a closure from the output's gradient to theirs); `backward()` sorts
 * the recorded graph topologically, runs the closures in reverse, accumulates into the
 * leaves' `.grad`, and drops the nodes, which releases the activations they saved.
 *
 * @module
 */
import { fmtShape } from "../backend/shape.ts";
import { isGradEnabled, setGradEnabled } from "./mode.ts";
import { TensorBase } from "./tensor_base.ts";
import { keep, tidy } from "./tidy.ts";

/**
 * Records how `out` was computed when grad mode is on and an input requires grad;
 * otherwise runs `release` (nothing will need the saved buffers). Returns `out`.
 */
export function record<T extends TensorBase>(
  out: T,
  inputs: readonly TensorBase[],
  backward: (g: TensorBase) => (TensorBase | null)[],
  op: string,
  release?: () => void,
  unitBackward?: () => (TensorBase | null)[],
): T {
  if (isGradEnabled() && out.dtype !== "int32" && out.dtype !== "int64" && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out._node = { op, inputs, backward, release, unitBackward };
  } else {
    release?.();
  }
  return out;
}

/** A copy of `t` with its own storage, outside autograd. */
function ownCopy(t: TensorBase): TensorBase {
  const be = t._backend;
  const out = be.alloc(t.dtype, t.size);
  be.copy(out, t._data("backward"), t.size);
  return t._wrap(out, t.shape);
}

/**
 * Computes the gradients of `root` with respect to every leaf that requires grad.
 * Without `grad`, `root` must hold one element (a loss); with it, `grad` must match `root`'s
 * shape, dtype and device exactly (as PyTorch: the same size in another shape is an error).
 * Every tensor the graph still needs must be alive: a disposed one is an error, raised before
 * any gradient is written.
 */
export function runBackward(root: TensorBase, grad?: TensorBase): void {
  if (root.isDisposed) {
    throw new Error(
      `backward: the tensor ${fmtShape(root.shape)}${made(root._disposedOp)} was disposed${root._disposedWhy ?? ""}; ` +
        "call backward() before dispose(), and inside the tidy() that creates it",
    );
  }
  if (!root.requiresGrad) {
    throw new Error(
      `backward: the tensor ${fmtShape(root.shape)} does not require grad; ` +
        "expected a result of operations on tensors created with requiresGrad: true",
    );
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(
        `backward: a gradient can be implied only for a one-element output, but the tensor has shape ${
          fmtShape(root.shape)
        }; pass the gradient explicitly`,
      );
    }
  } else checkGrad(root, grad);
  const released = (t: TensorBase) =>
    new Error(
      `backward: the graph through ${fmtShape(t.shape)} (made by ${t._releasedOp}) was already released by an ` +
        "earlier backward(); run the forward pass again",
    );
  if (root._releasedOp) throw released(root);
  const order = topologicalOrder(root, released);

  const prev = setGradEnabled(false);
  const grads = new Map<TensorBase, TensorBase>();
  try {
    // An implied 1 for a loss whose forward already computed the gradients for it: no fill.
    const unit = grad === undefined ? root._node?.unitBackward : undefined;
    if (!unit) grads.set(root, grad ? grad._share(root.shape) : seed(root));
    if (!root._node) { // backward() on a leaf itself
      const g = grads.get(root)!;
      grads.delete(root);
      return accumulateLeaf(root, g._sharesStorage() ? ownCopy(g) : g);
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const node = t._node!;
      const g = grads.get(t);
      grads.delete(t);
      if (g || (t === root && unit)) {
        // Every gradient we store must own its storage, since accumulation adds in place.
        const seenHere = new Set<TensorBase>();
        // A rule that passes `g` through (add, sub's first input) hands it over once, uncopied:
        // nothing else holds it once the rule has run.
        let handedOver = false;
        // tidy: temporaries a rule creates on its way to the gradients are freed at once.
        const inputGrads = tidy(() => g ? node.backward(g) : unit!()).map((gi) => {
          if (!gi) return null;
          if (gi === g && !handedOver) {
            handedOver = true;
            seenHere.add(gi);
            return gi;
          }
          const own = gi === g || seenHere.has(gi) ? ownCopy(gi) : gi;
          seenHere.add(own);
          return own;
        });
        if (!handedOver) g?.dispose();
        node.inputs.forEach((input, j) => {
          let gi = inputGrads[j];
          if (!gi) return;
          if (!input.requiresGrad) return gi.dispose();
          if (gi.rank !== input.rank || gi.shape.some((d, k) => d !== input.shape[k])) {
            const got = fmtShape(gi.shape), want = fmtShape(input.shape);
            throw new Error(`backward: ${node.op}'s rule gave input ${j} a gradient ${got}, expected ${want}`);
          }
          if (gi._sharesStorage()) {
            const copy = ownCopy(gi);
            gi.dispose();
            gi = copy;
          }
          if (input._node) {
            const acc = grads.get(input);
            if (acc) {
              acc._backend.addInPlace(acc._data(), gi._data(), acc.size);
              gi.dispose();
            } else grads.set(input, gi);
          } else accumulateLeaf(input, gi);
        });
      }
      node.release?.();
      t._node = null; // frees the closure and the activations it saved
      t._releasedOp = node.op;
    }
  } finally {
    setGradEnabled(prev);
    for (const g of grads.values()) g.dispose();
  }
}

/** ` (made by mul)`, or nothing for a leaf. */
const made = (op: string | null): string => op ? ` (made by ${op})` : "";

/** Throws unless `grad` is a live tensor of `root`'s shape, dtype and device. */
function checkGrad(root: TensorBase, grad: TensorBase): void {
  if (!(grad instanceof TensorBase)) {
    throw new Error(
      `backward: the gradient must be a Tensor shaped like the output ${fmtShape(root.shape)}, got ${
        grad === null ? "null" : Array.isArray(grad) ? "an array" : typeof grad
      }`,
    );
  }
  if (grad.isDisposed) throw new Error(`backward: the gradient ${fmtShape(grad.shape)} was disposed`);
  const sameShape = grad.rank === root.rank && grad.shape.every((d, i) => d === root.shape[i]);
  if (!sameShape || grad.dtype !== root.dtype) {
    throw new Error(
      `backward: the gradient has shape ${fmtShape(grad.shape)} ${grad.dtype}, expected ${
        fmtShape(root.shape)
      } ${root.dtype} (the output's shape and dtype)`,
    );
  }
  if (grad.device !== root.device) {
    throw new Error(
      `backward: the gradient is on ${grad.device.type}, expected the output's device ${root.device.type}`,
    );
  }
}

/** The error for a disposed tensor that the graph of a `backward()` still needs. */
function disposedInGraph(t: TensorBase): Error {
  return new Error(
    t._disposedOp
      ? `backward: the graph runs through a tensor ${fmtShape(t.shape)}${made(t._disposedOp)} that was disposed ` +
        (t._disposedWhy ? `${t._disposedWhy.trim()}` : "(by dispose() or at the end of a tidy())") +
        "; its gradient would be lost: keep it alive until backward() " +
        "has run (call backward() inside the tidy, or return the tensor from it)"
      : `backward: the graph reaches the leaf ${fmtShape(t.shape)}, which requires grad but was disposed; ` +
        "its gradient has nowhere to go (dispose parameters only after their last backward())",
  );
}

/**
 * The nodes reachable from `root`, inputs before outputs (iterative DFS). Throws before anything
 * runs when the graph needs a tensor that was released or disposed.
 */
function topologicalOrder(root: TensorBase, released: (t: TensorBase) => Error): TensorBase[] {
  const order: TensorBase[] = [];
  const seen = new Set<TensorBase>([root]);
  const stack: [TensorBase, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0]._node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next._releasedOp) throw released(next);
      if (next.requiresGrad && next.isDisposed) throw disposedInGraph(next);
      if (!seen.has(next) && next._node) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}

/** Ones shaped like `root`: the implied gradient of a loss. */
function seed(root: TensorBase): TensorBase {
  const be = root._backend;
  const s = be.alloc(root.dtype, root.size);
  be.fill(s, 1, root.size);
  return root._wrap(s, root.shape);
}

function accumulateLeaf(leaf: TensorBase, g: TensorBase): void {
  if (g.size !== leaf.size) {
    throw new Error(`backward: gradient ${fmtShape(g.shape)} does not match its leaf ${fmtShape(leaf.shape)}`);
  }
  if (leaf.grad && !leaf.grad.isDisposed) {
    leaf.grad._backend.addInPlace(leaf.grad._data(), g._data(), g.size);
    g.dispose();
  } else {
    const sameShape = g.rank === leaf.rank && g.shape.every((d, i) => d === leaf.shape[i]);
    const own = sameShape ? g : g._share(leaf.shape);
    if (own !== g) g.dispose();
    leaf.grad = keep(own) as typeof leaf.grad;
  }
}
