/**
 * `conv2d`: 2-d convolution (cross-correlation, as in PyTorch), its argument checks, and its
 * backward: the backend's fused convolution kernels where it has them, their composites
 * (im2col + gemm, _conv_composite.ts) where it does not.
 *
 * @module
 */
import { conv2dGeometry } from "../backend/geometry.ts";
import { fmtShape } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { checkFloat, checkOptionKeys, checkRank, pair, sameDevice, type Size2 } from "./_util.ts";
import { fusedOrComposite } from "./_fused.ts";
import { conv2dComposites } from "./_conv_composite.ts";

/** Options of {@linkcode conv2d}. */
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

/**
 * 2-d convolution (cross-correlation, as in PyTorch) of `x` [N, C, H, W] with `weight`
 * [K, C / groups, kH, kW], plus an optional `bias` [K]. Output [N, K, oH, oW] with
 * oH = ⌊(H + 2·padH − dilH·(kH − 1) − 1) / strideH⌋ + 1.
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * const x = Tensor.randn([1, 1, 28, 28]);
 * const w = Tensor.randn([16, 1, 3, 3]);
 * const y = F.conv2d(x, w, null, { stride: 1, padding: 1 }); // [1, 16, 28, 28]
 * ```
 */
export function conv2d<T extends TensorBase>(
  x: T,
  weight: TensorBase,
  bias: TensorBase | null = null,
  opts: Conv2dOptions = {},
): T {
  const op = "conv2d";
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
  const g = conv2dGeometry(n, c, h, w, k, kh, kw, {
    stride: [strideH, strideW],
    padding: [padH, padW],
    dilation: [dilationH, dilationW],
    groups,
  });
  const { oh, ow } = g;
  const be = x._backend;
  const kernels = fusedOrComposite(be, conv2dComposites(be, x.dtype));
  const y = be.alloc(x.dtype, n * k * oh * ow);
  kernels.conv2dForward(y, x._data(op), weight._data(op), bias ? bias._data(op) : null, g);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(x._wrap(y, [n, k, oh, ow]), inputs, (dy) => {
    const grads: (TensorBase | null)[] = [null, null, null];
    if (x.requiresGrad) {
      const dx = be.alloc(x.dtype, x.size);
      kernels.conv2dBackwardInput(dx, dy._data(op), weight._data(op), g);
      grads[0] = x._wrap(dx, x.shape);
    }
    if (weight.requiresGrad) {
      const dw = be.alloc(x.dtype, weight.size);
      kernels.conv2dBackwardWeight(dw, dy._data(op), x._data(op), g);
      grads[1] = x._wrap(dw, weight.shape);
    }
    if (bias?.requiresGrad) {
      const db = be.alloc(x.dtype, k);
      kernels.conv2dBackwardBias(db, dy._data(op), g);
      grads[2] = x._wrap(db, bias.shape);
    }
    return grads.slice(0, inputs.length);
  }, op);
}
