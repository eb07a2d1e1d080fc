/**
 * The WebAssembly SIMD backend (wasmBackend) against the float64 reference loops on awkward shapes,
 * its threads (bit-identical run to run and across thread counts), operands outside the wasm heap,
 * and the CPU backend selection (`CONVNET_CPU`).
 *
 * 3×3 / stride 1 / padding 0–2 convolutions run the direct kernels of native/wasm/conv3x3.c (widths
 * that are and are not multiples of 4), every other geometry im2col + GEMM (strides, paddings,
 * dilations, groups, 1×1, 5×5, and one case over several GEMM blocks each way).
 *
 * The wasm kernels sum in float32 (the TypeScript ones in float64), so they are compared with the
 * reference run in float64 on the same float32 inputs within atol + rtol · scale, where scale is the
 * same computation on absolute values (the sum of |terms| of each output): rtol = 2e-5 is about 300
 * float32 roundings of the whole sum, far below what a wrong index or a lost term gives (≈ 1 · scale).
 */
import { assertBitEqual, assertEquals, assertOk, dirname, fromFileUrl, join, near } from "./_std.ts";
import { geometry, poolGeometry } from "./_geometry.ts";
import { checkConvs as checkConvsOf, checkGemms as checkGemmsOf, type Float32Kernels } from "./_kernel_checks.ts";
import type { Backend, Conv2dGeometry } from "../src/backend/backend.ts";
import { getNumThreads, setNumThreads, tsBackend, tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { wasmBackend, wasmUnavailable } from "../src/backend/wasm/mod.ts";
import { chooseCpuBackend } from "../src/backend/wasm/select.ts";
import { inSharedHeap } from "../src/backend/ts/_alloc.ts";
import { philoxFill } from "../src/backend/philox.ts";

const wasm = wasmBackend as Required<Backend<Float32Array>>;
const ref = tsReferenceBackend as Required<Backend<Float64Array>>;
const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..");

let offset = 0;
/** Seeded normal inputs (Philox), as wasm-heap storage (or a plain array with `plain`). */
function randn(size: number, plain = false): Float32Array {
  const v = new Float32Array(size);
  philoxFill(v, { distribution: "normal", seed: 777n, offset });
  offset += Math.ceil(size / 4);
  return plain ? v : wasm.fromHost("float32", v);
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const abs64 = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

/** |got − want| ≤ atol + rtol · scale everywhere (tests/_std.ts's `near`). */
function assertNear(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale: ArrayLike<number>,
  label: string,
  { atol, rtol } = { atol: 1e-6, rtol: 2e-5 },
): void {
  near(label, got, want, { atol, rtol, scale });
}

const CONV_CASES: [string, Conv2dGeometry][] = [
  ["seed conv1 3×3 p1, 1 → 32, batch 3", geometry(3, 1, 28, 28, 32)],
  ["3×3 p1, 3 → 5 on 7×5", geometry(2, 3, 7, 5, 5)],
  ["3×3 p1 on 1×1 (all padding)", geometry(1, 2, 1, 1, 3)],
  ["3×3 p1, odd width 9, 1 → 1", geometry(1, 1, 4, 9, 1)],
  ["3×3 p1, 4 → 3 on 6×6 (a partial vector of 2)", geometry(2, 4, 6, 6, 3)],
  ["3×3 p1, 17 → 9 on 6×7", geometry(2, 17, 6, 7, 9)],
  ["3×3 p0, 32 → 64 on 12×11 (mnist_pytorch's conv2)", geometry(2, 32, 12, 11, 64, { pad: [0, 0] })],
  ["3×3 pad (2, 0), 3 → 2 on 5×6", geometry(2, 3, 5, 6, 2, { pad: [2, 0] })],
  ["3×3 pad 3 (im2col + GEMM)", geometry(1, 2, 4, 5, 3, { pad: [3, 3] })],
  ["5×5 p0, 6 → 16", geometry(2, 6, 14, 14, 16, { kh: 5, kw: 5, pad: [0, 0] })],
  ["3×3 stride 2 p1, 9×8", geometry(2, 3, 9, 8, 4, { stride: [2, 2] })],
  ["1×3 stride (1, 2) pad (0, 2)", geometry(1, 2, 5, 7, 3, { kh: 1, kw: 3, stride: [1, 2], pad: [0, 2] })],
  ["3×3 dilation 2 p2", geometry(2, 2, 9, 9, 3, { dil: [2, 2], pad: [2, 2] })],
  ["3×3 p1 groups 2, 4 → 6", geometry(2, 4, 6, 6, 6, { groups: 2 })],
  ["1×1, 7 → 5", geometry(3, 7, 3, 4, 5, { kh: 1, kw: 1, pad: [0, 0] })],
  // Depth 29·3·3 = 261 > one 256-deep block, 1089 positions > one 1024-wide block, 67 out channels > 64 rows.
  [
    "3×3 p1 dilation (1, 2), 29 → 67 on 33×35 (GEMM: several blocks each way)",
    geometry(1, 29, 33, 35, 67, { dil: [1, 2], pad: [1, 2] }),
  ],
  ["3×3 p1, 37 → 67 on 33×33 (direct)", geometry(1, 37, 33, 33, 67)],
];

/** The wasm backend's operands: in its heap, or (`plain`) plain arrays it copies in and out. */
function kernels(plain: boolean): Float32Kernels {
  return {
    be: wasm,
    randn: (size) => randn(size, true),
    input: (v) => plain ? v : wasm.fromHost("float32", v),
    out: (size) => plain ? new Float32Array(size) : wasm.alloc("float32", size),
    atol: 1e-6,
    rtol: 2e-5,
  };
}

/** The convolution kernels on every case; `plain` feeds inputs from outside the wasm heap. */
function checkConvs(label: string, plain = false): void {
  checkConvsOf(kernels(plain), CONV_CASES, label);
}

const GEMM_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [10, 10, 3136], // the seed's linear layer forward
  [10, 3136, 10], // its input gradient
  [3, 17, 5],
  [7, 13, 64],
  [17, 3, 300], // k over one 256-deep block
  [66, 70, 257], // rows over one 64-row block, columns not a multiple of 8
  [5, 1031, 9], // columns over one 1024-wide block
];

function checkGemms(label: string, plain = false): void {
  checkGemmsOf(kernels(plain), GEMM_SHAPES, label);
}

/** The fused conv + ReLU + 2×2 max pooling equals the three wasm kernels run one by one, bit for bit. */
function checkConvReluPool(label: string, plain = false): void {
  for (
    const [name, g] of [
      ["seed block, 1 → 16 on 28×28", geometry(3, 1, 28, 28, 16)],
      ["3 → 5 on 7×5 (odd: the last row and column are dropped)", geometry(2, 3, 7, 5, 5)],
      ["pad 0, 4 → 3 on 9×10", geometry(2, 4, 9, 10, 3, { pad: [0, 0] })],
    ] as const
  ) {
    const x = randn(g.n * g.c * g.h * g.w, plain), w = randn(g.k * g.c * 9, plain), bias = randn(g.k, plain);
    const pool = {
      n: g.n,
      c: g.k,
      h: g.oh,
      w: g.ow,
      kh: 2,
      kw: 2,
      oh: Math.floor(g.oh / 2),
      ow: Math.floor(g.ow / 2),
      strideH: 2,
      strideW: 2,
      padH: 0,
      padW: 0,
    };
    const size = pool.n * pool.c * pool.oh * pool.ow;
    const y = wasm.alloc("float32", size), idx = wasm.alloc("int32", size) as unknown as Float32Array;
    wasm.conv2dReluMaxPool2dForward(y, idx, x, w, bias, g, pool);
    const conv = wasm.alloc("float32", g.n * g.k * g.oh * g.ow);
    wasm.conv2dForward(conv, x, w, bias, g);
    wasm.unary("relu", conv, conv, conv.length);
    const yWant = wasm.alloc("float32", size), idxWant = wasm.alloc("int32", size) as unknown as Float32Array;
    wasm.pool2dForward("max", yWant, idxWant, conv, pool);
    assertBitEqual(y, yWant, `${label} ${name}: fused values`);
    assertBitEqual(idx, idxWant, `${label} ${name}: fused indices`);
  }
}

/**
 * Max pooling equals the reference bit for bit (values, indices, gradients; ties, ±∞ and NaNs included);
 * average and sum pooling sum in float32 (the reference in float64): within rounding.
 */
function checkPools(label: string): void {
  const cases = [
    ["3×3 s2 p1 on 7×7", poolGeometry(2, 3, 7, 7, 3, 2, 1)],
    ["2×2 s1 on 5×6", poolGeometry(1, 4, 5, 6, 2, 1, 0)],
    ["2×2 s2 on odd 7×5 (max: the TypeScript pass)", poolGeometry(2, 3, 7, 5, 2, 2, 0)],
    ["global 6×6 (ResNet's average)", poolGeometry(3, 5, 6, 6, 6, 1, 0)],
  ] as const;
  for (const [name, g] of cases) {
    for (const kind of ["max", "avg", "sum"] as const) {
      const xs = randn(g.n * g.c * g.h * g.w, true);
      if (kind === "max") [0, 3, 7, 11].forEach((i, j) => xs[i] = [NaN, Infinity, -Infinity, xs[i + 1]][j]);
      const x = wasm.fromHost("float32", xs), size = g.n * g.c * g.oh * g.ow;
      const y = wasm.alloc("float32", size), yRef = new Float64Array(size);
      const idx = kind === "max" ? wasm.alloc("int32", size) as unknown as Int32Array : null;
      const idxRef = kind === "max" ? new Int32Array(size) : null;
      wasm.pool2dForward(kind, y, idx as never, x, g);
      ref.pool2dForward(kind, yRef, idxRef as never, f64(x), g);
      const dy = randn(size), dx = wasm.alloc("float32", x.length), dxRef = new Float64Array(x.length);
      dx.fill(7); // must be overwritten everywhere
      wasm.pool2dBackward(kind, dx, dy, idx as never, g);
      ref.pool2dBackward(kind, dxRef, f64(dy), idxRef as never, g);
      const tag = `${label} ${kind}Pool2d ${name}`;
      if (kind === "max") { // the float32 reference: overlapping windows add into dx in float32, in the same order
        const dxRef32 = new Float32Array(x.length);
        tsReferenceBackend.pool2dBackward("max", dxRef32, dy, idxRef, g);
        assertBitEqual(y, Float32Array.from(yRef), `${tag}: forward`);
        assertBitEqual(idx!, idxRef!, `${tag}: indices`);
        assertBitEqual(dx, dxRef32, `${tag}: backward`);
        continue;
      }
      const scale = new Float64Array(size), dxScale = new Float64Array(x.length);
      ref.pool2dForward(kind, scale, null, abs64(x), g);
      ref.pool2dBackward(kind, dxScale, abs64(dy), null, g);
      assertNear(y, yRef, scale, `${tag}: forward`);
      assertNear(dx, dxRef, dxScale, `${tag}: backward`);
    }
  }
}

/** Adadelta against the float64 reference (PyTorch's formulas), with and without weight decay. */
function checkAdadelta(label: string): void {
  for (const [size, weightDecay] of [[1, 0], [7, 0.01], [40_003, 0], [40_003, 0.01]]) {
    const p = randn(size), g = randn(size);
    const sq = wasm.fromHost("float32", Float32Array.from(randn(size, true), Math.abs));
    const acc = wasm.fromHost("float32", Float32Array.from(randn(size, true), Math.abs));
    const want = { p: f64(p), g: f64(g), sq: f64(sq), acc: f64(acc) }, p0 = f64(p);
    const h = { lr: 1, rho: 0.9, eps: 1e-6, weightDecay };
    wasm.adadeltaStep({ params: [p], grads: [g], squareAvgs: [sq], accDeltas: [acc], sizes: [size] }, h);
    ref.adadeltaStep(
      { params: [want.p], grads: [want.g], squareAvgs: [want.sq], accDeltas: [want.acc], sizes: [size] },
      h,
    );
    // Each value passes through a few float32 roundings (sqrt, divide, multiply-adds): 5 of them, 6e-7 · |value|.
    const tol = { atol: 1e-8, rtol: 6e-7 };
    const tag = `${label} adadelta of ${size}, weight decay ${weightDecay}`;
    // θ − lr·Δ cancels: its scale is |θ| + |lr·Δ|.
    assertNear(p, want.p, want.p.map((v, i) => Math.abs(p0[i]) + Math.abs(v - p0[i])), `${tag}: params`, tol);
    assertNear(sq, want.sq, abs64(want.sq), `${tag}: square averages`, tol);
    assertNear(acc, want.acc, abs64(want.acc), `${tag}: accumulated deltas`, tol);
  }
}

/** Adam (and AMSGrad) against the float64 reference, within float32 rounding. */
function checkAdam(label: string): void {
  for (
    const [size, weightDecay, amsgrad, step] of [[7, 0, false, 1], [40_003, 0.01, true, 5], [
      40_003,
      0,
      false,
      3,
    ]] as const
  ) {
    const p = randn(size), g = randn(size), m = randn(size);
    const v = wasm.fromHost("float32", Float32Array.from(randn(size, true), (x) => x * x));
    const vMax = wasm.fromHost("float32", Float32Array.from(randn(size, true), (x) => x * x));
    const want = { p: f64(p), g: f64(g), m: f64(m), v: f64(v), vMax: f64(vMax) }, p0 = f64(p);
    const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, amsgrad, step };
    wasm.adamStep({ params: [p], grads: [g], expAvgs: [m], expAvgSqs: [v], maxExpAvgSqs: [vMax], sizes: [size] }, h);
    ref.adamStep(
      {
        params: [want.p],
        grads: [want.g],
        expAvgs: [want.m],
        expAvgSqs: [want.v],
        maxExpAvgSqs: [want.vMax],
        sizes: [size],
      },
      h,
    );
    const tol = { atol: 1e-8, rtol: 6e-7 }, tag = `${label} adam of ${size}, amsgrad ${amsgrad}, step ${step}`;
    // θ − step·m/(√v̂/bc2 + ε) cancels: its scale is |θ| + |the update|.
    const pScale = want.p.map((x, i) => Math.abs(p0[i]) + Math.abs(x - p0[i]));
    assertNear(p, want.p, pScale, `${tag}: params`, tol);
    assertNear(m, want.m, abs64(want.m).map((x, i) => x + 0.1 * Math.abs(want.g[i])), `${tag}: exp_avg`, tol);
    assertNear(v, want.v, abs64(want.v), `${tag}: exp_avg_sq`, tol);
    assertNear(vMax, want.vMax, abs64(want.vMax), `${tag}: max_exp_avg_sq`, tol);
  }
}

/** The outputs of a fixed set of calls (the ResNet-like and seed-like shapes), for bit comparisons. */
function outputs(): Float32Array[] {
  offset = 1_000_000; // the same inputs every time
  const outs: Float32Array[] = [];
  for (const g of [geometry(4, 16, 20, 20, 24), geometry(10, 1, 28, 28, 32)]) {
    const x = randn(g.n * g.c * g.h * g.w), w = randn(g.k * g.c * 9), bias = randn(g.k);
    const dy = randn(g.n * g.k * g.oh * g.ow);
    const y = wasm.alloc("float32", dy.length), dx = wasm.alloc("float32", x.length);
    const dw = wasm.alloc("float32", w.length);
    wasm.conv2dForward(y, x, w, bias, g);
    wasm.conv2dBackwardInput(dx, dy, w, g);
    wasm.conv2dBackwardWeight(dw, dy, x, g);
    const db = wasm.alloc("float32", g.k);
    wasm.conv2dBackwardBias(db, dy, g);
    outs.push(y.slice(), dx.slice(), dw.slice(), db.slice());
  }
  const p = randn(50_000), grad = randn(50_000), sq = randn(50_000).map(Math.abs), acc = randn(50_000).map(Math.abs);
  const h = { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0.01 };
  wasm.adadeltaStep({ params: [p], grads: [grad], squareAvgs: [sq], accDeltas: [acc], sizes: [p.length] }, h);
  outs.push(p.slice(), sq.slice(), acc.slice());
  for (const [m, n, k] of [[300, 70, 600], [10, 3136, 10], [70, 300, 33]]) {
    const c = wasm.alloc("float32", m * n);
    wasm.gemm(c, randn(m * k), randn(k * n), { m, n, k, transA: false, transB: false, alpha: 1, beta: 0 });
    outs.push(c.slice());
  }
  return outs;
}

Deno.test("wasmBackend is available here, and its storage lives in the wasm heap", () => {
  assertEquals(wasmUnavailable(), null);
  const a = wasm.alloc("float32", 10);
  assertOk(inSharedHeap(a), "float32 storage in the heap");
  const back = wasm.toHost("float32", wasm.fromHost("float32", Float32Array.of(1, -2)), 2) as Float32Array;
  assertEquals(Array.from(back), [1, -2]);
  // The wasm kernel ran (not the TypeScript fallback): it sums in float32, tsBackend in float64.
  const [m, n, k] = [64, 64, 512], x = randn(m * k), y = randn(k * n);
  const o = { m, n, k, transA: false, transB: false, alpha: 1, beta: 0 };
  const c = wasm.alloc("float32", m * n), cTs = new Float32Array(m * n);
  wasm.gemm(c, x, y, o);
  (tsBackend as Required<Backend<Float32Array>>).gemm(cTs, x, y, o);
  assertOk(c.some((v, i) => v !== cTs[i]), "wasm and ts GEMMs round differently");
});

Deno.test("wasmBackend conv2d kernels match the float64 reference on awkward shapes", () => checkConvs("1 thread"));
Deno.test("wasmBackend gemm matches the float64 reference for every transpose, alpha/beta and a strided batch", () => {
  checkGemms("1 thread");
});
Deno.test("wasmBackend conv2dReluMaxPool2dForward equals conv2d, relu and maxPool2d run one by one", () => {
  checkConvReluPool("1 thread");
});
Deno.test("wasmBackend poolings: max bit for bit, avg and sum within float32 rounding", () => checkPools("1 thread"));
Deno.test("wasmBackend adamStep matches the float64 reference within float32 rounding", () => checkAdam("1 thread"));
Deno.test("wasmBackend adadeltaStep matches the float64 reference within float32 rounding", () =>
  checkAdadelta("1 thread"));
Deno.test("wasmBackend kernels take operands outside the wasm heap (copied in and out)", () => {
  checkConvs("plain arrays", true);
  checkGemms("plain arrays", true);
  checkConvReluPool("plain arrays", true);
});

Deno.test({
  name: "wasmBackend with 2 and 3 threads: kernels match the reference, and 1 thread bit for bit",
  // The workers outlive the test on purpose (they are unref'd and idle): not a leak.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    const before = getNumThreads();
    try {
      setNumThreads(1);
      const one = outputs();
      outputs().forEach((o, i) => assertBitEqual(o, one[i], `1 thread, twice: output ${i}`));
      for (const n of [2, 3]) {
        setNumThreads(n);
        if (n === 2) { // against the reference once more: the split itself must be right (3 threads: bits only)
          checkConvs(`${n} threads`);
          checkGemms(`${n} threads`);
          checkAdadelta(`${n} threads`);
          checkConvReluPool(`${n} threads`);
          checkPools(`${n} threads`);
          checkAdam(`${n} threads`);
        }
        outputs().forEach((o, i) => assertBitEqual(o, one[i], `${n} threads against 1 thread: output ${i}`));
      }
    } finally {
      setNumThreads(before);
    }
  },
});

Deno.test("chooseCpuBackend: wasm by default here, ts on request", () => {
  assertEquals(chooseCpuBackend("auto").description, "cpu (WebAssembly SIMD backend)");
  assertEquals(chooseCpuBackend("wasm").backend.name, "wasm");
  assertEquals(chooseCpuBackend("ts").backend.name, "ts");
});

Deno.test("CONVNET_CPU=ts and =wasm train the seed's network to the same losses; a bad value is a clear error", async () => {
  // Five Adadelta steps of the seed's Net (conv + ReLU + pool, linear, cross-entropy) on fixed random data.
  const script = `import { cpu, F, manualSeed, optim, Tensor, tensor } from "${ROOT}/mod.ts";
import { Net } from "${ROOT}/examples/mnist/net.ts";
manualSeed(1);
const model = new Net(), opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
const x = Tensor.randn([16, 1, 28, 28]), y = tensor(Array.from({ length: 16 }, (_, i) => i % 10), [16], { dtype: "int32" });
const losses = [];
for (let i = 0; i < 5; i++) {
  opt.zeroGrad();
  const loss = F.crossEntropy(model.forward(x), y);
  loss.backward();
  opt.step();
  losses.push(loss.item());
}
console.log(cpu.backend.name + " " + losses.join(" "));`;
  const run = async (value: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      env: { CONVNET_CPU: value },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim() + new TextDecoder().decode(out.stderr);
  };
  const [ts, wasm] = [await run("ts"), await run("wasm")];
  const losses = (line: string, name: string) => {
    const [backend, ...values] = line.split(" ");
    assertEquals(backend, name, line);
    assertEquals(values.length, 5, line);
    return values.map(Number);
  };
  const a = losses(ts, "ts"), b = losses(wasm, "wasm");
  assertOk(a.every(Number.isFinite) && new Set(a).size === 5, `five different finite losses: ${a.join(", ")}`);
  // float32 sums in a different order: the same training within a few roundings per step.
  a.forEach((v, i) => assertOk(Math.abs(v - b[i]) <= 1e-4 * Math.abs(v) + 1e-6, `step ${i}: ts ${v}, wasm ${b[i]}`));
  const bad = await run("gpu");
  assertOk(bad.includes('CONVNET_CPU="gpu" is not valid; expected wasm, ts or auto'), bad);
});
