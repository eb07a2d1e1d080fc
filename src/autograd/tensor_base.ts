/**
 * The tensor's core: a shape, a dtype, a device and reference-counted storage, plus the
 * autograd fields (`requiresGrad`, `grad`, the node that made it). The ops in src/ops work on
 * this class; `Tensor` (src/tensor) extends it with one-line methods that call them, and every
 * op returns the class of its input, so `F.relu(x).sum()` is a `Tensor` again.
 *
 * @module
 */
import type { Backend, Device, DType, HostArray } from "../backend/backend.ts";
import { dtypeBytes, fmtShape, numel } from "../backend/shape.ts";
import { finalizer, stats, Storage } from "./storage.ts";
import { trackInScope } from "./mode.ts";
import { tensorRepr } from "./_tensor_str.ts";

/** How a non-leaf tensor was computed: what `backward()` needs. */
export interface GradNode {
  /** The op's name, for error messages. */
  readonly op: string;
  /** The op's inputs, in the order `backward` returns their gradients. */
  readonly inputs: readonly TensorBase[];
  /** Maps the output's gradient to each input's gradient (null where none is needed). */
  readonly backward: (grad: TensorBase) => (TensorBase | null)[];
  /** Frees internal buffers saved for backward (argmax indices, log-probabilities). */
  readonly release?: () => void;
  /**
   * The inputs' gradients for an output gradient of 1, computed ahead (a fused loss's forward
   * kernel): `backward()` on this one-element output with no gradient calls it instead of filling a
   * 1 and calling `backward` (same values). It hands its tensors over: called at most once.
   */
  readonly unitBackward?: () => (TensorBase | null)[];
}

/**
 * The storage and autograd state every tensor has; see `Tensor` for the methods.
 *
 * @example
 * ```ts
 * import { tensor, TensorBase } from "@convnet/convnet";
 * tensor([1, 2]) instanceof TensorBase; // true
 * ```
 */
export class TensorBase {
  /** The size of each dimension. */
  readonly shape: readonly number[];
  /** The element type. */
  readonly dtype: DType;
  /** The number of elements. */
  readonly size: number;
  /** Whether autograd tracks this tensor. */
  requiresGrad: boolean;
  /** The accumulated gradient of a leaf after `backward()`; null before. */
  grad: this | null = null;
  /** How this tensor was computed (null for leaves and after `backward()`). @internal */
  _node: GradNode | null = null;
  /** The op that made this tensor, once `backward()` has released its node. @internal */
  _releasedOp: string | null = null;
  /** The op that made this tensor, when it was disposed before `backward()` ran through it. @internal */
  _disposedOp: string | null = null;
  /** Why the library disposed this tensor on its own (e.g. at the end of a DataLoader batch), for errors. @internal */
  _disposedWhy: string | null = null;
  /** Whether an op or a read has used this tensor's data (a DataLoader batch the body never used is not freed). @internal */
  _used = false;
  #storage: Storage | null;
  #device: Device;

  /** Wraps backend storage (or shares a tensor's); use `tensor()` and the factories instead. @internal */
  constructor(storage: unknown, shape: readonly number[], dtype: DType, dev: Device, requiresGrad = false) {
    this.shape = Object.freeze([...shape]);
    this.size = numel(shape);
    this.dtype = dtype;
    this.#device = dev;
    this.#storage = storage instanceof Storage
      ? storage.retain()
      : new Storage(dev.backend, storage, this.size * dtypeBytes(dtype));
    if (requiresGrad && (dtype === "int32" || dtype === "int64")) {
      throw new Error(`tensor: requiresGrad needs a float tensor, but dtype is ${dtype}`);
    }
    this.requiresGrad = requiresGrad;
    stats.tensors++;
    finalizer.register(this, this.#storage, this);
    trackInScope(this);
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
      throw new Error(
        `${op}: the tensor ${fmtShape(this.shape)} ${this.dtype} was disposed${
          this._disposedWhy ?? ""
        } and cannot be used`,
      );
    }
    this._used = true;
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

  /** A new tensor of this one's class and device around fresh backend storage `handle`. @internal */
  _wrap(handle: unknown, shape: readonly number[], dtype: DType = this.dtype): this {
    const Ctor = this.constructor as new (s: unknown, shape: readonly number[], dtype: DType, dev: Device) => this;
    return new Ctor(handle, shape, dtype, this.#device);
  }

  /** A new tensor of this one's class sharing its storage, with another shape of the same size. @internal */
  _share(shape: readonly number[], op = "view"): this {
    this._data(op);
    const Ctor = this.constructor as new (s: unknown, shape: readonly number[], dtype: DType, dev: Device) => this;
    return new Ctor(this.#storage, shape, this.dtype, this.#device);
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
    if (this._node) this._disposedOp = this._node.op; // backward() names it if the graph still needs it
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

  /**
   * The values as a new flat typed array on the host (synchronizes a GPU); int64 gives a BigInt64Array.
   *
   * @example
   * ```ts
   * import { tensor } from "@convnet/convnet";
   * tensor([[1, 2], [3, 4]]).toArray(); // Float32Array [1, 2, 3, 4]
   * ```
   */
  toArray(): Float32Array | Float64Array | Int32Array {
    if (this.dtype === "int64") {
      throw new Error(
        `toArray: the tensor ${fmtShape(this.shape)} is int64; read it with toHost() (a BigInt64Array) ` +
          "or cast it first",
      );
    }
    return this.toHost() as Float32Array | Float64Array | Int32Array;
  }

  /**
   * The values as a new flat typed array of the tensor's dtype (BigInt64Array for int64).
   *
   * @example
   * ```ts
   * import { tensor } from "@convnet/convnet";
   * tensor([7], [1], { dtype: "int64" }).toHost(); // BigInt64Array [7n]
   * ```
   */
  toHost(): HostArray {
    return this._backend.toHost(this.dtype, this._data("toArray"), this.size);
  }

  /**
   * The value of a one-element tensor as a number.
   *
   * @example
   * ```ts
   * import { tensor } from "@convnet/convnet";
   * tensor([1, 2, 3]).sum().item(); // 6
   * ```
   */
  item(): number {
    if (this.size !== 1) {
      throw new Error(
        `item: the tensor has shape ${fmtShape(this.shape)} (${this.size} elements); expected exactly one`,
      );
    }
    return Number(this.toHost()[0]);
  }

  /**
   * A tensor sharing this one's storage but cut from the graph (no gradient flows through it).
   *
   * @example
   * ```ts
   * import { tensor } from "@convnet/convnet";
   * const w = tensor([1], [1], { requiresGrad: true });
   * const frozen = w.detach(); // frozen.requiresGrad === false
   * ```
   */
  detach(): this {
    return this._share(this.shape, "detach");
  }

  /**
   * The values as PyTorch prints them, for `Deno.inspect` and `console.log`: 4 digits, the middle
   * of tensors over 1000 elements elided with `...`, then `size` (when elided), `dtype` (unless
   * float32), `device` (off the CPU) and `grad_fn` or `requires_grad`. Reads the values to the host.
   *
   * @example
   * ```ts
   * import { tensor } from "@convnet/convnet";
   * Deno.inspect(tensor([[1, 2.5], [3, 4]], undefined, { requiresGrad: true }));
   * // tensor([[1.0000, 2.5000],
   * //         [3.0000, 4.0000]], requires_grad=True)
   * ```
   */
  [Symbol.for("Deno.customInspect")](): string {
    return tensorRepr({
      shape: this.shape,
      dtype: this.dtype,
      deviceType: this.#device.type,
      values: this.#storage === null ? null : this.toHost(),
      op: this._node?.op ?? this._releasedOp,
      requiresGrad: this.requiresGrad,
    });
  }

  /** A short description: shape, dtype, device. */
  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.#device.type}${
      this.requiresGrad ? ", requiresGrad" : ""
    })`;
  }
}
