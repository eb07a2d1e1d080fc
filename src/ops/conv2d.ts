/**
 * `conv2d`: 2-d convolution (cross-correlation, as in PyTorch), its argument checks, and its
 * backward: the backend's fused convolution kernels where it has them, their composites
 * (im2col + gemm, _conv_composite.ts) where it does not.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import type { StepKernels } from "../backend/backend.ts";
import { fusedOrComposite } from "./_fused.ts";
import { conv2dComposites } from "./_conv_composite.ts";
import { checkedConv2dGeometry, type Conv2dOptions } from "./_conv_pool_checks.ts";

export type { Conv2dOptions } from "./_conv_pool_checks.ts";

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
  const g = checkedConv2dGeometry(op, x, weight, bias, opts);
  const { n, k, oh, ow } = g;
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
    const both = (be as StepKernels).conv2dBackwardWeightBias;
    if (weight.requiresGrad && bias?.requiresGrad && both) { // one launch on CUDA
      const dw = be.alloc(x.dtype, weight.size), db = be.alloc(x.dtype, k);
      both.call(be, dw, db, dy._data(op), x._data(op), g);
      grads[1] = x._wrap(dw, weight.shape);
      grads[2] = x._wrap(db, bias.shape);
      return grads;
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
