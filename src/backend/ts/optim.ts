/**
 * Optimizer updates on the CPU, following PyTorch 1.13's single-tensor formulas line by line.
 *
 * @module
 */
import type { AdadeltaParams, AdamParams, SgdParams } from "../backend.ts";
import type { FloatArray } from "./_types.ts";

/** Adadelta: `v = ρv + (1−ρ)g²; Δ = √(u+ε)/√(v+ε)·g; u = ρu + (1−ρ)Δ²; θ −= lr·Δ`. */
export function adadeltaStep(
  param: FloatArray,
  grad: FloatArray,
  squareAvg: FloatArray,
  accDelta: FloatArray,
  size: number,
  { lr, rho, eps, weightDecay }: AdadeltaParams,
): void {
  for (let i = 0; i < size; i++) {
    const g = weightDecay !== 0 ? grad[i] + weightDecay * param[i] : grad[i];
    const v = squareAvg[i] * rho + (1 - rho) * g * g;
    squareAvg[i] = v;
    const delta = Math.sqrt(accDelta[i] + eps) / Math.sqrt(squareAvg[i] + eps) * g;
    accDelta[i] = accDelta[i] * rho + (1 - rho) * delta * delta;
    param[i] -= lr * delta;
  }
}

/** SGD with optional momentum, dampening, Nesterov and weight decay. */
export function sgdStep(
  param: FloatArray,
  grad: FloatArray,
  buf: FloatArray | null,
  size: number,
  { lr, momentum, dampening, nesterov, weightDecay, first }: SgdParams,
): void {
  for (let i = 0; i < size; i++) {
    let d = weightDecay !== 0 ? grad[i] + weightDecay * param[i] : grad[i];
    if (buf && momentum !== 0) {
      buf[i] = first ? d : buf[i] * momentum + (1 - dampening) * d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    param[i] -= lr * d;
  }
}

/** Adam (and AMSGrad) with bias correction and L2 weight decay. */
export function adamStep(
  param: FloatArray,
  grad: FloatArray,
  expAvg: FloatArray,
  expAvgSq: FloatArray,
  maxExpAvgSq: FloatArray | null,
  size: number,
  { lr, beta1, beta2, eps, weightDecay, amsgrad, step }: AdamParams,
): void {
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  for (let i = 0; i < size; i++) {
    const g = weightDecay !== 0 ? grad[i] + weightDecay * param[i] : grad[i];
    expAvg[i] = expAvg[i] * beta1 + (1 - beta1) * g;
    expAvgSq[i] = expAvgSq[i] * beta2 + (1 - beta2) * g * g;
    let v = expAvgSq[i];
    if (amsgrad && maxExpAvgSq) {
      if (v > maxExpAvgSq[i]) maxExpAvgSq[i] = v;
      v = maxExpAvgSq[i];
    }
    param[i] -= stepSize * expAvg[i] / (Math.sqrt(v) / bc2Sqrt + eps);
  }
}
