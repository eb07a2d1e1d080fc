/**
 * gather, scatterAdd and batched gemm of both TypeScript backends: hand-computed values,
 * tsBackend against tsReferenceBackend on awkward geometries, out-of-range indices as errors
 * that name the op, the position, the value and the valid range, and batch strides of 0
 * (one matrix shared by every product).
 */
import { assertEquals, assertThrows } from "./_std.ts";
import type { AxisGeometry, Backend } from "../src/backend/backend.ts";
import { tsBackend, tsReferenceBackend, type TsStorage } from "../src/backend/ts/mod.ts";
import { philoxFill } from "../src/backend/philox.ts";

const BACKENDS: [string, Required<Backend<TsStorage>>][] = [["ts", tsBackend], ["ts-reference", tsReferenceBackend]];

let offset = 0;
function randn(size: number): Float32Array {
  const a = new Float32Array(size);
  philoxFill(a, { distribution: "normal", seed: 5n, offset });
  offset += Math.ceil(size / 4);
  return a;
}
function randomIndex(size: number, n: number): Int32Array {
  const u = new Float32Array(size);
  philoxFill(u, { distribution: "uniform", seed: 6n, offset });
  offset += Math.ceil(size / 4);
  return Int32Array.from(u, (v) => Math.floor(v * n));
}

/** Fails with the first mismatches unless |got − want| ≤ atol + rtol · |want|. */
function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, label: string, atol = 1e-5, rtol = 1e-5): void {
  assertEquals(got.length, want.length, `${label}: length`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      if (++count <= 5) bad.push(`[${i}] got ${got[i]}, want ${want[i]}`);
    }
  }
  if (count > 0) throw new Error(`${label}: ${count} of ${got.length} differ; first: ${bad.join("; ")}`);
}

Deno.test("gather and scatterAdd give hand-computed values along the middle axis", () => {
  for (const [name, be] of BACKENDS) {
    // x [2, 3, 2]; index [2, 2, 2] picks rows per (outer, inner).
    const x = be.fromHost("float32", Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
    const index = be.fromHost("int32", Int32Array.of(2, 0, 0, 0, 1, 2, 1, 1));
    const geom = { outer: 2, n: 3, m: 2, inner: 2 };
    const out = be.alloc("float32", 8);
    be.gather(out, x, index, geom);
    assertEquals(
      Array.from(be.toHost("float32", out, 8) as Float32Array),
      [5, 2, 1, 2, 9, 12, 9, 10],
      `${name} gather`,
    );
    // Scatter [1..8] back: repeated indices add up.
    const acc = be.fromHost("float32", new Float32Array(12).fill(100));
    be.scatterAdd(acc, be.fromHost("float32", Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8)), index, geom);
    assertEquals(
      Array.from(be.toHost("float32", acc, 12) as Float32Array),
      [103, 106, 100, 100, 101, 100, 100, 100, 112, 108, 100, 106],
      `${name} scatterAdd`,
    );
  }
});

Deno.test("gather and scatterAdd: an index out of range is an error naming it, and nothing is written", () => {
  const geom = { outer: 2, n: 3, m: 2, inner: 2 };
  for (const [name, be] of BACKENDS) {
    for (const [bad, at] of [[3, 5], [-1, 0], [7, 7]]) {
      const idx = new Int32Array(8);
      idx[at] = bad;
      const index = be.fromHost("int32", idx);
      const out = be.fromHost("float32", new Float32Array(12).fill(4));
      assertThrows(
        () => be.gather(out, be.alloc("float32", 12), index, geom),
        "gather",
        `index ${bad} at position ${at}`,
        "[0, 3)",
      );
      assertThrows(
        () => be.scatterAdd(out, be.fromHost("float32", new Float32Array(8).fill(1)), index, geom),
        "scatterAdd",
        `index ${bad} at position ${at}`,
        "[0, 3)",
      );
      assertEquals(Array.from(be.toHost("float32", out, 12) as Float32Array), new Array(12).fill(4), `${name}`);
    }
    assertThrows(
      () => be.gather(be.alloc("float32", 8), be.alloc("float32", 12), be.alloc("float32", 8), geom),
      "int32",
    );
  }
});

Deno.test("gather and scatterAdd: tsBackend equals the reference on awkward geometries", () => {
  const cases: AxisGeometry[] = [
    { outer: 1, n: 1, m: 1, inner: 1 },
    { outer: 7, n: 13, m: 5, inner: 3 },
    { outer: 1, n: 10, m: 1000, inner: 1 }, // an embedding / a data batch: many picks from few rows
    { outer: 3, n: 2, m: 0, inner: 4 },
    { outer: 2, n: 5, m: 11, inner: 17 },
  ];
  for (const geom of cases) {
    const { outer, n, m, inner } = geom;
    const x = randn(outer * n * inner), index = randomIndex(outer * m * inner, n), src = randn(outer * m * inner);
    const got = new Float32Array(outer * m * inner), want = new Float32Array(outer * m * inner);
    tsBackend.gather(got, x, index, geom);
    tsReferenceBackend.gather(want, x, index, geom);
    assertEquals(got, want, `gather ${JSON.stringify(geom)}`);
    for (let p = 0; p < want.length; p++) {
      const a = Math.floor(p / (m * inner)), i = p % inner;
      assertEquals(want[p], x[(a * n + index[p]) * inner + i], `gather ${JSON.stringify(geom)} at ${p}`);
    }
    const sGot = x.slice(), sWant = x.slice();
    tsBackend.scatterAdd(sGot, src, index, geom);
    tsReferenceBackend.scatterAdd(sWant, src, index, geom);
    assertEquals(sGot, sWant, `scatterAdd ${JSON.stringify(geom)}`);
  }
});

Deno.test("gemm with batch and strides gives hand-computed values; stride 0 shares a matrix", () => {
  for (const [name, be] of BACKENDS) {
    // Two 2×2 products with one shared b = [[1, 2], [3, 4]].
    const a = be.fromHost("float32", Float32Array.of(1, 0, 0, 1, 2, 1, 0, -1));
    const b = be.fromHost("float32", Float32Array.of(1, 2, 3, 4));
    const c = be.alloc("float32", 8);
    be.gemm(c, a, b, { m: 2, n: 2, k: 2, transA: false, transB: false, alpha: 1, beta: 0, batch: 2, strideB: 0 });
    assertEquals(Array.from(be.toHost("float32", c, 8) as Float32Array), [1, 2, 3, 4, 5, 8, -3, -4], `${name}`);
    // Accumulate aᵀ·b into a c that holds one matrix for both products (strideC 0 adds both, in batch order).
    const c1 = be.fromHost("float32", Float32Array.of(1, 1, 1, 1));
    be.gemm(c1, a, b, {
      m: 2,
      n: 2,
      k: 2,
      transA: true,
      transB: false,
      alpha: 1,
      beta: 1,
      batch: 2,
      strideB: 0,
      strideC: 0,
    });
    assertEquals(Array.from(be.toHost("float32", c1, 4) as Float32Array), [4, 7, 2, 3], `${name} strideC 0`);
    assertThrows(
      () => be.gemm(c, a, b, { m: 2, n: 2, k: 2, transA: false, transB: false, alpha: 1, beta: 0, batch: 3 }),
      "gemm",
      "a",
    );
  }
});

Deno.test("gemm batched: tsBackend equals the reference and the product computed one matrix at a time", () => {
  const shapes: [number, number, number, number][] = [[3, 1, 1, 1], [4, 7, 13, 5], [2, 10, 10, 300], [5, 66, 3, 9]];
  for (const [batch, m, n, k] of shapes) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const [sa, sb] of [[m * k, k * n], [0, k * n], [m * k, 0], [m * k + 3, k * n + 1]]) {
        const a = randn((batch - 1) * sa + m * k), b = randn((batch - 1) * sb + k * n), c0 = randn(batch * m * n);
        const o = { m, n, k, transA, transB, alpha: 0.5, beta: -1, batch, strideA: sa, strideB: sb };
        const got = c0.slice(), want = Float64Array.from(c0);
        tsBackend.gemm(got, a, b, o);
        tsReferenceBackend.gemm(want, Float64Array.from(a), Float64Array.from(b), o);
        const tag = `gemm batch ${batch} ${m}×${n}×${k} ${transA ? "T" : "N"}${
          transB ? "T" : "N"
        } strides ${sa}, ${sb}`;
        assertNear(got, want, tag, 1e-4, 1e-4);
        for (let t = 0; t < batch; t++) {
          const one = Float64Array.from(c0.subarray(t * m * n, (t + 1) * m * n));
          const aT = Float64Array.from(a.subarray(t * sa, t * sa + m * k)),
            bT = Float64Array.from(b.subarray(t * sb, t * sb + k * n));
          tsReferenceBackend.gemm(one, aT, bT, { ...o, batch: 1, strideA: undefined, strideB: undefined });
          assertEquals(want.subarray(t * m * n, (t + 1) * m * n), one, `${tag}: product ${t}`);
        }
      }
    }
  }
});
