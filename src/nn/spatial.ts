/**
 * Spatial layers beyond the seed network: adaptive pooling (a fixed output size whatever the
 * input's) and the transposed convolution (upsampling with learned weights), with PyTorch's
 * initialisation and parameter names.
 *
 * @module
 */
import * as F from "../tensor/functional.ts";
import { type Generator, globalGenerator } from "../tensor/random.ts";
import { Tensor } from "../tensor/mod.ts";
import { Module, parameter } from "./module.ts";

/** Options of {@linkcode ConvTranspose2d}. */
export interface ConvTranspose2dLayerOptions extends F.ConvTranspose2dOptions {
  /** Kernel size. */
  kernelSize: F.Size2;
  /** Learn a bias per output channel (default true). */
  bias?: boolean;
  /** Generator for the initial weights (default: the global one, see `manualSeed`). */
  generator?: Generator;
}

function checkInt(layer: string, name: string, v: unknown, min: number): number {
  if (!Number.isInteger(v) || (v as number) < min) {
    throw new Error(`${layer}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

/** A float32 parameter drawn from U(−bound, bound) by PyTorch's `uniform_` on the generator's stream. */
function uniformParameter(shape: number[], bound: number, g: Generator): Tensor {
  return parameter(Tensor.rand(shape, { low: -bound, high: bound, generator: g }));
}

/**
 * Transposed 2-d convolution layer: `weight` [in, out / groups, kH, kW] and `bias` [out], drawn as
 * PyTorch draws them (`kaiming_uniform_(a=√5)`, bound 1/√fanIn for both, where fanIn is
 * (out / groups)·kH·kW: PyTorch reads it from the weight's second dimension).
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const up = new nn.ConvTranspose2d(16, 8, { kernelSize: 3, stride: 2, padding: 1, outputPadding: 1 });
 * up.forward(Tensor.randn([1, 16, 7, 7])).shape; // [1, 8, 14, 14]
 * ```
 */
export class ConvTranspose2d extends Module {
  /** The filters, [in, out / groups, kH, kW]. */
  weight: Tensor;
  /** One bias per output channel, or null. */
  bias: Tensor | null;
  /** Options passed to `F.convTranspose2d`. */
  readonly options: F.ConvTranspose2dOptions;

  /** Creates the layer with PyTorch's default initialisation. */
  constructor(inChannels: number, outChannels: number, opts: ConvTranspose2dLayerOptions) {
    super();
    const name = "ConvTranspose2d";
    if (opts === undefined) throw new Error(`${name}: options { kernelSize, ... } are required`);
    F.checkOptionKeys(name, opts, [
      "kernelSize",
      "stride",
      "padding",
      "outputPadding",
      "groups",
      "bias",
      "dilation",
      "generator",
    ]);
    if (opts.kernelSize === undefined) throw new Error(`${name}: kernelSize is required, e.g. { kernelSize: 3 }`);
    checkInt(name, "inChannels", inChannels, 1);
    checkInt(name, "outChannels", outChannels, 1);
    const groups = checkInt(name, "groups", opts.groups ?? 1, 1);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(
        `${name}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`,
      );
    }
    const [kh, kw] = F.pair(name, "kernelSize", opts.kernelSize, 1, 1);
    const stride = F.pair(name, "stride", opts.stride, 1, 1);
    F.pair(name, "padding", opts.padding, 0, 0);
    const dilation = F.pair(name, "dilation", opts.dilation, 1, 1);
    const outputPadding = F.pair(name, "outputPadding", opts.outputPadding, 0, 0);
    for (const d of [0, 1]) {
      if (outputPadding[d] >= stride[d] && outputPadding[d] >= dilation[d]) {
        throw new Error(
          `${name}: outputPadding ${JSON.stringify(outputPadding)} must be smaller than the stride ` +
            `${JSON.stringify(stride)} or the dilation ${JSON.stringify(dilation)} in each dimension`,
        );
      }
    }
    this.options = {
      stride: opts.stride,
      padding: opts.padding,
      outputPadding: opts.outputPadding,
      groups,
      dilation: opts.dilation,
    };
    const g = opts.generator ?? globalGenerator();
    const fanIn = (outChannels / groups) * kh * kw;
    // kaiming_uniform_(a=√5): gain √(2 / (1 + 5)), bound gain·√(3 / fanIn) = 1/√fanIn.
    const weightBound = Math.sqrt(3) * (Math.sqrt(2 / 6) / Math.sqrt(fanIn));
    this.weight = uniformParameter([inChannels, outChannels / groups, kh, kw], weightBound, g);
    this.bias = opts.bias === false ? null : uniformParameter([outChannels], 1 / Math.sqrt(fanIn), g);
  }

  /** Upsamples `x` [N, in, H, W] to [N, out, oH, oW]. */
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, this.options);
  }
}

function checkOutputSize(layer: string, size: F.AdaptiveSize): F.AdaptiveSize {
  const ok = (v: unknown) => v === null || (Number.isInteger(v) && (v as number) >= 1);
  const valid = typeof size === "number" ? ok(size) : Array.isArray(size) && size.length === 2 && size.every(ok);
  if (!valid) {
    throw new Error(
      `${layer}: outputSize must be an integer ≥ 1 or a pair [h, w] of them (null keeps the input's size), ` +
        `got ${JSON.stringify(size)}`,
    );
  }
  return typeof size === "number" ? size : [size[0], size[1]];
}

/**
 * Average pooling to a fixed output size, whatever the input's (PyTorch's windows; see
 * `F.adaptiveAvgPool2d`). `new nn.AdaptiveAvgPool2d(1)` is global average pooling.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const pool = new nn.AdaptiveAvgPool2d(1);
 * pool.forward(Tensor.randn([2, 512, 7, 7])).shape; // [2, 512, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /** The output size: one number for both dimensions, or [h, w] (null keeps the input's size). */
  readonly outputSize: F.AdaptiveSize;
  /** Creates the layer. */
  constructor(outputSize: F.AdaptiveSize) {
    super();
    this.outputSize = checkOutputSize("AdaptiveAvgPool2d", outputSize);
  }
  /** Pools `x` [N, C, H, W] or [C, H, W]. */
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/**
 * Max pooling to a fixed output size, whatever the input's (PyTorch's windows; see
 * `F.adaptiveMaxPool2d`).
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const pool = new nn.AdaptiveMaxPool2d([3, 4]);
 * pool.forward(Tensor.randn([2, 8, 10, 9])).shape; // [2, 8, 3, 4]
 * ```
 */
export class AdaptiveMaxPool2d extends Module {
  /** The output size: one number for both dimensions, or [h, w] (null keeps the input's size). */
  readonly outputSize: F.AdaptiveSize;
  /** Creates the layer. */
  constructor(outputSize: F.AdaptiveSize) {
    super();
    this.outputSize = checkOutputSize("AdaptiveMaxPool2d", outputSize);
  }
  /** Pools `x` [N, C, H, W] or [C, H, W]. */
  forward(x: Tensor): Tensor {
    return F.adaptiveMaxPool2d(x, this.outputSize);
  }
}
