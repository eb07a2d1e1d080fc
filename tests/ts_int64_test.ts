/**
 * int64 storage on both TypeScript backends: it is created, copied, moved and cast (storage
 * only), and every arithmetic primitive refuses it with an error naming the op and the dtype.
 */
import { assertEquals, assertThrows } from "./_std.ts";
import type { Backend } from "../src/backend/backend.ts";
import { tsBackend, tsReferenceBackend, type TsStorage } from "../src/backend/ts/mod.ts";

const BACKENDS: [string, Required<Backend<TsStorage>>][] = [["ts", tsBackend], ["ts-reference", tsReferenceBackend]];

const EXTREMES = BigInt64Array.of(0n, -1n, 2n ** 62n + 12345n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 40n + 7n, -5n);

Deno.test("int64 storage: alloc, fromHost/toHost round trip, fill, copy, copyStrided", () => {
  for (const [name, be] of BACKENDS) {
    const zeros = be.alloc("int64", 5);
    assertEquals(be.toHost("int64", zeros, 5), new BigInt64Array(5), `${name} alloc`);
    const s = be.fromHost("int64", EXTREMES);
    assertEquals(be.toHost("int64", s, EXTREMES.length), EXTREMES, `${name} round trip`);
    be.fill(zeros, 42, 5);
    assertEquals(be.toHost("int64", zeros, 5), BigInt64Array.of(42n, 42n, 42n, 42n, 42n), `${name} fill`);
    be.fill(zeros, -3.9, 2);
    assertEquals(be.toHost("int64", zeros, 5), BigInt64Array.of(-3n, -3n, 42n, 42n, 42n), `${name} fill truncates`);
    const c = be.alloc("int64", EXTREMES.length);
    be.copy(c, s, EXTREMES.length);
    assertEquals(be.toHost("int64", c, EXTREMES.length), EXTREMES, `${name} copy`);
    // The transpose of [2, 3].
    const t = be.alloc("int64", 6);
    be.copyStrided(t, s, { shape: [3, 2], outStrides: [2, 1], outOffset: 0, xStrides: [1, 3], xOffset: 1 });
    assertEquals(
      be.toHost("int64", t, 6),
      BigInt64Array.of(EXTREMES[1], EXTREMES[4], EXTREMES[2], EXTREMES[5], EXTREMES[3], EXTREMES[6]),
      `${name} copyStrided`,
    );
    be.free(t);
    assertThrows(() => be.fromHost("int64", Float32Array.of(1)), "fromHost", "int64", "BigInt64Array", "Float32Array");
    assertThrows(() => be.fromHost("float32", BigInt64Array.of(1n)), "fromHost", "float32", "BigInt64Array");
    assertThrows(() => be.copy(c, be.alloc("float64", 7), 7), "copy", "float64", "int64");
  }
});

Deno.test("int64 cast to and from int32, float32 and float64", () => {
  for (const [name, be] of BACKENDS) {
    const n = EXTREMES.length, s = be.fromHost("int64", EXTREMES);
    const i32 = be.alloc("int32", n), f32 = be.alloc("float32", n), f64 = be.alloc("float64", n);
    be.cast(i32, "int32", s, "int64", n);
    assertEquals(be.toHost("int32", i32, n), Int32Array.from(EXTREMES, (v) => Number(BigInt.asIntN(32, v))), name);
    assertEquals(
      Array.from(be.toHost("int32", i32, n) as Int32Array),
      [0, -1, 12345, 0, -1, 7, -5],
      `${name} low bits`,
    );
    be.cast(f32, "float32", s, "int64", n);
    assertEquals(be.toHost("float32", f32, n), Float32Array.from(EXTREMES, Number), `${name} to float32`);
    be.cast(f64, "float64", s, "int64", n);
    assertEquals(be.toHost("float64", f64, n), Float64Array.from(EXTREMES, Number), `${name} to float64`);
    // Back: floats truncate toward zero; NaN and ±∞ become 0, as int32 storage takes them.
    const floats = be.fromHost("float64", Float64Array.of(2.9, -2.9, 2 ** 53, -(2 ** 62), NaN, Infinity, -0));
    const back = be.alloc("int64", n);
    be.cast(back, "int64", floats, "float64", n);
    assertEquals(be.toHost("int64", back, n), BigInt64Array.of(2n, -2n, 2n ** 53n, -(2n ** 62n), 0n, 0n, 0n), name);
    const ints = be.fromHost("int32", Int32Array.of(-7, 2 ** 31 - 1, -(2 ** 31), 0, 1, 2, 3));
    be.cast(back, "int64", ints, "int32", n);
    assertEquals(
      be.toHost("int64", back, n),
      BigInt64Array.of(-7n, 2n ** 31n - 1n, -(2n ** 31n), 0n, 1n, 2n, 3n),
      name,
    );
    assertThrows(() => be.cast(back, "int64", ints, "float32", n), "cast", "x", "int32", "float32");
  }
});

Deno.test("int64 arithmetic is an error naming the op and the dtype", () => {
  for (const [, be] of BACKENDS) {
    const a = be.fromHost("int64", BigInt64Array.of(1n, 2n, 3n, 4n)), b = be.alloc("int64", 4);
    const f = be.alloc("float32", 4), idx = be.alloc("int32", 4);
    const bc = { shape: [4], aStrides: [1], bStrides: [1] };
    const geom = { outer: 1, n: 4, m: 4, inner: 1 };
    const calls: [string, () => void][] = [
      ["unary exp", () => be.unary("exp", b, a, 4)],
      ["unary relu", () => be.unary("relu", b, a, 4)],
      ["binary add", () => be.binary("add", b, a, a, bc)],
      ["binary eq", () => be.binary("eq", idx, a, a, bc)],
      ["scalar mul", () => be.scalar("mul", b, a, 2, 4)],
      ["where", () => be.where(b, idx, a, a, { shape: [4], condStrides: [1], aStrides: [1], bStrides: [1] })],
      ["addInPlace", () => be.addInPlace(b, a, 4)],
      ["reduce sum", () => be.reduce("sum", b, a, 1, 4, 1)],
      ["reduce argmax", () => be.reduce("argmax", idx, a, 1, 4, 1)],
      ["gemm", () => be.gemm(b, a, a, { m: 2, n: 2, k: 2, transA: false, transB: false, alpha: 1, beta: 0 })],
      ["gather", () => be.gather(b, a, idx, geom)],
      ["scatterAdd", () => be.scatterAdd(b, a, idx, geom)],
      [
        "copyStrided (accumulate)",
        () =>
          be.copyStrided(b, a, {
            shape: [4],
            outStrides: [1],
            outOffset: 0,
            xStrides: [1],
            xOffset: 0,
            accumulate: true,
          }),
      ],
      ["randomFill", () => be.randomFill(b, 4, { distribution: "uniform", seed: 0n, offset: 0 })],
      ["reluBackward", () => be.reluBackward(f, f, a, 4)],
    ];
    for (const [op, call] of calls) assertThrows(call, op, "int64");
    // Nothing was written.
    assertEquals(be.toHost("int64", b, 4), new BigInt64Array(4));
  }
});

Deno.test("tsBackend recycles int64 blocks: they read as zeros until written", () => {
  const a = tsBackend.alloc("int64", 33);
  tsBackend.fill(a, 9, 33);
  tsBackend.free(a);
  const b = tsBackend.alloc("int64", 33);
  assertEquals(tsBackend.toHost("int64", b, 33), new BigInt64Array(33));
});
