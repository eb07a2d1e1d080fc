/**
 * The fast TypeScript backend (tsBackend) against the reference loops (tsReferenceBackend) on
 * awkward shapes, and its threads: results bit-identical run to run and across thread counts.
 *
 * Convolutions and GEMMs are compared with the reference run in float64 on the same float32
 * inputs, within atol + rtol · scale, where scale is the same computation on absolute values
 * (the sum of |terms| of each output: robust when terms cancel). Pooling, ReLU and the
 * optimizer must match the float32 reference bit for bit.
 */
import { assertEquals, assertOk } from "./_std.ts";
import {
  type Backend,
  type Conv2dGeometry,
  conv2dGeometry,
  type Pool2dGeometry,
  type PoolKind,
} from "../src/backend/backend.ts";
import { getNumThreads, setNumThreads, tsBackend, tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { Generator } from "../src/tensor/random.ts";
import { Tensor, tidy } from "../src/tensor/tensor.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { crossEntropy } from "../src/tensor/functional.ts";
import { Net } from "../src/train/mnist_net.ts";
import { Adadelta } from "../src/optim/mod.ts";
import { DataLoader, loadMnist } from "../src/data/mod.ts";

const fast = tsBackend as Backend<Float32Array>;
const ref = tsReferenceBackend as Backend<Float64Array>;
const gen = new Generator(12345);

function randn(size: number): Float32Array {
  const a = new Float32Array(size);
  for (let i = 0; i < size; i++) a[i] = gen.normal();
  return a;
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const abs64 = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

/** Fails with the first mismatches unless |got − want| ≤ atol + rtol · scale everywhere. */
function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>, label: string): void {
  const atol = 1e-6, rtol = 2e-6;
  assertEquals(got.length, want.length, `${label}: length`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * scale[i])) {
      if (++count <= 5) bad.push(`[${i}] got ${got[i]}, want ${want[i]} (scale ${scale[i]})`);
    }
  }
  if (count > 0) throw new Error(`${label}: ${count} of ${got.length} differ; first: ${bad.join("; ")}`);
}

/** Fails with the first mismatches unless the arrays are equal bit for bit (NaNs equal). */
function assertBitEqual(got: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  assertEquals(got.length, want.length, `${label}: length`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      if (++count <= 5) bad.push(`[${i}] got ${got[i]}, want ${want[i]}`);
    }
  }
  if (count > 0) throw new Error(`${label}: ${count} of ${got.length} differ; first: ${bad.join("; ")}`);
}

function geometry(
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  o: { kh?: number; kw?: number; stride?: [number, number]; pad?: [number, number]; dil?: [number, number] } & {
    groups?: number;
  } = {},
): Conv2dGeometry {
  const opts = { stride: o.stride, padding: o.pad ?? [1, 1], dilation: o.dil, groups: o.groups } as const;
  return conv2dGeometry(n, c, h, w, k, o.kh ?? 3, o.kw ?? 3, opts);
}

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

function checkConvs(label: string): void {
  for (const [name, g] of CONV_CASES) {
    const cg = g.c / g.groups;
    const x = randn(g.n * g.c * g.h * g.w), w = randn(g.k * cg * g.kh * g.kw), bias = randn(g.k);
    const dy = randn(g.n * g.k * g.oh * g.ow);
    const ySize = dy.length;

    const y = fast.alloc("float32", ySize);
    fast.conv2dForward(
      y,
      fast.fromHost("float32", x) as Float32Array,
      fast.fromHost("float32", w) as Float32Array,
      bias,
      g,
    );
    const want = new Float64Array(ySize), scale = new Float64Array(ySize);
    ref.conv2dForward(want, f64(x), f64(w), f64(bias), g);
    ref.conv2dForward(scale, abs64(x), abs64(w), abs64(bias), g);
    assertNear(y, want, scale, `${label} ${name}: forward`);

    const dx = fast.alloc("float32", x.length);
    fast.conv2dBackwardInput(dx, dy, w, g);
    const dxWant = new Float64Array(x.length), dxScale = new Float64Array(x.length);
    ref.conv2dBackwardInput(dxWant, f64(dy), f64(w), g);
    ref.conv2dBackwardInput(dxScale, abs64(dy), abs64(w), g);
    assertNear(dx, dxWant, dxScale, `${label} ${name}: backward input`);

    const dw = fast.alloc("float32", w.length);
    fast.conv2dBackwardWeight(dw, dy, x, g);
    const dwWant = new Float64Array(w.length), dwScale = new Float64Array(w.length);
    ref.conv2dBackwardWeight(dwWant, f64(dy), f64(x), g);
    ref.conv2dBackwardWeight(dwScale, abs64(dy), abs64(x), g);
    assertNear(dw, dwWant, dwScale, `${label} ${name}: backward weight`);

    const db = fast.alloc("float32", g.k);
    fast.conv2dBackwardBias(db, dy, g);
    const dbWant = new Float64Array(g.k), dbScale = new Float64Array(g.k);
    ref.conv2dBackwardBias(dbWant, f64(dy), g);
    ref.conv2dBackwardBias(dbScale, abs64(dy), g);
    assertNear(db, dbWant, dbScale, `${label} ${name}: backward bias`);
    for (const t of [y, dx, dw, db]) fast.free(t);
  }
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
  for (const [m, n, k] of GEMM_SHAPES) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const [alpha, beta] of [[1, 0], [0.5, -2]]) {
        const a = randn(m * k), b = randn(k * n), c0 = randn(m * n);
        const o = { m, n, k, transA, transB, alpha, beta };
        const c = fast.fromHost("float32", c0) as Float32Array;
        fast.gemm(c, a, b, o);
        const want = f64(c0), scale = abs64(c0);
        ref.gemm(want, f64(a), f64(b), o);
        ref.gemm(scale, abs64(a), abs64(b), { ...o, alpha: Math.abs(alpha), beta: Math.abs(beta) });
        const tag = `${transA ? "T" : "N"}${transB ? "T" : "N"} alpha ${alpha} beta ${beta}`;
        assertNear(c, want, scale, `${label} gemm ${m}×${n}×${k} ${tag}`);
      }
    }
  }
}

function pool(n: number, c: number, h: number, w: number, k: number, s: number, p: number): Pool2dGeometry {
  const oh = Math.floor((h + 2 * p - k) / s) + 1, ow = Math.floor((w + 2 * p - k) / s) + 1;
  return { n, c, h, w, kh: k, kw: k, oh, ow, strideH: s, strideW: s, padH: p, padW: p };
}

/** Values with ties, zeros of both signs, infinities and (optionally) NaNs. */
function awkwardValues(size: number, nans: boolean): Float32Array {
  const specials = [0, -0, 1, 1, -Infinity, Infinity, 2.5, -1];
  const a = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const r = gen.uniform(0, 1);
    a[i] = r < 0.4 ? specials[Math.floor(gen.uniform(0, specials.length))] : gen.normal();
    if (nans && r > 0.97) a[i] = NaN;
  }
  return a;
}

function checkPools(label: string): void {
  const cases: [string, Pool2dGeometry][] = [
    ["2×2 s2, 28×28 (the seed)", pool(3, 4, 28, 28, 2, 2, 0)],
    ["2×2 s2, odd 7×5", pool(2, 3, 7, 5, 2, 2, 0)],
    ["2×2 s2, 2×2", pool(1, 1, 2, 2, 2, 2, 0)],
    ["3×3 s2 p1", pool(2, 2, 7, 7, 3, 2, 1)],
    ["2×2 s1", pool(1, 40, 5, 6, 2, 1, 0)],
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
    const bc = { shape: [size], aStrides: [1], bStrides: [1] };
    fast.binary("reluGrad", out, grad, x, bc);
    tsReferenceBackend.binary("reluGrad", want, grad, x, bc);
    assertBitEqual(out, want, `${label} reluGrad of ${size}`);
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
Deno.test("tsBackend relu and its gradient equal the reference bit for bit", () => checkElementwise("1 thread"));
Deno.test("tsBackend adadeltaStep equals the reference bit for bit", () => checkAdadelta("1 thread"));

Deno.test("tsBackend recycles storage: it reads as zeros until written, and a double free is ignored", () => {
  const n = 1000;
  const a = fast.alloc("float32", n);
  fast.fill(a, 3, n);
  fast.free(a);
  fast.free(a);
  const b = fast.alloc("float32", n), c = fast.alloc("float32", n);
  assertOk(b !== c, "a block freed twice was handed out twice");
  assertBitEqual(fast.toHost("float32", b, n), new Float32Array(n), "recycled storage read through toHost");
  fast.addInPlace(c, fast.fromHost("float32", new Float32Array(n).fill(2)) as Float32Array, n);
  assertBitEqual(fast.toHost("float32", c, n), new Float32Array(n).fill(2), "recycled storage read by addInPlace");
  for (const t of [b, c]) fast.free(t);
  // Tensor.zeros allocates without writing: its values must still be zeros.
  for (let i = 0; i < 3; i++) {
    const t = Tensor.full([n], 5);
    t.dispose();
    assertBitEqual(Tensor.zeros([n]).toArray(), new Float32Array(n), `Tensor.zeros after a recycled block (${i})`);
  }
});

// ---- threads ----

/** 20 training steps of the seed's Net on real MNIST: the final weights and the losses. */
async function train20(): Promise<{ weights: Float32Array[]; losses: number[] }> {
  const ds = await loadMnist({ train: true });
  manualSeed(3);
  const model = new Net();
  const opt = new Adadelta(model.parameters(), { lr: 1.0 });
  const loader = new DataLoader(ds, { batchSize: 10, shuffle: true, seed: 3, limit: 200 });
  const losses: number[] = [];
  for (const [x, y] of loader) {
    losses.push(tidy(() => {
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    }));
    x.dispose();
    y.dispose();
  }
  return { weights: model.parameters().map((p) => p.toArray() as Float32Array), losses };
}

function assertSameRun(a: { weights: Float32Array[]; losses: number[] }, b: typeof a, label: string): void {
  assertEquals(a.losses.length, 20);
  assertBitEqual(b.losses, a.losses, `${label}: losses`);
  a.weights.forEach((w, i) => assertBitEqual(b.weights[i], w, `${label}: parameter ${i}`));
}

Deno.test({
  name: "tsBackend with 2 threads: kernels still match, and training is bit-identical run to run and to 1 thread",
  // The workers outlive the test on purpose (they are unref'd and idle): not a leak.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const before = getNumThreads();
    try {
      setNumThreads(1);
      const one = await train20();
      assertSameRun(one, await train20(), "1 thread, twice");
      setNumThreads(2);
      assertEquals(getNumThreads(), 2);
      checkConvs("2 threads");
      checkGemms("2 threads");
      checkPools("2 threads");
      checkElementwise("2 threads");
      checkAdadelta("2 threads");
      const two = await train20();
      assertSameRun(two, await train20(), "2 threads, twice");
      assertSameRun(one, two, "2 threads against 1 thread");
      setNumThreads(3); // more parts than this machine has cores: same numbers
      assertSameRun(one, await train20(), "3 threads against 1 thread");
    } finally {
      setNumThreads(before);
    }
  },
});
