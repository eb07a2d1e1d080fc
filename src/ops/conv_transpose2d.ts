/**
 * `convTranspose2d`: the transposed 2-d convolution (PyTorch's `conv_transpose2d`, sometimes
 * called a deconvolution): each input pixel scatters a weighted copy of the kernel into the output.
 *
 * It is conv2d read backwards. Take the convolution whose input is this op's output y
 * [N, Cout, oH, oW] and whose output is this op's input x [N, Cin, H, W], with the same weight
 * [Cin, Cout / groups, kH, kW] (conv2d's [K, C / groups, kH, kW] with K = Cin): then
 * - the forward is that convolution's input gradient (`conv2dBackwardInput`, dy := x);
 * - the input gradient is that convolution's forward (`conv2dForward` of dy);
 * - the weight gradient is its weight gradient with the roles swapped (dy := x, x := dy);
 * so the backend's fused convolution kernels run it, and their composites (_conv_composite.ts) where
 * a backend has none. The bias is added afterwards (an `add`, which also gives its gradient).
 *
 * An output padding of a stride or more (allowed when the dilation is larger) lies beyond the
 * convolution's reach: the input gets ⌊outputPadding / stride⌋ zero rows (columns) at the end
 * instead, which make the same output with the remainder as output padding.
 *
 * @module
 */
import { conv2dGeometry } from "../backend/geometry.ts";
import { fmtShape } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { checkFloat, checkOptionKeys, checkRank, pair, sameDevice, type Size2 } from "./_util.ts";
import { fullLike } from "./_kernels.ts";
import { fusedOrComposite } from "./_fused.ts";
import { conv2dComposites } from "./_conv_composite.ts";
import { add } from "./add.ts";
import { cat } from "./cat.ts";
import { view } from "./view.ts";

/** Options of {@linkcode convTranspose2d}. */
export interface ConvTranspose2dOptions {
  /** Step between the input pixels' places in the output (default 1). */
  stride?: Size2;
  /** Rows and columns removed from each side of the full output: `dilation·(k − 1) − padding` of zero padding for the matching conv2d (default 0). */
  padding?: Size2;
  /** Rows and columns added at the bottom and right; less than the stride or the dilation (default 0). */
  outputPadding?: Size2;
  /** Channel groups: input and output channels split into this many independent convolutions (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2;
}

const OPTION_KEYS = ["stride", "padding", "outputPadding", "groups", "dilation"];

/**
 * Transposed 2-d convolution of `x` [N, Cin, H, W] with `weight` [Cin, Cout / groups, kH, kW], plus
 * an optional `bias` [Cout]. Output [N, Cout, oH, oW] with
 * oH = (H − 1)·strideH − 2·padH + dilH·(kH − 1) + outputPaddingH + 1: the input size of the conv2d
 * with the same options that maps it back to H × W.
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * const x = Tensor.randn([1, 16, 7, 7]);
 * const w = Tensor.randn([16, 8, 3, 3]);
 * const y = F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }); // [1, 8, 14, 14]
 * ```
 */
export function convTranspose2d<T extends TensorBase>(
  x: T,
  weight: TensorBase,
  bias: TensorBase | null = null,
  opts: ConvTranspose2dOptions = {},
): T {
  const op = "convTranspose2d";
  checkOptionKeys(op, opts, OPTION_KEYS);
  checkRank(op, "input", x, 4, "[N, Cin, H, W]");
  checkRank(op, "weight", weight, 4, "[Cin, Cout / groups, kH, kW]");
  checkFloat(op, "input", x);
  checkFloat(op, "weight", weight, x.dtype);
  const stride = pair(op, "stride", opts.stride, 1, 1);
  const padding = pair(op, "padding", opts.padding, 0, 0);
  const outputPadding = pair(op, "outputPadding", opts.outputPadding, 0, 0);
  const dilation = pair(op, "dilation", opts.dilation, 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) {
    throw new Error(`${op}: groups must be a positive integer, got ${JSON.stringify(opts.groups)}`);
  }
  const [n, cin, h, w] = x.shape;
  const [wIn, coutPerGroup, kh, kw] = weight.shape;
  const cout = coutPerGroup * groups;
  if (wIn !== cin) {
    throw new Error(
      `${op}: input has ${cin} channels but weight expects ${wIn} (weight shape ${fmtShape(weight.shape)}, ` +
        `[Cin, Cout / groups, kH, kW])`,
    );
  }
  if (cin % groups !== 0) throw new Error(`${op}: input has ${cin} channels, not divisible by groups ${groups}`);
  for (const d of [0, 1]) {
    if (outputPadding[d] >= stride[d] && outputPadding[d] >= dilation[d]) {
      throw new Error(
        `${op}: outputPadding ${fmtShape(outputPadding)} must be smaller than the stride ${fmtShape(stride)} ` +
          `or the dilation ${fmtShape(dilation)} in each dimension`,
      );
    }
  }
  if (bias !== null && bias !== undefined) {
    if (!(bias instanceof TensorBase) || bias.rank !== 1 || bias.shape[0] !== cout) {
      throw new Error(
        `${op}: bias must have shape [${cout}] (Cout = ${coutPerGroup} × groups ${groups}), got ${
          bias instanceof TensorBase ? fmtShape(bias.shape) : bias
        }`,
      );
    }
    checkFloat(op, "bias", bias, x.dtype);
    sameDevice(op, x, weight, bias);
  } else sameDevice(op, x, weight);
  const size = (d: number, input: number, kernel: number) =>
    (input - 1) * stride[d] - 2 * padding[d] + dilation[d] * (kernel - 1) + outputPadding[d] + 1;
  const oh = size(0, h, kh), ow = size(1, w, kw);
  if (oh < 1 || ow < 1) {
    throw new Error(
      `${op}: the output would be ${oh}×${ow} for input ${h}×${w}, kernel ${kh}×${kw}, stride ` +
        `${fmtShape(stride)}, padding ${fmtShape(padding)}, dilation ${fmtShape(dilation)}, outputPadding ` +
        `${fmtShape(outputPadding)}; expected at least 1×1 (less padding)`,
    );
  }
  if (outputPadding[0] >= stride[0] || outputPadding[1] >= stride[1]) {
    return viaZeroRows(x, weight, bias, { stride, padding, outputPadding, groups, dilation });
  }

  const g = conv2dGeometry(n, cout, oh, ow, cin, kh, kw, { stride, padding, dilation, groups });
  const be = x._backend;
  const kernels = fusedOrComposite(be, conv2dComposites(be, x.dtype));
  const y = be.alloc(x.dtype, n * cout * oh * ow);
  kernels.conv2dBackwardInput(y, x._data(op), weight._data(op), g);
  const out = record(x._wrap(y, [n, cout, oh, ow]), [x, weight], (dy) => {
    let dx: TensorBase | null = null, dw: TensorBase | null = null;
    if (x.requiresGrad) {
      const buf = be.alloc(x.dtype, x.size);
      kernels.conv2dForward(buf, dy._data(op), weight._data(op), null, g);
      dx = x._wrap(buf, x.shape);
    }
    if (weight.requiresGrad) {
      const buf = be.alloc(x.dtype, weight.size);
      kernels.conv2dBackwardWeight(buf, x._data(op), dy._data(op), g);
      dw = x._wrap(buf, weight.shape);
    }
    return [dx, dw];
  }, op);
  if (!bias) return out;
  const column = view(bias, [1, cout, 1, 1]);
  const biased = add(out, column);
  if (!biased.requiresGrad) {
    out.dispose();
    column.dispose();
  }
  return biased;
}

/**
 * The output padding `p` ≥ stride `s` case: ⌊p / s⌋ zero rows (columns) appended to `x` and
 * `p mod s` left as output padding give the same output size, and rows no input reaches are zero
 * (plus the bias) either way.
 */
function viaZeroRows<T extends TensorBase>(
  x: T,
  weight: TensorBase,
  bias: TensorBase | null,
  o: {
    stride: [number, number];
    padding: [number, number];
    outputPadding: [number, number];
    groups: number;
    dilation: [number, number];
  },
): T {
  let padded = x;
  for (const d of [0, 1]) {
    const rows = Math.floor(o.outputPadding[d] / o.stride[d]);
    if (rows === 0) continue;
    const zeros = fullLike(padded, 0, padded.shape.map((s, i) => (i === d + 2 ? rows : s)));
    const next = cat([padded, zeros], d + 2);
    zeros.dispose();
    if (padded !== x && !padded.requiresGrad) padded.dispose();
    padded = next;
  }
  const outputPadding: [number, number] = [o.outputPadding[0] % o.stride[0], o.outputPadding[1] % o.stride[1]];
  const y = convTranspose2d(padded, weight, bias, { ...o, outputPadding });
  if (!y.requiresGrad) padded.dispose(); // else the weight gradient reads it
  return y;
}
