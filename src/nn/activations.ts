/**
 * Activation and dropout layers, and `Identity`: each is its `F` op with the options fixed at
 * construction, with PyTorch's names and defaults. The dropout layers drop only in training mode
 * (`train()`, the default) and are the identity after `eval()`.
 *
 * @module
 */
import * as F from "../tensor/functional.ts";
import { PhiloxGenerator, type Tensor } from "../tensor/mod.ts";
import { Module } from "./module.ts";

/** A number as Python prints a float: `1.0`, `0.5`, `1e-05`, for the layers' `extraRepr()`. */
function pyFloat(v: number): string {
  const abs = Math.abs(v);
  if (Number.isInteger(v) && abs < 1e16) return v.toFixed(1);
  if (abs !== 0 && Number.isFinite(v) && (abs < 1e-4 || abs >= 1e16)) {
    const [mantissa, exponent] = v.toExponential().split("e");
    return `${mantissa}e${exponent[0]}${exponent.slice(1).padStart(2, "0")}`;
  }
  return String(v);
}

/** Options of {@linkcode Dropout} and {@linkcode Dropout2d}. */
export interface DropoutLayerOptions {
  /** The probability of zeroing an element (a channel for `Dropout2d`); default 0.5. */
  p?: number;
  /** The stream masks are drawn from (default: the global one at each call, reseeded by `manualSeed`). */
  generator?: PhiloxGenerator;
}

/** Checks a dropout layer's options when it is built, not at its first forward. */
function dropoutOptions(layer: string, opts: DropoutLayerOptions): { p: number; generator?: PhiloxGenerator } {
  if (opts === null || typeof opts !== "object") throw new Error(`${layer}: expected options { p?, generator? }`);
  F.checkOptionKeys(layer, opts, ["p", "generator"]);
  const p = opts.p ?? 0.5;
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new Error(`${layer}: p must be a probability in [0, 1], got ${String(opts.p)}`);
  }
  if (opts.generator !== undefined && !(opts.generator instanceof PhiloxGenerator)) {
    throw new Error(`${layer}: generator must be a PhiloxGenerator, got ${String(opts.generator)}`);
  }
  return { p, generator: opts.generator };
}

/**
 * Zeroes each element with probability `p` in training mode and scales the others by 1 / (1 − p);
 * the identity after `eval()`. See `F.dropout`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const drop = new nn.Dropout({ p: 0.2 });
 * drop.forward(Tensor.ones([4, 5])); // values 0 or 1.25
 * drop.eval().forward(Tensor.ones([2])).toArray(); // [1, 1]
 * ```
 */
export class Dropout extends Module {
  /** The probability of zeroing an element. */
  readonly p: number;
  /** The mask stream, or undefined for the global one. */
  readonly generator?: PhiloxGenerator;
  /** Creates the layer. */
  constructor(opts: DropoutLayerOptions = {}) {
    super();
    ({ p: this.p, generator: this.generator } = dropoutOptions("Dropout", opts));
  }
  /** Drops elements of `x` when training. */
  forward(x: Tensor): Tensor {
    return F.dropout(x, { p: this.p, training: this.training, generator: this.generator });
  }
  /** PyTorch's settings line: `p=0.5, inplace=False`. */
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

/**
 * Zeroes whole channels of [N, C, H, W] (or [C, H, W]) with probability `p` in training mode and
 * scales the others by 1 / (1 − p); the identity after `eval()`. See `F.dropout2d`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const drop = new nn.Dropout2d({ p: 0.5 });
 * drop.forward(Tensor.ones([2, 8, 5, 5])); // each of the 16 channels all 0 or all 2
 * ```
 */
export class Dropout2d extends Module {
  /** The probability of zeroing a channel. */
  readonly p: number;
  /** The mask stream, or undefined for the global one. */
  readonly generator?: PhiloxGenerator;
  /** Creates the layer. */
  constructor(opts: DropoutLayerOptions = {}) {
    super();
    ({ p: this.p, generator: this.generator } = dropoutOptions("Dropout2d", opts));
  }
  /** Drops channels of `x` when training. */
  forward(x: Tensor): Tensor {
    return F.dropout2d(x, { p: this.p, training: this.training, generator: this.generator });
  }
  /** PyTorch's settings line: `p=0.5, inplace=False`. */
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

/**
 * The logistic sigmoid 1 / (1 + e^−x), elementwise.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.Sigmoid().forward(tensor([0])).toArray(); // [0.5]
 * ```
 */
export class Sigmoid extends Module {
  /** Applies the sigmoid. */
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}

/**
 * The hyperbolic tangent, elementwise.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.Tanh().forward(tensor([0])).toArray(); // [0]
 * ```
 */
export class Tanh extends Module {
  /** Applies tanh. */
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}

/**
 * The Gaussian error linear unit x·Φ(x), exact or with the tanh approximation. See `F.gelu`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.GELU().forward(tensor([1])).toArray(); // [0.8413447]
 * new nn.GELU({ approximate: "tanh" }).forward(tensor([1])).toArray(); // [0.8411920]
 * ```
 */
export class GELU extends Module {
  /** `"none"` (exact) or `"tanh"`. */
  readonly approximate: "none" | "tanh";
  /** Creates the layer. */
  constructor(opts: F.GeluOptions = {}) {
    super();
    F.checkOptionKeys("GELU", opts, ["approximate"]);
    this.approximate = opts.approximate ?? "none";
    if (this.approximate !== "none" && this.approximate !== "tanh") {
      throw new Error(`GELU: approximate must be "none" or "tanh", got ${JSON.stringify(opts.approximate)}`);
    }
  }
  /** Applies GELU. */
  forward(x: Tensor): Tensor {
    return F.gelu(x, { approximate: this.approximate });
  }
  /** PyTorch's settings line: `approximate='none'`. */
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/**
 * x where x > 0, else negativeSlope·x (default 0.01). See `F.leakyRelu`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.LeakyReLU({ negativeSlope: 0.1 }).forward(tensor([-1, 1])).toArray(); // [-0.1, 1]
 * ```
 */
export class LeakyReLU extends Module {
  /** The slope for x ≤ 0. */
  readonly negativeSlope: number;
  /** Creates the layer. */
  constructor(opts: F.LeakyReluOptions = {}) {
    super();
    F.checkOptionKeys("LeakyReLU", opts, ["negativeSlope"]);
    this.negativeSlope = opts.negativeSlope ?? 0.01;
    if (typeof this.negativeSlope !== "number" || !Number.isFinite(this.negativeSlope)) {
      throw new Error(`LeakyReLU: negativeSlope must be a finite number, got ${String(opts.negativeSlope)}`);
    }
  }
  /** Applies the leaky ReLU. */
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, { negativeSlope: this.negativeSlope });
  }
  /** PyTorch's settings line: `negative_slope=0.01`. */
  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}`;
  }
}

/**
 * x·sigmoid(x) (swish), elementwise. See `F.silu`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.SiLU().forward(tensor([1])).toArray(); // [0.7310586]
 * ```
 */
export class SiLU extends Module {
  /** Applies SiLU. */
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}

/**
 * x where x > 0, else alpha·(eˣ − 1) (default alpha 1). See `F.elu`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.ELU().forward(tensor([-1, 1])).toArray(); // [-0.6321206, 1]
 * ```
 */
export class ELU extends Module {
  /** The scale of the negative part. */
  readonly alpha: number;
  /** Creates the layer. */
  constructor(opts: F.EluOptions = {}) {
    super();
    F.checkOptionKeys("ELU", opts, ["alpha"]);
    this.alpha = opts.alpha ?? 1;
    if (typeof this.alpha !== "number" || !Number.isFinite(this.alpha)) {
      throw new Error(`ELU: alpha must be a finite number, got ${String(opts.alpha)}`);
    }
  }
  /** Applies ELU. */
  forward(x: Tensor): Tensor {
    return F.elu(x, { alpha: this.alpha });
  }
  /** PyTorch's settings line: `alpha=1.0`. */
  override extraRepr(): string {
    return `alpha=${pyFloat(this.alpha)}`;
  }
}

/** Options of {@linkcode Softmax} and {@linkcode LogSoftmax}. */
export interface SoftmaxLayerOptions {
  /** The dimension the probabilities sum over (required: PyTorch's implicit choice is deprecated). */
  dim: number;
}

function softmaxDim(layer: string, opts: SoftmaxLayerOptions): number {
  if (opts === null || typeof opts !== "object") {
    throw new Error(`${layer}: options { dim } are required, e.g. { dim: 1 }`);
  }
  F.checkOptionKeys(layer, opts, ["dim"]);
  if (!Number.isInteger(opts.dim)) {
    throw new Error(`${layer}: dim must be an integer, e.g. { dim: 1 }, got ${JSON.stringify(opts.dim)}`);
  }
  return opts.dim;
}

/**
 * `e^x / Σ e^x` along `dim`. See `F.softmax`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.Softmax({ dim: 1 }).forward(tensor([[0, 0]])).toArray(); // [0.5, 0.5]
 * ```
 */
export class Softmax extends Module {
  /** The dimension normalised over. */
  readonly dim: number;
  /** Creates the layer. */
  constructor(opts: SoftmaxLayerOptions) {
    super();
    this.dim = softmaxDim("Softmax", opts);
  }
  /** Applies softmax along `dim`. */
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }
  /** PyTorch's settings line: `dim=1`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * `x − log Σ e^x` along `dim`, computed stably. See `F.logSoftmax`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.LogSoftmax({ dim: 1 }).forward(tensor([[0, 0]])).toArray(); // [-0.6931472, -0.6931472]
 * ```
 */
export class LogSoftmax extends Module {
  /** The dimension normalised over. */
  readonly dim: number;
  /** Creates the layer. */
  constructor(opts: SoftmaxLayerOptions) {
    super();
    this.dim = softmaxDim("LogSoftmax", opts);
  }
  /** Applies log-softmax along `dim`. */
  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim);
  }
  /** PyTorch's settings line: `dim=1`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * Returns its input unchanged: a placeholder where a layer is optional (a skip connection's
 * projection, a removed classifier head).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * const x = tensor([1, 2]);
 * new nn.Identity().forward(x) === x; // true
 * ```
 */
export class Identity extends Module {
  /** Returns `x`. */
  forward(x: Tensor): Tensor {
    return x;
  }
}
