/**
 * Philox4x32-10, the counter-based generator of Random123 (Salmon et al., SC'11), and the random
 * fill every backend computes from it. This file is the specification the CUDA kernel matches.
 *
 * **The block.** philox(counter c0..c3, key k0 k1): ten rounds of
 * `(hi0, lo0) = M0·c0`, `(hi1, lo1) = M1·c2` (32×32 → 64-bit products),
 * `c = [hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0]`, then `k0 += W0`, `k1 += W1` (mod 2³²) between
 * rounds; M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85. The four words of
 * `c` after the tenth round are the output.
 *
 * **The stream.** Element `i` of a fill takes word `i mod 4` of philox(counter = [lo32(q), hi32(q),
 * 0, 0], key = [lo32(seed), hi32(seed)]) with q = ⌊i/4⌋ + offset. A caller that filled n elements
 * continues the stream with offset + ⌈n/4⌉.
 *
 * **The distributions** (`word` the element's 32-bit word, all float32 arithmetic rounded to
 * nearest after every operation: no fused multiply-add, so CUDA writes `__fmul_rn`/`__fadd_rn`):
 *
 * - uniform: `u = (word >>> 8) · 2⁻²⁴` (exact, in [0, 1)); with `lo = f32(low)` and
 *   `span = f32(f32(high) − lo)`: `value = f32(f32(u · span) + lo)`.
 * - bernoulli: `value = u < f32(p) ? 1 : 0`.
 * - normal: elements 2j and 2j + 1 (words of one block) form a pair (w0, w1):
 *   `u1 = ((w0 >>> 8) + 1) · 2⁻²⁴` in (0, 1], `u2 = (w1 >>> 8) · 2⁻²⁴`, `r = √(−2 ln u1)`,
 *   `z0 = r · cos(2π·u2)`, `z1 = r · sin(2π·u2)`; `value = mean + std · z` (element 2j takes z0,
 *   2j + 1 takes z1; an odd last element takes z0). Computed in float64 here; a float32 kernel
 *   agrees up to the last bits of log, cos and sin.
 *
 * Float64 storage receives the same numbers (uniform and bernoulli values are float32 values).
 *
 * @module
 */
import type { RandomFill } from "./backend.ts";

export type { RandomFill } from "./backend.ts";

/** Multipliers of the two products in a round. */
const M0 = 0xD2511F53, M1 = 0xCD9E8D57;
/** Weyl increments of the key between rounds (golden ratio, √3 − 1). */
const W0 = 0x9E3779B9, W1 = 0xBB67AE85;
const TWO_POW_32 = 4294967296;
const TWO_POW_M24 = 1 / 16777216;

/** The high 32 bits of the 64-bit product of two unsigned 32-bit words, from 16-bit halves (no BigInt). */
function mulhi(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const lh = al * bh, hl = ah * bl; // each < 2³², exact in a double
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Writes philox(c, k) into `out[0..3]`, all unsigned 32-bit words. */
function block(out: Uint32Array, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/**
 * One Philox4x32-10 block: four 32-bit counter words and two key words in, four words out.
 *
 * @example
 * ```ts
 * import { philox4x32 } from "./philox.ts";
 * philox4x32([0, 0, 0, 0], [0, 0]); // Uint32Array [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 * ```
 */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>): Uint32Array {
  if (counter.length !== 4 || key.length !== 2) {
    throw new Error(
      `philox4x32: expected 4 counter words and 2 key words, got ${counter.length} and ${key.length}`,
    );
  }
  const out = new Uint32Array(4);
  const w = (v: number) => v >>> 0;
  block(out, w(counter[0]), w(counter[1]), w(counter[2]), w(counter[3]), w(key[0]), w(key[1]));
  return out;
}

/**
 * Fills `out[0..size)` with the stream described in the module notes: the reference every
 * backend's `randomFill` equals (normal: up to the last bits of log, cos and sin).
 *
 * @example
 * ```ts
 * import { philoxFill } from "./philox.ts";
 * const out = new Float32Array(8);
 * philoxFill(out, { distribution: "uniform", seed: 42n, offset: 0 });
 * ```
 */
export function philoxFill(out: Float32Array | Float64Array, opts: RandomFill, size: number = out.length): void {
  const { distribution, seed, offset } = opts;
  if (!(out instanceof Float32Array || out instanceof Float64Array)) {
    throw new Error(`randomFill: out must be float32 or float64 storage, got ${(out as object)?.constructor?.name}`);
  }
  if (!Number.isInteger(size) || size < 0 || size > out.length) {
    throw new Error(`randomFill: size ${size} is not valid; expected an integer in [0, ${out.length}]`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`randomFill: offset ${offset} is not valid; expected a non-negative integer`);
  }
  if (typeof seed !== "bigint") {
    throw new Error(`randomFill: seed must be a bigint (64-bit key), got ${typeof seed}`);
  }
  const key = BigInt.asUintN(64, seed);
  const k0 = Number(key & 0xffffffffn), k1 = Number(key >> 32n);
  const words = new Uint32Array(4);
  // Every element is a function of its block's words; `value(words, lane)` maps one word.
  let value: (w: Uint32Array, lane: number) => number;
  switch (distribution) {
    case "uniform": {
      const lo = Math.fround(opts.low ?? 0);
      const span = Math.fround(Math.fround(opts.high ?? 1) - lo);
      value = (w, lane) => Math.fround(Math.fround((w[lane] >>> 8) * TWO_POW_M24 * span) + lo);
      break;
    }
    case "bernoulli": {
      if (opts.p === undefined || !(opts.p >= 0 && opts.p <= 1)) {
        throw new Error(`randomFill: bernoulli needs p in [0, 1], got ${opts.p}`);
      }
      const p = Math.fround(opts.p);
      value = (w, lane) => ((w[lane] >>> 8) * TWO_POW_M24 < p ? 1 : 0);
      break;
    }
    case "normal": {
      const mean = opts.low ?? 0, std = opts.std ?? 1;
      value = (w, lane) => {
        const pair = lane & 2; // lanes (0, 1) and (2, 3)
        const u1 = ((w[pair] >>> 8) + 1) * TWO_POW_M24, u2 = (w[pair + 1] >>> 8) * TWO_POW_M24;
        const r = Math.sqrt(-2 * Math.log(u1)), angle = 2 * Math.PI * u2;
        return mean + std * r * ((lane & 1) === 0 ? Math.cos(angle) : Math.sin(angle));
      };
      break;
    }
    default:
      throw new Error(
        `randomFill: unknown distribution ${JSON.stringify(distribution)}; expected "uniform", "normal" or "bernoulli"`,
      );
  }
  for (let i = 0; i < size; i += 4) {
    const q = i / 4 + offset;
    block(words, q >>> 0, Math.floor(q / TWO_POW_32) >>> 0, 0, 0, k0, k1);
    const end = Math.min(4, size - i);
    for (let lane = 0; lane < end; lane++) out[i + lane] = value(words, lane);
  }
}
