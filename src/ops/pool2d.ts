/**
 * `maxPool2d`, `avgPool2d`, `sumPool2d`: the three poolings of the seed article, with PyTorch's
 * window rules, and their backward: the backend's fused pooling kernels where it has them, their
 * composites (one strided copy of the windows and a reduction, _pool2d_composite.ts) where not.
 *
 * @module
 */
import type { PoolKind } from "../backend/geometry.ts";
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { checkFloat, checkRank } from "./_util.ts";
import { fusedOrComposite } from "./_fused.ts";
import { pool2dComposites } from "./_pool2d_composite.ts";
import { checkedPool2dGeometry, type Pool2dOptions } from "./_conv_pool_checks.ts";

export type { Pool2dOptions } from "./_conv_pool_checks.ts";

function pool2d<T extends TensorBase>(kind: PoolKind, op: string, x: T, opts: Pool2dOptions): T {
  if (opts === undefined || opts === null || typeof opts !== "object") {
    throw new Error(`${op}: options { kernelSize, stride?, padding? } are required`);
  }
  checkRank(op, "input", x, 4, "[N, C, H, W]");
  checkFloat(op, "input", x);
  const g = checkedPool2dGeometry(op, x.shape, opts);
  const { n, c, oh, ow } = g;
  const be = x._backend;
  const kernels = fusedOrComposite(be, pool2dComposites(be, x.dtype));
  const size = n * c * oh * ow;
  const y = be.alloc(x.dtype, size);
  const indices = kind === "max" ? be.alloc("int32", size) : null;
  kernels.pool2dForward(kind, y, indices, x._data(op), g);
  return record(
    x._wrap(y, [n, c, oh, ow]),
    [x],
    (dy) => {
      const dx = be.alloc(x.dtype, x.size);
      kernels.pool2dBackward(kind, dx, dy._data(op), indices, g);
      return [x._wrap(dx, x.shape)];
    },
    op,
    indices === null ? undefined : () => be.free(indices),
  );
}

/**
 * Max pooling over windows of `kernelSize` (stride defaults to the kernel; padding counts as −∞).
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * const y = F.maxPool2d(Tensor.randn([1, 16, 28, 28]), { kernelSize: 2, stride: 2 }); // [1, 16, 14, 14]
 * ```
 */
export function maxPool2d<T extends TensorBase>(x: T, opts: Pool2dOptions): T {
  return pool2d("max", "maxPool2d", x, opts);
}

/**
 * Average pooling; windows overlapping the padding divide by the full window size
 * (PyTorch's default `count_include_pad=True`).
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * const y = F.avgPool2d(Tensor.ones([1, 1, 4, 4]), { kernelSize: 2 }); // all ones, [1, 1, 2, 2]
 * ```
 */
export function avgPool2d<T extends TensorBase>(x: T, opts: Pool2dOptions): T {
  return pool2d("avg", "avgPool2d", x, opts);
}

/**
 * Sum pooling: the sum over each window (padding counts as 0).
 *
 * @example
 * ```ts
 * import { F, Tensor } from "@convnet/convnet";
 * const y = F.sumPool2d(Tensor.ones([1, 1, 4, 4]), { kernelSize: 2 }); // all fours, [1, 1, 2, 2]
 * ```
 */
export function sumPool2d<T extends TensorBase>(x: T, opts: Pool2dOptions): T {
  return pool2d("sum", "sumPool2d", x, opts);
}
