/**
 * The backend contract: what a device must compute, and what it may compute faster.
 *
 * A backend has **primitives**, which every backend implements and every op can be written
 * from (storage, elementwise unary/binary/scalar with broadcasting, comparisons and `where`,
 * reductions, strided copies, gemm and batched gemm, gather/scatter along an axis, random fill),
 * and **fused kernels**, which are optional: an op calls one when the backend has it and runs
 * its composite (the same math from primitives) when it does not.
 *
 * Kernels work on flat buffers with explicit sizes (NCHW). A backend owns its storage type
 * (typed arrays for the TypeScript backend, device pointers for CUDA). Outputs come first, then
 * inputs, then sizes. Every kernel writes only its outputs; inputs are never modified.
 * The op codes (`UnaryOp`, `BinaryOp`, ...) come from one table, native/ops.def.
 *
 * @module
 */
import type { BinaryOp, ReduceOp, ScalarOp, UnaryOp } from "./_ops_table.ts";
import type { Conv2dGeometry, Pool2dGeometry, PoolKind } from "./geometry.ts";

export type { BinaryOp, ReduceOp, ScalarOp, UnaryOp } from "./_ops_table.ts";
export type { Conv2dGeometry, Conv2dGeometryOptions, Pool2dGeometry, PoolKind } from "./geometry.ts";
export { conv2dGeometry } from "./geometry.ts";

/**
 * Element types a tensor can hold. `float64` exists for gradient checks on the TypeScript backend;
 * `int64` is storage only (PyTorch's `num_batches_tracked`, safetensors `I64`): create, copy, cast,
 * move, save and load it; arithmetic on it is an error.
 */
export type DType = "float32" | "float64" | "int32" | "int64";

/** A host copy of storage: the typed array of its dtype. */
export type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

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

/** The layout of {@linkcode Backend.where}: the output shape and each operand's strides (0 = broadcast). */
export interface WhereLayout {
  /** The output shape. */
  shape: readonly number[];
  /** Strides of the int32 condition. */
  condStrides: readonly number[];
  /** Strides of the value taken where the condition is non-zero. */
  aStrides: readonly number[];
  /** Strides of the value taken where it is zero. */
  bStrides: readonly number[];
}

/**
 * The layout of {@linkcode Backend.copyStrided}: for every index `i` of `shape`,
 * `out[outOffset + Σ i_d·outStrides_d] = x[xOffset + Σ i_d·xStrides_d]` (or `+=` when
 * `accumulate`). Views, transposes, slices, concatenation and broadcasting are all this copy.
 * With `accumulate`, distinct indices must not write the same output element.
 */
export interface StridedCopy {
  /** The index space. */
  shape: readonly number[];
  /** Steps in `out` per dimension. */
  outStrides: readonly number[];
  /** First element written in `out`. */
  outOffset: number;
  /** Steps in `x` per dimension (0 = broadcast). */
  xStrides: readonly number[];
  /** First element read in `x`. */
  xOffset: number;
  /** Add into `out` instead of overwriting (default false). */
  accumulate?: boolean;
}

/**
 * The geometry of {@linkcode Backend.gather} and {@linkcode Backend.scatterAdd} along one axis:
 * the source viewed as [outer, n, inner], index and gathered values as [outer, m, inner].
 */
export interface AxisGeometry {
  /** Product of the dimensions before the axis. */
  outer: number;
  /** The axis's length in the source (indices must lie in [0, n)). */
  n: number;
  /** The axis's length in the index. */
  m: number;
  /** Product of the dimensions after the axis. */
  inner: number;
}

/** Options of {@linkcode Backend.gemm}: `c = alpha · op(a) · op(b) + beta · c`, `batch` times. */
export interface GemmOptions {
  /** Rows of `c` and of `op(a)`. */
  m: number;
  /** Columns of `c` and of `op(b)`. */
  n: number;
  /** Columns of `op(a)`, rows of `op(b)`. */
  k: number;
  /** `a` is stored [k, m]. */
  transA: boolean;
  /** `b` is stored [n, k]. */
  transB: boolean;
  /** Scale of the product. */
  alpha: number;
  /** Scale of the old `c` (0: `c` is overwritten, never read). */
  beta: number;
  /** Independent products (default 1). */
  batch?: number;
  /** Elements between consecutive matrices of `a` (0 = the same matrix for every batch; default m·k). */
  strideA?: number;
  /** Elements between consecutive matrices of `b` (0 = shared; default k·n). */
  strideB?: number;
  /** Elements between consecutive matrices of `c` (default m·n). */
  strideC?: number;
}

/**
 * A counter-based random fill (Philox4x32-10): element `i` takes word `i mod 4` of
 * philox(key = `seed`, counter = [⌊i/4⌋ + `offset` as 64 bits, 0, 0]), so the same seed and offset
 * give the same numbers on every backend, with no state on the device. `uniform`: u = (word >> 8)·2⁻²⁴
 * in [0, 1), then `low + u·(high − low)` rounded to float32 step by step; `bernoulli`: 1 where
 * u < p (p rounded to float32), else 0; `normal`: Box–Muller on word pairs (2j, 2j+1), equal across
 * backends up to the last bits of log/cos/sin.
 */
export interface RandomFill {
  /** The distribution. */
  distribution: "uniform" | "normal" | "bernoulli";
  /** The 64-bit key. */
  seed: bigint;
  /** Counter offset: a caller that fills n elements and then fills again passes offset + ⌈n / 4⌉. */
  offset: number;
  /** uniform: lower bound (default 0); normal: mean (default 0). */
  low?: number;
  /** uniform: upper bound (default 1). */
  high?: number;
  /** normal: standard deviation (default 1). */
  std?: number;
  /** bernoulli: probability of a 1. */
  p?: number;
}

/**
 * int64 elements of a random generator's device state (StepKernels.randomFillState): the seed's 64
 * bits, the offset, then the kernel's own slot (0 between launches) and one unused.
 */
export const RNG_STATE_SLOTS = 4;

/**
 * Doubles in an optimizer's device hyper-parameter buffer (int64 storage of this many elements
 * holding the doubles' bits): Adadelta's lr, rho, eps, weightDecay; SGD's lr, momentum, dampening,
 * weightDecay, nesterov (0 or 1); Adam's lr, beta1, beta2, eps, weightDecay, the steps taken (which
 * each Adam launch advances on the device) and AdamW's decoupled weight decay (the parameters first
 * scaled by `1 − lr·decay`, as AdamW's separate multiply; a slot only the device buffer has: other
 * backends' callers decay first). The last slot is the kernels' own (0 between launches).
 */
export const OPT_HYPER_SLOTS = 8;

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
  /**
   * The hyper-parameters in device memory, where the backend's kernels read them (CUDA; see
   * OPT_HYPER_SLOTS in backend.ts): the caller has written this step's values there. Absent: the
   * backend writes the values of `p` to a buffer of its own.
   */
  hyper?: S;
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
  /**
   * The hyper-parameters in device memory, where the backend's kernels read them (CUDA; see
   * OPT_HYPER_SLOTS in backend.ts): the caller has written this step's values there. Absent: the
   * backend writes the values of `p` to a buffer of its own.
   */
  hyper?: S;
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
  /**
   * The hyper-parameters in device memory, where the backend's kernels read them (CUDA; see
   * OPT_HYPER_SLOTS in backend.ts): the caller has written this step's values there. Absent: the
   * backend writes the values of `p` to a buffer of its own.
   */
  hyper?: S;
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
 * A backend: storage, the primitives, and optional fused kernels. `S` is its storage type.
 */
export interface Backend<S = unknown> extends Primitives<S>, FusedKernels<S>, FusedPasses<S> {}

/**
 * Several ops in one pass over memory, optional: an op that uses one runs the ops one by one
 * where it is missing (the CUDA backend has none). Each gives the unfused ops' numbers bit for bit.
 */
export interface FusedPasses<S = unknown> {
  /**
   * `y = maxPool2d(relu(conv2d(x, w) + bias))` without writing the convolution's output: `pool`
   * pools the [n, k, oh, ow] output of `conv`, and `indices` (int32, same size as `y`) receives
   * each window's argmax within its plane, as `pool2dForward` does.
   */
  conv2dReluMaxPool2dForward?(
    y: S,
    indices: S,
    x: S,
    w: S,
    bias: S | null,
    conv: Conv2dGeometry,
    pool: Pool2dGeometry,
  ): void;
  /** The gradient at the convolution's output (overwritten): `dy` at each window's argmax where `y > 0`, else 0. */
  maxPool2dReluBackward?(dconv: S, dy: S, y: S, indices: S, pool: Pool2dGeometry): void;
}

/** What every backend implements. Comparison ops (`eq ne gt lt ge le`) write int32 0/1. */
export interface Primitives<S = unknown> {
  /** Short name: "ts", "ts-reference" or "cuda". */
  readonly name: string;
  /** Allocates `size` zeroed elements of `dtype`. */
  alloc(dtype: DType, size: number): S;
  /** Copies host values into new storage (a BigInt64Array for int64). */
  fromHost(dtype: DType, values: HostArray): S;
  /** Copies storage back to the host (synchronizes). */
  toHost(dtype: DType, s: S, size: number): HostArray;
  /** Returns storage to the backend; the handle must not be used again. */
  free(s: S): void;

  /** `out = value` everywhere. */
  fill(out: S, value: number, size: number): void;
  /** `out = x` (same dtype and size). */
  copy(out: S, x: S, size: number): void;
  /** `out = cast(x)` between dtypes; float to integer truncates toward zero. */
  cast(out: S, outType: DType, x: S, xType: DType, size: number): void;
  /** `out = op(x)`. */
  unary(op: UnaryOp, out: S, x: S, size: number): void;
  /** `out = op(a, b)` with broadcasting described by `bc`. */
  binary(op: BinaryOp, out: S, a: S, b: S, bc: Broadcast): void;
  /** `out = op(x, s)`. */
  scalar(op: ScalarOp, out: S, x: S, s: number, size: number): void;
  /** `out = cond ? a : b` elementwise with broadcasting; `cond` is int32 (non-zero = true). */
  where(out: S, cond: S, a: S, b: S, layout: WhereLayout): void;
  /** `out += x` in place (gradient accumulation). */
  addInPlace(out: S, x: S, size: number): void;
  /** Reduces [outer, n, inner] over n into [outer, inner]; argmax/argmin write int32 (the first extreme). */
  reduce(op: ReduceOp, out: S, x: S, outer: number, n: number, inner: number): void;
  /** Copies (or adds) a strided index space of `x` into a strided index space of `out`. */
  copyStrided(out: S, x: S, layout: StridedCopy): void;
  /**
   * `c = alpha · op(a) · op(b) + beta · c` with `c` [m, n]; `op(a)` is [m, k] (`a` stored [k, m]
   * when `transA`), `op(b)` is [k, n] (`b` stored [n, k] when `transB`); `batch` of them.
   */
  gemm(c: S, a: S, b: S, opts: GemmOptions): void;
  /**
   * `out[o, j, i] = x[o, index[o, j, i], i]`; an index outside [0, n) is an error naming it
   * (reported by the next call that waits on CUDA).
   */
  gather(out: S, x: S, index: S, geom: AxisGeometry): void;
  /** `out[o, index[o, j, i], i] += src[o, j, i]` (out is not cleared first). */
  scatterAdd(out: S, src: S, index: S, geom: AxisGeometry): void;
  /** Fills `out` (float32 or float64) with counter-based random numbers. */
  randomFill(out: S, size: number, opts: RandomFill): void;
}

/**
 * A device backend's kernels that save launches in a training step, optional and outside `Backend`
 * (the CPU backends have none): the DataLoader and the ops use one when `device.backend` has it.
 */
export interface StepKernels<S = unknown> {
  /**
   * Overwrites the first `values.length` elements of `out` with host values, in stream order (the
   * kernels queued before read the old values, those queued after the new). Its presence also says
   * that the optimizer kernels read `hyper` (OPT_HYPER_SLOTS): the optimizers then keep their
   * hyper-parameters in device buffers that a captured graph reads at each replay.
   */
  upload?(out: S, values: HostArray): void;
  /**
   * `randomFill` with the seed and offset read from `state` (int64 storage of RNG_STATE_SLOTS
   * elements: seed, offset, 0) when the kernel runs; the launch advances the offset there by
   * ⌈size / 4⌉, as the generator on the host advances its own. So a captured graph's replays draw
   * new numbers, and a dropout can be captured. float32 `out` only.
   */
  randomFillState?(out: S, size: number, state: S, opts: Omit<RandomFill, "seed" | "offset">): void;
  /**
   * One batch's rows of each source: `outs[s][r, ...] = sources[s][index[r], ...]`, each source
   * holding `n` rows of `rowSizes[s]` 4-byte elements (float32 or int32; at most two sources), the
   * indices read on the host (a GPU passes them in the launch: no upload, one launch for both).
   * Without it: an index upload and one `gather` per source.
   */
  gatherRows?(outs: S[], sources: S[], rowSizes: number[], n: number, index: Int32Array): void;
  /**
   * `logSoftmaxNllForward`, and `dunit` = `logSoftmaxNllBackward`'s output for `dloss` = 1, bit for
   * bit (in the forward's launch on a GPU): `backward()` on the loss then needs no fill and no launch.
   */
  logSoftmaxNllForwardGrad?(loss: S, logp: S, dunit: S, logits: S, targets: S, n: number, c: number): void;
  /**
   * A Linear layer's forward, `y[rows, out] = x[rows, in] · w[out, in]ᵀ + bias` (bias may be null):
   * the bits of `gemm` and the broadcast `add` (on a GPU, one launch where the GEMM is dot products).
   */
  linearForward?(y: S, x: S, w: S, bias: S | null, rows: number, outFeatures: number, inFeatures: number): void;
  /**
   * A Linear layer's weight and bias gradients, `dw[out, in] = dyᵀ · x` and `db` = the column sums of
   * `dy[rows, out]`: the bits of `gemm` and `reduce` (on a GPU, one launch for a small batch).
   */
  linearBackwardWeightBias?(dw: S, db: S, dy: S, x: S, rows: number, outFeatures: number, inFeatures: number): void;
  /** `conv2dBackwardWeight` and `conv2dBackwardBias` together, their bits (one launch on a GPU where neither splits). */
  conv2dBackwardWeightBias?(dw: S, db: S, dy: S, x: S, g: Conv2dGeometry): void;
}

/** Kernels a backend may have; each op that uses one has a composite for when it is missing. */
export interface FusedKernels<S = unknown> {
  /** `y = conv2d(x, w) + bias` (bias may be null). */
  conv2dForward?(y: S, x: S, w: S, bias: S | null, g: Conv2dGeometry): void;
  /** `dx = ∂(Σ y·dy)/∂x`. */
  conv2dBackwardInput?(dx: S, dy: S, w: S, g: Conv2dGeometry): void;
  /** `dw = ∂(Σ y·dy)/∂w`. */
  conv2dBackwardWeight?(dw: S, dy: S, x: S, g: Conv2dGeometry): void;
  /** `db[k] = Σ dy[:, k, :, :]`. */
  conv2dBackwardBias?(db: S, dy: S, g: Conv2dGeometry): void;

  /** Pools `x` into `y`; for max pooling `indices` (int32, same size as `y`) receives each window's argmax within its plane. */
  pool2dForward?(kind: PoolKind, y: S, indices: S | null, x: S, g: Pool2dGeometry): void;
  /** Scatters `dy` back to `dx` (overwritten); max pooling uses `indices` from the forward pass. */
  pool2dBackward?(kind: PoolKind, dx: S, dy: S, indices: S | null, g: Pool2dGeometry): void;

  /** `dx = dy · (x > 0)`: ReLU's backward in one pass (the composite is a comparison and a `where`). */
  reluBackward?(dx: S, dy: S, x: S, size: number): void;

  /**
   * Fused log-softmax + negative log-likelihood, mean over the batch: writes the scalar loss
   * and the log-probabilities (saved for backward). Targets are int32 class indices in [0, c), or −100 (PyTorch's default ignoreIndex): such a row adds nothing and the mean is over the rows kept.
   */
  logSoftmaxNllForward?(loss: S, logp: S, logits: S, targets: S, n: number, c: number): void;
  /** `dlogits = (softmax − onehot(targets)) · dloss / kept` (0 on ignored rows), with `dloss` a one-element buffer. */
  logSoftmaxNllBackward?(dlogits: S, logp: S, targets: S, dloss: S, n: number, c: number): void;

  /** One Adadelta step, in place, on several tensors sharing hyper-parameters (one launch on a GPU). */
  adadeltaStep?(t: AdadeltaTensors<S>, p: AdadeltaParams): void;
  /** One SGD step, in place, on several tensors sharing hyper-parameters. */
  sgdStep?(t: SgdTensors<S>, p: SgdParams): void;
  /** One Adam step, in place, on several tensors sharing hyper-parameters and step count. */
  adamStep?(t: AdamTensors<S>, p: AdamParams): void;
}

/** The kinds of device a tensor can live on. */
export type DeviceType = "cpu" | "cuda";

/**
 * A device: its kind and the backend that computes on it. Get one from `device()`.
 *
 * @example
 * ```ts
 * import { device } from "@convnet/convnet";
 * const dev = device("cpu");
 * console.log(dev.type, dev.backend.name); // "cpu" "ts"
 * ```
 */
export interface Device {
  /** "cpu" (TypeScript loops) or "cuda" (the native library). */
  readonly type: DeviceType;
  /** The backend that runs this device's kernels. */
  readonly backend: Backend;
  /** A short human description, e.g. "cpu (TypeScript backend)". */
  readonly description: string;
  /** The device allocator's numbers (CUDA only; the CPU has none). */
  memory?(): DeviceMemoryInfo;
}

/** What a device's caching allocator holds, as reported by `memory()`. */
export interface DeviceMemoryInfo {
  /** Bytes handed out and not yet freed. */
  bytesInUse: number;
  /** Bytes freed but kept by the allocator for reuse. */
  bytesCached: number;
  /** The most bytes in use at once so far. */
  peakBytesInUse: number;
  /** Blocks handed out and not yet freed. */
  blocks: number;
}
