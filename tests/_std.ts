/**
 * The one place tests take their assertions and path helpers from.
 *
 * JSR is not reachable from our machines, so `@std/assert` and `@std/path`
 * cannot be fetched; Deno's built-in Node modules stand in. Switching to
 * `@std` later is a change to this file only.
 *
 * @module
 */
import assert from "node:assert/strict";
export { dirname, fromFileUrl, join } from "../src/_path.ts";

/** Fails unless `cond` is truthy. */
export function assertOk(cond: unknown, msg?: string): asserts cond {
  assert.ok(cond, msg);
}

/** Deep, strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/**
 * Fails unless `fn` throws an `Error` whose message contains every one of `includes`
 * (or matches it, when given a RegExp). Returns the error for further checks.
 */
export function assertThrows(
  fn: () => unknown,
  ...includes: (string | RegExp)[]
): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, includes);
  }
  throw new Error(`expected the call to throw (${includes.join(", ")}), but it returned`);
}

/** Like {@linkcode assertThrows} for a function returning a promise. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  ...includes: (string | RegExp)[]
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, includes);
  }
  throw new Error(`expected the promise to reject (${includes.join(", ")}), but it resolved`);
}

function checkError(e: unknown, includes: (string | RegExp)[]): Error {
  if (!(e instanceof Error)) throw new Error(`expected an Error, got ${String(e)}`);
  for (const want of includes) {
    const ok = typeof want === "string" ? e.message.includes(want) : want.test(e.message);
    assert.ok(ok, `error message ${JSON.stringify(e.message)} does not contain ${String(want)}`);
  }
  return e;
}

/**
 * Elementwise closeness: |a - b| <= atol + rtol * |b| for every element, where `b` is the reference.
 * On failure the message lists the count and the first mismatches with their indices.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: { atol?: number; rtol?: number; label?: string } = {},
): void {
  const { atol = 1e-6, rtol = 1e-4, label = "values" } = opts;
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} but expected ${expected.length}`);
  }
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], b = expected[i];
    const ok = Math.abs(a - b) <= atol + rtol * Math.abs(b) || (Number.isNaN(a) && Number.isNaN(b));
    if (!ok) {
      count++;
      if (bad.length < 5) bad.push(`[${i}] got ${a}, expected ${b}`);
    }
  }
  if (count > 0) {
    throw new Error(
      `${label}: ${count} of ${actual.length} elements differ (atol ${atol}, rtol ${rtol}); first: ${bad.join("; ")}`,
    );
  }
}

/**
 * Elementwise |got − want| ≤ atol + rtol·scale (scale: |want| unless given); NaN matches NaN.
 * On failure: how many differ and the first five, with their coordinates in `shape`. int64 values
 * are compared as numbers (exact below 2^53).
 */
export function near(
  label: string,
  gotValues: ArrayLike<number> | BigInt64Array,
  wantValues: ArrayLike<number> | BigInt64Array,
  opts: { atol?: number; rtol?: number; scale?: ArrayLike<number>; shape?: readonly number[] } = {},
): void {
  const { atol = 0, rtol = 0, scale, shape } = opts;
  const asNumbers = (a: ArrayLike<number> | BigInt64Array) => (a instanceof BigInt64Array ? Array.from(a, Number) : a);
  const got = asNumbers(gotValues), want = asNumbers(wantValues);
  if (got.length !== want.length) throw new Error(`${label}: ${got.length} values, expected ${want.length}`);
  const coords = (i: number) => {
    if (!shape) return `[${i}]`;
    const c: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      c.unshift(i % shape[d]);
      i = Math.floor(i / shape[d]);
    }
    return `[${c.join(", ")}]`;
  };
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i], w = want[i];
    if (
      Number.isNaN(w) ? Number.isNaN(g) : g === w || Math.abs(g - w) <= atol + rtol * (scale ? scale[i] : Math.abs(w))
    ) {
      continue;
    }
    count++;
    if (bad.length < 5) bad.push(`${coords(i)} got ${g}, expected ${w} (diff ${Math.abs(g - w).toExponential(2)})`);
  }
  if (count > 0) {
    throw new Error(
      `${label}: ${count} of ${got.length} elements differ (atol ${atol}, rtol ${rtol}${
        scale ? " × |terms|" : ""
      }); first: ${bad.join("; ")}`,
    );
  }
}

/** Fails with the first mismatches unless the arrays are equal bit for bit (`Object.is`: NaNs equal, 0 ≠ −0). */
export function assertBitEqual(got: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  assertEquals(got.length, want.length, `${label}: length`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) {
      if (++count <= 5) bad.push(`[${i}] got ${got[i]}, want ${want[i]}`);
    }
  }
  if (count > 0) throw new Error(`${label}: ${count} of ${got.length} differ; first: ${bad.join("; ")}`);
}
