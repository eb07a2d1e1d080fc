/**
 * The `Optimizer` base class: parameter groups, per-parameter state, `zeroGrad`, and the state
 * dict in PyTorch's layout (`stateDict` / `loadStateDict`).
 *
 * @module
 */
import { checkOptionKeys } from "../ops/_util.ts";
import { fmtShape } from "../backend/shape.ts";
import { keep, Tensor } from "../tensor/mod.ts";
import { peekInitialLr, setInitialLr } from "./_initial_lr.ts";
import { DeviceHyper, frozenInGraph } from "./_device_hyper.ts";

/** A parameter group as given to an optimizer: its parameters plus options overriding the defaults. */
export type ParamGroupInput<O> = { params: Tensor[] } & Partial<O>;

/** A parameter group: its parameters and its (complete) options; `lr` may be changed between steps. */
export type ParamGroup<O> = { params: Tensor[] } & O;

/**
 * One parameter's state: its step count (absent for optimizers PyTorch does not count steps for:
 * SGD) and its buffers by PyTorch's names (`exp_avg`, `square_avg`, ...; null where PyTorch keeps
 * None: SGD's `momentum_buffer` without momentum).
 */
export interface ParamState {
  /** Steps taken with this parameter. */
  step?: number;
  /** The buffers, shaped like the parameter. */
  buffers: Record<string, Tensor | null>;
}

/** What one parameter's state holds, checked by `loadStateDict`. */
export interface StateLayout {
  /** Whether the state counts steps (`step`). */
  step: boolean;
  /** Buffers that must be tensors. */
  buffers: readonly string[];
  /** Buffers that may be a tensor, null or absent. */
  optional?: readonly string[];
}

/**
 * An optimizer's state in PyTorch's layout: per-parameter state by the parameter's index (counted
 * across the groups in order), and the groups' hyper-parameters under PyTorch's names
 * (`weight_decay`, `betas`, ...) with the indices of their parameters.
 */
export interface OptimizerStateDict {
  /** Per-parameter state: `step` (a number) and buffers (tensors, or null), by parameter index. */
  state: Record<number, Record<string, Tensor | number | null>>;
  /** The parameter groups: hyper-parameters and `params` (parameter indices). */
  param_groups: ParamGroupState[];
}

/** One parameter group of a state dict: hyper-parameters under PyTorch's names, and parameter indices. */
export interface ParamGroupState {
  /** The indices of the group's parameters. */
  params: number[];
  /** Hyper-parameters (`lr`, `betas`, `weight_decay`, ...). */
  [key: string]: number | boolean | number[] | null;
}

/**
 * Keys of PyTorch's parameter groups that are ignored on load: implementation switches, and
 * OneCycleLR's bounds (its own state dict holds them). `initial_lr`, the schedulers' starting
 * rate, is saved and restored.
 */
const IGNORED_KEYS = ["foreach", "capturable", "differentiable", "fused", "max_lr", "min_lr"];

/** `weightDecay` → `weight_decay`. */
const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

/**
 * Base class of optimizers. Subclasses implement `step()` with a backend kernel per parameter.
 *
 * @example
 * ```ts
 * import { nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * opt.paramGroups[0].lr = 0.05; // what schedulers do
 * const saved = opt.stateDict(); // { state: {}, param_groups: [{ lr: 0.05, momentum: 0, ..., params: [0, 1] }] }
 * ```
 */
export abstract class Optimizer<O extends { lr: number } = { lr: number }> {
  /** The parameter groups; each has `params` and the optimizer's options (`lr`, ...). */
  readonly paramGroups: ParamGroup<O>[];
  /** Per-parameter state (created on the first step that sees the parameter). */
  protected readonly state: Map<Tensor, ParamState> = new Map();
  /** The hyper-parameters the CUDA kernels read from device memory, per batch (./_device_hyper.ts). */
  protected readonly deviceHyper: DeviceHyper = new DeviceHyper();
  readonly #name: string;
  readonly #optionNames: string[];
  readonly #validate: (o: object) => void; // not typed by O, so that Optimizer<SgdOptions> is an Optimizer
  /** State dicts loaded so far: a CUDA graph captured before a load holds the replaced buffers. */
  #loads = 0;

  /** Validates and groups `params`. */
  protected constructor(
    name: string,
    params: Tensor[] | ParamGroupInput<O>[],
    defaults: O,
    validate: (o: O) => void,
  ) {
    this.#name = name;
    this.#optionNames = Object.keys(defaults);
    this.#validate = validate as (o: object) => void;
    if (!Array.isArray(params) || params.length === 0) {
      throw new Error(
        `${name}: expected a non-empty array of parameters (or of parameter groups), got ${
          Array.isArray(params) ? "an empty array" : String(params)
        }`,
      );
    }
    const groups: ParamGroupInput<O>[] = params.every((p) => p instanceof Tensor)
      ? [{ params: params as Tensor[] } as ParamGroupInput<O>]
      : params as ParamGroupInput<O>[];
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, i) => {
      if (!g || !Array.isArray(g.params)) {
        throw new Error(`${name}: parameter group ${i} must be { params: Tensor[], ...options }`);
      }
      checkOptionKeys(name, g, ["params", ...this.#optionNames]);
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new Error(`${name}: parameter group ${i} holds a non-Tensor`);
        if (p.dtype === "int32") throw new Error(`${name}: cannot optimize an int32 tensor`);
        if (seen.has(p)) throw new Error(`${name}: a parameter appears in more than one group`);
        seen.add(p);
      }
      const group = { ...defaults, ...g, params: [...g.params] } as ParamGroup<O>;
      validate(group);
      return group;
    });
  }

  /** Clears every parameter's gradient (sets it to null, freeing its memory). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** What the state of a parameter in `group` holds. */
  protected abstract stateLayout(group: ParamGroup<O>): StateLayout;

  /**
   * The state of `p`, created on first use (step 0; buffers filled with `fill`); a buffer the
   * state lacks (an option switched on since) is created the same way.
   */
  protected stateOf(p: Tensor, names: readonly string[], opts: { step?: boolean; fill?: number } = {}): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = opts.step === false ? { buffers: {} } : { step: 0, buffers: {} };
      this.state.set(p, s);
    }
    for (const n of names) {
      s.buffers[n] ??= keep(Tensor.full(p.shape, opts.fill ?? 0, { dtype: p.dtype, device: p.device }));
    }
    return s;
  }

  /**
   * The state in PyTorch's layout. The buffers share storage with the optimizer's (as PyTorch's
   * do): save or copy them before the next `step()` if a snapshot is wanted.
   *
   * @example
   * ```ts
   * import { nn, optim } from "@convnet/convnet";
   * const model = new nn.Linear(4, 2);
   * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
   * const copy = new optim.Adam(new nn.Linear(4, 2).parameters());
   * copy.loadStateDict(opt.stateDict()); // lr 1e-3 and the moments move over
   * ```
   */
  stateDict(): OptimizerStateDict {
    this.#followParameters();
    const state: OptimizerStateDict["state"] = {};
    let index = 0;
    const param_groups = this.paramGroups.map((group) => {
      const hyper: Record<string, number | boolean | number[]> = {};
      for (const key of this.#optionNames) {
        const v = (group as Record<string, unknown>)[key] as number | boolean | number[];
        hyper[snake(key)] = Array.isArray(v) ? [...v] : v;
      }
      const params = group.params.map((p) => {
        const s = this.state.get(p);
        if (s) {
          const entry: Record<string, Tensor | number | null> = {};
          if (s.step !== undefined) entry.step = s.step;
          for (const [k, t] of Object.entries(s.buffers)) entry[k] = t && t.detach();
          state[index] = entry;
        }
        return index++;
      });
      const initialLr = peekInitialLr(group);
      if (initialLr !== undefined) hyper.initial_lr = initialLr; // a scheduler is attached, as PyTorch's
      return { ...hyper, params };
    });
    return { state, param_groups };
  }

  /**
   * Loads a state saved by {@linkcode stateDict} (or converted from PyTorch's): the groups'
   * hyper-parameters (and schedulers' `initial_lr`) replace the current ones and the per-parameter
   * state is copied onto the parameters' devices and dtypes. Strict: a different number of groups
   * or parameters, a missing or unknown key, or a buffer of the wrong size is an Error, and nothing
   * is changed then. PyTorch's implementation switches (`foreach`, `capturable`, `differentiable`,
   * `fused`; `maximize` when false) and OneCycleLR's `max_lr`, `min_lr` are ignored.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const fail = (msg: string): never => {
      throw new Error(`${this.#name}.loadStateDict: ${msg}`);
    };
    if (dict === null || typeof dict !== "object" || !Array.isArray(dict.param_groups) || !dict.state) {
      fail(`expected { state, param_groups }, got ${dict === null ? "null" : typeof dict}`);
    }
    if (dict.param_groups.length !== this.paramGroups.length) {
      fail(
        `the state dict has ${dict.param_groups.length} parameter groups, this optimizer ${this.paramGroups.length}`,
      );
    }
    const byIndex = new Map<number, { param: Tensor; group: number }>();
    const options = dict.param_groups.map((saved, gi) => {
      const group = this.paramGroups[gi];
      if (!Array.isArray(saved?.params) || saved.params.length !== group.params.length) {
        fail(
          `parameter group ${gi} has ${saved?.params?.length ?? "no"} parameters in the state dict, ` +
            `${group.params.length} here`,
        );
      }
      saved.params.forEach((index, j) => byIndex.set(index, { param: group.params[j], group: gi }));
      const known = [...this.#optionNames.map(snake), "params", "initial_lr", "maximize", ...IGNORED_KEYS];
      const unknown = Object.keys(saved).filter((k) => !known.includes(k));
      if (unknown.length) {
        fail(`parameter group ${gi}: unknown keys ${unknown.join(", ")}; expected ${known.join(", ")}`);
      }
      if (saved.maximize) fail(`parameter group ${gi}: maximize is not supported`);
      const initialLr = saved.initial_lr;
      if (initialLr !== undefined && !(typeof initialLr === "number" && initialLr >= 0)) {
        fail(`parameter group ${gi}: initial_lr must be a number ≥ 0, got ${JSON.stringify(initialLr)}`);
      }
      const next = { ...group } as Record<string, unknown>;
      for (const key of this.#optionNames) {
        if (!(snake(key) in saved)) fail(`parameter group ${gi}: missing key ${snake(key)}`);
        const v = saved[snake(key)];
        if (typeof v !== typeof next[key] || Array.isArray(v) !== Array.isArray(next[key])) {
          fail(
            `parameter group ${gi}: ${snake(key)} must be like ${JSON.stringify(next[key])}, got ${JSON.stringify(v)}`,
          );
        }
        next[key] = Array.isArray(v) ? [...v] : v;
      }
      try {
        this.#validate(next);
      } catch (e) {
        fail(`parameter group ${gi}: ${(e as Error).message}`);
      }
      return next as ParamGroup<O>;
    });
    const checked: [Tensor, Record<string, Tensor | number | null>, StateLayout][] = [];
    for (const [key, entry] of Object.entries(dict.state)) {
      const target = byIndex.get(Number(key));
      if (!target) fail(`state for parameter ${key}, but the groups list ${[...byIndex.keys()].join(", ")}`);
      const { param, group } = target!;
      const layout = this.stateLayout(options[group]);
      checkEntry(key, entry, param, layout, fail);
      checked.push([param, entry, layout]);
    }
    const next = new Map<Tensor, ParamState>();
    for (const [param, entry, layout] of checked) {
      const s: ParamState = layout.step ? { step: entry.step as number, buffers: {} } : { buffers: {} };
      for (const name of [...layout.buffers, ...(layout.optional ?? [])]) {
        const t = entry[name] as Tensor | null | undefined;
        if (t !== undefined) s.buffers[name] = t && copyFor(param, t);
      }
      next.set(param, s);
    }
    for (const s of this.state.values()) for (const t of Object.values(s.buffers)) t?.dispose();
    this.state.clear();
    this.#loads++;
    for (const [p, s] of next) this.state.set(p, s);
    options.forEach((o, gi) => {
      const group = Object.assign(this.paramGroups[gi], o, { params: this.paramGroups[gi].params });
      const initialLr = dict.param_groups[gi].initial_lr;
      if (typeof initialLr === "number") setInitialLr(group, initialLr);
    });
  }

  /**
   * The parameters that have gradients, batched by parameter group, device and `key(p)`:
   * each batch shares hyper-parameters and becomes one multi-tensor backend call.
   */
  protected batches(key: (p: Tensor) => number = () => 0): Batch<O>[] {
    this.#followParameters();
    // A captured step's kernels point at this state's buffers: a loaded state replaces them.
    frozenInGraph("the optimizer's state (loaded by loadStateDict since the capture)", () => [this.#loads]);
    const out = new Map<string, Batch<O>>();
    this.paramGroups.forEach((g, gi) => {
      for (const [p, grad, group] of this.withGradsOf(g)) {
        const k = key(p);
        const id = `${gi}/${p.device.type}/${k}`;
        let b = out.get(id);
        if (!b) out.set(id, b = { group, key: k, params: [], grads: [] });
        b.params.push(p);
        b.grads.push(grad);
      }
    });
    return [...out.values()];
  }

  /**
   * Moves each parameter's state to that parameter's device, where `Module.to()` moved the model
   * after this optimizer stepped (PyTorch users move the model first; the other order works too).
   * Runs at every step (through `batches`) and in `stateDict`.
   */
  #followParameters(): void {
    for (const [p, s] of this.state) {
      for (const t of Object.values(s.buffers)) if (t && t.device !== p.device) t._moveTo(p.device);
    }
  }

  /** Yields each parameter of `group` that has a gradient. */
  private *withGradsOf(group: ParamGroup<O>): Generator<[Tensor, Tensor, ParamGroup<O>]> {
    for (const p of group.params) {
      if (!p.grad) continue;
      if (p.grad.size !== p.size) throw new Error(`optimizer: gradient size ${p.grad.size} ≠ parameter size ${p.size}`);
      if (p.grad.device !== p.device) {
        throw new Error(`optimizer: a gradient is on ${p.grad.device.type} but its parameter on ${p.device.type}`);
      }
      yield [p, p.grad, group];
    }
  }
}

/** Throws (through `fail`) unless `entry` holds what `layout` asks for, sized like `param`. */
function checkEntry(
  index: string,
  entry: Record<string, Tensor | number | null>,
  param: Tensor,
  layout: StateLayout,
  fail: (msg: string) => never,
): void {
  if (entry === null || typeof entry !== "object") fail(`state ${index}: expected an object, got ${String(entry)}`);
  const known = [...(layout.step ? ["step"] : []), ...layout.buffers, ...(layout.optional ?? [])];
  const unknown = Object.keys(entry).filter((k) => !known.includes(k));
  const missing = known.filter((k) => !(k in entry) && !layout.optional?.includes(k));
  if (unknown.length || missing.length) {
    fail(
      `state ${index}: ${
        [missing.length && `missing ${missing.join(", ")}`, unknown.length && `unknown ${unknown.join(", ")}`]
          .filter(Boolean).join("; ")
      }; expected ${known.join(", ")}`,
    );
  }
  if (layout.step && !(Number.isInteger(entry.step) && (entry.step as number) >= 0)) {
    fail(`state ${index}: step must be an integer ≥ 0, got ${JSON.stringify(entry.step)}`);
  }
  for (const name of [...layout.buffers, ...(layout.optional ?? [])]) {
    const t = entry[name];
    if (t === undefined || (t === null && layout.optional?.includes(name))) continue;
    if (!(t instanceof Tensor)) fail(`state ${index}: ${name} must be a Tensor, got ${t === null ? "null" : typeof t}`);
    const buf = t as Tensor;
    if (buf.isDisposed) fail(`state ${index}: ${name} was disposed`);
    if (buf.size !== param.size || (buf.dtype !== "float32" && buf.dtype !== "float64")) {
      fail(
        `state ${index}: ${name} is ${fmtShape(buf.shape)} ${buf.dtype}, ` +
          `expected a float tensor of the parameter's shape ${fmtShape(param.shape)}`,
      );
    }
  }
}

/** A new state buffer for `param` (its shape, dtype and device) holding `src`'s values. */
function copyFor(param: Tensor, src: Tensor): Tensor {
  const out = keep(Tensor.zeros(param.shape, { dtype: param.dtype, device: param.device }));
  const be = param._backend;
  if (src.device === param.device && src.dtype === param.dtype) {
    be.copy(out._data(), src._data("loadStateDict"), param.size);
    return out;
  }
  const host = src.toHost() as Float32Array | Float64Array;
  const staged = be.fromHost(
    param.dtype,
    param.dtype === "float64" ? Float64Array.from(host) : Float32Array.from(host),
  );
  be.copy(out._data(), staged, param.size);
  be.free(staged);
  return out;
}

/** Parameters updated together by one multi-tensor call. */
export interface Batch<O> {
  /** Their parameter group (hyper-parameters). */
  group: ParamGroup<O>;
  /** The value of the optimizer's batching key (e.g. Adam's step count). */
  key: number;
  /** The parameters. */
  params: Tensor[];
  /** Their gradients, in the same order. */
  grads: Tensor[];
}
