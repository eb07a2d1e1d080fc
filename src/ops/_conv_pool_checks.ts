/**
 * The argument checks of `conv2d` and the poolings, shared with the fused conv + ReLU + max-pool
 * op (_conv_relu_pool.ts): each turns the arguments into the kernels' geometry, or throws an
 * error naming the op, the argument, what was given and what was expected.
 *
 * @module
 */
import { type Conv2dGeometry, conv2dGeometry, type Pool2dGeometry } from "../backend/geometry.ts";
import { fmtShape } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { checkFloat, checkOptionKeys, checkRank, pair, sameDevice, type Size2 } from "./_util.ts";

/** Options of `conv2d`. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Size2;
  /** Zeros added on each side (default 0). */
  padding?: Size2;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2;
  /** Channel groups: input and output channels split into this many independent convolutions (default 1). */
  groups?: number;
}

/** Options of the poolings. */
export interface Pool2dOptions {
  /** Window size. */
  kernelSize: Size2;
  /** Step between windows (default: the kernel size). */
  stride?: Size2;
  /** Implicit padding on each side (−∞ for max, 0 for average and sum); at most half the kernel (default 0). */
  padding?: Size2;
}

/** Checks `conv2d`'s arguments (as `op`) and returns the convolution's geometry. */
export function checkedConv2dGeometry(
  op: string,
  x: TensorBase,
  weight: TensorBase,
  bias: TensorBase | null,
  opts: Conv2dOptions,
): Conv2dGeometry {
  checkOptionKeys(op, opts, ["stride", "padding", "dilation", "groups"]);
  checkRank(op, "input", x, 4, "[N, C, H, W]");
  checkRank(op, "weight", weight, 4, "[outChannels, inChannels / groups, kH, kW]");
  checkFloat(op, "input", x);
  checkFloat(op, "weight", weight, x.dtype);
  const [strideH, strideW] = pair(op, "stride", opts.stride, 1, 1);
  const [padH, padW] = pair(op, "padding", opts.padding, 0, 0);
  const [dilationH, dilationW] = pair(op, "dilation", opts.dilation, 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) {
    throw new Error(`${op}: groups must be a positive integer, got ${JSON.stringify(opts.groups)}`);
  }
  const [n, c, h, w] = x.shape;
  const [k, cg, kh, kw] = weight.shape;
  if (k % groups !== 0) {
    throw new Error(`${op}: weight has ${k} output channels, not divisible by groups ${groups}`);
  }
  if (cg * groups !== c) {
    const expects = groups === 1 ? `${cg}` : `${cg} × groups ${groups} = ${cg * groups}`;
    throw new Error(
      `${op}: input has ${c} channels but weight expects ${expects} (weight shape ${fmtShape(weight.shape)})`,
    );
  }
  if (bias !== null && bias !== undefined) {
    if (!(bias instanceof TensorBase) || bias.rank !== 1 || bias.shape[0] !== k) {
      throw new Error(
        `${op}: bias must have shape [${k}], got ${bias instanceof TensorBase ? fmtShape(bias.shape) : bias}`,
      );
    }
    checkFloat(op, "bias", bias, x.dtype);
    sameDevice(op, x, weight, bias);
  } else sameDevice(op, x, weight);
  const effH = dilationH * (kh - 1) + 1, effW = dilationW * (kw - 1) + 1;
  if (effH > h + 2 * padH || effW > w + 2 * padW) {
    throw new Error(
      `${op}: kernel ${kh}×${kw} (dilation ${dilationH}×${dilationW}, spanning ${effH}×${effW}) is larger than ` +
        `the padded input ${h + 2 * padH}×${w + 2 * padW} (input ${h}×${w}, padding ${padH}×${padW})`,
    );
  }
  return conv2dGeometry(n, c, h, w, k, kh, kw, {
    stride: [strideH, strideW],
    padding: [padH, padW],
    dilation: [dilationH, dilationW],
    groups,
  });
}

/**
 * Checks a pooling's options (as `op`) against its input's shape `[n, c, h, w]` and returns the
 * pooling's geometry (the input's rank and dtype are the caller's to check).
 */
export function checkedPool2dGeometry(op: string, shape: readonly number[], opts: Pool2dOptions): Pool2dGeometry {
  if (opts === undefined || opts === null || typeof opts !== "object") {
    throw new Error(`${op}: options { kernelSize, stride?, padding? } are required`);
  }
  checkOptionKeys(op, opts, ["kernelSize", "stride", "padding"]);
  if (opts.kernelSize === undefined) throw new Error(`${op}: kernelSize is required`);
  const [kh, kw] = pair(op, "kernelSize", opts.kernelSize, 1, 1);
  const [strideH, strideW] = pair(op, "stride", opts.stride, [kh, kw], 1);
  const [padH, padW] = pair(op, "padding", opts.padding, 0, 0);
  if (padH * 2 > kh || padW * 2 > kw) {
    throw new Error(
      `${op}: padding ${padH}×${padW} is more than half the kernel ${kh}×${kw}; expected padding ≤ kernel / 2`,
    );
  }
  const [n, c, h, w] = shape;
  if (kh > h + 2 * padH || kw > w + 2 * padW) {
    throw new Error(
      `${op}: kernel ${kh}×${kw} is larger than the padded input ${h + 2 * padH}×${w + 2 * padW} ` +
        `(input ${h}×${w}, padding ${padH}×${padW})`,
    );
  }
  const oh = Math.floor((h + 2 * padH - kh) / strideH) + 1;
  const ow = Math.floor((w + 2 * padW - kw) / strideW) + 1;
  return { n, c, h, w, kh, kw, oh, ow, strideH, strideW, padH, padW };
}
