/**
 * `crossEntropy`: log-softmax and negative log-likelihood, mean over the batch: one fused kernel
 * each way where the backend has them, else the composite `−mean(gather(logSoftmax(x), targets))`.
 *
 * @module
 */
import { fmtShape } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { checkFloat, checkRank, sameDevice } from "./_util.ts";
import { div } from "./div.ts";
import { gather } from "./gather.ts";
import { logSoftmax } from "./softmax.ts";
import { sum } from "./sum.ts";
import { view } from "./view.ts";

/**
 * Cross-entropy between `logits` [N, C] and int32 class indices `targets` [N], averaged over
 * the batch: a numerically stable log-softmax + negative log-likelihood. A target
 * outside [0, C) is an error.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../mod.ts";
 * const logits = tensor([[2, 0.5, -1], [0, 1, 0]], undefined, { requiresGrad: true });
 * const loss = F.crossEntropy(logits, tensor([0, 1], [2], { dtype: "int32" }));
 * loss.backward();
 * ```
 */
export function crossEntropy<T extends TensorBase>(logits: T, targets: TensorBase): T {
  const op = "crossEntropy";
  checkRank(op, "logits", logits, 2, "[N, C]");
  checkFloat(op, "logits", logits);
  if (!(targets instanceof TensorBase) || targets.dtype !== "int32") {
    throw new Error(
      `${op}: targets must be an int32 tensor of class indices, got ${
        targets instanceof TensorBase ? `${targets.dtype} ${fmtShape(targets.shape)}` : String(targets)
      }`,
    );
  }
  const [n, c] = logits.shape;
  if (targets.rank !== 1 || targets.shape[0] !== n) {
    throw new Error(
      `${op}: targets must have shape [${n}] (one class per row of logits), got ${fmtShape(targets.shape)}`,
    );
  }
  if (n === 0) throw new Error(`${op}: the batch is empty (logits ${fmtShape(logits.shape)})`);
  sameDevice(op, logits, targets);
  const be = logits._backend;
  if (!be.logSoftmaxNllForward || !be.logSoftmaxNllBackward) return composite(logits, targets);
  const nllBackward = be.logSoftmaxNllBackward.bind(be);
  const loss = be.alloc(logits.dtype, 1);
  const logp = be.alloc(logits.dtype, n * c);
  try {
    be.logSoftmaxNllForward(loss, logp, logits._data(op), targets._data(op), n, c);
  } catch (e) {
    be.free(loss);
    be.free(logp);
    throw e;
  }
  return record(
    logits._wrap(loss, []),
    [logits],
    (g) => {
      const d = be.alloc(logits.dtype, n * c);
      nllBackward(d, logp, targets._data(op), g._data(op), n, c);
      return [logits._wrap(d, logits.shape)];
    },
    op,
    () => be.free(logp),
  );
}

/** `−Σ logSoftmax(logits)[i, targets[i]] / n`, from ops: autograd gives its backward. */
function composite<T extends TensorBase>(logits: T, targets: TensorBase): T {
  const [n, c] = logits.shape;
  const logp = logSoftmax(logits, 1);
  const rows = view(targets, [n, 1]);
  let picked: T;
  try {
    picked = gather(logp, 1, rows);
  } catch (e) {
    logp.dispose();
    rows.dispose();
    throw new Error(
      `crossEntropy: a target is out of range; expected class indices in [0, ${c}) (${(e as Error).message})`,
      { cause: e },
    );
  }
  const total = sum(picked);
  const loss = div(total, -n);
  if (!loss.requiresGrad) {
    for (const t of [logp, rows, picked, total]) t.dispose();
  }
  return loss;
}
