/**
 * Over 500 lines: every primitive of the contract, one section each, sharing the device and reference.
 * The CUDA backend's primitives of the new contract against the TypeScript reference backend
 * (tsReferenceBackend): every unary and scalar op of the table, where, reduce min/argmin,
 * copyStrided, batched gemm, gather/scatterAdd, the Philox random fill, reluBackward and int64
 * storage; then their errors (an unknown op code through a raw FFI call, an index out of range,
 * arithmetic on int64). Awkward sizes throughout: 1s, primes, rank 0, rank 5 and rank 8,
 * broadcasting, empty shapes.
 */
import { assertEquals, assertOk, assertThrows } from "./_std.ts";
import type { AxisGeometry, DType, RandomFill, StridedCopy, WhereLayout } from "../src/backend/backend.ts";
import {
  BINARY_OPS,
  REDUCE_OPS,
  SCALAR_OPS,
  type ScalarOp,
  UNARY_OPS,
  type UnaryOp,
} from "../src/backend/_ops_table.ts";
import { CudaError, STATUS } from "../src/backend/cuda/mod.ts";
import {
  abs,
  child,
  contiguous,
  dev,
  Generator,
  ints,
  near,
  numel,
  ref,
  reference,
  SIZES,
  test,
  uniform,
  withBuffers,
} from "./_cuda.ts";

/** Strides of `shape` broadcast to the output shape `out` (numpy rules; 0 where broadcast). */
function stridesFor(shape: readonly number[], out: readonly number[]): number[] {
  const own = contiguous(shape), lead = out.length - shape.length;
  return out.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : own[d - lead]));
}

/** Float32 values with the special ones in front: NaN, ±Infinity, ±0, large and tiny. */
function special(g: Generator, n: number, lo: number, hi: number): Float32Array {
  const x = uniform(g, n, lo, hi);
  const head = [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30, 1e-30, 0.5, -0.5];
  for (let i = 0; i < Math.min(n, head.length); i++) x[i] = head[i];
  return x;
}

// ------------------------------------------------------------------------------------------ elementwise

test("cuda unary ops of the table match the reference (sigmoid, tanh, every op on float32 specials and on int32)", () => {
  const g = new Generator(21);
  const ranges: Record<UnaryOp, [number, number]> = {
    neg: [-1e6, 1e6],
    exp: [-20, 20],
    log: [1e-3, 1e3],
    relu: [-5, 5],
    sqrt: [0, 1e4],
    abs: [-1e6, 1e6],
    sigmoid: [-30, 30],
    tanh: [-10, 10],
  };
  withBuffers((b) => {
    for (const n of SIZES) {
      for (const op of Object.keys(UNARY_OPS) as UnaryOp[]) {
        const [lo, hi] = ranges[op];
        const x = special(g, n, lo, hi);
        const out = b.out("float32", n);
        b.be.unary(op, out, b.put(x), n);
        const [want] = reference([x], [["float32", n]], (o, xs) => ref.unary(op, o, xs, n));
        near(`unary ${op} float32 n=${n}`, b.get(out), want, { atol: 1e-30, rtol: 3e-7 });
        const xi = ints(g, n, Math.max(lo, -1e6), Math.min(hi, 1e6));
        const outI = b.out("int32", n);
        b.be.unary(op, outI, b.put(xi), n);
        const [wantI] = reference([xi], [["int32", n]], (o, xs) => ref.unary(op, o, xs, n));
        near(`unary ${op} int32 n=${n}`, b.get(outI), wantI);
      }
    }
  });
});

test("cuda scalar ops of the table match the reference (max, min, comparisons; NaN on either side; float32 and int32)", () => {
  const g = new Generator(22);
  withBuffers((b) => {
    for (const n of SIZES) {
      const x = special(g, n, -3, 3);
      if (n > 12) x[11] = 1.5, x[12] = Math.fround(0.1); // equal to s = 1.5; not equal to s = 0.1 (a double)
      const xi = ints(g, n, -3, 3);
      for (const op of Object.keys(SCALAR_OPS) as ScalarOp[]) {
        if (op === "pow") continue; // tests/cuda_backend_test.ts: pow on positive bases
        for (const s of [1.5, -0.5, 0, 0.1, NaN, -Infinity]) {
          const cmp = op === "eq" || op === "ne" || op === "gt" || op === "lt" || op === "ge" || op === "le";
          const outType = cmp ? "int32" : "float32";
          const out = b.out(outType, n);
          b.be.scalar(op, out, b.put(x), s, n);
          const [want] = reference([x], [[outType, n]], (o, xs) => ref.scalar(op, o, xs, s, n));
          near(`scalar ${op} ${s} float32 n=${n}`, b.get(out), want, { rtol: 1e-7 });
          const outI = b.out("int32", n);
          b.be.scalar(op, outI, b.put(xi), s, n);
          const [wantI] = reference([xi], [["int32", n]], (o, xs) => ref.scalar(op, o, xs, s, n));
          near(`scalar ${op} ${s} int32 n=${n}`, b.get(outI), wantI);
        }
      }
    }
  });
});

/** [output shape, cond shape, a shape, b shape]. */
const WHERES: [number[], number[], number[], number[]][] = [
  [[], [], [], []], // rank 0
  [[1], [1], [], [1]],
  [[7], [7], [], [1]],
  [[4099], [4099], [4099], [4099]], // dense: the flat kernel
  [[3, 5], [3, 1], [1, 5], [3, 5]],
  [[2, 3, 1, 4, 5], [2, 1, 1, 4, 1], [3, 1, 4, 5], [5]], // rank 5
  [[2, 1, 2, 3, 1, 2, 2, 3], [2, 1, 2, 1, 1, 2, 1, 3], [3, 1, 2, 2, 3], [1, 1, 1, 1, 1, 1, 2, 1]], // rank 8
  [[0, 3], [0, 3], [3], [1]], // empty
];

test("cuda where matches the reference (three-way broadcasting, ranks 0, 1, 2, 5 and 8, empty, float32 and int32)", () => {
  const g = new Generator(23);
  withBuffers((b) => {
    for (const [shape, cs, as, bs] of WHERES) {
      const layout: WhereLayout = {
        shape,
        condStrides: stridesFor(cs, shape),
        aStrides: stridesFor(as, shape),
        bStrides: stridesFor(bs, shape),
      };
      const n = numel(shape);
      const cond = ints(g, numel(cs), -1, 1); // -1 is true too
      for (const dtype of ["float32", "int32"] as const) {
        const a = dtype === "float32" ? uniform(g, numel(as)) : ints(g, numel(as), -50, 50);
        const bv = dtype === "float32" ? uniform(g, numel(bs)) : ints(g, numel(bs), -50, 50);
        const out = b.out(dtype, n);
        b.be.where(out, b.put(cond), b.put(a), b.put(bv), layout);
        const [want] = reference([cond, a, bv], [[dtype, n]], (o, c, x, y) => ref.where(o, c, x, y, layout));
        near(`where ${dtype} [${shape}] cond [${cs}] a [${as}] b [${bs}]`, b.get(out), want, { shape });
      }
    }
  });
});

test("cuda reduce min and argmin match the reference (ties keep the first, NaN wins, int32, n = 0)", () => {
  const g = new Generator(24);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 13, 5],
    [3, 257, 1],
    [1, 4099, 3],
    [2, 3, 1031],
    [1, 100003, 1],
    [3, 0, 2],
  ];
  withBuffers((b) => {
    for (const [outer, n, inner] of shapes) {
      const size = outer * n * inner, m = outer * inner;
      const tag = `[${outer}, ${n}, ${inner}]`;
      const t = Float32Array.from(ints(g, size, -3, 3));
      const withNaN = t.slice();
      for (let i = 5; i < size; i += 97) withNaN[i] = NaN;
      const xi = ints(g, size, -50, 50);
      for (const op of ["min", "argmin", "max", "argmax"] as const) {
        const outType = op.startsWith("arg") ? "int32" : "float32";
        for (const [label, x] of [["ties", t], ["NaN", withNaN]] as const) {
          const out = b.out(outType, m);
          b.be.reduce(op, out, b.put(x), outer, n, inner);
          const [w] = reference([x], [[outType, m]], (o, xs) => ref.reduce(op, o, xs, outer, n, inner));
          near(`reduce ${op} ${tag} (${label})`, b.get(out), w, { shape: [outer, inner] });
        }
        const out = b.out("int32", m);
        b.be.reduce(op, out, b.put(xi), outer, n, inner);
        const [w] = reference([xi], [["int32", m]], (o, xs) => ref.reduce(op, o, xs, outer, n, inner));
        near(`reduce ${op} int32 ${tag}`, b.get(out), w, { shape: [outer, inner] });
      }
    }
  });
});

test("cuda reluBackward matches the reference (dx = x > 0 ? dy : 0; NaN in dy or x; sizes 1 to 4099)", () => {
  const g = new Generator(25);
  withBuffers((b) => {
    for (const n of SIZES) {
      const x = special(g, n, -2, 2), dy = uniform(g, n);
      if (n > 20) dy[13] = NaN, x[13] = -1, dy[14] = NaN, x[14] = 1;
      const dx = b.out("float32", n);
      b.be.reluBackward(dx, b.put(dy), b.put(x), n);
      const [want] = reference([dy, x], [["float32", n]], (o, d, xs) => ref.reluBackward(o, d, xs, n));
      near(`reluBackward n=${n}`, b.get(dx), want);
    }
  });
});

// ------------------------------------------------------------------------------------------ copyStrided

interface CopyCase {
  label: string;
  layout: StridedCopy;
  outSize: number;
  xSize: number;
}

const COPIES: CopyCase[] = [
  {
    label: "transpose 37×41",
    layout: { shape: [41, 37], outStrides: [37, 1], outOffset: 0, xStrides: [1, 41], xOffset: 0 },
    outSize: 41 * 37,
    xSize: 37 * 41,
  },
  {
    label: "a 5×8 slice of 10×13 into a 9×9 buffer at offset 10",
    layout: { shape: [5, 8], outStrides: [9, 1], outOffset: 10, xStrides: [13, 1], xOffset: 2 * 13 + 3 },
    outSize: 81,
    xSize: 130,
  },
  {
    label: "the second half of a concatenation along dim 1 ([3, 4] into [3, 9] at column 5)",
    layout: { shape: [3, 4], outStrides: [9, 1], outOffset: 5, xStrides: [4, 1], xOffset: 0 },
    outSize: 27,
    xSize: 12,
  },
  {
    label: "flip (negative stride)",
    layout: { shape: [4099], outStrides: [1], outOffset: 0, xStrides: [-1], xOffset: 4098 },
    outSize: 4099,
    xSize: 4099,
  },
  {
    label: "rank 0",
    layout: { shape: [], outStrides: [], outOffset: 3, xStrides: [], xOffset: 5 },
    outSize: 7,
    xSize: 6,
  },
  {
    label: "rank 5 permutation",
    layout: {
      shape: [2, 3, 1, 4, 5],
      outStrides: contiguous([2, 3, 1, 4, 5]),
      outOffset: 0,
      xStrides: [1, 2 * 5 * 4, 0, 2 * 5, 2],
      xOffset: 0,
    },
    outSize: 120,
    xSize: 120,
  },
  {
    label: "rank 8 broadcast",
    layout: {
      shape: [2, 1, 2, 3, 1, 2, 2, 3],
      outStrides: contiguous([2, 1, 2, 3, 1, 2, 2, 3]),
      outOffset: 0,
      xStrides: [0, 0, 3, 0, 0, 6, 0, 1],
      xOffset: 0,
    },
    outSize: 144,
    xSize: 12,
  },
  {
    label: "accumulate a transpose into a 13×7 buffer",
    layout: { shape: [13, 7], outStrides: [7, 1], outOffset: 0, xStrides: [1, 13], xOffset: 0, accumulate: true },
    outSize: 91,
    xSize: 91,
  },
  {
    label: "accumulate a strided diagonal",
    layout: { shape: [17], outStrides: [18], outOffset: 0, xStrides: [2], xOffset: 1, accumulate: true },
    outSize: 17 * 17,
    xSize: 35,
  },
  {
    label: "an empty shape",
    layout: { shape: [3, 0, 2], outStrides: [0, 0, 1], outOffset: 0, xStrides: [0, 0, 1], xOffset: 0 },
    outSize: 2,
    xSize: 2,
  },
];

test("cuda copyStrided matches the reference (transpose, slices with offsets, concatenation, flip, ranks 0, 5, 8, accumulate)", () => {
  const g = new Generator(26);
  withBuffers((b) => {
    for (const { label, layout, outSize, xSize } of COPIES) {
      for (const dtype of ["float32", "int32"] as const) {
        const x = dtype === "float32" ? uniform(g, xSize) : ints(g, xSize, -99, 99);
        const init = dtype === "float32" ? uniform(g, outSize) : ints(g, outSize, -99, 99);
        const out = b.put(init);
        b.be.copyStrided(out, b.put(x), layout);
        const [want] = reference([x], [[dtype, outSize, init]], (o, xs) => ref.copyStrided(o, xs, layout));
        near(`copyStrided ${dtype}: ${label}`, b.get(out), want, { rtol: 1e-7 });
      }
      if (!layout.accumulate) {
        const x = BigInt64Array.from({ length: xSize }, (_, i) => BigInt(i) * 0x1_0000_0001n - 7n);
        const out = b.put(new BigInt64Array(outSize).fill(-1n));
        b.be.copyStrided(out, b.put(x), layout);
        const r = ref.fromHost("int64", new BigInt64Array(outSize).fill(-1n));
        ref.copyStrided(r, ref.fromHost("int64", x), layout);
        assertEquals(
          b.be.toHost("int64", out, outSize),
          ref.toHost("int64", r, outSize),
          `copyStrided int64: ${label}`,
        );
      }
    }
  });
});

test("cuda copyStrided into a fresh allocation keeps its zeros where nothing is copied", () => {
  withBuffers((b) => {
    const out = b.alloc("float32", 20);
    const layout = { shape: [2, 3], outStrides: [10, 1], outOffset: 4, xStrides: [3, 1], xOffset: 0 };
    b.be.copyStrided(out, b.put(Float32Array.from([1, 2, 3, 4, 5, 6])), layout);
    near("partly written", b.get(out), [0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0]);
    const whole = b.alloc("int32", 6);
    b.be.copyStrided(whole, b.put(Int32Array.from([1, 2, 3, 4, 5, 6])), {
      shape: [3, 2],
      outStrides: [2, 1],
      outOffset: 0,
      xStrides: [1, 3],
      xOffset: 0,
    });
    near("wholly written (transpose)", b.get(whole), [1, 4, 2, 5, 3, 6]);
  });
});

// ------------------------------------------------------------------------------------------ gemm, gather

test("cuda batched gemm matches the reference (shared a, shared b, gaps in c left as they were)", () => {
  const g = new Generator(27);
  const cases: [number, number, number, number, number | undefined, number | undefined, number | undefined][] = [
    [3, 5, 7, 4, undefined, undefined, undefined],
    [7, 13, 5, 3, 0, 65, 100],
    [5, 9, 11, 5, 55, 0, 45],
    [1, 1, 1, 1, undefined, undefined, undefined],
    [10, 20, 1100, 3, undefined, undefined, undefined], // split-K over the batch
  ];
  withBuffers((b) => {
    for (const [m, n, k, batch, strideA, strideB, strideC] of cases) {
      const sa = strideA ?? m * k, sb = strideB ?? k * n, sc = strideC ?? m * n;
      const span = (stride: number, size: number) => Math.max(1, (batch - 1) * stride + size);
      const a = uniform(g, span(sa, m * k)), bv = uniform(g, span(sb, k * n)), c0 = uniform(g, span(sc, m * n));
      for (const [alpha, beta] of [[1, 0], [0.5, -1.25]]) {
        const o = { m, n, k, transA: false, transB: true, alpha, beta, batch, strideA, strideB, strideC };
        const c = b.put(c0);
        b.be.gemm(c, b.put(a), b.put(bv), o);
        const [want] = reference([a, bv], [["float32", c0.length, c0]], (cs, as, bs) => ref.gemm(cs, as, bs, o));
        const [scale] = reference(
          [abs(a), abs(bv)],
          [["float32", c0.length, abs(c0)]],
          (cs, as, bs) => ref.gemm(cs, as, bs, { ...o, alpha: Math.abs(alpha), beta: Math.abs(beta) }),
        );
        const tag =
          `gemm batch=${batch} m=${m} n=${n} k=${k} strides=[${sa}, ${sb}, ${sc}] alpha=${alpha} beta=${beta}`;
        near(tag, b.get(c), want, { atol: 1e-6, rtol: 2e-5, scale });
      }
    }
    // beta 0 into a fresh allocation with gaps between the c matrices: the gaps read as zeros.
    const c = b.alloc("float32", 2 * 5);
    const ones = b.put(new Float32Array(4).fill(1));
    b.be.gemm(c, ones, ones, {
      m: 1,
      n: 2,
      k: 2,
      transA: false,
      transB: false,
      alpha: 1,
      beta: 0,
      batch: 2,
      strideA: 0,
      strideB: 0,
      strideC: 5,
    });
    near("gemm into a fresh allocation with gaps", b.get(c), [2, 2, 0, 0, 0, 2, 2, 0, 0, 0]);
  });
});

const AXES: AxisGeometry[] = [
  { outer: 1, n: 1, m: 1, inner: 1 },
  { outer: 3, n: 7, m: 5, inner: 1 },
  { outer: 2, n: 5, m: 11, inner: 3 },
  { outer: 1, n: 13, m: 4099, inner: 1 }, // an embedding lookup
  { outer: 64, n: 10, m: 1, inner: 1 }, // picking one class per row
  { outer: 0, n: 3, m: 2, inner: 4 },
];

test("cuda gather and scatterAdd match the reference (repeated indices, inner > 1, float32 and int32, empty)", () => {
  const g = new Generator(28);
  withBuffers((b) => {
    for (const geom of AXES) {
      const { outer, n, m, inner } = geom;
      const src = outer * n * inner, idxSize = outer * m * inner;
      const index = ints(g, idxSize, 0, n - 1);
      const tag = `[outer ${outer}, n ${n}, m ${m}, inner ${inner}]`;
      for (const dtype of ["float32", "int32"] as const) {
        const x = dtype === "float32" ? uniform(g, src) : ints(g, src, -1000, 1000);
        const out = b.out(dtype, idxSize);
        b.be.gather(out, b.put(x), b.put(index), geom);
        const [want] = reference([x, index], [[dtype, idxSize]], (o, xs, i) => ref.gather(o, xs, i, geom));
        near(`gather ${dtype} ${tag}`, b.get(out), want);
        const values = dtype === "float32" ? uniform(g, idxSize) : ints(g, idxSize, -1000, 1000);
        const init = dtype === "float32" ? uniform(g, src) : ints(g, src, -1000, 1000);
        const acc = b.put(init);
        b.be.scatterAdd(acc, b.put(values), b.put(index), geom);
        const [sum] = reference([values, index], [[dtype, src, init]], (o, v, i) => ref.scatterAdd(o, v, i, geom));
        // float32 atomics add repeated indices in any order: a few ulps of the sum of |terms|
        near(`scatterAdd ${dtype} ${tag}`, b.get(acc), sum, { atol: 1e-5, rtol: 1e-6 });
      }
    }
  });
});

// ------------------------------------------------------------------------------------------ random

/** Random123's known answer for philox4x32-10 with counter 0 and key 0. */
const KAT_ZERO = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8];

test("cuda randomFill: Philox4x32-10's known answer, and the reference's numbers for every distribution, seed and offset", () => {
  withBuffers((b) => {
    const first = b.out("float32", 4);
    b.be.randomFill(first, 4, { distribution: "uniform", seed: 0n, offset: 0 });
    near("uniform words of philox(0, 0)", b.get(first), KAT_ZERO.map((w) => (w >>> 8) / 2 ** 24));
    const fills: Omit<RandomFill, "seed" | "offset">[] = [
      { distribution: "uniform" },
      { distribution: "uniform", low: -1 / 3, high: 0.1 },
      { distribution: "uniform", low: 5, high: 5 },
      { distribution: "bernoulli", p: 0.3 },
      { distribution: "bernoulli", p: 0 },
      { distribution: "bernoulli", p: 1 },
      { distribution: "normal" },
      { distribution: "normal", low: 2.5, std: 0.01 },
    ];
    for (const size of [1, 5, 4099]) {
      for (const seed of [0n, 42n, 2n ** 63n + 5n, -1n]) {
        for (const offset of [0, 3, 2 ** 32 - 1, 2 ** 40 + 7]) {
          for (const f of fills) {
            const opts = { ...f, seed, offset } as RandomFill;
            const out = b.out("float32", size);
            b.be.randomFill(out, size, opts);
            const [want] = reference([], [["float32", size]], (o) => ref.randomFill(o, size, opts));
            const tol = f.distribution === "normal" ? { atol: 1e-6, rtol: 1e-6 } : {};
            near(`randomFill ${JSON.stringify(f)} size=${size} seed=${seed} offset=${offset}`, b.get(out), want, tol);
          }
        }
      }
    }
    // A stream continues where it stopped: offset + ⌈n / 4⌉.
    const whole = b.out("float32", 4096), halves = b.out("float32", 4096);
    b.be.randomFill(whole, 4096, { distribution: "normal", seed: 9n, offset: 11 });
    b.be.randomFill(halves, 2048, { distribution: "normal", seed: 9n, offset: 11 });
    const second = b.out("float32", 2048);
    b.be.randomFill(second, 2048, { distribution: "normal", seed: 9n, offset: 11 + 512 });
    near("a stream in two fills", [...b.get(halves, 2048), ...b.get(second)], b.get(whole));
    assertThrows(
      () => b.be.randomFill(b.out("float32", 3), 3, { distribution: "bernoulli", seed: 1n, offset: 0 }),
      "bernoulli needs p in [0, 1]",
    );
    assertThrows(
      () => b.be.randomFill(b.alloc("int32", 3), 3, { distribution: "uniform", seed: 1n, offset: 0 }),
      "float32",
    );
  });
});

// ------------------------------------------------------------------------------------------ int64

test("cuda int64 storage: round trip, zeroed alloc, fill, copy, and casts to and from int32 and float32 as the reference", () => {
  const values = BigInt64Array.from([0n, 1n, -1n, 2n ** 62n + 3n, -(2n ** 63n), 2n ** 63n - 1n, 4294967297n, -5n]);
  const n = values.length;
  withBuffers((b) => {
    const s = b.put(values);
    assertEquals(b.be.toHost("int64", s, n), values);
    const z = b.alloc("int64", 5);
    assertEquals(b.be.toHost("int64", z, 5), new BigInt64Array(5));
    for (const v of [7, -3.9, 0, 1e20, NaN]) {
      const f = b.alloc("int64", 3);
      b.be.fill(f, v, 3);
      const r = ref.alloc("int64", 3);
      ref.fill(r, v, 3);
      assertEquals(b.be.toHost("int64", f, 3), ref.toHost("int64", r, 3), `fill int64 with ${v}`);
    }
    const c = b.alloc("int64", n);
    b.be.copy(c, s, n);
    assertEquals(b.be.toHost("int64", c, n), values);
    const rs = ref.fromHost("int64", values);
    for (const to of ["int32", "float32"] as const) {
      const out = b.alloc(to, n);
      b.be.cast(out, to, s, "int64", n);
      const r = ref.alloc(to, n);
      ref.cast(r, to, rs, "int64", n);
      assertEquals(b.be.toHost(to, out, n), ref.toHost(to, r, n), `cast int64 to ${to}`);
    }
    const f32 = Float32Array.from([0, -0.5, 1.9, -2.9, 1e10, -3e18, 1e20, NaN, Infinity, 16777217]);
    const i32 = Int32Array.from([0, -1, 2147483647, -2147483648, 5]);
    for (const host of [f32, i32]) {
      const from: DType = host instanceof Float32Array ? "float32" : "int32";
      const out = b.alloc("int64", host.length);
      b.be.cast(out, "int64", b.put(host), from, host.length);
      const r = ref.alloc("int64", host.length);
      ref.cast(r, "int64", ref.fromHost(from, host), from, host.length);
      assertEquals(
        b.be.toHost("int64", out, host.length),
        ref.toHost("int64", r, host.length),
        `cast ${from} to int64`,
      );
    }
    assertThrows(() => b.be.fromHost("int64", new Int32Array(2)), "int64 values must be a BigInt64Array");
    assertThrows(() => b.be.fromHost("float32", new BigInt64Array(2)), "BigInt64Array");
  });
});

test("cuda arithmetic on int64 is an error naming the dtype (every primitive that computes)", () => {
  withBuffers((b) => {
    const l = b.put(BigInt64Array.from([1n, 2n, 3n])), i = b.put(Int32Array.from([0, 1, 0]));
    const bc = { shape: [3], aStrides: [1], bStrides: [1] };
    const geom = { outer: 1, n: 3, m: 3, inner: 1 };
    const calls: [string, () => void][] = [
      ["unary", () => b.be.unary("neg", l, l, 3)],
      ["binary", () => b.be.binary("add", l, l, l, bc)],
      ["scalar", () => b.be.scalar("mul", l, l, 2, 3)],
      ["where", () => b.be.where(l, i, l, l, { shape: [3], condStrides: [1], aStrides: [1], bStrides: [1] })],
      ["addInPlace", () => b.be.addInPlace(l, l, 3)],
      ["reduce", () => b.be.reduce("sum", l, l, 1, 3, 1)],
      ["gather", () => b.be.gather(l, l, i, geom)],
      ["scatterAdd", () => b.be.scatterAdd(l, l, i, geom)],
      [
        "copyStrided (accumulate)",
        () =>
          b.be.copyStrided(l, l, {
            shape: [3],
            outStrides: [1],
            outOffset: 0,
            xStrides: [1],
            xOffset: 0,
            accumulate: true,
          }),
      ],
      ["gemm", () => b.be.gemm(l, l, l, { m: 1, n: 1, k: 1, transA: false, transB: false, alpha: 1, beta: 0 })],
    ];
    for (const [what, call] of calls) {
      const e = assertThrows(call, "int64");
      assertOk(/storage only|must be float32/.test(e.message), `${what}: ${e.message}`);
    }
    assertEquals(b.be.toHost("int64", l, 3), BigInt64Array.from([1n, 2n, 3n]), "nothing was written");
  });
});

// ------------------------------------------------------------------------------------------ errors

test("cuda unknown op codes (raw FFI calls) are CN_ERR_INVALID naming the function and the code, never an op", () => {
  const sym = dev().backend.library.symbols;
  const lib = dev().backend.library;
  withBuffers((b) => {
    const x = b.put(Float32Array.from([1, -2, 3])), out = b.out("float32", 3);
    const shape = BigInt64Array.from([3n]), st = BigInt64Array.from([1n]);
    const families: [string, number, (code: number) => number][] = [
      ["cn_unary", Object.keys(UNARY_OPS).length, (c) => sym.cn_unary(c, 0, out.ptr, x.ptr, 3n)],
      [
        "cn_binary",
        Object.keys(BINARY_OPS).length,
        (c) => sym.cn_binary(c, 0, out.ptr, x.ptr, x.ptr, 1, shape, st, st),
      ],
      ["cn_scalar", Object.keys(SCALAR_OPS).length, (c) => sym.cn_scalar(c, 0, out.ptr, x.ptr, 2, 3n)],
      ["cn_reduce", Object.keys(REDUCE_OPS).length, (c) => sym.cn_reduce(c, 0, out.ptr, x.ptr, 1n, 3n, 1n)],
    ];
    for (const [fn, count, call] of families) {
      for (const code of [count, -1, 1000]) {
        assertEquals(call(code), STATUS.INVALID, `${fn} with code ${code}`);
        const e = lib.error(STATUS.INVALID, fn);
        assertOk(e instanceof CudaError && e.message.includes(`${fn}: op code ${code} is not a`), e.message);
      }
    }
    near("out untouched", b.get(out), [NaN, NaN, NaN]);
  });
});

// The kernel error record is the process's, shared with test files running in parallel: these run
// in a process of their own (as tests/cuda_backend_test.ts does for the target check).
test("cuda gather and scatterAdd (own process): an index out of range is reported by the next wait, naming it", async () => {
  const lib = dev().backend.library.path;
  const script = `import { cudaDevice, openLibrary } from "ROOT/src/backend/cuda/mod.ts";
const be = cudaDevice(openLibrary({ path: ${JSON.stringify(lib)} })).backend;
const err = (f: () => unknown) => {
  try {
    f();
    return "no error";
  } catch (e) {
    return { name: (e as Error).name, status: (e as { status?: number }).status, message: (e as Error).message };
  }
};
const x = be.fromHost("float32", Float32Array.from([1, 2, 3, 4, 5]));
const out = be.alloc("float32", 6);
const r: Record<string, unknown> = {};
be.gather(out, x, be.fromHost("int32", Int32Array.from([0, 1, 2, 7, 4, 9])), { outer: 1, n: 5, m: 6, inner: 1 });
r.gather = err(() => be.toHost("float32", out, 6));
r.afterGather = Array.from(be.toHost("float32", out, 6));
be.scatterAdd(x, be.fromHost("float32", Float32Array.from([1, 1])), be.fromHost("int32", Int32Array.from([2, -1])), {
  outer: 1, n: 5, m: 2, inner: 1,
});
r.scatter = err(() => be.synchronize());
r.afterScatter = Array.from(be.toHost("float32", x, 5));
console.log("RESULT " + JSON.stringify(r));`;
  const out = await child(script, {}, ["-A"]);
  const m = /RESULT (.*)/.exec(out);
  assertOk(m, out);
  const r = JSON.parse(m[1]);
  assertEquals(r.gather.name, "CudaError", out);
  assertEquals(r.gather.status, STATUS.KERNEL, out);
  assertOk(r.gather.message.includes("gather: index 7 at position 3 of the index is out of range"), out);
  assertOk(r.gather.message.includes("[0, 5)"), out);
  assertEquals(r.afterGather, [1, 2, 3, 0, 5, 0], out); // reported once; bad positions read 0
  assertEquals(r.scatter.status, STATUS.KERNEL, out);
  assertOk(r.scatter.message.includes("scatterAdd: index -1 at position 1"), out);
  assertEquals(r.afterScatter, [1, 2, 4, 4, 5], out); // the bad index is skipped
});

test("cuda primitives check their arguments: dtypes, ranks, stride lists (messages name the op)", () => {
  withBuffers((b) => {
    const f = b.put(Float32Array.from([1, 2, 3])), i = b.put(Int32Array.from([1, 0, 1]));
    assertThrows(
      () => b.be.where(f, f, f, f, { shape: [3], condStrides: [1], aStrides: [1], bStrides: [1] }),
      "where: cond must be int32, got float32",
    );
    assertThrows(() => b.be.gather(f, f, f, { outer: 1, n: 3, m: 3, inner: 1 }), "gather: index must be int32");
    assertThrows(
      () => b.be.copyStrided(i, f, { shape: [3], outStrides: [1], outOffset: 0, xStrides: [1], xOffset: 0 }),
      "copyStrided: out must be float32, got int32",
    );
    assertThrows(
      () => b.be.binary("add", f, f, f, { shape: [3], aStrides: [1], bStrides: [] }),
      "bStrides has 0 entries for a shape of rank 1",
    );
    const nine = [1, 1, 1, 1, 1, 1, 1, 1, 3];
    assertThrows(() => b.be.binary("add", f, f, f, { shape: nine, aStrides: nine, bStrides: nine }), "rank 9");
    assertThrows(
      () => b.be.copyStrided(f, f, { shape: [3], outStrides: [1], outOffset: 0, xStrides: [-1], xOffset: 1 }),
      "negative strides reach before the start of x",
    );
  });
});
