/**
 * Containers: `Sequential` (runs its modules in turn) and `ModuleList` (holds modules for a
 * `forward` written by hand). Both keep their modules as the own fields `0`, `1`, ..., so the
 * parameters are named `0.weight`, `1.bias`, ... (`layers.0.weight` inside a network) exactly as
 * PyTorch names them, and `train()`, `eval()`, `to()` and the state dict reach them like any field.
 *
 * @module
 */
import type { Tensor } from "../tensor/mod.ts";
import { conv2dReluMaxPool2d } from "../ops/_conv_relu_pool.ts";
import { Module } from "./module.ts";
import { Conv2d, MaxPool2d, ReLU } from "./layers.ts";

/** What a non-module argument was, for the error message. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return `a ${v.constructor?.name ?? "object"}`;
  return `${typeof v} ${String(v)}`;
}

/** Modules held as the fields `0`, `1`, ... in order: indexing, `length`, iteration, `append`. */
abstract class ModuleSequence extends Module implements Iterable<Module> {
  [index: number]: Module;
  #count = 0;

  /** The number of modules. */
  get length(): number {
    return this.#count;
  }

  /** Adds `module` at the end (its name is the next index); returns this container. */
  append(module: Module): this {
    return this.#add(`${this.constructor.name}.append`, "module", module);
  }

  /** Adds every module of `modules` at the end, in order; returns this container. */
  extend(modules: Iterable<Module>): this {
    let i = 0;
    for (const m of modules) this.#add(`${this.constructor.name}.extend`, `module ${i++}`, m);
    return this;
  }

  /** The module at `index`; a negative index counts from the end, as `Array.prototype.at`. */
  at(index: number): Module | undefined {
    if (!Number.isInteger(index)) return undefined;
    return this[index < 0 ? index + this.#count : index];
  }

  /** The modules in order. */
  *[Symbol.iterator](): Iterator<Module> {
    for (let i = 0; i < this.#count; i++) yield this[i];
  }

  /** Adds `m` after checking it is a module; `what` names it in the error. */
  #add(op: string, what: string, m: unknown): this {
    if (!(m instanceof Module)) throw new Error(`${op}: ${what} must be a Module, got ${describe(m)}`);
    this[this.#count++] = m;
    return this;
  }

  /** Adds the constructor's modules; `op` names the container in errors. */
  protected init(op: string, modules: Iterable<unknown>): void {
    let i = 0;
    for (const m of modules) this.#add(op, `argument ${i++}`, m);
  }
}

/**
 * Whether three modules are a Conv2d, a ReLU and a MaxPool2d whose `forward` is the layers' own
 * (a subclass or an instance with another `forward` runs its own).
 */
function isConvReluMaxPool(conv: Module, act: Module | undefined, pool: Module | undefined): conv is Conv2d {
  return conv instanceof Conv2d && conv.forward === Conv2d.prototype.forward &&
    act instanceof ReLU && act.forward === ReLU.prototype.forward &&
    pool instanceof MaxPool2d && pool.forward === MaxPool2d.prototype.forward;
}

/**
 * Runs modules one after another; their parameters are named `0.weight`, `1.bias`, ... as in
 * PyTorch. Indexable (`net[0]`), iterable, with `length`, `at(-1)` and `append`. A Conv2d
 * followed by a ReLU and a MaxPool2d runs as one fused pass on the CPU (the same numbers as the
 * three run one by one, in less time and memory).
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const net = new nn.Sequential(
 *   new nn.Conv2d(1, 16, { kernelSize: 3, padding: 1 }), new nn.ReLU(),
 *   new nn.MaxPool2d({ kernelSize: 2 }), new nn.Flatten(), new nn.Linear(3136, 10),
 * );
 * net.forward(Tensor.randn([2, 1, 28, 28])).shape; // [2, 10]
 * Object.keys(net.stateDict()); // ["0.weight", "0.bias", "4.weight", "4.bias"]
 * ```
 */
export class Sequential extends ModuleSequence {
  /** Creates the container from any modules, in the order they run. */
  constructor(...modules: Module[]) {
    super();
    this.init("Sequential", modules);
  }

  /** Applies each module in turn (Conv2d → ReLU → MaxPool2d as one op). */
  forward(x: Tensor): Tensor {
    for (let i = 0; i < this.length; i++) {
      const m = this[i];
      if (isConvReluMaxPool(m, this[i + 1], this[i + 2])) {
        x = conv2dReluMaxPool2d(x, m.weight, m.bias, m.options, (this[i + 2] as MaxPool2d).options);
        i += 2;
      } else x = m.forward(x);
    }
    return x;
  }
}

/**
 * Holds sub-modules in a list, as PyTorch's `nn.ModuleList`: they are registered (named `0`, `1`,
 * ... in the state dict, moved by `to()`, switched by `train()`/`eval()`), and the owner's
 * `forward` decides how to call them. Indexable, iterable, with `length`, `at(-1)`, `append` and
 * `extend`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * class Mlp extends nn.Module {
 *   layers = new nn.ModuleList([new nn.Linear(4, 8), new nn.Linear(8, 2)]);
 *   forward(x: Tensor): Tensor {
 *     for (const layer of this.layers) x = layer.forward(x).relu();
 *     return x;
 *   }
 * }
 * Object.keys(new Mlp().stateDict()); // ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
 * ```
 */
export class ModuleList extends ModuleSequence {
  /** Creates the list, empty or holding `modules` in order. */
  constructor(modules: Iterable<Module> = []) {
    super();
    if (modules === null || typeof (modules as Partial<Iterable<Module>>)[Symbol.iterator] !== "function") {
      throw new Error(`ModuleList: expected an iterable of modules (an array), got ${describe(modules)}`);
    }
    this.init("ModuleList", modules);
  }

  /** A ModuleList has no forward of its own; its owner's `forward` calls the modules. */
  forward(): Tensor {
    throw new Error("ModuleList: has no forward(); call its modules from the owning module's forward");
  }
}
