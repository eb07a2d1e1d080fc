/**
 * Geometry of the convolution and pooling kernels: sizes, strides, padding, the output size as
 * PyTorch computes it. Shared by the ops, the backends and the benchmarks.
 *
 * @module
 */

/** Geometry of a 2-d convolution. `x` is [n, c, h, w], weight [k, c / groups, kh, kw], `y` [n, k, oh, ow]. */
export interface Conv2dGeometry {
  /** Batch size. */
  n: number;
  /** Input channels. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Output channels. */
  k: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Output height. */
  oh: number;
  /** Output width. */
  ow: number;
  /** Vertical stride. */
  strideH: number;
  /** Horizontal stride. */
  strideW: number;
  /** Rows of padding above and below. */
  padH: number;
  /** Columns of padding left and right. */
  padW: number;
  /** Vertical spacing of kernel taps. */
  dilationH: number;
  /** Horizontal spacing of kernel taps. */
  dilationW: number;
  /** Channel groups. */
  groups: number;
}

/** Options of {@linkcode conv2dGeometry}: [vertical, horizontal] pairs, as in `F.conv2d`. */
export interface Conv2dGeometryOptions {
  /** Default [1, 1]. */
  stride?: readonly [number, number];
  /** Default [0, 0]. */
  padding?: readonly [number, number];
  /** Default [1, 1]. */
  dilation?: readonly [number, number];
  /** Default 1. */
  groups?: number;
}

/**
 * The full geometry of a convolution of an [n, c, h, w] input with a [k, c / groups, kh, kw] weight,
 * the output size computed as PyTorch does. Checks nothing: callers validate first.
 */
export function conv2dGeometry(
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  kh: number,
  kw: number,
  opts: Conv2dGeometryOptions = {},
): Conv2dGeometry {
  const [strideH, strideW] = opts.stride ?? [1, 1];
  const [padH, padW] = opts.padding ?? [0, 0];
  const [dilationH, dilationW] = opts.dilation ?? [1, 1];
  const oh = Math.floor((h + 2 * padH - dilationH * (kh - 1) - 1) / strideH) + 1;
  const ow = Math.floor((w + 2 * padW - dilationW * (kw - 1) - 1) / strideW) + 1;
  const groups = opts.groups ?? 1;
  return { n, c, h, w, k, kh, kw, oh, ow, strideH, strideW, padH, padW, dilationH, dilationW, groups };
}

/** Geometry of a 2-d pooling over [n, c, h, w] producing [n, c, oh, ow]: the window fields of a convolution. */
export type Pool2dGeometry = Pick<
  Conv2dGeometry,
  "n" | "c" | "h" | "w" | "kh" | "kw" | "oh" | "ow" | "strideH" | "strideW" | "padH" | "padW"
>;

/** The three poolings of the seed article. */
export type PoolKind = "max" | "avg" | "sum";
