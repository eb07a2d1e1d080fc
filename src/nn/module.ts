/**
 * `Module`: the base of every layer and network, with PyTorch's parameter naming.
 *
 * A module's parameters and sub-modules are its own fields, found in declaration order;
 * names join field names with dots exactly as PyTorch joins attribute names
 * (`conv1.weight`, `fc.bias`, `layers.0.weight`), so state dicts move between the two.
 * Buffers (state that is saved but not learned, like BatchNorm's running statistics) are
 * registered under PyTorch's names with `registerBuffer("running_mean", t)`.
 *
 * @module
 */
import type { Device } from "../backend/backend.ts";
import { fmtShape, keep, noGrad, Tensor } from "../tensor/mod.ts";
import { checkOptionKeys } from "../tensor/functional.ts";

const parameters = new WeakSet<Tensor>();

/**
 * Marks `t` as a learnable parameter (sets `requiresGrad`): module fields holding it
 * appear in `parameters()` and `stateDict()` even when later frozen.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * class Scale extends nn.Module {
 *   s = nn.parameter(Tensor.ones([1]));
 *   forward(x: Tensor): Tensor { return x.mul(this.s); }
 * }
 * ```
 */
export function parameter(t: Tensor): Tensor {
  t.requiresGrad = true;
  parameters.add(t);
  return keep(t); // a parameter outlives the tidy or DataLoader batch that made it
}

function isParameter(v: unknown): v is Tensor {
  return v instanceof Tensor && (parameters.has(v) || v.requiresGrad);
}

/** `value` in an error message: `null`, `a Map`, `number 42`. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `a ${value.constructor?.name ?? "object without prototype"}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Throws unless `dict` can be a state dict: an object of named tensors (its own keys count). */
function checkStateDictObject(dict: unknown): void {
  const hint = dict instanceof Map
    ? " (Object.fromEntries(map) makes one)"
    : dict instanceof Promise
    ? " (await it first)"
    : dict instanceof Module
    ? " (pass its stateDict())"
    : "";
  if (dict === null || typeof dict !== "object" || Array.isArray(dict) || dict instanceof Tensor || hint) {
    throw new Error(
      `loadStateDict: expected a state dict (an object of tensors by name, as stateDict() returns), got ${
        describe(dict)
      }${hint}`,
    );
  }
}

/**
 * Base class of layers and networks. Subclasses declare parameters and sub-modules as
 * fields and implement `forward`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * class Net extends nn.Module {
 *   conv1 = new nn.Conv2d(1, 16, { kernelSize: 3, stride: 1, padding: 1 });
 *   relu = new nn.ReLU();
 *   pool = new nn.MaxPool2d({ kernelSize: 2, stride: 2 });
 *   fc = new nn.Linear(16 * 14 * 14, 10);
 *   forward(x: Tensor): Tensor {
 *     x = this.pool.forward(this.relu.forward(this.conv1.forward(x)));
 *     return this.fc.forward(x.view([x.shape[0], -1]));
 *   }
 * }
 * const net = new Net();
 * net.namedParameters().map(([name]) => name); // conv1.weight, conv1.bias, fc.weight, fc.bias
 * ```
 */
export abstract class Module {
  /** True in training mode (the default), false after `eval()`. */
  training = true;
  /** This module's own buffers by name, in registration order; `persistent` ones are in the state dict. */
  #buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();

  /** Computes the module's output. */
  abstract forward(...inputs: Tensor[]): Tensor;

  /**
   * Direct sub-modules with their names, in declaration order, each module once (PyTorch's
   * `named_children()`): a field holding an array of modules gives `layers.0`, `layers.1`, ...
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * const net = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU());
   * net.namedChildren().map(([name]) => name); // ["0", "1"]
   * ```
   */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    return this.#childEntries().filter(([, m]) => !seen.has(m) && seen.add(m));
  }

  /** Every field holding a module, with its name, repeats included (as PyTorch's `_modules`). */
  #childEntries(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [key, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([key, v]);
      else if (Array.isArray(v)) {
        v.forEach((m, i) => {
          if (m instanceof Module) out.push([`${key}.${i}`, m]);
        });
      }
    }
    return out;
  }

  /**
   * Direct sub-modules, in the order of `namedChildren()`.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU()).children().length; // 2
   * ```
   */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and every module under it with its dotted name, depth first, parents before
   * children, each module once (PyTorch's `named_modules()`): `""` for this module, then `conv1`,
   * `block`, `block.0`, ...
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * const net = new nn.Sequential(new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU()), new nn.Linear(3, 1));
   * net.namedModules().map(([name]) => name); // ["", "0", "0.0", "0.1", "1"]
   * ```
   */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, prefix: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([prefix, m]);
      for (const [name, child] of m.namedChildren()) walk(child, prefix === "" ? name : `${prefix}.${name}`);
    };
    walk(this, "");
    return out;
  }

  /**
   * This module and every module under it, in the order of `namedModules()`.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU()).modules().length; // 3
   * ```
   */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Calls `fn` on every sub-module (children first, recursively) and then on this module, as
   * PyTorch's `apply`; returns this module. The usual use is custom initialisation.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * const net = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 1));
   * const visited: string[] = [];
   * net.apply((m) => visited.push(m.constructor.name)); // ["Linear", "ReLU", "Linear", "Sequential"]
   * ```
   */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /**
   * The number of parameter elements, each parameter counted once even when shared; with
   * `trainableOnly`, only those with `requiresGrad`.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * new nn.Linear(3136, 10).numParameters(); // 31370
   * ```
   */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    checkOptionKeys("numParameters", opts, ["trainableOnly"]);
    let n = 0;
    for (const p of new Set(this.parameters())) if (!opts.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  /**
   * The layer's settings for its printed form, as PyTorch's `extra_repr()`: `Linear` returns
   * `in_features=3136, out_features=10, bias=True`. Empty by default; layers override it.
   *
   * @example
   * ```ts
   * import { nn, type Tensor } from "@convnet/convnet";
   * class Scale extends nn.Module {
   *   constructor(readonly factor: number) { super(); }
   *   override extraRepr(): string { return `factor=${this.factor}`; }
   *   forward(x: Tensor): Tensor { return x.mul(this.factor); }
   * }
   * String(new Scale(2)); // "Scale(factor=2)"
   * ```
   */
  extraRepr(): string {
    return "";
  }

  /**
   * The module's structure as PyTorch prints it: the class name, `extraRepr()`, then each child as
   * `(name): ...`, indented two spaces per level.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * String(new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU()));
   * // Sequential(
   * //   (0): Linear(in_features=4, out_features=3, bias=True)
   * //   (1): ReLU()
   * // )
   * ```
   */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra === "" ? [] : extra.split("\n");
    const childLines = this.#childEntries().map(([name, m]) => `(${name}): ${String(m).split("\n").join("\n  ")}`);
    const lines = [...extraLines, ...childLines];
    let out = this.constructor.name + "(";
    if (extraLines.length === 1 && childLines.length === 0) out += extraLines[0];
    else if (lines.length > 0) out += "\n  " + lines.join("\n  ") + "\n";
    return out + ")";
  }

  /**
   * What `Deno.inspect` and `console.log` show: `toString()`.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * Deno.inspect(new nn.ReLU()); // "ReLU()"
   * ```
   */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** Every parameter with its dotted name (`conv1.weight`), this module's own first, in declaration order. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = this.#ownParameters();
    for (const [prefix, m] of this.#childEntries()) {
      for (const [name, p] of m.namedParameters()) out.push([`${prefix}.${name}`, p]);
    }
    return out;
  }

  /** This module's own parameter fields, in declaration order. */
  #ownParameters(): [string, Tensor][] {
    return Object.entries(this).filter((e): e is [string, Tensor] => isParameter(e[1]));
  }

  /** Every parameter, in the order of `namedParameters()`. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * Registers `t` as a buffer named `name` (PyTorch's name: `"running_mean"`,
   * `"num_batches_tracked"`): saved in `stateDict()` (unless `persistent` is false), loaded by
   * `loadStateDict()`, moved by `to()`, never trained. Returns `t`, to keep in a field; update it
   * in place, or register a new tensor under the same name. `null` reserves the name.
   *
   * @example
   * ```ts
   * import { nn, Tensor } from "@convnet/convnet";
   * class Counter extends nn.Module {
   *   count = this.registerBuffer("count", Tensor.zeros([], { dtype: "int64" }));
   *   forward(x: Tensor): Tensor { return x; }
   * }
   * Object.keys(new Counter().stateDict()); // ["count"]
   * ```
   */
  registerBuffer<T extends Tensor | null>(name: string, t: T, opts: { persistent?: boolean } = {}): T {
    if (typeof name !== "string" || name === "" || name.includes(".")) {
      throw new Error(`registerBuffer: name must be a non-empty string without ".", got ${JSON.stringify(name)}`);
    }
    if (t !== null && !(t instanceof Tensor)) {
      throw new Error(`registerBuffer: buffer ${JSON.stringify(name)} must be a Tensor or null, got ${String(t)}`);
    }
    if (t !== null) keep(t); // a buffer outlives the tidy or DataLoader batch that made it
    this.#buffers.set(name, { tensor: t, persistent: opts.persistent ?? true });
    return t;
  }

  /** Every buffer with its dotted name (`bn1.running_mean`), this module's own first; null ones left out. */
  namedBuffers(opts: { persistentOnly?: boolean } = {}): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, b] of this.#buffers) {
      if (b.tensor && (b.persistent || !opts.persistentOnly)) out.push([name, b.tensor]);
    }
    for (const [prefix, m] of this.#childEntries()) {
      for (const [name, t] of m.namedBuffers(opts)) out.push([`${prefix}.${name}`, t]);
    }
    return out;
  }

  /** Every buffer, in the order of `namedBuffers()`. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /**
   * The parameters and persistent buffers by name, as tensors sharing their storage (detached
   * from autograd), with PyTorch's key names.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, p] of this.#namedState()) out[name] = p.detach();
    return out;
  }

  /**
   * What the state dict holds, in PyTorch's order: this module's parameters, then its persistent
   * buffers, then each child's state (`bn1.weight, bn1.bias, bn1.running_mean, ..., fc.weight`).
   */
  #namedState(): [string, Tensor][] {
    const out: [string, Tensor][] = this.#ownParameters();
    for (const [name, b] of this.#buffers) if (b.tensor && b.persistent) out.push([name, b.tensor]);
    for (const [prefix, m] of this.#childEntries()) {
      for (const [name, t] of m.#namedState()) out.push([`${prefix}.${name}`, t]);
    }
    return out;
  }

  /**
   * Copies values from `dict` into the parameters and persistent buffers, by name. All or nothing:
   * `dict` must be an object whose own keys (not inherited ones) name exactly this module's
   * state, each a live tensor of the right shape and dtype; otherwise an Error lists every missing
   * key, extra key and mismatch, and nothing is copied. Every value is read before any is written,
   * so the dict may hold this module's own tensors under other names. Values on another device
   * are copied over.
   *
   * @example
   * ```ts
   * import { nn } from "@convnet/convnet";
   * const model = new nn.Linear(4, 2);
   * model.loadStateDict(new nn.Linear(4, 2).stateDict());
   * ```
   */
  loadStateDict(dict: Record<string, Tensor>): void {
    checkStateDictObject(dict);
    const params = new Map(this.#namedState());
    const missing = [...params.keys()].filter((k) => !Object.hasOwn(dict, k));
    const extra = Object.keys(dict).filter((k) => !params.has(k));
    const mismatched: string[] = [];
    for (const [name, p] of params) {
      if (!Object.hasOwn(dict, name)) continue;
      const v = dict[name];
      if (!(v instanceof Tensor)) mismatched.push(`${name}: expected a Tensor, got ${describe(v)}`);
      else if (v.isDisposed) mismatched.push(`${name}: the tensor ${fmtShape(v.shape)} was disposed`);
      else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
        mismatched.push(`${name}: expected shape ${fmtShape(p.shape)}, got ${fmtShape(v.shape)}`);
      } else if (v.dtype !== p.dtype) mismatched.push(`${name}: expected ${p.dtype}, got ${v.dtype}`);
    }
    if (missing.length || extra.length || mismatched.length) {
      const parts = [];
      const inherited = missing.some((k) => k in dict) ? " (inherited keys do not count: only the dict's own)" : "";
      if (missing.length) parts.push(`missing keys: ${missing.join(", ")}${inherited}`);
      if (extra.length) parts.push(`unexpected keys: ${extra.join(", ")}`);
      if (mismatched.length) parts.push(`mismatched: ${mismatched.join("; ")}`);
      throw new Error(`loadStateDict: the state dict does not fit this ${this.constructor.name} (${parts.join("; ")})`);
    }
    noGrad(() => {
      // Read everything first: nothing is written if a read fails, and aliases read the old values.
      const host = [...params.keys()].map((name) => dict[name].toHost());
      [...params.values()].forEach((p, i) => {
        const staged = p._backend.fromHost(p.dtype, host[i]);
        p._backend.copy(p._data("loadStateDict"), staged, p.size);
        p._backend.free(staged);
      });
    });
  }

  /** Training mode (the default); returns this module. */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.children()) m.train(mode);
    return this;
  }

  /** Evaluation mode; returns this module. */
  eval(): this {
    return this.train(false);
  }

  /** Moves every parameter and buffer to `dev` in place (optimizers holding them stay valid); returns this module. */
  to(dev: Device): this {
    for (const p of this.parameters()) p._moveTo(dev);
    for (const b of this.buffers()) b._moveTo(dev);
    return this;
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}
