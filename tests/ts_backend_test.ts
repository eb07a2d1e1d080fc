/**
 * The fast TypeScript backend (tsBackend) against the reference loops (tsReferenceBackend) on
 * awkward shapes, and its threads: results bit-identical run to run and across thread counts.
 *
 * Convolutions and GEMMs are compared with the reference run in float64 on the same float32
 * inputs, within atol + rtol · scale, where scale is the same computation on absolute values
 * (the sum of |terms| of each output: robust when terms cancel). Pooling, ReLU and the
 * optimizer must match the float32 reference bit for bit.
 */
import { assertBitEqual, assertEquals, assertOk } from "./_std.ts";
import { geometry, poolGeometry } from "./_geometry.ts";
import { checkConvs as checkConvsOf, checkGemms as checkGemmsOf, type Float32Kernels } from "./_kernel_checks.ts";
import type { Backend, Conv2dGeometry, Pool2dGeometry, PoolKind } from "../src/backend/backend.ts";
import { getNumThreads, setNumThreads, tsBackend, tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { philoxFill } from "../src/backend/philox.ts";

const fast = tsBackend as Required<Backend<Float32Array>>;

/** A seeded stream of test inputs (Philox: each call continues where the last one stopped). */
const gen = {
  offset: 0,
  fill(out: Float32Array, distribution: "uniform" | "normal"): Float32Array {
    philoxFill(out, { distribution, seed: 12345n, offset: this.offset });
    this.offset += Math.ceil(out.length / 4);
    return out;
  },
};

function randn(size: number): Float32Array {
  return gen.fill(new Float32Array(size), "normal");
}

const abs64 = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

const CONV_CASES: [string, Conv2dGeometry][] = [
  ["seed conv1 3×3 p1, 1 → 16, batch 3", geometry(3, 1, 28, 28, 16)],
  ["3×3 p1, 3 → 5 on 7×5", geometry(2, 3, 7, 5, 5)],
  ["3×3 p1 on 1×1 (all padding)", geometry(1, 2, 1, 1, 3)],
  ["3×3 p1, odd width 9, batch 1, 1 → 1", geometry(1, 1, 4, 9, 1)],
  ["5×5 p0 (LeNet conv2), 6 → 16", geometry(2, 6, 14, 14, 16, { kh: 5, kw: 5, pad: [0, 0] })],
  ["3×3 stride 2 p1", geometry(2, 3, 9, 8, 4, { stride: [2, 2] })],
  ["1×3 stride (1, 2) pad (0, 2)", geometry(1, 2, 5, 7, 3, { kh: 1, kw: 3, stride: [1, 2], pad: [0, 2] })],
  ["3×3 dilation 2 p2", geometry(2, 2, 9, 9, 3, { dil: [2, 2], pad: [2, 2] })],
  ["3×3 p1 groups 2, 4 → 6", geometry(2, 4, 6, 6, 6, { groups: 2 })],
  ["1×1, 7 → 5", geometry(3, 7, 3, 4, 5, { kh: 1, kw: 1, pad: [0, 0] })],
];

/** The TypeScript backend's operands: plain arrays (its storage). */
const kernels: Float32Kernels = {
  be: fast,
  randn,
  input: (v) => v,
  out: (size) => fast.alloc("float32", size),
  atol: 1e-6,
  rtol: 2e-6,
};

function checkConvs(label: string): void {
  checkConvsOf(kernels, CONV_CASES, label);
}

const GEMM_SHAPES: [number, number, number][] = [
  [10, 10, 3136], // the seed's linear layer forward (the dot loop)
  [10, 3136, 10], // its input gradient (the rows loop)
  [1, 1, 1],
  [3, 17, 5],
  [7, 13, 64],
  [5, 9, 65], // just past the rows loop: packed
  [17, 3, 300], // packed, k over one block
  [66, 70, 257],
];

function checkGemms(label: string): void {
  checkGemmsOf(kernels, GEMM_SHAPES, label);
}

/** Values with ties, zeros of both signs, infinities and (optionally) NaNs. */
function awkwardValues(size: number, nans: boolean): Float32Array {
  const specials = [0, -0, 1, 1, -Infinity, Infinity, 2.5, -1];
  const a = randn(size);
  const r = gen.fill(new Float32Array(size), "uniform"), pick = gen.fill(new Float32Array(size), "uniform");
  for (let i = 0; i < size; i++) {
    if (r[i] < 0.4) a[i] = specials[Math.floor(pick[i] * specials.length)];
    if (nans && r[i] > 0.97) a[i] = NaN;
  }
  return a;
}

function checkPools(label: string): void {
  const cases: [string, Pool2dGeometry][] = [
    ["2×2 s2, 28×28 (the seed)", poolGeometry(3, 4, 28, 28, 2, 2, 0)],
    ["2×2 s2, odd 7×5", poolGeometry(2, 3, 7, 5, 2, 2, 0)],
    ["2×2 s2, 2×2", poolGeometry(1, 1, 2, 2, 2, 2, 0)],
    ["3×3 s2 p1", poolGeometry(2, 2, 7, 7, 3, 2, 1)],
    ["2×2 s1", poolGeometry(1, 40, 5, 6, 2, 1, 0)],
  ];
  for (const [name, g] of cases) {
    for (const kind of ["max", "avg", "sum"] as PoolKind[]) {
      for (const nans of kind === "max" ? [false, true] : [false]) {
        const x = kind === "max" ? awkwardValues(g.n * g.c * g.h * g.w, nans) : randn(g.n * g.c * g.h * g.w);
        const size = g.n * g.c * g.oh * g.ow;
        const y = fast.alloc("float32", size), yRef = new Float32Array(size);
        const idx = kind === "max" ? fast.alloc("int32", size) as unknown as Int32Array : null;
        const idxRef = kind === "max" ? new Int32Array(size) : null;
        fast.pool2dForward(kind, y, idx as never, x, g);
        tsReferenceBackend.pool2dForward(kind, yRef, idxRef, x, g);
        const tag = `${label} ${kind} ${name}${nans ? " with NaNs" : ""}`;
        assertBitEqual(y, yRef, `${tag}: forward values`);
        if (idx) assertBitEqual(idx, idxRef!, `${tag}: forward indices`);
        const dy = randn(size), dx = fast.alloc("float32", x.length), dxRef = new Float32Array(x.length);
        dx.fill(7); // must be overwritten everywhere
        fast.pool2dBackward(kind, dx, dy, idx as never, g);
        tsReferenceBackend.pool2dBackward(kind, dxRef, dy, idxRef, g);
        assertBitEqual(dx, dxRef, `${tag}: backward`);
      }
    }
  }
}

function checkElementwise(label: string): void {
  for (const size of [1, 7, 100_003]) {
    const x = awkwardValues(size, true), grad = awkwardValues(size, true);
    const out = fast.alloc("float32", size), want = new Float32Array(size);
    fast.unary("relu", out, x, size);
    tsReferenceBackend.unary("relu", want, x, size);
    assertBitEqual(out, want, `${label} relu of ${size}`);
    fast.reluBackward(out, grad, x, size);
    tsReferenceBackend.reluBackward(want, grad, x, size);
    assertBitEqual(out, want, `${label} reluBackward of ${size}`);
  }
}

function checkAdadelta(label: string): void {
  for (const size of [1, 31_360]) {
    const p = randn(size), g = randn(size), sq = abs64(randn(size)), acc = abs64(randn(size));
    const state = () => ({ p: p.slice(), g: g.slice(), sq: Float32Array.from(sq), acc: Float32Array.from(acc) });
    const a = state(), b = state();
    const h = { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0.01 };
    fast.adadeltaStep({ params: [a.p], grads: [a.g], squareAvgs: [a.sq], accDeltas: [a.acc], sizes: [size] }, h);
    tsReferenceBackend.adadeltaStep(
      { params: [b.p], grads: [b.g], squareAvgs: [b.sq], accDeltas: [b.acc], sizes: [size] },
      h,
    );
    assertBitEqual(a.p, b.p, `${label} adadelta params of ${size}`);
    assertBitEqual(a.sq, b.sq, `${label} adadelta square averages of ${size}`);
    assertBitEqual(a.acc, b.acc, `${label} adadelta accumulated deltas of ${size}`);
  }
}

Deno.test("tsBackend conv2d kernels match the float64 reference on awkward shapes", () => checkConvs("1 thread"));
Deno.test("tsBackend gemm matches the float64 reference for every transpose and loop", () => checkGemms("1 thread"));
Deno.test("tsBackend poolings equal the reference bit for bit (ties, ±0, ±∞, NaN)", () => checkPools("1 thread"));
Deno.test("tsBackend relu and reluBackward equal the reference bit for bit", () => checkElementwise("1 thread"));
Deno.test("tsBackend adadeltaStep equals the reference bit for bit", () => checkAdadelta("1 thread"));

Deno.test("tsBackend recycles storage: it reads as zeros until written, and a double free is ignored", () => {
  const n = 1000;
  const a = fast.alloc("float32", n);
  fast.fill(a, 3, n);
  fast.free(a);
  fast.free(a);
  const b = fast.alloc("float32", n), c = fast.alloc("float32", n);
  assertOk(b !== c, "a block freed twice was handed out twice");
  assertBitEqual(
    fast.toHost("float32", b, n) as Float32Array,
    new Float32Array(n),
    "recycled storage read through toHost",
  );
  fast.addInPlace(c, fast.fromHost("float32", new Float32Array(n).fill(2)) as Float32Array, n);
  assertBitEqual(
    fast.toHost("float32", c, n) as Float32Array,
    new Float32Array(n).fill(2),
    "recycled storage read by addInPlace",
  );
  for (const t of [b, c]) fast.free(t);
});

// ---- threads ----

/**
 * Every threaded kernel on fixed inputs (the same numbers on every call): the outputs, to be
 * compared bit for bit across thread counts.
 */
function threadedOutputs(): Float32Array[] {
  let offset = 0;
  const input = (size: number) => {
    const a = new Float32Array(size);
    philoxFill(a, { distribution: "normal", seed: 7n, offset });
    offset += Math.ceil(size / 4);
    return a;
  };
  const outs: Float32Array[] = [];
  const keep = (a: Float32Array) => outs.push(Float32Array.from(a));
  for (const [, g] of CONV_CASES) {
    const x = input(g.n * g.c * g.h * g.w), w = input(g.k * (g.c / g.groups) * g.kh * g.kw), bias = input(g.k);
    const dy = input(g.n * g.k * g.oh * g.ow);
    const y = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    const db = new Float32Array(g.k);
    fast.conv2dForward(y, x, w, bias, g);
    fast.conv2dBackwardInput(dx, dy, w, g);
    fast.conv2dBackwardWeight(dw, dy, x, g);
    fast.conv2dBackwardBias(db, dy, g);
    [y, dx, dw, db].forEach(keep);
  }
  for (const [m, n, k] of GEMM_SHAPES) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
      // Storage from the backend: with threads on, batch entries are views into the shared heap.
      const host = (a: Float32Array) => fast.fromHost("float32", a) as Float32Array;
      const c = host(input(3 * m * n));
      fast.gemm(c, host(input(3 * m * k)), host(input(k * n)), {
        m,
        n,
        k,
        transA,
        transB,
        alpha: 0.5,
        beta: -2,
        batch: 3,
        strideB: 0,
      });
      keep(c);
    }
  }
  for (const g of [poolGeometry(3, 4, 28, 28, 2, 2, 0), poolGeometry(2, 2, 7, 7, 3, 2, 1)]) {
    for (const kind of ["max", "avg"] as PoolKind[]) {
      const x = input(g.n * g.c * g.h * g.w), size = g.n * g.c * g.oh * g.ow;
      const y = new Float32Array(size), idx = kind === "max" ? new Int32Array(size) : null;
      fast.pool2dForward(kind, y, idx as never, x, g);
      const dx = new Float32Array(x.length);
      fast.pool2dBackward(kind, dx, input(size), idx as never, g);
      [y, dx].forEach(keep);
    }
  }
  const size = 100_003, x = input(size), dy = input(size), r = new Float32Array(size), dx = new Float32Array(size);
  fast.unary("relu", r, x, size);
  fast.reluBackward(dx, dy, x, size);
  [r, dx].forEach(keep);
  const p = input(31_360), grad = input(31_360), sq = input(31_360).map(Math.abs), acc = input(31_360).map(Math.abs);
  const h = { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0.01 };
  fast.adadeltaStep({ params: [p], grads: [grad], squareAvgs: [sq], accDeltas: [acc], sizes: [p.length] }, h);
  [p, sq, acc].forEach(keep);
  return outs;
}

Deno.test({
  name: "tsBackend with 2 and 3 threads: kernels match the reference and 1 thread bit for bit",
  // The workers outlive the test on purpose (they are unref'd and idle): not a leak.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    const before = getNumThreads();
    try {
      setNumThreads(1);
      const one = threadedOutputs();
      const again = threadedOutputs();
      one.forEach((o, i) => assertBitEqual(again[i], o, `1 thread, twice: output ${i}`));
      for (const n of [2, 3]) {
        setNumThreads(n);
        assertEquals(getNumThreads(), n);
        checkConvs(`${n} threads`);
        checkGemms(`${n} threads`);
        checkPools(`${n} threads`);
        checkElementwise(`${n} threads`);
        checkAdadelta(`${n} threads`);
        // Storage of every dtype lives in the shared heap now, int64 included.
        const big = fast.fromHost("int64", BigInt64Array.of(-(2n ** 63n), 5n)) as unknown as BigInt64Array;
        assertEquals(big.buffer instanceof SharedArrayBuffer, true, "int64 storage in the shared heap");
        assertEquals(fast.toHost("int64", big as never, 2), BigInt64Array.of(-(2n ** 63n), 5n));
        const outs = threadedOutputs();
        assertEquals(outs.length, one.length);
        one.forEach((o, i) => assertBitEqual(outs[i], o, `${n} threads against 1 thread: output ${i}`));
      }
    } finally {
      setNumThreads(before);
    }
  },
});
