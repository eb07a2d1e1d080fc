/**
 * Fused log-softmax + negative log-likelihood (cross-entropy), mean over the batch. A target of
 * −100 (PyTorch's default ignoreIndex) adds nothing: the mean is over the rows kept.
 *
 * @module
 */
import type { FloatArray } from "./_types.ts";

/** PyTorch's default `ignore_index`. */
const IGNORE = -100;

/** Writes `loss[0] = −mean_i logp[i, t_i]` over the rows kept, and the log-probabilities `logp`. */
export function logSoftmaxNllForward(
  loss: FloatArray,
  logp: FloatArray,
  logits: FloatArray,
  targets: Int32Array,
  n: number,
  c: number,
): void {
  let total = 0, kept = 0;
  for (let i = 0; i < n; i++) {
    const t = targets[i];
    if (!(t >= 0 && t < c) && t !== IGNORE) {
      throw new Error(`crossEntropy: target ${t} at batch index ${i} is out of range; expected a class in [0, ${c})`);
    }
    const off = i * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) if (logits[off + j] > max) max = logits[off + j];
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[off + j] - max);
    const lse = max + Math.log(s);
    for (let j = 0; j < c; j++) logp[off + j] = logits[off + j] - lse;
    if (t === IGNORE) continue;
    total -= logits[off + t] - lse;
    kept++;
  }
  loss[0] = total / kept;
}

/** `dlogits = (exp(logp) − onehot(targets)) · dloss[0] / kept`, 0 on the ignored rows. */
export function logSoftmaxNllBackward(
  dlogits: FloatArray,
  logp: FloatArray,
  targets: Int32Array,
  dloss: FloatArray,
  n: number,
  c: number,
): void {
  let kept = 0;
  for (let i = 0; i < n; i++) if (targets[i] !== IGNORE) kept++;
  const scale = dloss[0] / kept;
  for (let i = 0; i < n; i++) {
    const off = i * c;
    if (targets[i] === IGNORE) {
      dlogits.fill(0, off, off + c);
      continue;
    }
    for (let j = 0; j < c; j++) dlogits[off + j] = Math.exp(logp[off + j]) * scale;
    dlogits[off + targets[i]] -= scale;
  }
}
