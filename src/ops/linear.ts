/**
 * `linear`: `x · weightᵀ + bias`, one gemm forward and two backward.
 *
 * @module
 */
import { fmtShape } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { checkFloat, checkRank } from "./_util.ts";
import { gemmRaw, sumTo } from "./_kernels.ts";
import type { Backend, StepKernels } from "../backend/backend.ts";
import { add } from "./add.ts";
import { view } from "./view.ts";

/**
 * `y = x · weightᵀ + bias` for `x` [..., in], `weight` [out, in], `bias` [out].
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * const y = F.linear(Tensor.randn([10, 3136]), Tensor.randn([10, 3136]), Tensor.zeros([10])); // [10, 10]
 * ```
 */
export function linear<T extends TensorBase>(x: T, weight: TensorBase, bias: TensorBase | null = null): T {
  const op = "linear";
  checkRank(op, "weight", weight, 2, "[outFeatures, inFeatures]");
  if (!(x instanceof TensorBase) || x.rank < 1) {
    throw new Error(`${op}: input must be a Tensor of shape [..., ${weight.shape[1]}], got ${String(x)}`);
  }
  checkFloat(op, "input", x);
  checkFloat(op, "weight", weight, x.dtype);
  const [out, inF] = weight.shape;
  const last = x.shape[x.rank - 1];
  if (last !== inF) {
    throw new Error(
      `${op}: input has ${last} features (shape ${fmtShape(x.shape)}) but weight expects ${inF} ` +
        `(weight shape ${fmtShape(weight.shape)})`,
    );
  }
  if (bias) {
    if (bias.rank !== 1 || bias.shape[0] !== out) {
      throw new Error(`${op}: bias must have shape [${out}], got ${fmtShape(bias.shape)}`);
    }
    checkFloat(op, "bias", bias, x.dtype);
  }
  const x2 = x.rank === 2 ? x : view(x, [-1, inF]);
  const rows = x2.shape[0];
  const be = x._backend as Backend & StepKernels;
  if (bias && be.linearForward) { // the bias in the GEMM's launch (CUDA): the bits of gemm + add
    const out2 = be.alloc(x.dtype, rows * out);
    try {
      be.linearForward(out2, x2._data(op), weight._data(op), bias._data(op), rows, out, inF);
    } catch (e) {
      be.free(out2);
      throw e;
    }
    const y2 = record(x2._wrap(out2, [rows, out]), [x2, weight, bias], (g) => {
      const dx = x2.requiresGrad ? gemmRaw(op, g, weight, [rows, inF]) : null;
      if (weight.requiresGrad && bias.requiresGrad && be.linearBackwardWeightBias) { // one launch (CUDA)
        const dw = be.alloc(x.dtype, out * inF), db = be.alloc(x.dtype, out);
        be.linearBackwardWeightBias(dw, db, g._data(op), x2._data(op), rows, out, inF);
        return [dx, x2._wrap(dw, [out, inF]), x2._wrap(db, [out])];
      }
      return [
        dx,
        weight.requiresGrad ? gemmRaw(op, g, x2, [out, inF], { transA: true }) : null,
        bias.requiresGrad ? sumTo(g, [out]) : null, // add's gradient for the broadcast bias
      ];
    }, op);
    return x.rank === 2 ? y2 : view(y2, [...x.shape.slice(0, -1), out]);
  }
  let y = record(gemmRaw(op, x2, weight, [rows, out], { transB: true }), [x2, weight], (g) => [
    x2.requiresGrad ? gemmRaw(op, g, weight, [rows, inF]) : null,
    weight.requiresGrad ? gemmRaw(op, g, x2, [out, inF], { transA: true }) : null,
  ], op);
  if (bias) y = add(y, bias);
  return x.rank === 2 ? y : view(y, [...x.shape.slice(0, -1), out]);
}
