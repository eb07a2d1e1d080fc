/**
 * The plumbing shared by elementwise ops with gradients: run the kernel, then record the
 * backward, summing the gradient of a broadcast operand back to its own shape.
 *
 * @module
 */
import type { BinaryOp, ScalarOp, UnaryOp } from "../backend/backend.ts";
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { binaryRaw, scalarRaw, sumTo, unaryRaw } from "./_kernels.ts";
import { floatOnly } from "./_util.ts";

/** A gradient rule: the output's gradient (and the output) to each input's gradient. */
export type Backward = (g: TensorBase, y: TensorBase) => (TensorBase | null)[];

/** `op(x)` recorded with `backward`; float only unless `intOk`. */
export function unaryOp<T extends TensorBase>(op: UnaryOp, x: T, backward: Backward, intOk = false): T {
  if (!intOk) floatOnly(op, x);
  const y = unaryRaw(op, x);
  return record(y, [x], (g) => backward(g, y), op);
}

/** `op(x, s)` recorded with `backward`. */
export function scalarOp<T extends TensorBase>(op: ScalarOp, x: T, s: number, backward: Backward): T {
  const y = scalarRaw(op, x, s);
  return record(y, [x], (g) => backward(g, y), op);
}

/** `op(a, b)` with broadcasting, recorded with `backward`; gradients are summed back to each operand's shape. */
export function binaryOp<T extends TensorBase>(op: BinaryOp, a: T, b: TensorBase, backward: Backward): T {
  const y = binaryRaw(op, a, b);
  return record(y, [a, b], (g) => {
    const [ga, gb] = backward(g, y);
    return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
  }, op);
}
