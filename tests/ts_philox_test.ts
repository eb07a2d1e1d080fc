/**
 * Philox4x32-10 (src/backend/philox.ts) against Random123's published known-answer vectors,
 * and randomFill of both TypeScript backends: values derived by hand from those words, the
 * counter layout (seed as key, ⌊i/4⌋ + offset as a 64-bit counter), and streams that continue
 * across calls.
 */
import { assertEquals, assertOk, assertThrows } from "./_std.ts";
import type { Backend, RandomFill } from "../src/backend/backend.ts";
import { philox4x32, philoxFill } from "../src/backend/philox.ts";
import { tsBackend, tsReferenceBackend, type TsStorage } from "../src/backend/ts/mod.ts";

const BACKENDS: [string, Required<Backend<TsStorage>>][] = [["ts", tsBackend], ["ts-reference", tsReferenceBackend]];

const hex = (a: ArrayLike<number>) => Array.from(a, (v) => v.toString(16).padStart(8, "0")).join(" ");

Deno.test("philox4x32 matches Random123's kat_vectors for philox4x32_10", () => {
  const kat: [number[], number[], string][] = [
    [[0, 0, 0, 0], [0, 0], "6627e8d5 e169c58d bc57ac4c 9b00dbd8"],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], "408f276d 41c83b0e a20bc7c6 6d5451fd"],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], "d16cfe09 94fdcceb 5001e420 24126ea1"],
  ];
  for (const [counter, key, want] of kat) assertEquals(hex(philox4x32(counter, key)), want, `counter ${hex(counter)}`);
  assertThrows(() => philox4x32([0, 0], [0, 0]), "philox4x32", "4 counter words");
});

/** The first block of seed 0, offset 0 is the first known-answer vector. */
const WORDS = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8];
const u = (w: number) => (w >>> 8) / 2 ** 24;

function fill(be: Required<Backend<TsStorage>>, dtype: "float32" | "float64", n: number, opts: RandomFill): number[] {
  const out = be.alloc(dtype, n);
  be.randomFill(out, n, opts);
  return Array.from(be.toHost(dtype, out, n) as Float32Array);
}

Deno.test("randomFill uniform and bernoulli: values derived by hand from the known-answer words", () => {
  // u = 0x6627e8·2⁻²⁴ = 0.39904642..., then 0.88052..., 0.73571..., 0.60548...
  assertEquals(WORDS.map(u), [6694888 / 2 ** 24, 14772677 / 2 ** 24, 12343212 / 2 ** 24, 10158299 / 2 ** 24]);
  for (const [name, be] of BACKENDS) {
    for (const dtype of ["float32", "float64"] as const) {
      const tag = `${name} ${dtype}`;
      assertEquals(
        fill(be, dtype, 4, { distribution: "uniform", seed: 0n, offset: 0 }),
        WORDS.map(u),
        `${tag} uniform`,
      );
      // low + u·(high − low), rounded to float32 after each step: span 4, low −1.
      const scaled = WORDS.map((w) => Math.fround(Math.fround(u(w) * 4) - 1));
      assertEquals(
        fill(be, dtype, 3, { distribution: "uniform", seed: 0n, offset: 0, low: -1, high: 3 }),
        scaled.slice(0, 3),
        `${tag} uniform [-1, 3)`,
      );
      assertEquals(fill(be, dtype, 4, { distribution: "bernoulli", seed: 0n, offset: 0, p: 0.7 }), [1, 0, 0, 1], tag);
      assertEquals(fill(be, dtype, 4, { distribution: "bernoulli", seed: 0n, offset: 0, p: 0 }), [0, 0, 0, 0], tag);
      assertEquals(fill(be, dtype, 4, { distribution: "bernoulli", seed: 0n, offset: 0, p: 1 }), [1, 1, 1, 1], tag);
    }
  }
});

Deno.test("randomFill normal: Box–Muller on word pairs, as philox.ts documents", () => {
  const pair = (w0: number, w1: number) => {
    const u1 = ((w0 >>> 8) + 1) / 2 ** 24, u2 = (w1 >>> 8) / 2 ** 24, r = Math.sqrt(-2 * Math.log(u1));
    return [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)];
  };
  const z = [...pair(WORDS[0], WORDS[1]), ...pair(WORDS[2], WORDS[3])];
  for (const [name, be] of BACKENDS) {
    assertEquals(fill(be, "float64", 4, { distribution: "normal", seed: 0n, offset: 0 }), z, `${name} float64`);
    assertEquals(
      fill(be, "float32", 3, { distribution: "normal", seed: 0n, offset: 0, low: 2, std: 0.5 }),
      z.slice(0, 3).map((v) => Math.fround(2 + 0.5 * v)),
      `${name} float32, mean 2, std 0.5, odd size`,
    );
  }
  // The distribution: 2¹⁷ samples, mean 0 ± 0.01 and standard deviation 1 ± 0.01.
  const big = fill(tsBackend, "float32", 2 ** 17, { distribution: "normal", seed: 123n, offset: 7 });
  const mean = big.reduce((s, v) => s + v, 0) / big.length;
  const sd = Math.sqrt(big.reduce((s, v) => s + (v - mean) ** 2, 0) / big.length);
  assertOk(Math.abs(mean) < 0.01 && Math.abs(sd - 1) < 0.01, `mean ${mean}, standard deviation ${sd}`);
});

Deno.test("randomFill: the seed is the key, ⌊i/4⌋ + offset the 64-bit counter", () => {
  const seed = 0x0123456789abcdefn, key = [0x89abcdef, 0x01234567];
  for (const offset of [0, 5, 2 ** 32 - 1, 2 ** 32 + 3, 2 ** 45 + 17]) {
    const words = [0, 1, 2].flatMap((blk) => {
      const q = blk + offset;
      return Array.from(philox4x32([q % 2 ** 32, Math.floor(q / 2 ** 32), 0, 0], key));
    });
    const want = words.slice(0, 10).map(u);
    for (const [name, be] of BACKENDS) {
      assertEquals(
        fill(be, "float32", 10, { distribution: "uniform", seed, offset }),
        want,
        `${name} offset ${offset}`,
      );
    }
  }
  // A negative seed is its two's complement: -1 is the key ffffffff ffffffff.
  const a = fill(tsBackend, "float32", 4, { distribution: "uniform", seed: -1n, offset: 0 });
  assertEquals(a, Array.from(philox4x32([0, 0, 0, 0], [0xffffffff, 0xffffffff])).map(u));
});

Deno.test("randomFill: fill(n) then fill(m, offset + ⌈n/4⌉) continues the stream of fill(n + m)", () => {
  for (const distribution of ["uniform", "normal", "bernoulli"] as const) {
    for (const [n, m] of [[4, 9], [100, 1], [8, 4003]]) {
      const opts = { distribution, seed: 77n, offset: 11, p: 0.3 };
      for (const [name, be] of BACKENDS) {
        const whole = fill(be, "float32", n + m, opts);
        const head = fill(be, "float32", n, opts);
        const tail = fill(be, "float32", m, { ...opts, offset: opts.offset + Math.ceil(n / 4) });
        assertEquals([...head, ...tail], whole, `${name} ${distribution} ${n} then ${m}`);
      }
    }
  }
});

Deno.test("randomFill: tsBackend equals the reference and philoxFill; bad arguments are errors", () => {
  for (
    const opts of [
      { distribution: "uniform", seed: 1n, offset: 3, low: -2, high: 5 },
      { distribution: "normal", seed: 2n, offset: 0, low: 1, std: 3 },
      { distribution: "bernoulli", seed: 3n, offset: 9, p: 0.25 },
    ] as RandomFill[]
  ) {
    const n = 1001;
    const want = new Float32Array(n);
    philoxFill(want, opts);
    assertEquals(fill(tsBackend, "float32", n, opts), Array.from(want), `ts ${opts.distribution}`);
    assertEquals(fill(tsReferenceBackend, "float32", n, opts), Array.from(want), `ts-reference ${opts.distribution}`);
  }
  for (const [, be] of BACKENDS) {
    const out = be.alloc("float32", 4);
    assertThrows(
      () => be.randomFill(be.alloc("int32", 4), 4, { distribution: "uniform", seed: 0n, offset: 0 }),
      "int32",
    );
    assertThrows(() => be.randomFill(out, 4, { distribution: "bernoulli", seed: 0n, offset: 0 }), "bernoulli", "p");
    assertThrows(() => be.randomFill(out, 4, { distribution: "uniform", seed: 0n, offset: -1 }), "offset");
    assertThrows(() => be.randomFill(out, 5, { distribution: "uniform", seed: 0n, offset: 0 }), "size 5");
    assertThrows(
      () => be.randomFill(out, 4, { distribution: "gamma" as "normal", seed: 0n, offset: 0 }),
      "unknown distribution",
    );
  }
});
