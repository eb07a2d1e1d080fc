/**
 * The kernel contract: everything a backend must compute.
 *
 * Kernels work on flat, contiguous buffers with explicit sizes (NCHW). A backend
 * owns its storage type (typed arrays for the TypeScript backend, device pointers
 * for CUDA); autograd, layers and optimizers call only this interface and never
 * know which backend runs. Outputs come first, then inputs, then sizes.
 *
 * @module
 */

/** Element types a tensor can hold. `float64` exists for gradient checks on the TypeScript backend. */
export type DType = "float32" | "float64" | "int32";

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

/** Geometry of a 2-d pooling over [n, c, h, w] producing [n, c, oh, ow]. */
export interface Pool2dGeometry {
  /** Batch size. */
  n: number;
  /** Input channels. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
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
}

/** The three poolings of the seed article. */
export type PoolKind = "max" | "avg" | "sum";

/** Unary elementwise ops. */
export type UnaryOp = "neg" | "exp" | "log" | "relu" | "sqrt" | "abs";

/** Binary elementwise ops (with broadcasting). `reluGrad` is `a * (b > 0)`; `eq` gives 1 or 0. */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "eq" | "reluGrad";

/** Ops between a tensor and a scalar `s`: `x + s`, `x - s`, `s - x`, `x * s`, `x / s`, `s / x`, `x ** s`. */
export type ScalarOp = "add" | "sub" | "rsub" | "mul" | "div" | "rdiv" | "pow";

/** Reductions over the middle axis of a tensor viewed as [outer, n, inner]. */
export type ReduceOp = "sum" | "max" | "argmax";

/**
 * Strided layout of a broadcast operand: for each output dimension, the step in
 * the operand's flat buffer (0 where the operand is broadcast).
 */
export interface Broadcast {
  /** The output shape. */
  shape: readonly number[];
  /** Strides of operand a per output dimension (0 = broadcast). */
  aStrides: readonly number[];
  /** Strides of operand b per output dimension (0 = broadcast). */
  bStrides: readonly number[];
}

/** Hyper-parameters of one Adadelta step (PyTorch's formula). */
export interface AdadeltaParams {
  /** Learning rate. */
  lr: number;
  /** Decay of the running averages. */
  rho: number;
  /** Added for numerical stability. */
  eps: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
}

/** The tensors of one multi-tensor Adadelta step: entry i of every list belongs to one parameter. */
export interface AdadeltaTensors<S> {
  /** Parameters, updated in place. */
  params: S[];
  /** Their gradients. */
  grads: S[];
  /** Running averages of squared gradients. */
  squareAvgs: S[];
  /** Running averages of squared updates. */
  accDeltas: S[];
  /** Element counts. */
  sizes: number[];
}

/** The tensors of one multi-tensor SGD step. */
export interface SgdTensors<S> {
  /** Parameters, updated in place. */
  params: S[];
  /** Their gradients. */
  grads: S[];
  /** Momentum buffers, or null when momentum is 0. */
  momentumBufs: S[] | null;
  /** Element counts. */
  sizes: number[];
}

/** The tensors of one multi-tensor Adam step. */
export interface AdamTensors<S> {
  /** Parameters, updated in place. */
  params: S[];
  /** Their gradients. */
  grads: S[];
  /** First-moment averages. */
  expAvgs: S[];
  /** Second-moment averages. */
  expAvgSqs: S[];
  /** Running maxima of the second moment (AMSGrad), or null. */
  maxExpAvgSqs: S[] | null;
  /** Element counts. */
  sizes: number[];
}

/** Hyper-parameters of one SGD step (PyTorch's formula). `first` is true on the step that creates the momentum buffer. */
export interface SgdParams {
  /** Learning rate. */
  lr: number;
  /** Momentum factor. */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** True on the first step (the buffer is initialised to the gradient). */
  first: boolean;
}

/** Hyper-parameters of one Adam step (PyTorch's formula); `step` counts from 1. */
export interface AdamParams {
  /** Learning rate. */
  lr: number;
  /** Decay of the first-moment average. */
  beta1: number;
  /** Decay of the second-moment average. */
  beta2: number;
  /** Added for numerical stability. */
  eps: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Use the running maximum of the second moment. */
  amsgrad: boolean;
  /** Step count, from 1. */
  step: number;
}

/**
 * A backend: storage management plus the kernels. `S` is its storage type.
 * Every kernel writes only its outputs; inputs are never modified.
 */
export interface Backend<S = unknown> {
  /** Short name: "ts" or "cuda". */
  readonly name: string;
  /** Allocates `size` zeroed elements of `dtype`. */
  alloc(dtype: DType, size: number): S;
  /** Copies host values into new storage. */
  fromHost(dtype: DType, values: Float32Array | Float64Array | Int32Array): S;
  /** Copies storage back to the host (synchronizes). */
  toHost(dtype: DType, s: S, size: number): Float32Array | Float64Array | Int32Array;
  /** Returns storage to the backend; the handle must not be used again. */
  free(s: S): void;

  /** `out = value` everywhere. */
  fill(out: S, value: number, size: number): void;
  /** `out = x` (same dtype and size). */
  copy(out: S, x: S, size: number): void;
  /** `out = cast(x)` between dtypes. */
  cast(out: S, outType: DType, x: S, xType: DType, size: number): void;
  /** `out = op(x)`. */
  unary(op: UnaryOp, out: S, x: S, size: number): void;
  /** `out = op(a, b)` with broadcasting described by `bc`. */
  binary(op: BinaryOp, out: S, a: S, b: S, bc: Broadcast): void;
  /** `out = op(x, s)`. */
  scalar(op: ScalarOp, out: S, x: S, s: number, size: number): void;
  /** `out += x` in place (gradient accumulation). */
  addInPlace(out: S, x: S, size: number): void;
  /** Reduces [outer, n, inner] over n into [outer, inner]; argmax writes int32 indices. */
  reduce(op: ReduceOp, out: S, x: S, outer: number, n: number, inner: number): void;
  /** Materialises `x` broadcast to `bc.shape` (strides in `bc.aStrides`). */
  expand(out: S, x: S, bc: Broadcast): void;

  /**
   * `c = alpha · op(a) · op(b) + beta · c` with `c` [m, n]; `op(a)` is [m, k] (`a` stored [k, m]
   * when `transA`), `op(b)` is [k, n] (`b` stored [n, k] when `transB`).
   */
  gemm(
    c: S,
    a: S,
    b: S,
    opts: { m: number; n: number; k: number; transA: boolean; transB: boolean; alpha: number; beta: number },
  ): void;

  /** `y = conv2d(x, w) + bias` (bias may be null). */
  conv2dForward(y: S, x: S, w: S, bias: S | null, g: Conv2dGeometry): void;
  /** `dx = ∂(Σ y·dy)/∂x`. */
  conv2dBackwardInput(dx: S, dy: S, w: S, g: Conv2dGeometry): void;
  /** `dw = ∂(Σ y·dy)/∂w`. */
  conv2dBackwardWeight(dw: S, dy: S, x: S, g: Conv2dGeometry): void;
  /** `db[k] = Σ dy[:, k, :, :]`. */
  conv2dBackwardBias(db: S, dy: S, g: Conv2dGeometry): void;

  /** Pools `x` into `y`; for max pooling `indices` (int32, same size as `y`) receives each window's argmax within its plane. */
  pool2dForward(kind: PoolKind, y: S, indices: S | null, x: S, g: Pool2dGeometry): void;
  /** Scatters `dy` back to `dx` (overwritten); max pooling uses `indices` from the forward pass. */
  pool2dBackward(kind: PoolKind, dx: S, dy: S, indices: S | null, g: Pool2dGeometry): void;

  /**
   * Fused log-softmax + negative log-likelihood, mean over the batch: writes the scalar loss
   * and the log-probabilities (saved for backward). Targets are int32 class indices in [0, c).
   */
  logSoftmaxNllForward(loss: S, logp: S, logits: S, targets: S, n: number, c: number): void;
  /** `dlogits = (softmax − onehot(targets)) · dloss / n`, with `dloss` a one-element buffer. */
  logSoftmaxNllBackward(dlogits: S, logp: S, targets: S, dloss: S, n: number, c: number): void;

  /** One Adadelta step, in place, on several tensors sharing hyper-parameters (one launch on a GPU). */
  adadeltaStep(t: AdadeltaTensors<S>, p: AdadeltaParams): void;
  /** One SGD step, in place, on several tensors sharing hyper-parameters. */
  sgdStep(t: SgdTensors<S>, p: SgdParams): void;
  /** One Adam step, in place, on several tensors sharing hyper-parameters and step count. */
  adamStep(t: AdamTensors<S>, p: AdamParams): void;

  /** Copies raw bytes (a dataset kept on the device) into new storage. */
  uploadBytes(bytes: Uint8Array): S;
  /**
   * Builds a batch: `images[b, :] = (bytes[idx[b], :] / 255 − mean) / std` in float32 and
   * `labels[b] = labelBytes[idx[b]]` (int32), for `idx` a host array of sample indices.
   */
  gatherNormalize(
    images: S,
    labels: S,
    bytes: S,
    labelBytes: S,
    idx: Int32Array,
    opts: { pixels: number; mean: number; std: number },
  ): void;
}
