/**
 * `matmul` and `bmm`: matrix products, batched over leading dimensions that broadcast.
 * One (batched) gemm forward, two backward; the gradient of a broadcast operand is summed
 * over the batch.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { fmtShape, numel } from "../backend/shape.ts";
import { expandRaw, gemmRaw, sameShape, sumTo } from "./_kernels.ts";
import { broadcastShapes, checkTensor } from "./_util.ts";

/**
 * Matrix product: [m, k] × [k, n] → [m, n], or batches of them ([..., m, k] × [..., k, n], the
 * leading dimensions broadcast as in PyTorch).
 *
 * @example
 * ```ts
 * import { matmul, tensor, Tensor } from "@convnet/convnet";
 * matmul(tensor([[1, 2]]), tensor([[3], [4]])).item(); // 11
 * matmul(Tensor.ones([5, 2, 3]), Tensor.ones([3, 4])).shape; // [5, 2, 4]
 * ```
 */
export function matmul<T extends TensorBase>(a: T, b: TensorBase): T {
  const op = "matmul";
  checkTensor(op, "other", b);
  if (a.rank < 2 || b.rank < 2) {
    throw new Error(
      `${op}: expected two 2-d tensors, or batches of matrices (rank ≥ 2 each), got shapes ${fmtShape(a.shape)} ` +
        `and ${fmtShape(b.shape)}`,
    );
  }
  const [m, k] = a.shape.slice(-2), [k2, n] = b.shape.slice(-2);
  if (k !== k2) {
    throw new Error(
      `${op}: inner dimensions differ: ${fmtShape(a.shape)} × ${fmtShape(b.shape)}; ` +
        `expected ${k} rows in the second operand`,
    );
  }
  if (a.rank === 2 && b.rank === 2) {
    const y = gemmRaw(op, a, b, [m, n]);
    return record(y, [a, b], (g) => [
      a.requiresGrad ? gemmRaw(op, g, b, a.shape, { transB: true }) : null,
      b.requiresGrad ? gemmRaw(op, a, g, b.shape, { transA: true }) : null,
    ], op);
  }
  const batchShape = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = numel(batchShape);
  // An operand is used in place when it has the full batch or no batch at all; otherwise expanded.
  const fit = (t: TensorBase, rows: number, cols: number) => {
    const own = t.shape.slice(0, -2);
    if (numel(own) === 1 && batch !== 1) return { t, share: true };
    if (sameShape(own, batchShape) || numel(own) === batch) return { t, share: false };
    return { t: expandRaw(t, [...batchShape, rows, cols]), share: false };
  };
  const fa = fit(a, m, k), fb = fit(b, k, n);
  const shape = [...batchShape, m, n];
  const y = gemmRaw(op, fa.t as T, fb.t, shape, { batch, shareA: fa.share, shareB: fb.share });
  // The expanded operands (if any) stay alive for backward.
  const release = () => {
    if (fa.t !== a) fa.t.dispose();
    if (fb.t !== b) fb.t.dispose();
  };
  return record(
    y,
    [a, b],
    (g) => {
      let da: TensorBase | null = null, db: TensorBase | null = null;
      if (a.requiresGrad) {
        const full = gemmRaw(op, g, fb.t, [...batchShape, m, k], { transB: true, batch, shareB: fb.share });
        da = sumTo(full, a.shape);
        if (da !== full) full.dispose();
      }
      if (b.requiresGrad) {
        const full = gemmRaw(op, fa.t, g, [...batchShape, k, n], { transA: true, batch, shareA: fa.share });
        db = sumTo(full, b.shape);
        if (db !== full) full.dispose();
      }
      return [da, db];
    },
    op,
    release,
  );
}

/**
 * Batched matrix product of two 3-d tensors: [b, m, k] × [b, k, n] → [b, m, n].
 *
 * @example
 * ```ts
 * import { bmm, Tensor } from "@convnet/convnet";
 * bmm(Tensor.ones([4, 2, 3]), Tensor.ones([4, 3, 5])).shape; // [4, 2, 5]
 * ```
 */
export function bmm<T extends TensorBase>(a: T, b: TensorBase): T {
  checkTensor("bmm", "mat2", b);
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0]) {
    throw new Error(
      `bmm: expected two 3-d tensors with the same batch size, got shapes ${fmtShape(a.shape)} and ${
        fmtShape(b.shape)
      }`,
    );
  }
  return matmul(a, b);
}
