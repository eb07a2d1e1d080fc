/**
 * The optimizer steps written from elementwise kernels, for backends without fused ones. Each
 * follows PyTorch 1.13's single-tensor formula operation by operation, then copies the new
 * values into the parameter and state storage in place (their handles stay the same).
 *
 * @module
 */
import type {
  AdadeltaParams,
  AdadeltaTensors,
  AdamParams,
  AdamTensors,
  SgdParams,
  SgdTensors,
} from "../backend/backend.ts";
import type { TensorBase } from "../autograd/tensor_base.ts";
import { noGrad } from "../autograd/mode.ts";
import { tidy } from "../autograd/tidy.ts";
import { binaryRaw, sameShape, scalarRaw, unaryRaw, whereRaw } from "../ops/_kernels.ts";

type T = TensorBase;

const add = (a: T, b: T) => binaryRaw("add", a, b);
const sub = (a: T, b: T) => binaryRaw("sub", a, b);
const mul = (a: T, b: T) => binaryRaw("mul", a, b);
const div = (a: T, b: T) => binaryRaw("div", a, b);
const scale = (a: T, s: number) => scalarRaw("mul", a, s);
const plus = (a: T, s: number) => scalarRaw("add", a, s);
const sqrt = (a: T) => unaryRaw("sqrt", a);

/** Runs one step's arithmetic outside autograd, freeing its temporaries. */
export function update(fn: () => void): void {
  noGrad(() => tidy(fn));
}

/** Overwrites `target`'s storage with `value`'s. */
export function writeBack(target: T, value: T): void {
  target._backend.copy(target._data("optimizer"), value._data("optimizer"), target.size);
}

/** The gradient in the parameter's shape, plus the L2 penalty `weightDecay · param`. */
function decayedGradient(grad: T, param: T, weightDecay: number): T {
  const g = sameShape(grad.shape, param.shape) ? grad : grad._share(param.shape);
  return weightDecay !== 0 ? add(g, scale(param, weightDecay)) : g;
}

/** Adadelta: `v = ρv + (1−ρ)g²; Δ = √(u+ε)/√(v+ε)·g; u = ρu + (1−ρ)Δ²; θ −= lr·Δ`. */
export function adadeltaComposite(t: AdadeltaTensors<T>, h: AdadeltaParams): void {
  update(() =>
    t.params.forEach((param, i) => {
      const g = decayedGradient(t.grads[i], param, h.weightDecay);
      const squareAvg = add(scale(t.squareAvgs[i], h.rho), scale(mul(g, g), 1 - h.rho));
      const std = sqrt(plus(squareAvg, h.eps));
      const delta = mul(div(sqrt(plus(t.accDeltas[i], h.eps)), std), g);
      const accDelta = add(scale(t.accDeltas[i], h.rho), scale(mul(delta, delta), 1 - h.rho));
      writeBack(t.squareAvgs[i], squareAvg);
      writeBack(t.accDeltas[i], accDelta);
      writeBack(param, sub(param, scale(delta, h.lr)));
    })
  );
}

/** SGD: momentum `b = μb + (1−dampening)d` (b = d on the first step), Nesterov `d + μb`, `θ −= lr·d`. */
export function sgdComposite(t: SgdTensors<T>, h: SgdParams): void {
  update(() =>
    t.params.forEach((param, i) => {
      let d = decayedGradient(t.grads[i], param, h.weightDecay);
      if (t.momentumBufs && h.momentum !== 0) {
        const buf = h.first ? d : add(scale(t.momentumBufs[i], h.momentum), scale(d, 1 - h.dampening));
        writeBack(t.momentumBufs[i], buf);
        d = h.nesterov ? add(d, scale(buf, h.momentum)) : buf;
      }
      writeBack(param, sub(param, scale(d, h.lr)));
    })
  );
}

/** Adam (and AMSGrad): bias-corrected moments, `θ −= lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)`. */
export function adamComposite(t: AdamTensors<T>, h: AdamParams): void {
  const stepSize = h.lr / (1 - h.beta1 ** h.step);
  const bias2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
  update(() =>
    t.params.forEach((param, i) => {
      const g = decayedGradient(t.grads[i], param, h.weightDecay);
      const expAvg = add(scale(t.expAvgs[i], h.beta1), scale(g, 1 - h.beta1));
      const expAvgSq = add(scale(t.expAvgSqs[i], h.beta2), scale(mul(g, g), 1 - h.beta2));
      writeBack(t.expAvgs[i], expAvg);
      writeBack(t.expAvgSqs[i], expAvgSq);
      let second = expAvgSq;
      if (h.amsgrad && t.maxExpAvgSqs) {
        const max = t.maxExpAvgSqs[i];
        second = whereRaw(binaryRaw("gt", expAvgSq, max), expAvgSq, max);
        writeBack(max, second);
      }
      const denom = plus(scalarRaw("div", sqrt(second), bias2Sqrt), h.eps);
      writeBack(param, sub(param, scale(div(expAvg, denom), stepSize)));
    })
  );
}

/** The tensors of one RMSprop step: entry i of every list belongs to one parameter. */
export interface RmspropTensors<S> {
  /** Parameters, updated in place. */
  params: S[];
  /** Their gradients. */
  grads: S[];
  /** Running averages of squared gradients. */
  squareAvgs: S[];
  /** Running averages of gradients (centered), or null. */
  gradAvgs: S[] | null;
  /** Momentum buffers (momentum > 0), or null. */
  momentumBufs: S[] | null;
}

/** Hyper-parameters of one RMSprop step. */
export interface RmspropParams {
  /** Learning rate. */
  lr: number;
  /** Decay of the running averages. */
  alpha: number;
  /** Added to the denominator. */
  eps: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Momentum factor (0: none). */
  momentum: number;
}

/**
 * RMSprop: `v = αv + (1−α)g²`; centered: `ḡ = αḡ + (1−α)g`, `avg = √(v − ḡ²) + ε`, else `√v + ε`;
 * momentum: `b = μb + g/avg; θ −= lr·b`, else `θ −= lr·g/avg`.
 */
export function rmspropComposite(t: RmspropTensors<T>, h: RmspropParams): void {
  update(() =>
    t.params.forEach((param, i) => {
      const g = decayedGradient(t.grads[i], param, h.weightDecay);
      const squareAvg = add(scale(t.squareAvgs[i], h.alpha), mul(scale(g, 1 - h.alpha), g));
      writeBack(t.squareAvgs[i], squareAvg);
      let avg;
      if (t.gradAvgs) {
        const gradAvg = add(scale(t.gradAvgs[i], h.alpha), scale(g, 1 - h.alpha));
        writeBack(t.gradAvgs[i], gradAvg);
        avg = sqrt(sub(squareAvg, mul(gradAvg, gradAvg)));
      } else {
        avg = sqrt(squareAvg);
      }
      avg = plus(avg, h.eps);
      if (t.momentumBufs && h.momentum > 0) {
        const buf = add(scale(t.momentumBufs[i], h.momentum), div(g, avg));
        writeBack(t.momentumBufs[i], buf);
        writeBack(param, sub(param, scale(buf, h.lr)));
      } else {
        writeBack(param, add(param, div(scale(g, -h.lr), avg)));
      }
    })
  );
}

/** The tensors of one Adagrad step. */
export interface AdagradTensors<S> {
  /** Parameters, updated in place. */
  params: S[];
  /** Their gradients. */
  grads: S[];
  /** Sums of squared gradients. */
  sums: S[];
}

/** Hyper-parameters of one Adagrad step; `step` counts from 1. */
export interface AdagradParams {
  /** Learning rate. */
  lr: number;
  /** Decay of the learning rate per step. */
  lrDecay: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Added to the denominator. */
  eps: number;
  /** Step count, from 1. */
  step: number;
}

/** Adagrad: `s += g²; θ −= clr·g/(√s + ε)` with `clr = lr / (1 + (step−1)·lrDecay)`. */
export function adagradComposite(t: AdagradTensors<T>, h: AdagradParams): void {
  const clr = h.lr / (1 + (h.step - 1) * h.lrDecay);
  update(() =>
    t.params.forEach((param, i) => {
      const g = decayedGradient(t.grads[i], param, h.weightDecay);
      const sum = add(t.sums[i], mul(g, g));
      writeBack(t.sums[i], sum);
      writeBack(param, add(param, div(scale(g, -clr), plus(sqrt(sum), h.eps))));
    })
  );
}

/** AdamW's decoupled weight decay, in place: `θ ·= 1 − lr·weightDecay`. */
export function decayParams(params: T[], lr: number, weightDecay: number): void {
  if (weightDecay === 0) return;
  update(() => params.forEach((param) => writeBack(param, scale(param, 1 - lr * weightDecay))));
}
