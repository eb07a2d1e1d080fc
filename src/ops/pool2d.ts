/**
 * `maxPool2d`, `avgPool2d`, `sumPool2d`: the three poolings of the seed article, with PyTorch's
 * window rules, and their backward: the backend's fused pooling kernels where it has them, their
 * composites (one strided copy of the windows and a reduction, _pool2d_composite.ts) where not.
 *
 * @module
 */
import type { Pool2dGeometry, PoolKind } from "../backend/geometry.ts";
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { checkFloat, checkOptionKeys, checkRank, pair, type Size2 } from "./_util.ts";
import { fusedOrComposite } from "./_fused.ts";
import { pool2dComposites } from "./_pool2d_composite.ts";

/** Options of the poolings. */
export interface Pool2dOptions {
  /** Window size. */
  kernelSize: Size2;
  /** Step between windows (default: the kernel size). */
  stride?: Size2;
  /** Implicit padding on each side (−∞ for max, 0 for average and sum); at most half the kernel (default 0). */
  padding?: Size2;
}

function pool2d<T extends TensorBase>(kind: PoolKind, op: string, x: T, opts: Pool2dOptions): T {
  if (opts === undefined || opts === null || typeof opts !== "object") {
    throw new Error(`${op}: options { kernelSize, stride?, padding? } are required`);
  }
  checkOptionKeys(op, opts, ["kernelSize", "stride", "padding"]);
  checkRank(op, "input", x, 4, "[N, C, H, W]");
  checkFloat(op, "input", x);
  if (opts.kernelSize === undefined) throw new Error(`${op}: kernelSize is required`);
  const [kh, kw] = pair(op, "kernelSize", opts.kernelSize, 1, 1);
  const [strideH, strideW] = pair(op, "stride", opts.stride, [kh, kw], 1);
  const [padH, padW] = pair(op, "padding", opts.padding, 0, 0);
  if (padH * 2 > kh || padW * 2 > kw) {
    throw new Error(
      `${op}: padding ${padH}×${padW} is more than half the kernel ${kh}×${kw}; expected padding ≤ kernel / 2`,
    );
  }
  const [n, c, h, w] = x.shape;
  if (kh > h + 2 * padH || kw > w + 2 * padW) {
    throw new Error(
      `${op}: kernel ${kh}×${kw} is larger than the padded input ${h + 2 * padH}×${w + 2 * padW} ` +
        `(input ${h}×${w}, padding ${padH}×${padW})`,
    );
  }
  const oh = Math.floor((h + 2 * padH - kh) / strideH) + 1;
  const ow = Math.floor((w + 2 * padW - kw) / strideW) + 1;
  const g: Pool2dGeometry = { n, c, h, w, kh, kw, oh, ow, strideH, strideW, padH, padW };
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
