/**
 * Helpers shared by the learning-rate schedulers: option checks, the `initial_lr` each parameter
 * group starts from, and the checked reading of a state dict.
 *
 * @module
 */
import type { Optimizer } from "./optimizer.ts";

/** A scheduler's state as PyTorch's `state_dict()` holds it (its key names), functions left out. */
export type SchedulerStateDict = Record<string, unknown>;

export { initialLrOf, peekInitialLr, setInitialLr } from "./_initial_lr.ts";

/** Throws unless `v` is a finite number within `range` (`min`/`max` inclusive, `above`/`below` exclusive). */
export function checkNumber(
  name: string,
  arg: string,
  v: unknown,
  range: { min?: number; max?: number; above?: number; below?: number } = {},
): number {
  const { min = -Infinity, max = Infinity, above, below } = range;
  const ok = typeof v === "number" && Number.isFinite(v) && v >= min && v <= max &&
    (above === undefined || v > above) && (below === undefined || v < below);
  if (!ok) {
    const parts = [
      min !== -Infinity ? `≥ ${min}` : "",
      above !== undefined ? `> ${above}` : "",
      max !== Infinity ? `≤ ${max}` : "",
      below !== undefined ? `< ${below}` : "",
    ].filter(Boolean);
    const want = parts.length ? `a number ${parts.join(" and ")}` : "a finite number";
    throw new Error(`${name}: ${arg} must be ${want}, got ${show(v)}`);
  }
  return v as number;
}

/** Throws unless `gamma` is a finite number ≥ 0. */
export function checkGamma(name: string, gamma: unknown): number {
  if (typeof gamma !== "number" || !Number.isFinite(gamma) || gamma < 0) {
    throw new Error(`${name}: gamma must be a number ≥ 0, got ${show(gamma)}`);
  }
  return gamma;
}

/** Throws unless `v` is an integer ≥ `min`. */
export function checkInt(name: string, arg: string, v: unknown, min: number): number {
  if (!Number.isInteger(v) || (v as number) < min) {
    throw new Error(`${name}: ${arg} must be an integer ≥ ${min}, got ${show(v)}`);
  }
  return v as number;
}

/** Reads a per-group option given as one value or one per group, each checked by `check`. */
export function perGroup<V>(
  name: string,
  arg: string,
  v: V | readonly V[],
  groups: number,
  check: (x: unknown, label: string) => V,
): V[] {
  if (!Array.isArray(v)) return new Array(groups).fill(check(v, arg));
  if (v.length !== groups) {
    throw new Error(`${name}: ${arg} must be one value or one per parameter group (${groups}), got ${v.length}`);
  }
  return v.map((x, i) => check(x, `${arg}[${i}]`));
}

/** Throws unless `v` is one of `allowed`. */
export function checkChoice<S extends string>(name: string, arg: string, v: unknown, allowed: readonly S[]): S {
  if (!allowed.includes(v as S)) {
    throw new Error(`${name}: ${arg} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${show(v)}`);
  }
  return v as S;
}

/** Throws unless `opts` is an object (the scheduler's options). */
export function checkOptions(name: string, opts: unknown, shape: string): void {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new Error(`${name}: options ${shape} are required, got ${show(opts)}`);
  }
}

/** Throws unless `optimizer` looks like an optimizer (parameter groups with a numeric `lr`). */
export function checkOptimizer(name: string, optimizer: Optimizer): void {
  const groups = (optimizer as { paramGroups?: unknown } | null)?.paramGroups;
  if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g?.lr === "number")) {
    throw new Error(`${name}: expected an optimizer (parameter groups with an lr), got ${show(optimizer)}`);
  }
}

/** A short description of a value for error messages. */
export function show(v: unknown): string {
  if (typeof v === "function") return "a function";
  if (typeof v === "number") return String(v);
  if (typeof v === "object" && v !== null && !Array.isArray(v) && v.constructor !== Object) {
    return `a ${v.constructor?.name ?? "object"}`;
  }
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Checked reads from a state dict given to `loadStateDict`: each read names the scheduler, the key and
 * what was expected; `done()` rejects keys nobody read.
 */
export class StateReader {
  readonly #name: string;
  readonly #sd: SchedulerStateDict;
  readonly #read = new Set<string>();

  /** Wraps `sd` for the scheduler `name` (e.g. "StepLR"). */
  constructor(name: string, sd: unknown) {
    this.#name = `${name}.loadStateDict`;
    if (sd === null || typeof sd !== "object" || Array.isArray(sd)) {
      throw new Error(`${this.#name}: expected a state dict (an object), got ${show(sd)}`);
    }
    this.#sd = sd as SchedulerStateDict;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return key in this.#sd;
  }

  /** The raw value of `key` (which must be present). */
  raw(key: string): unknown {
    if (!(key in this.#sd)) throw new Error(`${this.#name}: missing "${key}"`);
    this.#read.add(key);
    return this.#sd[key];
  }

  /** A number (±Infinity allowed, as PyTorch's `best`). */
  number(key: string): number {
    const v = this.raw(key);
    if (typeof v !== "number" || Number.isNaN(v)) this.#fail(key, "a number", v);
    return v as number;
  }

  /** An integer. */
  int(key: string): number {
    const v = this.raw(key);
    if (!Number.isInteger(v)) this.#fail(key, "an integer", v);
    return v as number;
  }

  /** A boolean. */
  bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v !== "boolean") this.#fail(key, "a boolean", v);
    return v as boolean;
  }

  /** One of `allowed`. */
  choice<S extends string>(key: string, allowed: readonly S[]): S {
    const v = this.raw(key);
    if (!allowed.includes(v as S)) this.#fail(key, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`, v);
    return v as S;
  }

  /** An array of `length` numbers (when given). */
  numbers(key: string, length?: number): number[] {
    const v = this.raw(key);
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number") || (length !== undefined && v.length !== length)) {
      this.#fail(key, length === undefined ? "an array of numbers" : `an array of ${length} numbers`, v);
    }
    return [...(v as number[])];
  }

  /** An array (of anything) of `length` entries. */
  array(key: string, length: number): unknown[] {
    const v = this.raw(key);
    if (!Array.isArray(v) || v.length !== length) this.#fail(key, `an array of ${length} entries`, v);
    return v as unknown[];
  }

  /** Throws a message naming `key`, what was expected and what was given. */
  fail(key: string, want: string, got: unknown): never {
    this.#fail(key, want, got);
  }

  /** Throws if `sd` holds keys no read asked for. */
  done(): void {
    const extra = Object.keys(this.#sd).filter((k) => !this.#read.has(k));
    if (extra.length) {
      throw new Error(
        `${this.#name}: unknown key${extra.length > 1 ? "s" : ""} ${extra.map((k) => `"${k}"`).join(", ")}; ` +
          `expected ${[...this.#read].join(", ")}`,
      );
    }
  }

  #fail(key: string, want: string, got: unknown): never {
    throw new Error(`${this.#name}: "${key}" must be ${want}, got ${show(got)}`);
  }
}
