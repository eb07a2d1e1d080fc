/**
 * The elementwise, reduction and strided-copy primitives of both TypeScript backends: small
 * hand-computed values, then tsBackend against tsReferenceBackend bit for bit and both against
 * an index-by-index oracle (unravel every output index, no simplification) on awkward shapes:
 * rank 0, sizes 1 and primes, broadcasting on every side, rank 5, offsets, accumulation.
 */
import { assertBitEqual, assertEquals, assertThrows } from "./_std.ts";
import type { Backend, BinaryOp, ReduceOp, ScalarOp, StridedCopy, UnaryOp } from "../src/backend/backend.ts";
import { BINARY_FNS, BINARY_OPS, COMPARISONS, SCALAR_OPS, UNARY_FNS, UNARY_OPS } from "../src/backend/_ops_table.ts";
import { tsBackend, tsReferenceBackend, type TsStorage } from "../src/backend/ts/mod.ts";
import { philoxFill } from "../src/backend/philox.ts";

const BACKENDS: [string, Required<Backend<TsStorage>>][] = [["ts", tsBackend], ["ts-reference", tsReferenceBackend]];

let offset = 0;
/** Seeded normal values with ties, ±0, ±∞ and NaN mixed in. */
function awkward(size: number): Float32Array {
  const a = new Float32Array(size), r = new Float32Array(size);
  philoxFill(a, { distribution: "normal", seed: 99n, offset });
  philoxFill(r, { distribution: "uniform", seed: 99n, offset: offset + size });
  offset += 2 * size;
  const specials = [0, -0, 1, 1, -1, Infinity, -Infinity, NaN, 2, 0.5];
  for (let i = 0; i < size; i++) if (r[i] < 0.3) a[i] = specials[Math.floor(r[i] * 33) % specials.length];
  return a;
}

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
const dense = (shape: readonly number[]) => shape.map((_, d) => size(shape.slice(d + 1)));
/** Broadcast strides of an operand of `from` shape read at each index of `to` (ranks aligned right). */
function bcast(from: readonly number[], to: readonly number[]): number[] {
  const s = dense(from), pad = to.length - from.length;
  return to.map((_, d) => (d < pad || from[d - pad] === 1 ? 0 : s[d - pad]));
}
/** Calls fn(flat index, multi-index) for every index of `shape`, in order. */
function eachIndex(shape: readonly number[], fn: (flat: number, idx: number[]) => void): void {
  for (let flat = 0; flat < size(shape); flat++) {
    const idx = shape.map((_, d) => Math.floor(flat / size(shape.slice(d + 1))) % shape[d]);
    fn(flat, idx);
  }
}
const dot = (idx: number[], strides: readonly number[]) => idx.reduce((s, v, d) => s + v * strides[d], 0);

Deno.test("unary/binary/scalar give hand-computed values, comparisons as int32 0/1", () => {
  for (const [name, be] of BACKENDS) {
    const x = be.fromHost("float32", Float32Array.of(-2, -0, 0.5, NaN, 4));
    const out = be.alloc("float32", 5);
    be.unary("relu", out, x, 5);
    assertBitEqual(be.toHost("float32", out, 5) as Float32Array, [0, 0, 0.5, NaN, 4], `${name} relu`);
    be.unary("abs", out, x, 5);
    assertBitEqual(be.toHost("float32", out, 5) as Float32Array, [2, 0, 0.5, NaN, 4], `${name} abs`);
    be.scalar("rsub", out, x, 1, 5);
    assertBitEqual(be.toHost("float32", out, 5) as Float32Array, [3, 1, 0.5, NaN, -3], `${name} 1 - x`);
    const mask = be.alloc("int32", 5);
    be.scalar("ge", mask, x, 0, 5);
    assertEquals(Array.from(be.toHost("int32", mask, 5) as Int32Array), [0, 1, 1, 0, 1], `${name} x >= 0`);
    // [2, 3] + [3]: rows plus a broadcast row; [2, 1] < [1, 3] compares every pair.
    const a = be.fromHost("float32", Float32Array.of(1, 2, 3, 4, 5, 6)),
      b = be.fromHost("float32", Float32Array.of(10, 20, 30));
    const sum = be.alloc("float32", 6);
    be.binary("add", sum, a, b, { shape: [2, 3], aStrides: [3, 1], bStrides: [0, 1] });
    assertEquals(Array.from(be.toHost("float32", sum, 6) as Float32Array), [11, 22, 33, 14, 25, 36], `${name} add`);
    const col = be.fromHost("float64", Float64Array.of(1, 5)), row = be.fromHost("float64", Float64Array.of(0, 3, 6));
    const lt = be.alloc("int32", 6);
    be.binary("lt", lt, col, row, { shape: [2, 3], aStrides: [1, 0], bStrides: [0, 1] });
    assertEquals(Array.from(be.toHost("int32", lt, 6) as Int32Array), [0, 1, 1, 0, 0, 1], `${name} lt`);
    assertThrows(
      () => be.binary("eq", sum, a, a, { shape: [6], aStrides: [1], bStrides: [1] }),
      "binary eq",
      "int32",
      "float32",
    );
    assertThrows(
      () => be.binary("add", sum, a, b, { shape: [2, 3], aStrides: [3, 1], bStrides: [1, 1] }),
      "binary add",
      "b",
    );
  }
});

const UNARY = Object.keys(UNARY_OPS) as UnaryOp[];
const BINARY = Object.keys(BINARY_OPS) as BinaryOp[];
const SCALAR = Object.keys(SCALAR_OPS) as ScalarOp[];

Deno.test("unary and scalar: every op, tsBackend equals the reference and the table bit for bit", () => {
  for (const n of [0, 1, 7, 100_003]) {
    const x = awkward(n);
    for (const op of UNARY) {
      const got = new Float32Array(n), want = new Float32Array(n);
      tsBackend.unary(op, got, x, n);
      tsReferenceBackend.unary(op, want, x, n);
      assertBitEqual(got, want, `unary ${op} of ${n}`);
      assertBitEqual(want, Float32Array.from(x, UNARY_FNS[op]), `unary ${op} of ${n} against the table`);
    }
    for (const op of SCALAR) {
      for (const s of [0, -1.5, 2]) {
        const make = () => (COMPARISONS.has(op) ? new Int32Array(n) : new Float32Array(n));
        const got = make(), want = make();
        tsBackend.scalar(op, got, x, s, n);
        tsReferenceBackend.scalar(op, want, x, s, n);
        assertBitEqual(got, want, `scalar ${op} ${s} of ${n}`);
      }
    }
  }
});

/** Binary cases: output shape, a's shape, b's shape (ranks aligned right). */
const BINARY_CASES: [number[], number[], number[]][] = [
  [[], [], []],
  [[1], [1], []],
  [[3, 5, 7], [3, 5, 7], [3, 5, 7]],
  [[3, 5, 7], [7], [3, 5, 7]],
  [[4, 5, 3], [4, 1, 3], [1, 5, 3]],
  [[13, 11], [13, 1], [11]],
  [[2, 3, 1, 4, 5], [2, 1, 1, 4, 1], [3, 1, 1, 5]],
  [[2, 0, 3], [2, 1, 3], [3]],
  [[100_003], [100_003], [1]],
];

Deno.test("binary: every op and broadcast, tsBackend equals the reference and an index-by-index oracle", () => {
  for (const [shape, aShape, bShape] of BINARY_CASES) {
    const a = awkward(size(aShape)), b = awkward(size(bShape));
    const bc = { shape, aStrides: bcast(aShape, shape), bStrides: bcast(bShape, shape) };
    for (const op of BINARY) {
      const make = () => (COMPARISONS.has(op) ? new Int32Array(size(shape)) : new Float32Array(size(shape)));
      const got = make(), want = make(), oracle = make();
      eachIndex(shape, (flat, idx) => {
        oracle[flat] = BINARY_FNS[op](a[dot(idx, bc.aStrides)], b[dot(idx, bc.bStrides)]);
      });
      tsBackend.binary(op, got, a, b, bc);
      tsReferenceBackend.binary(op, want, a, b, bc);
      const tag = `binary ${op} [${shape}] from [${aShape}] and [${bShape}]`;
      assertBitEqual(want, oracle, `${tag}: reference against the oracle`);
      assertBitEqual(got, want, `${tag}: tsBackend against the reference`);
    }
  }
});

Deno.test("where: three-way broadcast, rank 0 and rank 5, hand values and the oracle", () => {
  for (const [name, be] of BACKENDS) {
    const cond = be.fromHost("int32", Int32Array.of(1, 0, -3));
    const a = be.fromHost("float32", Float32Array.of(1, 2)), b = be.fromHost("float32", Float32Array.of(-7));
    const out = be.alloc("float32", 6);
    // cond [3] along columns, a [2, 1] along rows, b a scalar.
    be.where(out, cond, a, b, { shape: [2, 3], condStrides: [0, 1], aStrides: [1, 0], bStrides: [0, 0] });
    assertEquals(Array.from(be.toHost("float32", out, 6) as Float32Array), [1, -7, 1, 2, -7, 2], `${name} where`);
    assertThrows(
      () => be.where(out, a, a, b, { shape: [2], condStrides: [1], aStrides: [1], bStrides: [0] }),
      "where",
      "int32",
    );
  }
  const cases: [number[], number[], number[], number[]][] = [
    [[], [], [], []],
    [[5, 7], [7], [5, 1], []],
    [[2, 3, 1, 4, 5], [2, 1, 1, 4, 1], [3, 1, 1, 5], [1, 1, 4, 5]],
  ];
  for (const [shape, cShape, aShape, bShape] of cases) {
    const cond = Int32Array.from(awkward(size(cShape)), (v) => (v > 0 ? 1 : 0));
    const a = awkward(size(aShape)), b = awkward(size(bShape));
    const layout = {
      shape,
      condStrides: bcast(cShape, shape),
      aStrides: bcast(aShape, shape),
      bStrides: bcast(bShape, shape),
    };
    const got = new Float32Array(size(shape)),
      want = new Float32Array(size(shape)),
      oracle = new Float32Array(size(shape));
    eachIndex(shape, (flat, idx) => {
      oracle[flat] = cond[dot(idx, layout.condStrides)] ? a[dot(idx, layout.aStrides)] : b[dot(idx, layout.bStrides)];
    });
    tsBackend.where(got, cond, a, b, layout);
    tsReferenceBackend.where(want, cond, a, b, layout);
    assertBitEqual(want, oracle, `where [${shape}]: reference against the oracle`);
    assertBitEqual(got, want, `where [${shape}]: tsBackend against the reference`);
  }
});

Deno.test("reduce: sum, max, min and the first arg-extreme; a NaN wins", () => {
  // [2, 3, 2]: reduce the middle axis.
  const x = Float32Array.of(1, 5, 3, 5, 3, -1, NaN, 0, 2, 0, NaN, -0);
  const want: Record<ReduceOp, number[]> = {
    sum: [7, 9, NaN, 0],
    max: [3, 5, NaN, 0],
    argmax: [1, 0, 0, 0],
    min: [1, -1, NaN, 0],
    argmin: [0, 2, 0, 0],
  };
  for (const [name, be] of BACKENDS) {
    for (const op of Object.keys(want) as ReduceOp[]) {
      const index = op === "argmax" || op === "argmin";
      const out = be.alloc(index ? "int32" : "float32", 4);
      be.reduce(op, out, be.fromHost("float32", x), 2, 3, 2);
      assertBitEqual(be.toHost(index ? "int32" : "float32", out, 4) as Float32Array, want[op], `${name} ${op}`);
    }
    assertThrows(
      () => be.reduce("argmin", be.alloc("float32", 4), be.fromHost("float32", x), 2, 3, 2),
      "argmin",
      "int32",
    );
  }
  for (const [outer, n, inner] of [[1, 1, 1], [7, 13, 5], [1, 100_003, 1], [3, 0, 2], [1, 4, 1009]]) {
    const xs = awkward(outer * n * inner);
    for (const op of Object.keys(want) as ReduceOp[]) {
      const make = () => (op.startsWith("arg") ? new Int32Array(outer * inner) : new Float32Array(outer * inner));
      const got = make(), ref = make();
      tsBackend.reduce(op, got, xs, outer, n, inner);
      tsReferenceBackend.reduce(op, ref, xs, outer, n, inner);
      assertBitEqual(got, ref, `reduce ${op} [${outer}, ${n}, ${inner}]`);
    }
  }
});

/** Applies a StridedCopy index by index. */
function oracleCopy(out: Float32Array, x: Float32Array, l: StridedCopy): void {
  eachIndex(l.shape, (_, idx) => {
    const o = l.outOffset + dot(idx, l.outStrides), i = l.xOffset + dot(idx, l.xStrides);
    out[o] = l.accumulate ? out[o] + x[i] : x[i];
  });
}

Deno.test("copyStrided: transposes, slices with offsets, broadcasts, flips and accumulation", () => {
  for (const [name, be] of BACKENDS) {
    // The transpose of [2, 3], written into the middle of a 10-element buffer.
    const x = be.fromHost("float32", Float32Array.of(1, 2, 3, 4, 5, 6)), out = be.alloc("float32", 10);
    be.copyStrided(out, x, { shape: [3, 2], outStrides: [2, 1], outOffset: 2, xStrides: [1, 3], xOffset: 0 });
    assertEquals(Array.from(be.toHost("float32", out, 10) as Float32Array), [0, 0, 1, 4, 2, 5, 3, 6, 0, 0], `${name}`);
    // Accumulate a broadcast column into it.
    be.copyStrided(out, x, {
      shape: [3, 2],
      outStrides: [2, 1],
      outOffset: 2,
      xStrides: [0, 1],
      xOffset: 4,
      accumulate: true,
    });
    assertEquals(
      Array.from(be.toHost("float32", out, 10) as Float32Array),
      [0, 0, 6, 10, 7, 11, 8, 12, 0, 0],
      `${name}`,
    );
    assertThrows(
      () => be.copyStrided(out, x, { shape: [3, 2], outStrides: [2, 1], outOffset: 5, xStrides: [1, 3], xOffset: 0 }),
      "copyStrided",
      "out",
      "10",
    );
    assertThrows(
      () =>
        be.copyStrided(out, be.alloc("float64", 6), {
          shape: [6],
          outStrides: [1],
          outOffset: 0,
          xStrides: [1],
          xOffset: 0,
        }),
      "copyStrided",
      "float64",
    );
  }
  const cases: [string, StridedCopy, number, number][] = [
    ["rank 0", { shape: [], outStrides: [], outOffset: 3, xStrides: [], xOffset: 5 }, 7, 7],
    ["contiguous", { shape: [5, 7], outStrides: [7, 1], outOffset: 0, xStrides: [7, 1], xOffset: 0 }, 35, 35],
    ["slice of rows", { shape: [3, 7], outStrides: [7, 1], outOffset: 0, xStrides: [7, 1], xOffset: 14 }, 21, 35],
    ["concat into columns", { shape: [5, 3], outStrides: [10, 1], outOffset: 7, xStrides: [3, 1], xOffset: 0 }, 50, 15],
    ["flip", { shape: [4, 6], outStrides: [6, 1], outOffset: 0, xStrides: [-6, -1], xOffset: 23 }, 24, 24],
    [
      "rank 5 permute + broadcast",
      { shape: [2, 3, 1, 4, 5], outStrides: [60, 20, 20, 5, 1], outOffset: 0, xStrides: [1, 0, 7, 2, 8], xOffset: 1 },
      120,
      41,
    ],
    [
      "rank 5 accumulate",
      {
        shape: [2, 3, 2, 1, 3],
        outStrides: [1, 2, 6, 1, 12],
        outOffset: 4,
        xStrides: [18, 6, 3, 0, 1],
        xOffset: 0,
        accumulate: true,
      },
      40,
      36,
    ],
    ["empty", { shape: [3, 0], outStrides: [1, 1], outOffset: 0, xStrides: [1, 1], xOffset: 0 }, 4, 4],
  ];
  for (const [label, layout, outSize, xSize] of cases) {
    const x = awkward(xSize), start = awkward(outSize);
    const oracle = start.slice();
    oracleCopy(oracle, x, layout);
    for (const [name, be] of BACKENDS) {
      const out = be.fromHost("float32", start);
      be.copyStrided(out, be.fromHost("float32", x), layout);
      assertBitEqual(be.toHost("float32", out, outSize) as Float32Array, oracle, `${name} copyStrided ${label}`);
    }
  }
});

Deno.test("tsBackend copyStrided into recycled storage: elements it does not write read as zeros", () => {
  const a = tsBackend.alloc("float32", 12);
  tsBackend.fill(a, 9, 12);
  tsBackend.free(a);
  const out = tsBackend.alloc("float32", 12); // recycled, not yet zeroed
  tsBackend.copyStrided(out, Float32Array.of(1, 2), {
    shape: [2],
    outStrides: [5],
    outOffset: 1,
    xStrides: [1],
    xOffset: 0,
  });
  assertEquals(Array.from(tsBackend.toHost("float32", out, 12) as Float32Array), [0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]);
  tsBackend.free(out);
  const b = tsBackend.alloc("float32", 6);
  tsBackend.fill(b, 9, 6);
  tsBackend.free(b);
  const t = tsBackend.alloc("float32", 6); // a transpose writes every element: no zeroing needed, none visible
  tsBackend.copyStrided(t, Float32Array.of(1, 2, 3, 4, 5, 6), {
    shape: [3, 2],
    outStrides: [1, 3],
    outOffset: 0,
    xStrides: [2, 1],
    xOffset: 0,
  });
  assertEquals(Array.from(tsBackend.toHost("float32", t, 6) as Float32Array), [1, 3, 5, 2, 4, 6]);
});
