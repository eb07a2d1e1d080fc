/**
 * Storage on the CPU: one typed array per dtype, and the primitives that create, fill, copy
 * and cast it. These are the only primitives int64 (a BigInt64Array) takes part in, with
 * `copyStrided`; every arithmetic primitive rejects it through {@linkcode numeric}.
 *
 * @module
 */
import type { DType, HostArray } from "../backend.ts";
import type { NumArray, TsStorage } from "./_types.ts";

/** The dtype a typed array holds. */
export function dtypeOf(s: TsStorage): DType {
  if (s instanceof Float32Array) return "float32";
  if (s instanceof Float64Array) return "float64";
  if (s instanceof Int32Array) return "int32";
  if (s instanceof BigInt64Array) return "int64";
  throw new Error(`ts backend: ${describe(s)} is not storage of this backend; expected a typed array of a dtype`);
}

function describe(v: unknown): string {
  return v === null || v === undefined ? String(v) : (v as object).constructor?.name ?? typeof v;
}

/** `s` itself, once it is known not to be int64: `op` names the caller in the error. */
export function numeric(op: string, s: TsStorage): NumArray {
  if (s instanceof BigInt64Array) {
    throw new Error(
      `${op}: int64 storage does not support arithmetic (int64 is storage only: cast it to float32, float64 or int32 first)`,
    );
  }
  return s;
}

/** Fails unless `s` holds at least `count` elements. */
export function checkLength(op: string, name: string, s: TsStorage, count: number): void {
  if (s.length < count) {
    throw new Error(`${op}: ${name} has ${s.length} elements but ${count} are needed`);
  }
}

/** `size` zeroed elements of `dtype`. */
export function makeArray(dtype: DType, size: number): TsStorage {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "int64":
      return new BigInt64Array(size);
  }
  throw new Error(`alloc: unknown dtype ${JSON.stringify(dtype)}; expected float32, float64, int32 or int64`);
}

/** Copies `values` into `out` (new storage of `dtype`): numbers into number storage, bigints into int64. */
export function setFromHost(dtype: DType, out: TsStorage, values: HostArray): void {
  if ((dtype === "int64") !== (values instanceof BigInt64Array)) {
    const want = dtype === "int64" ? "a BigInt64Array" : "a Float32Array, Float64Array or Int32Array";
    throw new Error(`fromHost: ${dtype} storage takes ${want}, got ${describe(values)}`);
  }
  (out as HostArray).set(values as never);
}

/** A host copy of the first `size` elements, typed by `dtype`. */
export function toHost(dtype: DType, s: TsStorage, size: number): HostArray {
  checkDtype("toHost", "s", s, dtype);
  checkLength("toHost", "s", s, size);
  const out = makeArray(dtype, size);
  (out as HostArray).set(s.subarray(0, size) as never);
  return out;
}

/** Fails unless `s` is storage of `dtype`. */
export function checkDtype(op: string, name: string, s: TsStorage, dtype: DType): void {
  const got = dtypeOf(s);
  if (got !== dtype) throw new Error(`${op}: ${name} is ${got} storage but ${dtype} was given`);
}

/**
 * A number as int64 the way int32 storage takes one: truncated toward zero, wrapped modulo 2⁶⁴,
 * NaN and ±∞ as 0.
 */
export function toInt64(v: number): bigint {
  return Number.isFinite(v) ? BigInt.asIntN(64, BigInt(Math.trunc(v))) : 0n;
}

/** `out[0..size) = value`. */
export function fill(out: TsStorage, value: number, size: number): void {
  checkLength("fill", "out", out, size);
  if (out instanceof BigInt64Array) out.fill(toInt64(value), 0, size);
  else out.fill(value, 0, size);
}

/** `out[0..size) = x[0..size)`, same dtype. */
export function copy(out: TsStorage, x: TsStorage, size: number): void {
  checkDtype("copy", "x", x, dtypeOf(out));
  checkLength("copy", "x", x, size);
  checkLength("copy", "out", out, size);
  (out as HostArray).set(x.subarray(0, size) as never);
}

/** `out = cast(x)`: float to integer truncates toward zero; integers wrap (int64 → int32 keeps the low 32 bits). */
export function cast(out: TsStorage, outType: DType, x: TsStorage, xType: DType, size: number): void {
  checkDtype("cast", "out", out, outType);
  checkDtype("cast", "x", x, xType);
  checkLength("cast", "x", x, size);
  checkLength("cast", "out", out, size);
  if (out instanceof BigInt64Array) {
    if (x instanceof BigInt64Array) out.set(x.subarray(0, size));
    else for (let i = 0; i < size; i++) out[i] = toInt64(x[i]);
  } else if (x instanceof BigInt64Array) {
    if (out instanceof Int32Array) { for (let i = 0; i < size; i++) out[i] = Number(BigInt.asIntN(32, x[i])); }
    else for (let i = 0; i < size; i++) out[i] = Number(x[i]);
  } else if (out instanceof Int32Array) {
    for (let i = 0; i < size; i++) out[i] = Math.trunc(x[i]);
  } else {
    for (let i = 0; i < size; i++) out[i] = x[i];
  }
}

/** `out += x` elementwise. */
export function addInPlace(out: TsStorage, x: TsStorage, size: number): void {
  const o = numeric("addInPlace", out), xs = numeric("addInPlace", x);
  checkLength("addInPlace", "x", xs, size);
  checkLength("addInPlace", "out", o, size);
  for (let i = 0; i < size; i++) o[i] += xs[i];
}
