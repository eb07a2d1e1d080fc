/**
 * Fused log-softmax + negative log-likelihood (cross-entropy), mean over the batch.
 *
 * @module
 */
import type { FloatArray } from "./_types.ts";

/** Writes `loss[0] = −mean_i logp[i, t_i]` and the log-probabilities `logp`. */
export function logSoftmaxNllForward(
  loss: FloatArray,
  logp: FloatArray,
  logits: FloatArray,
  targets: Int32Array,
  n: number,
  c: number,
): void {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = targets[i];
    if (!(t >= 0 && t < c)) {
      throw new Error(`crossEntropy: target ${t} at batch index ${i} is out of range; expected a class in [0, ${c})`);
    }
    const off = i * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) if (logits[off + j] > max) max = logits[off + j];
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[off + j] - max);
    const lse = max + Math.log(s);
    for (let j = 0; j < c; j++) logp[off + j] = logits[off + j] - lse;
    total -= logits[off + t] - lse;
  }
  loss[0] = total / n;
}

/** `dlogits = (exp(logp) − onehot(targets)) · dloss[0] / n`. */
export function logSoftmaxNllBackward(
  dlogits: FloatArray,
  logp: FloatArray,
  targets: Int32Array,
  dloss: FloatArray,
  n: number,
  c: number,
): void {
  const scale = dloss[0] / n;
  for (let i = 0; i < n; i++) {
    const off = i * c;
    for (let j = 0; j < c; j++) dlogits[off + j] = Math.exp(logp[off + j]) * scale;
    dlogits[off + targets[i]] -= scale;
  }
}
