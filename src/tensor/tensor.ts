/**
 * Tensors: contiguous n-d arrays on a device, with reverse-mode autograd.
 *
 * A tensor is a shape, a dtype and a reference-counted storage owned by a backend.
 * Ops that need gradients record a {@linkcode GradNode}: the inputs and a closure
 * that maps the output's gradient to the inputs' gradients. `backward()` sorts the
 * recorded graph, runs the closures in reverse, accumulates into leaves' `.grad`,
 * and then drops the nodes, which releases the activations they saved.
 *
 * @module
 */
import type { Backend, Broadcast, DType, ScalarOp, UnaryOp } from "../backend/backend.ts";
import { cpu, type Device, type DeviceMemoryInfo, openedCudaDevice } from "./device.ts";
import { type Generator, globalGenerator } from "./random.ts";

export type { DType } from "../backend/backend.ts";

/** Values accepted by {@linkcode tensor}: nested arrays of numbers, or a flat typed array. */
export type TensorValues =
  | number
  | readonly number[]
  | readonly (readonly number[])[]
  | readonly NestedNumbers[]
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array;

/** Arbitrarily nested arrays of numbers. */
export type NestedNumbers = number | readonly NestedNumbers[];

/** Options for creating a tensor. */
export interface TensorOptions {
  /** Element type; defaults to the typed array's type, else "float32". */
  dtype?: DType;
  /** Record operations on this tensor for `backward()` (float tensors only). */
  requiresGrad?: boolean;
  /** Where the tensor lives; defaults to the CPU. */
  device?: Device;
}

/** How a non-leaf tensor was computed: what `backward()` needs. */
export interface GradNode {
  /** The op's name, for error messages. */
  readonly op: string;
  /** The op's inputs, in the order `backward` returns their gradients. */
  readonly inputs: readonly Tensor[];
  /** Maps the output's gradient to each input's gradient (null where none is needed). */
  readonly backward: (grad: Tensor) => (Tensor | null)[];
  /** Frees internal buffers saved for backward (argmax indices, log-probabilities). */
  readonly release?: () => void;
}

/** Reference-counted backend storage, shared by a tensor and its views. */
class Storage {
  refs = 1;
  constructor(
    readonly backend: Backend,
    public handle: unknown,
    readonly bytes: number,
  ) {
    stats.bytes += bytes;
  }
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) {
      this.backend.free(this.handle);
      this.handle = null;
      stats.bytes -= this.bytes;
    }
  }
}

const stats = { bytes: 0, tensors: 0 };

const finalizer = new FinalizationRegistry<Storage>((s) => {
  stats.tensors--;
  s.release();
});

// ---- autograd mode and tidy scopes ----

let gradEnabled = true;
const scopes: Set<Tensor>[] = [];

/**
 * Runs `fn` without recording operations for autograd (like `torch.no_grad()`).
 *
 * @example
 * ```ts
 * import { noGrad, tensor } from "../../mod.ts";
 * const w = tensor([1, 2], [2], { requiresGrad: true });
 * const y = noGrad(() => w.mul(2)); // y.requiresGrad === false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether operations are being recorded for autograd right now. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` and disposes every tensor created inside it that it does not return
 * (returned tensors may sit in an array or a plain object). Nests.
 *
 * @example
 * ```ts
 * import { tensor, tidy } from "../../mod.ts";
 * const a = tensor([1, 2, 3]);
 * const total = tidy(() => a.mul(2).add(1).sum().item()); // the temporaries are freed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept);
  const parent = scopes.at(-1);
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/**
 * Exempts `t` from the enclosing {@linkcode tidy} scopes (for state that outlives a step).
 *
 * @example
 * ```ts
 * import { keep, tensor, tidy } from "../../mod.ts";
 * let state;
 * tidy(() => { state = keep(tensor([0])); });
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collectTensors(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) { for (const x of v) collectTensors(x, out); }
  else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collectTensors(x, out);
  }
}

/** Memory held by tensors, as reported by {@linkcode memory}. */
export interface MemoryInfo {
  /** Tensors created and neither disposed nor garbage-collected. */
  tensors: number;
  /** Bytes of storage those tensors hold (on every device). */
  bytes: number;
  /** The CUDA allocator, once `device()` has opened CUDA: bytes in use and cached, peak, blocks. */
  cuda?: DeviceMemoryInfo;
}

/**
 * Live tensors and the bytes they hold; with CUDA in use, also what its allocator holds.
 *
 * @example
 * ```ts
 * import { memory, tensor } from "../../mod.ts";
 * const before = memory().tensors;
 * const t = tensor([1, 2, 3]);
 * t.dispose();
 * console.log(memory().tensors === before); // true
 * ```
 */
export function memory(): MemoryInfo {
  const cuda = openedCudaDevice()?.memory?.();
  return cuda ? { tensors: stats.tensors, bytes: stats.bytes, cuda } : { tensors: stats.tensors, bytes: stats.bytes };
}

// ---- shapes ----

/** Formats a shape as `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: shape ${fmtShape(shape)} is invalid; expected non-negative integers`);
    }
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Numpy-style broadcasting of two shapes, with each operand's strides into its own buffer. */
function broadcast(op: string, a: readonly number[], b: readonly number[]): Broadcast {
  const rank = Math.max(a.length, b.length);
  const shape: number[] = [], aStrides: number[] = [], bStrides: number[] = [];
  const as = contiguousStrides(a), bs = contiguousStrides(b);
  for (let i = 0; i < rank; i++) {
    const ai = i - (rank - a.length), bi = i - (rank - b.length);
    const da = ai >= 0 ? a[ai] : 1, db = bi >= 0 ? b[bi] : 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together ` +
          `(dimension ${i}: ${da} vs ${db}); expected equal sizes or 1`,
      );
    }
    shape.push(Math.max(da, db));
    aStrides.push(da === 1 ? 0 : as[ai]);
    bStrides.push(db === 1 ? 0 : bs[bi]);
  }
  return { shape, aStrides, bStrides };
}

function dimArg(op: string, dim: number, rank: number): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= Math.max(rank, 1)) {
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of rank ${rank}; expected [${-rank}, ${rank - 1}]`);
  }
  return dim < 0 ? dim + rank : dim;
}

// ---- the tensor ----

/**
 * A contiguous n-d array on a device, optionally tracked by autograd.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * const w = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const loss = w.mul(w).sum();
 * loss.backward();
 * console.log(w.grad!.toArray()); // Float32Array [2, 4, 6, 8]
 * ```
 */
export class Tensor {
  /** The size of each dimension. */
  readonly shape: readonly number[];
  /** The element type. */
  readonly dtype: DType;
  /** The number of elements. */
  readonly size: number;
  /** Whether autograd tracks this tensor. */
  requiresGrad: boolean;
  /** The accumulated gradient of a leaf after `backward()`; null before. */
  grad: Tensor | null = null;
  /** How this tensor was computed (null for leaves and after `backward()`). @internal */
  _node: GradNode | null = null;
  /** The op that made this tensor, once `backward()` has released its node. @internal */
  _releasedOp: string | null = null;
  #storage: Storage | null;
  #device: Device;

  /** Wraps storage; use {@linkcode tensor} and the static factories instead. @internal */
  constructor(storage: unknown, shape: readonly number[], dtype: DType, dev: Device, requiresGrad = false) {
    this.shape = Object.freeze([...shape]);
    this.size = numel(shape);
    this.dtype = dtype;
    this.#device = dev;
    this.#storage = storage instanceof Storage
      ? storage.retain()
      : new Storage(dev.backend, storage, this.size * (dtype === "float64" ? 8 : 4));
    if (requiresGrad && dtype === "int32") {
      throw new Error("tensor: requiresGrad needs a float tensor, but dtype is int32");
    }
    this.requiresGrad = requiresGrad;
    stats.tensors++;
    finalizer.register(this, this.#storage, this);
    scopes.at(-1)?.add(this);
  }

  /** The device this tensor lives on. */
  get device(): Device {
    return this.#device;
  }

  /** The number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.#storage === null;
  }

  /** The backend storage handle; throws if the tensor was disposed (ops read it before allocating). @internal */
  _data(op = "tensor"): unknown {
    if (this.#storage === null) {
      throw new Error(`${op}: the tensor ${fmtShape(this.shape)} ${this.dtype} was disposed and cannot be used`);
    }
    return this.#storage.handle;
  }

  /** Whether another live tensor (a view) shares this one's storage. @internal */
  _sharesStorage(): boolean {
    return this.#storage !== null && this.#storage.refs > 1;
  }

  /** The backend computing on this tensor. @internal */
  get _backend(): Backend {
    return this.#device.backend;
  }

  /**
   * Frees the storage now (views share it: it is freed when the last one goes).
   * Using the tensor afterwards is an error. Disposing twice is harmless.
   */
  dispose(): void {
    if (this.#storage === null) return;
    finalizer.unregister(this);
    this.#storage.release();
    this.#storage = null;
    this._node = null;
    stats.tensors--;
  }

  /** Moves this tensor's storage to `dev` in place (used by `Module.to`). @internal */
  _moveTo(dev: Device): void {
    if (dev === this.#device) return;
    const host = this.#device.backend.toHost(this.dtype, this._data("to"), this.size);
    const next = new Storage(dev.backend, dev.backend.fromHost(this.dtype, host), this.#storage!.bytes);
    finalizer.unregister(this);
    this.#storage!.release();
    this.#storage = next;
    this.#device = dev;
    finalizer.register(this, next, this);
    if (this.grad) this.grad._moveTo(dev);
  }

  // ---- creation ----

  /**
   * A tensor of zeros.
   *
   * @example
   * ```ts
   * import { Tensor } from "../../mod.ts";
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
   * import { Tensor } from "../../mod.ts";
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
   * import { Tensor } from "../../mod.ts";
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
   * import { manualSeed, Tensor } from "../../mod.ts";
   * manualSeed(0);
   * const x = Tensor.randn([2, 3]);
   * ```
   */
  static randn(shape: readonly number[], opts: TensorOptions & { generator?: Generator } = {}): Tensor {
    checkShape("Tensor.randn", shape);
    const g = opts.generator ?? globalGenerator();
    const v = new Float64Array(numel(shape));
    for (let i = 0; i < v.length; i++) v[i] = g.normal();
    return tensor(v, shape, { ...opts, dtype: opts.dtype ?? "float32" });
  }

  /**
   * Uniform samples in [low, high) from the seeded global generator, drawn exactly as
   * PyTorch's `torch.empty(shape).uniform_(low, high)` draws them.
   *
   * @example
   * ```ts
   * import { manualSeed, Tensor } from "../../mod.ts";
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
    return tensor(v, shape, { ...opts, dtype: opts.dtype ?? "float32" });
  }

  // ---- reading ----

  /**
   * The values as a new flat typed array on the host (synchronizes a GPU).
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 2], [3, 4]]).toArray(); // Float32Array [1, 2, 3, 4]
   * ```
   */
  toArray(): Float32Array | Float64Array | Int32Array {
    return this._backend.toHost(this.dtype, this._data("toArray"), this.size);
  }

  /**
   * The value of a one-element tensor as a number.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([1, 2, 3]).sum().item(); // 6
   * ```
   */
  item(): number {
    if (this.size !== 1) {
      throw new Error(
        `item: the tensor has shape ${fmtShape(this.shape)} (${this.size} elements); expected exactly one`,
      );
    }
    return this.toArray()[0];
  }

  /**
   * A copy on `dev` (this tensor itself when already there). Gradients flow back through it.
   *
   * @example
   * ```ts
   * import { device, tensor } from "../../mod.ts";
   * const t = tensor([1, 2]).to(device("cpu"));
   * ```
   */
  to(dev: Device): Tensor {
    if (dev === this.#device) return this;
    const host = this.toArray();
    return makeResult(
      dev.backend.fromHost(this.dtype, host),
      this.shape,
      this.dtype,
      dev,
      [this],
      (g) => [g.to(this.#device)],
      "to",
    );
  }

  /**
   * A tensor sharing this one's storage but cut from the graph (no gradient flows through it).
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * const w = tensor([1], [1], { requiresGrad: true });
   * const frozen = w.detach(); // frozen.requiresGrad === false
   * ```
   */
  detach(): Tensor {
    this._data("detach");
    return new Tensor(this.#storage, this.shape, this.dtype, this.#device);
  }

  /**
   * A copy with its own storage; gradients flow through it.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * const c = tensor([1, 2]).clone();
   * ```
   */
  clone(): Tensor {
    const thisData = this._data("clone");
    const out = this._backend.alloc(this.dtype, this.size);
    this._backend.copy(out, thisData, this.size);
    return makeResult(out, this.shape, this.dtype, this.#device, [this], (g) => [g], "clone");
  }

  // ---- shape ----

  /**
   * The same data with another shape (shares storage). One dimension may be -1: it is inferred.
   *
   * @example
   * ```ts
   * import { Tensor } from "../../mod.ts";
   * const x = Tensor.zeros([10, 16, 14, 14]);
   * x.view([x.shape[0], -1]).shape; // [10, 3136]
   * ```
   */
  view(shape: readonly number[]): Tensor {
    const target = inferShape("view", this.shape, shape);
    this._data("view");
    const out = new Tensor(this.#storage, target, this.dtype, this.#device);
    return attach(out, [this], (g) => [g.view(this.shape)], "view");
  }

  /**
   * Same as {@linkcode Tensor.view}: tensors here are always contiguous, so reshaping never copies.
   *
   * @example
   * ```ts
   * import { Tensor } from "../../mod.ts";
   * Tensor.zeros([2, 6]).reshape([3, -1]).shape; // [3, 4]
   * ```
   */
  reshape(shape: readonly number[]): Tensor {
    return this.view(shape);
  }

  // ---- elementwise ----

  /**
   * `this + other` (a tensor of the same or a broadcastable shape, or a number).
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 2], [3, 4]]).add(tensor([10, 20])).toArray(); // [11, 22, 13, 24]
   * ```
   */
  add(other: Tensor | number): Tensor {
    if (typeof other === "number") return scalarOp("add", this, other, (g) => [g]);
    return binaryOp("add", this, other, (g) => [g, g]);
  }

  /**
   * `this - other`.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([3, 4]).sub(1).toArray(); // [2, 3]
   * ```
   */
  sub(other: Tensor | number): Tensor {
    if (typeof other === "number") return scalarOp("sub", this, other, (g) => [g]);
    return binaryOp("sub", this, other, (g) => [g, g.neg()]);
  }

  /**
   * `this * other`, elementwise.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([1, 2]).mul(tensor([3, 4])).toArray(); // [3, 8]
   * ```
   */
  mul(other: Tensor | number): Tensor {
    if (typeof other === "number") return scalarOp("mul", this, other, (g) => [g.mul(other)]);
    return binaryOp("mul", this, other, (g) => [
      this.requiresGrad ? g.mul(other) : null,
      other.requiresGrad ? g.mul(this) : null,
    ]);
  }

  /**
   * `this / other`, elementwise.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([1, 2]).div(2).toArray(); // [0.5, 1]
   * ```
   */
  div(other: Tensor | number): Tensor {
    if (typeof other === "number") return scalarOp("div", this, other, (g) => [g.div(other)]);
    return binaryOp("div", this, other, (g) => [
      this.requiresGrad ? g.div(other) : null,
      other.requiresGrad ? g.mul(this).div(other.mul(other)).neg() : null,
    ]);
  }

  /**
   * `-this`.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([1, -2]).neg().toArray(); // [-1, 2]
   * ```
   */
  neg(): Tensor {
    return unaryOp("neg", this, (g) => [g.neg()]);
  }

  /**
   * `e^this`, elementwise.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([0]).exp().item(); // 1
   * ```
   */
  exp(): Tensor {
    return unaryOp("exp", this, (g, y) => [g.mul(y)]);
  }

  /**
   * The natural logarithm, elementwise.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([1]).log().item(); // 0
   * ```
   */
  log(): Tensor {
    return unaryOp("log", this, (g) => [g.div(this)]);
  }

  /**
   * `max(this, 0)`, elementwise.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([-1, 2]).relu().toArray(); // [0, 2]
   * ```
   */
  relu(): Tensor {
    return unaryOp("relu", this, (g) => [binaryRaw("reluGrad", g, this)]);
  }

  /**
   * `this ** exponent` for a number exponent.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([2, 3]).pow(2).toArray(); // [4, 9]
   * ```
   */
  pow(exponent: number): Tensor {
    return scalarOp("pow", this, exponent, (g) => [g.mul(this.pow(exponent - 1)).mul(exponent)]);
  }

  /**
   * 1 where `this == other`, else 0, as an int32 tensor (broadcasting like `add`).
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([1, 2, 3]).eq(tensor([1, 0, 3])).sum().item(); // 2
   * ```
   */
  eq(other: Tensor | number): Tensor {
    const o = typeof other === "number" ? Tensor.full([], other, { dtype: this.dtype, device: this.#device }) : other;
    sameDevice("eq", this, o);
    const bc = broadcast("eq", this.shape, o.shape);
    const size = numel(bc.shape);
    const thisData = this._data("eq");
    const oData = o._data("eq");
    const out = this._backend.alloc("int32", size);
    this._backend.binary("eq", out, thisData, oData, bc);
    if (o !== other) o.dispose();
    return new Tensor(out, bc.shape, "int32", this.#device);
  }

  // ---- reductions ----

  /**
   * The sum of all elements, or along `dim` (removed unless `keepDim`).
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 2], [3, 4]]).sum(0).toArray(); // [4, 6]
   * ```
   */
  sum(dim?: number, opts: { keepDim?: boolean } = {}): Tensor {
    return reduceOp("sum", this, dim, opts.keepDim ?? false);
  }

  /**
   * The mean of all elements, or along `dim`.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 2], [3, 4]]).mean(1).toArray(); // [1.5, 3.5]
   * ```
   */
  mean(dim?: number, opts: { keepDim?: boolean } = {}): Tensor {
    const n = dim === undefined ? this.size : this.shape[dimArg("mean", dim, this.rank)];
    return this.sum(dim, opts).div(n);
  }

  /**
   * The index of the largest element along `dim` (the first one on ties), as int32.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 5, 2], [7, 0, 1]]).argmax(1).toArray(); // Int32Array [1, 0]
   * ```
   */
  argmax(dim: number, opts: { keepDim?: boolean } = {}): Tensor {
    const d = dimArg("argmax", dim, this.rank);
    const { outer, n, inner, shape } = reduceDims(this.shape, d, opts.keepDim ?? false);
    const thisData = this._data("argmax");
    const out = this._backend.alloc("int32", outer * inner);
    this._backend.reduce("argmax", out, thisData, outer, n, inner);
    return new Tensor(out, shape, "int32", this.#device);
  }

  /**
   * The largest element along `dim` (values only; no gradient).
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 5], [7, 0]]).max(1).toArray(); // [5, 7]
   * ```
   */
  max(dim: number, opts: { keepDim?: boolean } = {}): Tensor {
    const d = dimArg("max", dim, this.rank);
    const { outer, n, inner, shape } = reduceDims(this.shape, d, opts.keepDim ?? false);
    const thisData = this._data("max");
    const out = this._backend.alloc(this.dtype, outer * inner);
    this._backend.reduce("max", out, thisData, outer, n, inner);
    return new Tensor(out, shape, this.dtype, this.#device);
  }

  /**
   * Matrix product of two 2-d tensors: [m, k] × [k, n] → [m, n].
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * tensor([[1, 2]]).matmul(tensor([[3], [4]])).item(); // 11
   * ```
   */
  matmul(other: Tensor): Tensor {
    if (this.rank !== 2 || other.rank !== 2) {
      throw new Error(
        `matmul: expected two 2-d tensors, got shapes ${fmtShape(this.shape)} and ${fmtShape(other.shape)}`,
      );
    }
    if (this.shape[1] !== other.shape[0]) {
      throw new Error(
        `matmul: inner dimensions differ: ${fmtShape(this.shape)} × ${fmtShape(other.shape)}; ` +
          `expected ${this.shape[1]} rows in the second operand`,
      );
    }
    return gemmOp("matmul", this, other, false, false, [this.shape[0], other.shape[1]], (g) => [
      this.requiresGrad ? gemmOp("matmul", g, other, false, true, this.shape) : null,
      other.requiresGrad ? gemmOp("matmul", this, g, true, false, other.shape) : null,
    ]);
  }

  // ---- autograd ----

  /**
   * Computes the gradients of this tensor with respect to every leaf that requires grad,
   * accumulating them into the leaves' `.grad`. Without `grad`, the tensor must hold one
   * element (a loss). The recorded graph and the activations it saved are released afterwards.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * const x = tensor([3], [1], { requiresGrad: true });
   * x.mul(x).sum().backward();
   * x.grad!.item(); // 6
   * ```
   */
  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }

  /** A short description: shape, dtype, device. */
  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.#device.type}${
      this.requiresGrad ? ", requiresGrad" : ""
    })`;
  }
}

// ---- creation from values ----

function flatten(values: NestedNumbers, out: number[], shape: number[], depth: number): void {
  if (typeof values === "number") {
    if (depth !== shape.length && shape.length > 0) {
      throw new Error(`tensor: ragged nested array: a number at depth ${depth}, expected an array of ${shape[depth]}`);
    }
    out.push(values);
    return;
  }
  if (shape.length === depth) {
    // Numbers already sit at this depth: an array here makes the nesting ragged.
    if (out.length > 0) throw new Error(`tensor: ragged nested array: an array at depth ${depth}, expected a number`);
    shape.push(values.length);
  } else if (shape[depth] !== values.length) {
    throw new Error(`tensor: ragged nested array: a row has ${values.length} elements, expected ${shape[depth]}`);
  }
  for (const v of values) flatten(v, out, shape, depth + 1);
}

/**
 * Creates a tensor from numbers: nested arrays (their nesting gives the shape) or a flat
 * array or typed array with an explicit `shape`. Values are copied.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * const a = tensor([[1, 2, 3], [4, 5, 6]]);             // shape [2, 3], float32
 * const b = tensor(new Float32Array(6), [3, 2]);        // shape [3, 2]
 * const labels = tensor([3, 1, 4], [3], { dtype: "int32" });
 * ```
 */
export function tensor(values: TensorValues, shape?: readonly number[], opts: TensorOptions = {}): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (ArrayBuffer.isView(values)) {
    flat = values;
    inferred = [values.length];
  } else {
    const out: number[] = [];
    inferred = [];
    flatten(values as NestedNumbers, out, inferred, 0);
    flat = out;
  }
  const finalShape = shape ? [...shape] : inferred;
  checkShape("tensor", finalShape);
  if (numel(finalShape) !== flat.length) {
    throw new Error(
      `tensor: ${flat.length} values cannot fill shape ${fmtShape(finalShape)} (${numel(finalShape)} elements)`,
    );
  }
  const dtype = opts.dtype ??
    (values instanceof Int32Array ? "int32" : values instanceof Float64Array ? "float64" : "float32");
  if (dtype !== "float32" && dtype !== "float64" && dtype !== "int32") {
    throw new Error(`tensor: unknown dtype ${JSON.stringify(dtype)}; expected "float32", "float64" or "int32"`);
  }
  const host = dtype === "float32"
    ? Float32Array.from(flat)
    : dtype === "float64"
    ? Float64Array.from(flat)
    : Int32Array.from(flat);
  const dev = opts.device ?? cpu;
  return new Tensor(dev.backend.fromHost(dtype, host), finalShape, dtype, dev, opts.requiresGrad ?? false);
}

function inferShape(op: string, from: readonly number[], to: readonly number[]): number[] {
  const size = numel(from);
  const out = [...to];
  const free = out.flatMap((d, i) => (d === -1 ? [i] : []));
  if (free.length > 1) throw new Error(`${op}: only one dimension may be -1, got ${fmtShape(to)}`);
  for (const d of out) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) {
      throw new Error(`${op}: shape ${fmtShape(to)} is invalid; expected non-negative integers and at most one -1`);
    }
  }
  if (free.length === 1) {
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || size % known !== 0) {
      throw new Error(`${op}: cannot view ${fmtShape(from)} (${size} elements) as ${fmtShape(to)}`);
    }
    out[free[0]] = size / known;
  }
  if (numel(out) !== size) {
    throw new Error(
      `${op}: cannot view ${fmtShape(from)} (${size} elements) as ${fmtShape(to)} (${numel(out)} elements)`,
    );
  }
  return out;
}

// ---- op plumbing ----

/** Attaches a grad node to `out` when grad mode is on and an input requires grad. */
function attach(
  out: Tensor,
  inputs: Tensor[],
  backward: (g: Tensor) => (Tensor | null)[],
  op: string,
  release?: () => void,
): Tensor {
  if (gradEnabled && out.dtype !== "int32" && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out._node = { op, inputs, backward, release };
  } else {
    release?.();
  }
  return out;
}

/**
 * Builds an op's output tensor from fresh storage and records how to differentiate it.
 * Used by the functional ops (`F.conv2d`, ...). @internal
 */
export function makeResult(
  storage: unknown,
  shape: readonly number[],
  dtype: DType,
  dev: Device,
  inputs: Tensor[],
  backward: (g: Tensor) => (Tensor | null)[],
  op: string,
  release?: () => void,
): Tensor {
  return attach(new Tensor(storage, shape, dtype, dev), inputs, backward, op, release);
}

/** Throws unless all tensors live on the same device. @internal */
export function sameDevice(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.device !== ts[0].device) {
      throw new Error(
        `${op}: tensors are on different devices (${ts[0].device.type} and ${t.device.type}); move them with .to()`,
      );
    }
  }
}

function floatOnly(op: string, t: Tensor): void {
  if (t.dtype === "int32") throw new Error(`${op}: expected a float tensor, got int32 ${fmtShape(t.shape)}`);
}

function unaryOp(op: UnaryOp, x: Tensor, backward: (g: Tensor, y: Tensor) => (Tensor | null)[]): Tensor {
  if (op !== "neg" && op !== "abs") floatOnly(op, x);
  const xData = x._data(op);
  const out = x._backend.alloc(x.dtype, x.size);
  x._backend.unary(op, out, xData, x.size);
  const y: Tensor = makeResult(out, x.shape, x.dtype, x.device, [x], (g) => backward(g, y), op);
  return y;
}

function scalarOp(op: ScalarOp, x: Tensor, s: number, backward: (g: Tensor) => (Tensor | null)[]): Tensor {
  if (typeof s !== "number" || Number.isNaN(s) && op !== "add") {
    throw new Error(`${op}: expected a number or a tensor, got ${String(s)}`);
  }
  const xData = x._data(op);
  const out = x._backend.alloc(x.dtype, x.size);
  x._backend.scalar(op, out, xData, s, x.size);
  return makeResult(out, x.shape, x.dtype, x.device, [x], backward, op);
}

/** `op(a, b)` without autograd (used inside backward closures). */
function binaryRaw(op: "add" | "sub" | "mul" | "div" | "reluGrad", a: Tensor, b: Tensor): Tensor {
  if (!(b instanceof Tensor)) throw new Error(`${op}: expected a tensor or a number, got ${String(b)}`);
  sameDevice(op, a, b);
  if (a.dtype !== b.dtype) {
    throw new Error(`${op}: dtypes differ (${a.dtype} and ${b.dtype}); expected the same dtype`);
  }
  const bc = broadcast(op, a.shape, b.shape);
  const aData = a._data(op);
  const bData = b._data(op);
  const out = a._backend.alloc(a.dtype, numel(bc.shape));
  a._backend.binary(op, out, aData, bData, bc);
  return new Tensor(out, bc.shape, a.dtype, a.device);
}

function binaryOp(
  op: "add" | "sub" | "mul" | "div",
  a: Tensor,
  b: Tensor,
  backward: (g: Tensor) => (Tensor | null)[],
): Tensor {
  const out = binaryRaw(op, a, b);
  // Gradients of broadcast operands are summed back to the operand's own shape.
  return attach(out, [a, b], (g) => {
    const [ga, gb] = backward(g);
    return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
  }, op);
}

/** Sums `g` over the dimensions that broadcasting expanded, giving a tensor of `shape`. */
function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  let t = g;
  const lead = g.rank - shape.length;
  for (let d = 0; d < g.rank; d++) {
    const target = d < lead ? 1 : shape[d - lead];
    if (g.shape[d] !== target) {
      const next = t.sum(d, { keepDim: true });
      if (t !== g) t.dispose();
      t = next;
    }
  }
  const out = t.view(shape);
  if (t !== g) t.dispose();
  return out;
}

function reduceDims(shape: readonly number[], d: number, keepDim: boolean) {
  const outer = numel(shape.slice(0, d));
  const n = shape[d];
  const inner = numel(shape.slice(d + 1));
  const out = keepDim ? shape.map((s, i) => (i === d ? 1 : s)) : shape.filter((_, i) => i !== d);
  return { outer, n, inner, shape: out };
}

function reduceOp(op: "sum", x: Tensor, dim: number | undefined, keepDim: boolean): Tensor {
  let outer = 1, n = x.size, inner = 1;
  let shape: number[] = keepDim ? x.shape.map(() => 1) : [];
  if (dim !== undefined) {
    ({ outer, n, inner, shape } = reduceDims(x.shape, dimArg(op, dim, x.rank), keepDim));
  }
  const xData = x._data(op);
  const out = x._backend.alloc(x.dtype, outer * inner);
  x._backend.reduce(op, out, xData, outer, n, inner);
  return makeResult(out, shape, x.dtype, x.device, [x], (g) => {
    // Put the reduced dimension back as size 1, then broadcast to the input's shape.
    const kept = dim === undefined ? x.shape.map(() => 1) : reduceDims(x.shape, dimArg(op, dim, x.rank), true).shape;
    const gk = g.view(kept);
    const bc = broadcast("sum", x.shape, kept);
    const e = x._backend.alloc(g.dtype, x.size);
    x._backend.expand(e, gk._data("sum"), { shape: bc.shape, aStrides: bc.bStrides, bStrides: bc.bStrides });
    gk.dispose();
    return [new Tensor(e, x.shape, g.dtype, x.device)];
  }, op);
}

/** `op(a) · op(b)` as a new tensor of `shape`; with `backward`, recorded for autograd. @internal */
export function gemmOp(
  op: string,
  a: Tensor,
  b: Tensor,
  transA: boolean,
  transB: boolean,
  shape: readonly number[],
  backward?: (g: Tensor) => (Tensor | null)[],
): Tensor {
  sameDevice(op, a, b);
  floatOnly(op, a);
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} and ${b.dtype})`);
  const [m, n] = shape;
  const k = transA ? a.shape[0] : a.shape[1];
  const aData = a._data(op);
  const bData = b._data(op);
  const out = a._backend.alloc(a.dtype, m * n);
  a._backend.gemm(out, aData, bData, { m, n, k, transA, transB, alpha: 1, beta: 0 });
  const t = new Tensor(out, shape, a.dtype, a.device);
  return backward ? attach(t, [a, b], backward, op) : t;
}

// ---- backward ----

function runBackward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error(
      `backward: the tensor ${fmtShape(root.shape)} does not require grad; ` +
        "expected a result of operations on tensors created with requiresGrad: true",
    );
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(
        `backward: a gradient can be implied only for a one-element output, but the tensor has shape ${
          fmtShape(root.shape)
        }; pass the gradient explicitly`,
      );
    }
  } else if (grad.size !== root.size || grad.dtype !== root.dtype) {
    throw new Error(
      `backward: the gradient has shape ${fmtShape(grad.shape)} ${grad.dtype}, expected ${
        fmtShape(root.shape)
      } ${root.dtype}`,
    );
  }

  const released = (t: Tensor) =>
    new Error(
      `backward: the graph through ${fmtShape(t.shape)} (made by ${t._releasedOp}) was already released by an ` +
        "earlier backward(); run the forward pass again",
    );
  if (root._releasedOp) throw released(root);
  // Topological order of the nodes reachable from the root (iterative DFS).
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0]._node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next._releasedOp) throw released(next);
      if (!seen.has(next) && next._node) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }

  const prev = gradEnabled;
  gradEnabled = false;
  const grads = new Map<Tensor, Tensor>();
  try {
    grads.set(root, grad ? grad.view(root.shape) : Tensor.ones(root.shape, { dtype: root.dtype, device: root.device }));
    if (!root._node) { // backward() on a leaf itself
      const g = grads.get(root)!;
      grads.delete(root);
      return accumulateLeaf(root, g._sharesStorage() ? g.clone() : g);
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const node = t._node!;
      const g = grads.get(t);
      grads.delete(t);
      if (g) {
        // Every gradient we store must own its storage, since accumulation adds in place.
        const seenHere = new Set<Tensor>();
        const inputGrads = node.backward(g).map((gi) => {
          if (!gi) return null;
          const own = gi === g || seenHere.has(gi) ? gi.clone() : gi;
          seenHere.add(own);
          return own;
        });
        g.dispose();
        node.inputs.forEach((input, j) => {
          let gi = inputGrads[j];
          if (!gi) return;
          if (!input.requiresGrad) return gi.dispose();
          if (gi._sharesStorage()) {
            const copy = gi.clone();
            gi.dispose();
            gi = copy;
          }
          if (input._node) {
            const acc = grads.get(input);
            if (acc) {
              acc._backend.addInPlace(acc._data(), gi._data(), acc.size);
              gi.dispose();
            } else grads.set(input, gi);
          } else accumulateLeaf(input, gi);
        });
      }
      node.release?.();
      t._node = null; // frees the closure and the activations it saved
      t._releasedOp = node.op;
    }
  } finally {
    gradEnabled = prev;
    for (const g of grads.values()) g.dispose();
  }
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (g.size !== leaf.size) {
    throw new Error(`backward: gradient ${fmtShape(g.shape)} does not match its leaf ${fmtShape(leaf.shape)}`);
  }
  if (leaf.grad && !leaf.grad.isDisposed) {
    leaf.grad._backend.addInPlace(leaf.grad._data(), g._data(), g.size);
    g.dispose();
  } else {
    const sameShape = g.rank === leaf.rank && g.shape.every((d, i) => d === leaf.shape[i]);
    const own = sameShape ? g : g.view(leaf.shape);
    if (own !== g) g.dispose();
    leaf.grad = keep(own);
  }
}
