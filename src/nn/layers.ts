/**
 * The layers of the seed network and their relatives, initialised as PyTorch initialises them.
 *
 * @module
 */
import * as F from "../tensor/functional.ts";
import { type Generator, globalGenerator } from "../tensor/random.ts";
import { fmtShape, Tensor } from "../tensor/mod.ts";
import { Module, parameter } from "./module.ts";
import { pyBool, pyPair, pySize } from "./_repr.ts";

/** A float32 parameter of `shape` drawn uniformly from [−bound, bound], as PyTorch's `uniform_` draws it. */
function uniformParameter(shape: number[], bound: number, g: Generator): Tensor {
  return parameter(Tensor.rand(shape, { low: -bound, high: bound, generator: g }));
}

/**
 * PyTorch's default weight initialisation, `kaiming_uniform_(w, a=√5)`: bound = gain·√(3 / fanIn)
 * with gain = √(2 / (1 + a²)), which is 1/√fanIn.
 */
function kaimingUniformBound(fanIn: number): number {
  const gain = Math.sqrt(2 / (1 + 5));
  return Math.sqrt(3) * (gain / Math.sqrt(fanIn));
}

function checkInt(layer: string, name: string, v: unknown, min: number): number {
  if (!Number.isInteger(v) || (v as number) < min) {
    throw new Error(`${layer}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

/** Options of {@linkcode Conv2d}. */
export interface Conv2dLayerOptions extends F.Conv2dOptions {
  /** Kernel size. */
  kernelSize: F.Size2;
  /** Learn a bias per output channel (default true). */
  bias?: boolean;
  /** Generator for the initial weights (default: the global one, see `manualSeed`). */
  generator?: Generator;
}

/**
 * 2-d convolution layer with `weight` [out, in / groups, kH, kW] and `bias` [out].
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const conv1 = new nn.Conv2d(1, 16, { kernelSize: 3, stride: 1, padding: 1 });
 * const y = conv1.forward(Tensor.randn([10, 1, 28, 28])); // [10, 16, 28, 28]
 * ```
 */
export class Conv2d extends Module {
  /** The filters, [out, in / groups, kH, kW]. */
  weight: Tensor;
  /** One bias per output channel, or null. */
  bias: Tensor | null;
  /** Options passed to `F.conv2d`. */
  readonly options: F.Conv2dOptions;

  /** Creates the layer with PyTorch's default initialisation. */
  constructor(inChannels: number, outChannels: number, opts: Conv2dLayerOptions) {
    super();
    if (opts === undefined) throw new Error("Conv2d: options { kernelSize, ... } are required");
    F.checkOptionKeys("Conv2d", opts, ["kernelSize", "stride", "padding", "dilation", "groups", "bias", "generator"]);
    if (opts.kernelSize === undefined) throw new Error("Conv2d: kernelSize is required, e.g. { kernelSize: 3 }");
    checkInt("Conv2d", "inChannels", inChannels, 1);
    checkInt("Conv2d", "outChannels", outChannels, 1);
    const groups = checkInt("Conv2d", "groups", opts.groups ?? 1, 1);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(
        `Conv2d: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`,
      );
    }
    const [kh, kw] = F.pair("Conv2d", "kernelSize", opts.kernelSize, 1, 1);
    this.options = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups };
    F.pair("Conv2d", "stride", opts.stride, 1, 1);
    F.pair("Conv2d", "padding", opts.padding, 0, 0);
    F.pair("Conv2d", "dilation", opts.dilation, 1, 1);
    const g = opts.generator ?? globalGenerator();
    const fanIn = (inChannels / groups) * kh * kw;
    this.weight = uniformParameter([outChannels, inChannels / groups, kh, kw], kaimingUniformBound(fanIn), g);
    this.bias = opts.bias === false ? null : uniformParameter([outChannels], 1 / Math.sqrt(fanIn), g);
  }

  /** Convolves `x` [N, in, H, W]. */
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }

  /** PyTorch's settings line: `1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)`. */
  override extraRepr(): string {
    const [outChannels, inPerGroup, kh, kw] = this.weight.shape;
    const { stride, padding, dilation, groups = 1 } = this.options;
    let s = `${inPerGroup * groups}, ${outChannels}, kernel_size=(${kh}, ${kw}), stride=${pyPair(stride, 1)}`;
    if (pyPair(padding, 0) !== "(0, 0)") s += `, padding=${pyPair(padding, 0)}`;
    if (pyPair(dilation, 1) !== "(1, 1)") s += `, dilation=${pyPair(dilation, 1)}`;
    if (groups !== 1) s += `, groups=${groups}`;
    if (this.bias === null) s += ", bias=False";
    return s;
  }
}

/**
 * Fully connected layer: `y = x · weightᵀ + bias`, `weight` [out, in].
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const fc = new nn.Linear(3136, 10);
 * const y = fc.forward(Tensor.randn([10, 3136])); // [10, 10]
 * ```
 */
export class Linear extends Module {
  /** [out, in]. */
  weight: Tensor;
  /** [out], or null. */
  bias: Tensor | null;

  /** Creates the layer with PyTorch's default initialisation. */
  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean; generator?: Generator } = {}) {
    super();
    F.checkOptionKeys("Linear", opts, ["bias", "generator"]);
    checkInt("Linear", "inFeatures", inFeatures, 1);
    checkInt("Linear", "outFeatures", outFeatures, 1);
    const g = opts.generator ?? globalGenerator();
    this.weight = uniformParameter([outFeatures, inFeatures], kaimingUniformBound(inFeatures), g);
    this.bias = opts.bias === false ? null : uniformParameter([outFeatures], 1 / Math.sqrt(inFeatures), g);
  }

  /** Applies the layer to `x` [..., in]. */
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }

  /** PyTorch's settings line: `in_features=3136, out_features=10, bias=True`. */
  override extraRepr(): string {
    const [outFeatures, inFeatures] = this.weight.shape;
    return `in_features=${inFeatures}, out_features=${outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/**
 * max(x, 0), elementwise.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@convnet/convnet";
 * new nn.ReLU().forward(tensor([-1, 1])).toArray(); // [0, 1]
 * ```
 */
export class ReLU extends Module {
  /** Applies ReLU. */
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

abstract class Pool2d extends Module {
  readonly options: F.Pool2dOptions;
  constructor(name: string, opts: F.Pool2dOptions) {
    super();
    if (opts === undefined) throw new Error(`${name}: options { kernelSize, stride?, padding? } are required`);
    F.checkOptionKeys(name, opts, ["kernelSize", "stride", "padding"]);
    if (opts.kernelSize === undefined) throw new Error(`${name}: kernelSize is required, e.g. { kernelSize: 2 }`);
    const k = F.pair(name, "kernelSize", opts.kernelSize, 1, 1);
    F.pair(name, "stride", opts.stride, k, 1);
    F.pair(name, "padding", opts.padding, 0, 0);
    this.options = { ...opts };
  }

  /** PyTorch's settings line: `kernel_size=2, stride=2, padding=0`, sizes as given. */
  override extraRepr(): string {
    const { kernelSize, stride, padding } = this.options;
    return `kernel_size=${pySize(kernelSize, 1)}, stride=${pySize(stride, kernelSize)}, padding=${pySize(padding, 0)}`;
  }
}

/**
 * Max pooling layer (stride defaults to the kernel size).
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const pool = new nn.MaxPool2d({ kernelSize: 2, stride: 2 });
 * pool.forward(Tensor.randn([1, 16, 28, 28])).shape; // [1, 16, 14, 14]
 * ```
 */
export class MaxPool2d extends Pool2d {
  /** Creates the layer. */
  constructor(opts: F.Pool2dOptions) {
    super("MaxPool2d", opts);
  }
  /** PyTorch's settings line: `kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False`. */
  override extraRepr(): string {
    const { dilation, ceilMode } = this.options as { dilation?: F.Size2; ceilMode?: boolean };
    return `${super.extraRepr()}, dilation=${pySize(dilation, 1)}, ceil_mode=${pyBool(ceilMode ?? false)}`;
  }
  /** Pools `x` [N, C, H, W]. */
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.options);
  }
}

/**
 * Average pooling layer (PyTorch's `count_include_pad=True`).
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * new nn.AvgPool2d({ kernelSize: 2 }).forward(Tensor.ones([1, 1, 4, 4])).shape; // [1, 1, 2, 2]
 * ```
 */
export class AvgPool2d extends Pool2d {
  /** Creates the layer. */
  constructor(opts: F.Pool2dOptions) {
    super("AvgPool2d", opts);
  }
  /** Pools `x` [N, C, H, W]. */
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.options);
  }
}

/**
 * Sum pooling layer: the sum over each window.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * new nn.SumPool2d({ kernelSize: 2 }).forward(Tensor.ones([1, 1, 4, 4])).toArray(); // [4, 4, 4, 4]
 * ```
 */
export class SumPool2d extends Pool2d {
  /** Creates the layer. */
  constructor(opts: F.Pool2dOptions) {
    super("SumPool2d", opts);
  }
  /** Pools `x` [N, C, H, W]. */
  forward(x: Tensor): Tensor {
    return F.sumPool2d(x, this.options);
  }
}

/**
 * Flattens dimensions `startDim..endDim` into one (default: all but the batch dimension).
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * new nn.Flatten().forward(Tensor.zeros([10, 16, 14, 14])).shape; // [10, 3136]
 * ```
 */
export class Flatten extends Module {
  /** First dimension to flatten. */
  readonly startDim: number;
  /** Last dimension to flatten (negative counts from the end). */
  readonly endDim: number;
  /** Creates the layer. */
  constructor(opts: { startDim?: number; endDim?: number } = {}) {
    super();
    F.checkOptionKeys("Flatten", opts, ["startDim", "endDim"]);
    this.startDim = opts.startDim ?? 1;
    this.endDim = opts.endDim ?? -1;
  }
  /** PyTorch's settings line: `start_dim=1, end_dim=-1`. */
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
  /** Flattens `x`. */
  forward(x: Tensor): Tensor {
    const r = x.rank;
    const s = this.startDim < 0 ? this.startDim + r : this.startDim;
    const e = this.endDim < 0 ? this.endDim + r : this.endDim;
    if (!(s >= 0 && s <= e && e < r)) {
      throw new Error(
        `Flatten: dimensions ${this.startDim}..${this.endDim} do not fit an input of shape ${fmtShape(x.shape)}`,
      );
    }
    const mid = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
    return x.view([...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
  }
}
