/**
 * `Tensor`: the class users hold, with PyTorch's methods as one-line calls into the ops, the
 * factories (`tensor`, `Tensor.zeros`, ...), and the ops re-exported as functions.
 *
 * Tensors are always contiguous. `view`, `reshape`, `flatten`, `squeeze`, `unsqueeze` and
 * `detach` share storage with their input (a write through one, by an optimizer step or
 * `loadStateDict`, is seen by the other); `transpose`, `permute`, `narrow`, `select`, `split`,
 * `chunk`, `indexSelect` and `gather` return copies.
 *
 * @module
 */
import type { Device, DType } from "../backend/backend.ts";
import { cpu } from "../backend/device.ts";
import { checkShape, numel } from "../backend/shape.ts";
import { TensorBase } from "../autograd/tensor_base.ts";
import { runBackward } from "../autograd/graph.ts";
import { type Generator, globalGenerator } from "./random.ts";
import { abs } from "../ops/abs.ts";
import { add } from "../ops/add.ts";
import { clamp, type ClampOptions } from "../ops/clamp.ts";
import { clone } from "../ops/clone.ts";
import { eq, ge, gt, le, lt, ne } from "../ops/compare.ts";
import { div } from "../ops/div.ts";
import { exp } from "../ops/exp.ts";
import { gather, indexSelect } from "../ops/gather.ts";
import { log } from "../ops/log.ts";
import { bmm, matmul } from "../ops/matmul.ts";
import { argmax, argmin, max, min } from "../ops/max_min.ts";
import { mean } from "../ops/mean.ts";
import { mul } from "../ops/mul.ts";
import { chunk, narrow, select, split } from "../ops/narrow.ts";
import { neg } from "../ops/neg.ts";
import { pow } from "../ops/pow.ts";
import { relu } from "../ops/relu.ts";
import { flatten, squeeze, unsqueeze } from "../ops/reshape.ts";
import { sigmoid } from "../ops/sigmoid.ts";
import { logSoftmax, softmax } from "../ops/softmax.ts";
import { sqrt } from "../ops/sqrt.ts";
import { sub } from "../ops/sub.ts";
import { type ReduceOptions, sum } from "../ops/sum.ts";
import { tanh } from "../ops/tanh.ts";
import { to } from "../ops/to.ts";
import { contiguous, permute, transpose } from "../ops/transpose.ts";
import { variance, type VarOptions } from "../ops/var.ts";
import { view } from "../ops/view.ts";
import { where } from "../ops/where.ts";

export type { DType } from "../backend/backend.ts";
export { fmtShape } from "../backend/shape.ts";
export { abs } from "../ops/abs.ts";
export { add } from "../ops/add.ts";
export { cat, stack } from "../ops/cat.ts";
export { clamp, type ClampOptions } from "../ops/clamp.ts";
export { clone } from "../ops/clone.ts";
export { eq, ge, gt, le, lt, ne } from "../ops/compare.ts";
export { div } from "../ops/div.ts";
export { exp } from "../ops/exp.ts";
export { gather, indexSelect } from "../ops/gather.ts";
export { log } from "../ops/log.ts";
export { bmm, matmul } from "../ops/matmul.ts";
export { argmax, argmin, max, min } from "../ops/max_min.ts";
export { mean } from "../ops/mean.ts";
export { mul } from "../ops/mul.ts";
export { chunk, narrow, select, split } from "../ops/narrow.ts";
export { neg } from "../ops/neg.ts";
export { pow } from "../ops/pow.ts";
export { relu } from "../ops/relu.ts";
export { flatten, squeeze, unsqueeze } from "../ops/reshape.ts";
export { sigmoid } from "../ops/sigmoid.ts";
export { logSoftmax, softmax } from "../ops/softmax.ts";
export { sqrt } from "../ops/sqrt.ts";
export { sub } from "../ops/sub.ts";
export { type ReduceOptions, sum } from "../ops/sum.ts";
export { tanh } from "../ops/tanh.ts";
export { to } from "../ops/to.ts";
export { contiguous, permute, transpose } from "../ops/transpose.ts";
export { variance, type VarOptions } from "../ops/var.ts";
export { view } from "../ops/view.ts";
export { where } from "../ops/where.ts";

/** Options for creating a tensor. */
export interface TensorOptions {
  /** Element type; defaults to the typed array's type, else "float32". */
  dtype?: DType;
  /** Record operations on this tensor for `backward()` (float tensors only). */
  requiresGrad?: boolean;
  /** Where the tensor lives; defaults to the CPU. */
  device?: Device;
}

/**
 * An n-d array on a device, tracked by autograd when it requires grad. Its methods are
 * one-line calls into the ops (src/ops), which are also exported as functions.
 *
 * @example
 * ```ts
 * import { tensor } from "@convnet/convnet";
 * const w = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const loss = w.mul(w).sum();
 * loss.backward();
 * console.log(w.grad!.toArray()); // Float32Array [2, 4, 6, 8]
 * ```
 */
export class Tensor extends TensorBase {
  // ---- creation ----

  /**
   * A tensor of zeros.
   *
   * @example
   * ```ts
   * import { Tensor } from "@convnet/convnet";
   * const z = Tensor.zeros([2, 3]);
   * ```
   */
  static zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 0, opts);
  }

  /**
   * A tensor of ones.
   *
   * @example
   * ```ts
   * import { Tensor } from "@convnet/convnet";
   * const o = Tensor.ones([4]);
   * ```
   */
  static ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 1, opts);
  }

  /**
   * A tensor filled with `value`.
   *
   * @example
   * ```ts
   * import { Tensor } from "@convnet/convnet";
   * const t = Tensor.full([2, 2], 0.5);
   * ```
   */
  static full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
    checkShape("Tensor.full", shape);
    const dev = opts.device ?? cpu;
    const dtype = opts.dtype ?? "float32";
    const size = numel(shape);
    const s = dev.backend.alloc(dtype, size);
    if (value !== 0) dev.backend.fill(s, value, size);
    return new Tensor(s, shape, dtype, dev, opts.requiresGrad ?? false);
  }

  /**
   * Standard normal samples from the seeded global generator (or `generator`).
   *
   * @example
   * ```ts
   * import { manualSeed, Tensor } from "@convnet/convnet";
   * manualSeed(0);
   * const x = Tensor.randn([2, 3]);
   * ```
   */
  static randn(shape: readonly number[], opts: TensorOptions & { generator?: Generator } = {}): Tensor {
    checkShape("Tensor.randn", shape);
    const g = opts.generator ?? globalGenerator();
    const v = new Float64Array(numel(shape));
    for (let i = 0; i < v.length; i++) v[i] = g.normal();
    return fromHostValues(v, shape, opts);
  }

  /**
   * Uniform samples in [low, high) from the seeded global generator, drawn exactly as
   * PyTorch's `torch.empty(shape).uniform_(low, high)` draws them.
   *
   * @example
   * ```ts
   * import { manualSeed, Tensor } from "@convnet/convnet";
   * manualSeed(0);
   * const x = Tensor.rand([5]); // 0.4963, 0.7682, ... as torch.rand(5) after torch.manual_seed(0)
   * ```
   */
  static rand(
    shape: readonly number[],
    opts: TensorOptions & { low?: number; high?: number; generator?: Generator } = {},
  ): Tensor {
    checkShape("Tensor.rand", shape);
    const g = opts.generator ?? globalGenerator();
    const low = opts.low ?? 0, high = opts.high ?? 1;
    const v = new Float32Array(numel(shape));
    for (let i = 0; i < v.length; i++) v[i] = g.uniform(low, high);
    return fromHostValues(v, shape, opts);
  }

  /** A copy on `dev` (this tensor when already there); see {@linkcode to}. */
  to(dev: Device): Tensor {
    return to(this, dev);
  }

  /** A copy with its own storage; see {@linkcode clone}. */
  clone(): Tensor {
    return clone(this);
  }

  /** The same storage with another shape; see {@linkcode view}. */
  view(shape: readonly number[]): Tensor {
    return view(this, shape);
  }

  /** Same as `view`: tensors are always contiguous, so reshaping never copies. */
  reshape(shape: readonly number[]): Tensor {
    return view(this, shape);
  }

  /** Dimensions `startDim..endDim` merged into one (a view); see {@linkcode flatten}. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return flatten(this, startDim, endDim);
  }

  /** Without size-1 dimensions (all, or `dim`; a view); see {@linkcode squeeze}. */
  squeeze(dim?: number): Tensor {
    return squeeze(this, dim);
  }

  /** With a size-1 dimension inserted at `dim` (a view); see {@linkcode unsqueeze}. */
  unsqueeze(dim: number): Tensor {
    return unsqueeze(this, dim);
  }

  /** Dimensions `dim0` and `dim1` swapped (a copy); see {@linkcode transpose}. */
  transpose(dim0: number, dim1: number): Tensor {
    return transpose(this, dim0, dim1);
  }

  /** Dimensions reordered (a copy); see {@linkcode permute}. */
  permute(dims: readonly number[]): Tensor {
    return permute(this, dims);
  }

  /** This tensor: tensors here are always contiguous; see {@linkcode contiguous}. */
  contiguous(): Tensor {
    return contiguous(this);
  }

  /** `length` entries of `dim` from `start` (a copy); see {@linkcode narrow}. */
  narrow(dim: number, start: number, length: number): Tensor {
    return narrow(this, dim, start, length);
  }

  /** Entry `index` of `dim`, the dimension removed (a copy); see {@linkcode select}. */
  select(dim: number, index: number): Tensor {
    return select(this, dim, index);
  }

  /** Pieces along `dim` (copies); see {@linkcode split}. */
  split(splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    return split(this, splitSizeOrSections, dim);
  }

  /** `chunks` nearly equal pieces along `dim` (copies); see {@linkcode chunk}. */
  chunk(chunks: number, dim = 0): Tensor[] {
    return chunk(this, chunks, dim);
  }

  /** The entries of `dim` listed by the int32 `index`; see {@linkcode indexSelect}. */
  indexSelect(dim: number, index: TensorBase): Tensor {
    return indexSelect(this, dim, index);
  }

  /** Values picked along `dim` by an int32 `index`; see {@linkcode gather}. */
  gather(dim: number, index: TensorBase): Tensor {
    return gather(this, dim, index);
  }

  /** This where `condition` is non-zero, else `other`; see {@linkcode where}. */
  where(condition: TensorBase, other: TensorBase): Tensor {
    return where(condition, this, other);
  }

  /** `this + other` with broadcasting; see {@linkcode add}. */
  add(other: TensorBase | number): Tensor {
    return add(this, other);
  }

  /** `this - other` with broadcasting; see {@linkcode sub}. */
  sub(other: TensorBase | number): Tensor {
    return sub(this, other);
  }

  /** `this * other` elementwise with broadcasting; see {@linkcode mul}. */
  mul(other: TensorBase | number): Tensor {
    return mul(this, other);
  }

  /** `this / other` elementwise with broadcasting; see {@linkcode div}. */
  div(other: TensorBase | number): Tensor {
    return div(this, other);
  }

  /** `-this`; see {@linkcode neg}. */
  neg(): Tensor {
    return neg(this);
  }

  /** `e^this`; see {@linkcode exp}. */
  exp(): Tensor {
    return exp(this);
  }

  /** The natural logarithm; see {@linkcode log}. */
  log(): Tensor {
    return log(this);
  }

  /** `this ** exponent`; see {@linkcode pow}. */
  pow(exponent: number): Tensor {
    return pow(this, exponent);
  }

  /** The square root; see {@linkcode sqrt}. */
  sqrt(): Tensor {
    return sqrt(this);
  }

  /** The absolute value; see {@linkcode abs}. */
  abs(): Tensor {
    return abs(this);
  }

  /** `max(this, 0)`; see {@linkcode relu}. */
  relu(): Tensor {
    return relu(this);
  }

  /** `1 / (1 + e^-this)`; see {@linkcode sigmoid}. */
  sigmoid(): Tensor {
    return sigmoid(this);
  }

  /** The hyperbolic tangent; see {@linkcode tanh}. */
  tanh(): Tensor {
    return tanh(this);
  }

  /** Values limited to `[min, max]`; see {@linkcode clamp}. */
  clamp(opts: ClampOptions): Tensor {
    return clamp(this, opts);
  }

  /** 1 where `this == other`, else 0 (int32); see {@linkcode eq}. */
  eq(other: TensorBase | number): Tensor {
    return eq(this, other);
  }

  /** 1 where `this != other`, else 0 (int32); see {@linkcode ne}. */
  ne(other: TensorBase | number): Tensor {
    return ne(this, other);
  }

  /** 1 where `this > other`, else 0 (int32); see {@linkcode gt}. */
  gt(other: TensorBase | number): Tensor {
    return gt(this, other);
  }

  /** 1 where `this < other`, else 0 (int32); see {@linkcode lt}. */
  lt(other: TensorBase | number): Tensor {
    return lt(this, other);
  }

  /** 1 where `this >= other`, else 0 (int32); see {@linkcode ge}. */
  ge(other: TensorBase | number): Tensor {
    return ge(this, other);
  }

  /** 1 where `this <= other`, else 0 (int32); see {@linkcode le}. */
  le(other: TensorBase | number): Tensor {
    return le(this, other);
  }

  /** The sum over all elements or `dims`; see {@linkcode sum}. */
  sum(dims?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
    return sum(this, dims, opts);
  }

  /** The mean over all elements or `dims`; see {@linkcode mean}. */
  mean(dims?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
    return mean(this, dims, opts);
  }

  /** The variance over all elements or `dims` (unbiased by default); see {@linkcode variance}. */
  var(dims?: number | readonly number[], opts: VarOptions = {}): Tensor {
    return variance(this, dims, opts);
  }

  /** The largest element, overall or along `dim`; see {@linkcode max}. */
  max(dim?: number, opts: ReduceOptions = {}): Tensor {
    return max(this, dim, opts);
  }

  /** The smallest element, overall or along `dim`; see {@linkcode min}. */
  min(dim?: number, opts: ReduceOptions = {}): Tensor {
    return min(this, dim, opts);
  }

  /** The index of the largest element along `dim` (int32); see {@linkcode argmax}. */
  argmax(dim: number, opts: ReduceOptions = {}): Tensor {
    return argmax(this, dim, opts);
  }

  /** The index of the smallest element along `dim` (int32); see {@linkcode argmin}. */
  argmin(dim: number, opts: ReduceOptions = {}): Tensor {
    return argmin(this, dim, opts);
  }

  /** Softmax along `dim`; see {@linkcode softmax}. */
  softmax(dim: number): Tensor {
    return softmax(this, dim);
  }

  /** Log-softmax along `dim`; see {@linkcode logSoftmax}. */
  logSoftmax(dim: number): Tensor {
    return logSoftmax(this, dim);
  }

  /** Matrix product, batched over leading dimensions; see {@linkcode matmul}. */
  matmul(other: TensorBase): Tensor {
    return matmul(this, other);
  }

  /** Batched product of two 3-d tensors; see {@linkcode bmm}. */
  bmm(other: TensorBase): Tensor {
    return bmm(this, other);
  }

  /**
   * Computes the gradients of this tensor with respect to every leaf that requires grad,
   * accumulating them into the leaves' `.grad`. Without `grad`, the tensor must hold one
   * element (a loss). The recorded graph and the activations it saved are released afterwards.
   *
   * @example
   * ```ts
   * import { tensor } from "@convnet/convnet";
   * const x = tensor([3], [1], { requiresGrad: true });
   * x.mul(x).sum().backward();
   * x.grad!.item(); // 6
   * ```
   */
  backward(grad?: TensorBase): void {
    runBackward(this, grad);
  }
}

/** A tensor of `shape` holding `values` converted to `opts.dtype` (default float32). */
function fromHostValues(values: Float32Array | Float64Array, shape: readonly number[], opts: TensorOptions): Tensor {
  const dtype = opts.dtype ?? "float32";
  const host = dtype === "float32"
    ? Float32Array.from(values)
    : dtype === "float64"
    ? Float64Array.from(values)
    : dtype === "int64"
    ? BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)))
    : Int32Array.from(values);
  const dev = opts.device ?? cpu;
  return new Tensor(dev.backend.fromHost(dtype, host), shape, dtype, dev, opts.requiresGrad ?? false);
}
