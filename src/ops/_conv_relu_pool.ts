/**
 * `conv2dReluMaxPool2d`: `maxPool2d(relu(conv2d(x, weight, bias)))` as one op, for the blocks
 * that `nn.Sequential` runs as Conv2d → ReLU → MaxPool2d (the seed's network is one).
 *
 * On a backend with the fused passes (`FusedPasses`: the CPU backends) the forward pass writes
 * only the pooled output and the argmax indices, never the convolution's output, and the
 * backward pass turns the pooled gradient into the convolution's in one pass before the
 * convolution's own backward kernels. Elsewhere (CUDA) it is the three ops one by one. Either
 * way the values and gradients are the unfused ops' bit for bit: the passes do their arithmetic.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import type { StepKernels } from "../backend/backend.ts";
import { fusedOrComposite } from "./_fused.ts";
import { conv2dComposites } from "./_conv_composite.ts";
import {
  checkedConv2dGeometry,
  checkedPool2dGeometry,
  type Conv2dOptions,
  type Pool2dOptions,
} from "./_conv_pool_checks.ts";
import { conv2d } from "./conv2d.ts";
import { relu } from "./relu.ts";
import { maxPool2d } from "./pool2d.ts";

/**
 * `maxPool2d(relu(conv2d(x, weight, bias, convOpts)), poolOpts)` in one forward pass and one
 * backward pass where the backend has the fused passes; errors name `conv2d` or `maxPool2d` as
 * the unfused ops would.
 */
export function conv2dReluMaxPool2d<T extends TensorBase>(
  x: T,
  weight: TensorBase,
  bias: TensorBase | null,
  convOpts: Conv2dOptions,
  poolOpts: Pool2dOptions,
): T {
  const be = x._backend;
  if (!be.conv2dReluMaxPool2dForward || !be.maxPool2dReluBackward) {
    return maxPool2d(relu(conv2d(x, weight, bias, convOpts)), poolOpts);
  }
  const conv = checkedConv2dGeometry("conv2d", x, weight, bias, convOpts);
  if (poolOpts === undefined || poolOpts === null || typeof poolOpts !== "object") {
    throw new Error("maxPool2d: options { kernelSize, stride?, padding? } are required");
  }
  const pool = checkedPool2dGeometry("maxPool2d", [conv.n, conv.k, conv.oh, conv.ow], poolOpts);
  const op = "conv2dReluMaxPool2d";
  const size = pool.n * pool.c * pool.oh * pool.ow;
  const y = be.alloc(x.dtype, size);
  const indices = be.alloc("int32", size);
  be.conv2dReluMaxPool2dForward(y, indices, x._data(op), weight._data(op), bias ? bias._data(op) : null, conv, pool);
  const out = x._wrap(y, [pool.n, pool.c, pool.oh, pool.ow]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const backward = (dy: TensorBase) => {
    const kernels = fusedOrComposite(be, conv2dComposites(be, x.dtype));
    const dconv = be.alloc(x.dtype, conv.n * conv.k * conv.oh * conv.ow);
    be.maxPool2dReluBackward!(dconv, dy._data(op), out._data(op), indices, pool);
    const grads: (TensorBase | null)[] = [null, null, null];
    if (x.requiresGrad) {
      const dx = be.alloc(x.dtype, x.size);
      kernels.conv2dBackwardInput(dx, dconv, weight._data(op), conv);
      grads[0] = x._wrap(dx, x.shape);
    }
    const both = (be as StepKernels).conv2dBackwardWeightBias;
    if (weight.requiresGrad && bias?.requiresGrad && both) { // one launch on CUDA
      const dw = be.alloc(x.dtype, weight.size), db = be.alloc(x.dtype, conv.k);
      both.call(be, dw, db, dconv, x._data(op), conv);
      grads[1] = x._wrap(dw, weight.shape);
      grads[2] = x._wrap(db, bias.shape);
    } else if (weight.requiresGrad) {
      const dw = be.alloc(x.dtype, weight.size);
      kernels.conv2dBackwardWeight(dw, dconv, x._data(op), conv);
      grads[1] = x._wrap(dw, weight.shape);
    }
    if (bias?.requiresGrad && !grads[2]) {
      const db = be.alloc(x.dtype, conv.k);
      kernels.conv2dBackwardBias(db, dconv, conv);
      grads[2] = x._wrap(db, bias.shape);
    }
    be.free(dconv);
    return grads.slice(0, inputs.length);
  };
  return record(out, inputs, backward, op, () => be.free(indices));
}
