/**
 * The `Optimizer` base class: parameter groups, per-parameter state, `zeroGrad`.
 *
 * @module
 */
import { checkOptionKeys } from "../ops/_util.ts";
import { keep, Tensor } from "../tensor/mod.ts";

/** A parameter group as given to an optimizer: its parameters plus options overriding the defaults. */
export type ParamGroupInput<O> = { params: Tensor[] } & Partial<O>;

/** A parameter group: its parameters and its (complete) options; `lr` may be changed between steps. */
export type ParamGroup<O> = { params: Tensor[] } & O;

/**
 * Base class of optimizers. Subclasses implement `step()` with a backend kernel per parameter.
 *
 * @example
 * ```ts
 * import { nn, optim } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * opt.paramGroups[0].lr = 0.05; // what schedulers do
 * ```
 */
export abstract class Optimizer<O extends { lr: number } = { lr: number }> {
  /** The parameter groups; each has `params` and the optimizer's options (`lr`, ...). */
  readonly paramGroups: ParamGroup<O>[];
  /** Per-parameter state buffers (created on the first step that sees the parameter). */
  protected readonly state: Map<Tensor, Record<string, Tensor>> = new Map();

  /** Validates and groups `params`. */
  protected constructor(
    name: string,
    params: Tensor[] | ParamGroupInput<O>[],
    defaults: O,
    validate: (o: O) => void,
  ) {
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
      checkOptionKeys(name, g, ["params", ...Object.keys(defaults)]);
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

  /** The state buffers of `p`, created as zeros on first use. */
  protected stateOf(p: Tensor, names: readonly string[]): Record<string, Tensor> {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      for (const n of names) s[n] = keep(Tensor.zeros(p.shape, { dtype: p.dtype, device: p.device }));
      this.state.set(p, s);
    }
    return s;
  }

  /**
   * The parameters that have gradients, batched by parameter group, device and `key(p)`:
   * each batch shares hyper-parameters and becomes one multi-tensor backend call.
   */
  protected batches(key: (p: Tensor) => number = () => 0): Batch<O>[] {
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

/** Throws unless `v` is a finite number ≥ `min` (and < `below`, when given). */
export function checkRange(op: string, name: string, v: unknown, min: number, below?: number): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (below !== undefined && v >= below)) {
    const range = below === undefined ? `≥ ${min}` : `in [${min}, ${below})`;
    throw new Error(
      `${op}: ${name} must be a number ${range}, got ${typeof v === "number" ? String(v) : JSON.stringify(v)}`,
    );
  }
}
