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
import { fmtShape, noGrad, Tensor } from "../tensor/mod.ts";

const parameters = new WeakSet<Tensor>();

/**
 * Marks `t` as a learnable parameter (sets `requiresGrad`): module fields holding it
 * appear in `parameters()` and `stateDict()` even when later frozen.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "../../mod.ts";
 * class Scale extends nn.Module {
 *   s = nn.parameter(Tensor.ones([1]));
 *   forward(x: Tensor): Tensor { return x.mul(this.s); }
 * }
 * ```
 */
export function parameter(t: Tensor): Tensor {
  t.requiresGrad = true;
  parameters.add(t);
  return t;
}

function isParameter(v: unknown): v is Tensor {
  return v instanceof Tensor && (parameters.has(v) || v.requiresGrad);
}

/**
 * Base class of layers and networks. Subclasses declare parameters and sub-modules as
 * fields and implement `forward`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "../../mod.ts";
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

  /** Direct sub-modules with their names, in declaration order. */
  namedChildren(): [string, Module][] {
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

  /** Every parameter with its dotted name (`conv1.weight`), this module's own first, in declaration order. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [key, v] of Object.entries(this)) {
      if (isParameter(v)) out.push([key, v]);
      else if (v instanceof Module) {
        for (const [name, p] of v.namedParameters()) out.push([`${key}.${name}`, p]);
      } else if (Array.isArray(v)) {
        v.forEach((m, i) => {
          if (m instanceof Module) {
            for (const [name, p] of m.namedParameters()) out.push([`${key}.${i}.${name}`, p]);
          }
        });
      }
    }
    return out;
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
   * import { nn, Tensor } from "../../mod.ts";
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
    this.#buffers.set(name, { tensor: t, persistent: opts.persistent ?? true });
    return t;
  }

  /** Every buffer with its dotted name (`bn1.running_mean`), this module's own first; null ones left out. */
  namedBuffers(opts: { persistentOnly?: boolean } = {}): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, b] of this.#buffers) {
      if (b.tensor && (b.persistent || !opts.persistentOnly)) out.push([name, b.tensor]);
    }
    for (const [prefix, m] of this.namedChildren()) {
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

  /** Parameters then persistent buffers, by name: what the state dict holds. */
  #namedState(): [string, Tensor][] {
    return [...this.namedParameters(), ...this.namedBuffers({ persistentOnly: true })];
  }

  /**
   * Copies values from `dict` into the parameters. Strict: a missing key, an extra key or a
   * shape mismatch is an Error that lists every one of them; nothing is copied then.
   */
  loadStateDict(dict: Record<string, Tensor>): void {
    const params = new Map(this.#namedState());
    const missing = [...params.keys()].filter((k) => !(k in dict));
    const extra = Object.keys(dict).filter((k) => !params.has(k));
    const mismatched: string[] = [];
    for (const [name, p] of params) {
      const v = dict[name];
      if (v === undefined) continue;
      if (!(v instanceof Tensor)) mismatched.push(`${name}: expected a Tensor, got ${typeof v}`);
      else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
        mismatched.push(`${name}: expected shape ${fmtShape(p.shape)}, got ${fmtShape(v.shape)}`);
      } else if (v.dtype !== p.dtype) mismatched.push(`${name}: expected ${p.dtype}, got ${v.dtype}`);
    }
    if (missing.length || extra.length || mismatched.length) {
      const parts = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(", ")}`);
      if (extra.length) parts.push(`unexpected keys: ${extra.join(", ")}`);
      if (mismatched.length) parts.push(`mismatched: ${mismatched.join("; ")}`);
      throw new Error(`loadStateDict: the state dict does not fit this ${this.constructor.name} (${parts.join("; ")})`);
    }
    noGrad(() => {
      for (const [name, p] of params) {
        const staged = p._backend.fromHost(p.dtype, dict[name].toHost());
        p._backend.copy(p._data("loadStateDict"), staged, p.size);
        p._backend.free(staged);
      }
    });
  }

  /** Training mode (the default); returns this module. */
  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.namedChildren()) m.train(mode);
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
