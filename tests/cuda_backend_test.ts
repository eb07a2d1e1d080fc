/**
 * Over 500 lines: one kernel family per section, all against the same reference and device.
 * The CUDA backend (src/backend/cuda) against the TypeScript reference backend, kernel by kernel,
 * on random inputs of awkward shapes (the kernels the contract had before the primitives of
 * tests/cuda_primitives_test.ts); then training, memory and errors through the whole library.
 * The device, buffers, references and `near()` are in tests/_cuda.ts.
 */
import { assertEquals, assertOk, assertThrows } from "./_std.ts";
import { ensureEmuLibrary } from "../scripts/build_native.ts";
import {
  type Backend,
  type BinaryOp,
  type Conv2dGeometry,
  conv2dGeometry,
  type DType,
  type Pool2dGeometry,
  type PoolKind,
} from "../src/backend/backend.ts";
import { BINARY_OPS, COMPARISONS } from "../src/backend/_ops_table.ts";
import { createCudaBackend, type CudaStorage, STATUS } from "../src/backend/cuda/mod.ts";
import { type Device, device, registerCudaProvider } from "../src/backend/device.ts";
import { crossEntropy } from "../src/tensor/functional.ts";
import { memory, noGrad, type Tensor, tensor, tidy } from "../src/tensor/mod.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { Conv2d, Linear, MaxPool2d, Module, ReLU } from "../src/nn/mod.ts";
import { Adadelta, type Optimizer } from "../src/optim/mod.ts";
import { DataLoader, type ImageDataset } from "../src/data/mod.ts";
import { Net } from "../examples/mnist/net.ts";
import {
  abs,
  broadcast,
  child,
  contiguous,
  dev,
  Generator,
  ints,
  near,
  numel,
  onCard,
  quiet,
  ref,
  reference,
  SIZES,
  test,
  uniform,
  withBuffers,
} from "./_cuda.ts";

// ------------------------------------------------------------------------------------------ elementwise

test("cuda fill, copy, cast and addInPlace match the TypeScript backend (float32 and int32, sizes 1 to 4099)", () => {
  const g = new Generator(1);
  withBuffers((b) => {
    for (const n of SIZES) {
      const f = uniform(g, n, -50, 50), i = ints(g, n, -1000, 1000);
      const tag = `n=${n}`;
      const of = b.out("float32", n), oi = b.out("int32", n);
      b.be.fill(of, 3.25, n);
      b.be.fill(oi, -7, n);
      near(`fill float32 ${tag}`, b.get(of), new Float32Array(n).fill(3.25));
      near(`fill int32 ${tag}`, b.get(oi), new Int32Array(n).fill(-7));
      const xf = b.put(f), xi = b.put(i);
      b.be.copy(of, xf, n);
      b.be.copy(oi, xi, n);
      near(`copy float32 ${tag}`, b.get(of), f);
      near(`copy int32 ${tag}`, b.get(oi), i);
      b.be.cast(oi, "int32", xf, "float32", n);
      near(
        `cast float32→int32 ${tag}`,
        b.get(oi),
        reference([f], [["int32", n]], (o, x) => ref.cast(o, "int32", x, "float32", n))[0],
      );
      b.be.cast(of, "float32", xi, "int32", n);
      near(`cast int32→float32 ${tag}`, b.get(of), Float32Array.from(i));
      const f2 = uniform(g, n), i2 = ints(g, n, -5, 5);
      const accF = b.put(f2), accI = b.put(i2);
      b.be.addInPlace(accF, xf, n);
      b.be.addInPlace(accI, xi, n);
      near(
        `addInPlace float32 ${tag}`,
        b.get(accF),
        reference([f], [["float32", n, f2]], (o, x) => ref.addInPlace(o, x, n))[0],
      );
      near(
        `addInPlace int32 ${tag}`,
        b.get(accI),
        reference([i], [["int32", n, i2]], (o, x) => ref.addInPlace(o, x, n))[0],
      );
    }
  });
});

test("cuda unary ops match the TypeScript backend (neg exp log relu sqrt abs; neg and abs on int32)", () => {
  const g = new Generator(2);
  withBuffers((b) => {
    for (const n of SIZES) {
      const signed = uniform(g, n, -10, 10), positive = uniform(g, n, 1e-3, 50);
      if (n > 3) signed[3] = NaN; // relu keeps NaN
      const cases = [
        ["neg", signed],
        ["exp", uniform(g, n, -20, 20)],
        ["log", positive],
        ["relu", signed],
        ["sqrt", positive],
        ["abs", signed],
      ] as const;
      for (const [op, x] of cases) {
        const out = b.out("float32", n);
        b.be.unary(op, out, b.put(x), n);
        const want = reference([x], [["float32", n]], (o, xs) => ref.unary(op, o, xs, n))[0];
        near(`unary ${op} float32 n=${n}`, b.get(out), want, { atol: 1e-30, rtol: 2e-6 });
      }
      const xi = ints(g, n, -100000, 100000);
      for (const op of ["neg", "abs"] as const) {
        const out = b.out("int32", n);
        b.be.unary(op, out, b.put(xi), n);
        near(
          `unary ${op} int32 n=${n}`,
          b.get(out),
          reference([xi], [["int32", n]], (o, xs) => ref.unary(op, o, xs, n))[0],
        );
      }
    }
  });
});

test("cuda scalar ops match the TypeScript backend (add sub rsub mul div rdiv pow; int32 add sub mul)", () => {
  const g = new Generator(3);
  withBuffers((b) => {
    for (const n of SIZES) {
      const x = uniform(g, n, -4, 4), pos = uniform(g, n, 0.1, 4);
      for (const op of ["add", "sub", "rsub", "mul", "div", "rdiv"] as const) {
        const out = b.out("float32", n);
        b.be.scalar(op, out, b.put(x), 1.7, n);
        const want = reference([x], [["float32", n]], (o, xs) => ref.scalar(op, o, xs, 1.7, n))[0];
        near(`scalar ${op} 1.7 float32 n=${n}`, b.get(out), want, { rtol: 1e-6 });
      }
      for (const s of [2, 0.5, -1.5, 3]) {
        const out = b.out("float32", n);
        b.be.scalar("pow", out, b.put(pos), s, n);
        const want = reference([pos], [["float32", n]], (o, xs) => ref.scalar("pow", o, xs, s, n))[0];
        near(`scalar pow ${s} float32 n=${n}`, b.get(out), want, { rtol: 4e-6 });
      }
      const xi = ints(g, n, -1000, 1000);
      for (const op of ["add", "sub", "mul"] as const) {
        const out = b.out("int32", n);
        b.be.scalar(op, out, b.put(xi), 3, n);
        near(
          `scalar ${op} 3 int32 n=${n}`,
          b.get(out),
          reference([xi], [["int32", n]], (o, xs) => ref.scalar(op, o, xs, 3, n))[0],
        );
      }
    }
  });
});

const BROADCASTS: [number[], number[]][] = [
  [[1], [1]],
  [[13], [13]],
  [[4099], [1]],
  [[], [7, 3]],
  [[3, 1, 5], [1, 4, 5]],
  [[2, 3, 4, 5], [5]],
  [[2, 3, 4, 5], [3, 1, 1]],
  [[64, 10], [64, 1]],
  [[2, 1, 2, 1, 2, 1, 2, 3], [1, 2, 1, 2, 1, 2, 1, 3]], // rank 8, the ABI's limit
];

test("cuda binary ops with broadcasting match the TypeScript backend (every op of the table, ranks 0 to 8, int32 too)", () => {
  const g = new Generator(4);
  const ops = Object.keys(BINARY_OPS) as BinaryOp[];
  withBuffers((b) => {
    for (const [as, bs] of BROADCASTS) {
      const bc = broadcast(as, bs);
      const n = numel(bc.shape), na = numel(as), nb = numel(bs);
      const tag = `[${as}] with [${bs}]`;
      for (const op of ops) {
        // comparisons need equal values to be interesting: small integers as floats
        const cmp = COMPARISONS.has(op);
        const a = cmp ? Float32Array.from(ints(g, na, 0, 2)) : uniform(g, na, -3, 3);
        const bv = cmp
          ? Float32Array.from(ints(g, nb, 0, 2))
          : op === "div"
          ? uniform(g, nb, 0.5, 2).map((v, i) => (i % 2 ? -v : v))
          : uniform(g, nb, -3, 3);
        const outType = cmp ? "int32" : "float32";
        const out = b.out(outType, n);
        b.be.binary(op, out, b.put(a), b.put(bv), bc);
        const want = reference([a, bv], [[outType, n]], (o, x, y) => ref.binary(op, o, x, y, bc))[0];
        near(`binary ${op} ${tag}`, b.get(out), want, { rtol: 1e-7, shape: bc.shape });
      }
      for (const op of ops) {
        const a = ints(g, na, -3, 3), bv = ints(g, nb, -3, 3);
        if (op === "div") bv.forEach((v, i) => (bv[i] = v === 0 ? 2 : v));
        const out = b.out("int32", n);
        b.be.binary(op, out, b.put(a), b.put(bv), bc);
        const want = reference([a, bv], [["int32", n]], (o, x, y) => ref.binary(op, o, x, y, bc))[0];
        near(`binary ${op} int32 ${tag}`, b.get(out), want, { shape: bc.shape });
      }
    }
  });
});

test("cuda copyStrided broadcasting matches the TypeScript backend (every operand shape above, float32 and int32)", () => {
  const g = new Generator(5);
  withBuffers((b) => {
    for (const [xs, full] of BROADCASTS) {
      const bc = broadcast(full, xs); // x as operand b
      const layout = {
        shape: bc.shape,
        outStrides: contiguous(bc.shape),
        outOffset: 0,
        xStrides: bc.bStrides,
        xOffset: 0,
      };
      const n = numel(bc.shape);
      for (const dtype of ["float32", "int32"] as const) {
        const x = dtype === "float32" ? uniform(g, numel(xs)) : ints(g, numel(xs), -9, 9);
        const out = b.out(dtype, n);
        b.be.copyStrided(out, b.put(x), layout);
        const want = reference([x], [[dtype, n]], (o, xv) => ref.copyStrided(o, xv, layout))[0];
        near(`copyStrided ${dtype} [${xs}] to [${bc.shape}]`, b.get(out), want, { shape: bc.shape });
      }
    }
  });
});

test("cuda reductions match the TypeScript backend (sum max argmax over [outer, n, inner], ties, int32)", () => {
  const g = new Generator(6);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 1000, 1],
    [7, 13, 5],
    [3, 257, 1],
    [1, 4099, 3],
    [64, 10, 1],
    [2, 3, 1031],
    [1, 100003, 1],
  ];
  withBuffers((b) => {
    for (const [outer, n, inner] of shapes) {
      const size = outer * n * inner, m = outer * inner;
      const tag = `[${outer}, ${n}, ${inner}]`;
      const x = uniform(g, size, -2, 2);
      const sum = b.out("float32", m);
      b.be.reduce("sum", sum, b.put(x), outer, n, inner);
      const [want] = reference([x], [["float32", m]], (o, xs) => ref.reduce("sum", o, xs, outer, n, inner));
      const [scale] = reference([abs(x)], [["float32", m]], (o, xs) => ref.reduce("sum", o, xs, outer, n, inner));
      near(`reduce sum ${tag}`, b.get(sum), want, { atol: 1e-6, rtol: 2e-6, scale });
      // Integer values make ties: argmax must keep the first maximum.
      const t = Float32Array.from(ints(g, size, -3, 3));
      for (const op of ["max", "argmax"] as const) {
        const outType = op === "argmax" ? "int32" : "float32";
        const out = b.out(outType, m);
        b.be.reduce(op, out, b.put(t), outer, n, inner);
        const [w] = reference([t], [[outType, m]], (o, xs) => ref.reduce(op, o, xs, outer, n, inner));
        near(`reduce ${op} ${tag} (with ties)`, b.get(out), w, { shape: [outer, inner] });
      }
      const xi = ints(g, size, -50, 50);
      for (const op of ["sum", "max"] as const) {
        const out = b.out("int32", m);
        b.be.reduce(op, out, b.put(xi), outer, n, inner);
        const [w] = reference([xi], [["int32", m]], (o, xs) => ref.reduce(op, o, xs, outer, n, inner));
        near(`reduce ${op} int32 ${tag}`, b.get(out), w, { shape: [outer, inner] });
      }
    }
  });
});

// ------------------------------------------------------------------------------------------ GEMM

test("cuda gemm matches the TypeScript backend (all four transposes; 1×1×1, 67×129×33, primes, k=3136; alpha, beta)", () => {
  const g = new Generator(7);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [67, 129, 33],
    [3, 5, 7],
    [64, 64, 64],
    [1, 100, 257],
    [10, 10, 3136], // the seed's fc layer
    [131, 1, 17],
    [128, 130, 1],
  ];
  withBuffers((b) => {
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [[1, 0], [0.5, 1.25]]) {
            if (alpha !== 1 && m * n * k > 100_000) continue; // alpha/beta on the small shapes
            const a = uniform(g, m * k), bv = uniform(g, k * n), c0 = uniform(g, m * n);
            const o = { m, n, k, transA, transB, alpha, beta };
            const c = beta === 0 ? b.out("float32", m * n) : b.put(c0); // beta 0: a NaN-filled c is never read
            b.be.gemm(c, b.put(a), b.put(bv), o);
            const [want] = reference([a, bv], [["float32", m * n, c0]], (cs, as, bs) => ref.gemm(cs, as, bs, o));
            const [scale] = reference(
              [abs(a), abs(bv)],
              [["float32", m * n, abs(c0)]],
              (cs, as, bs) => ref.gemm(cs, as, bs, { ...o, alpha: Math.abs(alpha), beta: Math.abs(beta) }),
            );
            const tag = `${transA ? "T" : "N"}${transB ? "T" : "N"} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta}`;
            near(`gemm ${tag}`, b.get(c), want, { atol: 1e-6, rtol: 2e-5, scale, shape: [m, n] });
          }
        }
      }
    }
  });
});

// ------------------------------------------------------------------------------------------ convolution

function convGeom(
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  kh: number,
  kw: number,
  o: { stride?: [number, number]; pad?: [number, number]; dilation?: [number, number]; groups?: number } = {},
): Conv2dGeometry {
  return conv2dGeometry(n, c, h, w, k, kh, kw, { ...o, padding: o.pad });
}

const CONVS: [string, Conv2dGeometry][] = [
  ["the seed's conv1 (2×1×28×28 → 16, 3×3, pad 1)", convGeom(2, 1, 28, 28, 16, 3, 3, { pad: [1, 1] })],
  ["batch 1, 2×3 kernel, stride 2, pad (1, 0)", convGeom(1, 3, 7, 11, 5, 2, 3, { stride: [2, 2], pad: [1, 0] })],
  ["stride 3, dilation 2, pad 2", convGeom(2, 4, 13, 10, 6, 3, 3, { stride: [3, 3], pad: [2, 2], dilation: [2, 2] })],
  [
    "stride (2, 3), dilation (1, 2)",
    convGeom(3, 2, 11, 17, 7, 3, 2, { stride: [2, 3], dilation: [1, 2], pad: [0, 1] }),
  ],
  ["groups 2", convGeom(2, 6, 9, 8, 4, 3, 3, { pad: [1, 1], groups: 2 })],
  ["depthwise (groups = channels)", convGeom(2, 8, 10, 10, 8, 3, 3, { pad: [1, 1], groups: 8 })],
  ["67 → 65 channels, 3×3, pad 1", convGeom(1, 67, 9, 9, 65, 3, 3, { pad: [1, 1] })],
  ["1×1, 70 → 33 channels, stride 2", convGeom(2, 70, 7, 7, 33, 1, 1, { stride: [2, 2] })],
  ["5×5 kernel on a 2×2 input, pad 2", convGeom(3, 2, 2, 2, 3, 5, 5, { pad: [2, 2] })],
  ["1×1×1×1 → 1", convGeom(1, 1, 1, 1, 1, 1, 1)],
];

test("cuda conv2d forward, backward-input, -weight, -bias match the TypeScript backend (stride, padding, dilation, groups, non-square)", () => {
  const g = new Generator(8);
  withBuffers((b) => {
    for (const [name, c] of CONVS) {
      const xn = c.n * c.c * c.h * c.w, wn = c.k * (c.c / c.groups) * c.kh * c.kw, yn = c.n * c.k * c.oh * c.ow;
      const x = uniform(g, xn), w = uniform(g, wn), bias = uniform(g, c.k), dy = uniform(g, yn);
      const X = b.put(x), W = b.put(w), B = b.put(bias), DY = b.put(dy);
      const tol = { atol: 1e-6, rtol: 2e-5 };
      for (const withBias of [true, false]) {
        const y = b.out("float32", yn);
        b.be.conv2dForward(y, X, W, withBias ? B : null, c);
        const ins = [x, w, withBias ? bias : null];
        const [want] = reference(ins, [["float32", yn]], (ys, xs, ws, bs) => ref.conv2dForward(ys, xs, ws, bs, c));
        const [scale] = reference(
          [abs(x), abs(w), withBias ? abs(bias) : null],
          [["float32", yn]],
          (ys, xs, ws, bs) => ref.conv2dForward(ys, xs, ws, bs, c),
        );
        const shape = [c.n, c.k, c.oh, c.ow];
        near(`conv2d forward ${withBias ? "with" : "without"} bias, ${name}`, b.get(y), want, { ...tol, scale, shape });
      }
      const dx = b.out("float32", xn);
      b.be.conv2dBackwardInput(dx, DY, W, c);
      let [want] = reference([dy, w], [["float32", xn]], (o, d, ws) => ref.conv2dBackwardInput(o, d, ws, c));
      let [scale] = reference([abs(dy), abs(w)], [["float32", xn]], (o, d, ws) => ref.conv2dBackwardInput(o, d, ws, c));
      near(`conv2d backward-input, ${name}`, b.get(dx), want, { ...tol, scale, shape: [c.n, c.c, c.h, c.w] });
      const dw = b.out("float32", wn);
      b.be.conv2dBackwardWeight(dw, DY, X, c);
      [want] = reference([dy, x], [["float32", wn]], (o, d, xs) => ref.conv2dBackwardWeight(o, d, xs, c));
      [scale] = reference([abs(dy), abs(x)], [["float32", wn]], (o, d, xs) => ref.conv2dBackwardWeight(o, d, xs, c));
      near(`conv2d backward-weight, ${name}`, b.get(dw), want, {
        ...tol,
        scale,
        shape: [c.k, c.c / c.groups, c.kh, c.kw],
      });
      const db = b.out("float32", c.k);
      b.be.conv2dBackwardBias(db, DY, c);
      [want] = reference([dy], [["float32", c.k]], (o, d) => ref.conv2dBackwardBias(o, d, c));
      [scale] = reference([abs(dy)], [["float32", c.k]], (o, d) => ref.conv2dBackwardBias(o, d, c));
      near(`conv2d backward-bias, ${name}`, b.get(db), want, { ...tol, scale });
    }
  });
});

// ------------------------------------------------------------------------------------------ pooling

function poolGeom(
  n: number,
  c: number,
  h: number,
  w: number,
  kh: number,
  kw: number,
  o: { stride?: [number, number]; pad?: [number, number] } = {},
): Pool2dGeometry {
  const [strideH, strideW] = o.stride ?? [kh, kw];
  const [padH, padW] = o.pad ?? [0, 0];
  const oh = Math.floor((h + 2 * padH - kh) / strideH) + 1, ow = Math.floor((w + 2 * padW - kw) / strideW) + 1;
  return { n, c, h, w, kh, kw, oh, ow, strideH, strideW, padH, padW };
}

const POOLS: [string, Pool2dGeometry][] = [
  ["the seed's 2×2 on 2×16×28×28", poolGeom(2, 16, 28, 28, 2, 2)],
  ["3×3 stride 2 pad 1 on odd 7×9", poolGeom(2, 3, 7, 9, 3, 3, { stride: [2, 2], pad: [1, 1] })],
  ["3×2 stride (1, 2) pad (1, 0)", poolGeom(1, 5, 6, 7, 3, 2, { stride: [1, 2], pad: [1, 0] })],
  ["1×1", poolGeom(3, 2, 5, 5, 1, 1)],
  ["batch 1, 67 channels, 2×2 stride 1", poolGeom(1, 67, 5, 6, 2, 2, { stride: [1, 1] })],
  ["4×4 pad 2 on a 3×3 plane", poolGeom(2, 2, 3, 3, 4, 4, { stride: [3, 3], pad: [2, 2] })],
];

test("cuda pooling (max avg sum) forward and backward match the TypeScript backend (padding, odd sizes, ties, NaN)", () => {
  const g = new Generator(9);
  withBuffers((b) => {
    for (const [name, p] of POOLS) {
      const xn = p.n * p.c * p.h * p.w, yn = p.n * p.c * p.oh * p.ow;
      for (const ties of [false, true]) {
        const x = ties ? Float32Array.from(ints(g, xn, -2, 2)) : uniform(g, xn);
        if (!ties && xn > 20) x[17] = NaN; // max pooling: the first NaN wins
        const dy = uniform(g, yn);
        const X = b.put(x), DY = b.put(dy);
        for (const kind of ["max", "avg", "sum"] as PoolKind[]) {
          const tag = `${kind} pool ${name}${ties ? " (ties)" : ""}`;
          const isMax = kind === "max";
          const y = b.out("float32", yn), idx = isMax ? b.out("int32", yn) : null;
          b.be.pool2dForward(kind, y, idx, X, p);
          const outs: [DType, number][] = isMax ? [["float32", yn], ["int32", yn]] : [["float32", yn]];
          const [wy, wi] = reference(
            [x],
            outs,
            (...s) =>
              isMax ? ref.pool2dForward(kind, s[0], s[1], s[2], p) : ref.pool2dForward(kind, s[0], null, s[1], p),
          );
          const shape = [p.n, p.c, p.oh, p.ow];
          near(`${tag} forward`, b.get(y), wy, { atol: 1e-6, rtol: 1e-6, shape });
          if (isMax) near(`${tag} forward indices`, b.get(idx!), wi, { shape });
          const dx = b.out("float32", xn);
          b.be.pool2dBackward(kind, dx, DY, idx, p);
          const [wdx] = isMax
            ? reference([dy, wi], [["float32", xn]], (o, d, i) => ref.pool2dBackward(kind, o, d, i, p))
            : reference([dy], [["float32", xn]], (o, d) => ref.pool2dBackward(kind, o, d, null, p));
          near(`${tag} backward`, b.get(dx), wdx, { atol: 1e-6, rtol: 1e-6, shape: [p.n, p.c, p.h, p.w] });
        }
      }
    }
  });
});

// ------------------------------------------------------------------------------------------ softmax-xent

test("cuda log-softmax + NLL forward and backward match the TypeScript backend (1 to 1000 classes, batch 1 to 64)", () => {
  const g = new Generator(10);
  withBuffers((b) => {
    for (const [n, c] of [[1, 1], [1, 10], [7, 37], [64, 10], [3, 1000], [10, 10]]) {
      const logits = uniform(g, n * c, -8, 8), t = ints(g, n, 0, c - 1), dloss = new Float32Array([0.7]);
      const loss = b.out("float32", 1), logp = b.out("float32", n * c), T = b.put(t);
      b.be.logSoftmaxNllForward(loss, logp, b.put(logits), T, n, c);
      const [wl, wp] = reference(
        [logits, t],
        [["float32", 1], ["float32", n * c]],
        (l, p, x, ts) => ref.logSoftmaxNllForward(l, p, x, ts, n, c),
      );
      near(`crossEntropy loss n=${n} c=${c}`, b.get(loss), wl, { atol: 1e-6, rtol: 1e-5 });
      near(`crossEntropy logp n=${n} c=${c}`, b.get(logp), wp, { atol: 1e-5, rtol: 1e-5, shape: [n, c] });
      const dl = b.out("float32", n * c);
      b.be.logSoftmaxNllBackward(dl, b.put(wp as Float32Array), T, b.put(dloss), n, c);
      const [wd] = reference(
        [wp, t, dloss],
        [["float32", n * c]],
        (o, p, ts, d) => ref.logSoftmaxNllBackward(o, p, ts, d, n, c),
      );
      near(`crossEntropy dlogits n=${n} c=${c}`, b.get(dl), wd, { atol: 1e-7, rtol: 1e-5, shape: [n, c] });
    }
  });
});

// ------------------------------------------------------------------------------------------ optimizers

/**
 * Runs 3 multi-tensor steps on both backends from the same state and compares every tensor but the
 * gradients (list 1) and the list `nullable` (a state the step leaves out, passed as null).
 */
function checkOptimizer(
  label: string,
  lists: number,
  nullable: number | null,
  step: (be: Required<Backend>, t: unknown[][], sizes: number[], i: number) => void,
) {
  const g = new Generator(11);
  const sizes = [1, 7, 1000, 4099, 33];
  withBuffers((b) => {
    // lists[0] params, [1] grads, then state buffers; positive state (running averages of squares)
    const host = Array.from(
      { length: lists },
      (_, l) => sizes.map((n) => (l >= 2 ? uniform(g, n, 0, 0.1) : uniform(g, n))),
    );
    const dev = host.map((l) => l.map((a) => b.put(a)));
    const tsS = host.map((l) => l.map((a) => ref.fromHost("float32", a)));
    for (let i = 1; i <= 3; i++) {
      step(b.be as unknown as Required<Backend>, dev, sizes, i); // the steps call only the optimizer kernels
      step(ref, tsS, sizes, i);
    }
    for (let l = 0; l < lists; l++) {
      if (l === 1 || l === nullable) continue;
      sizes.forEach((n, j) => {
        const want = ref.toHost("float32", tsS[l][j], n);
        near(`${label}: tensor list ${l}, tensor ${j} (size ${n})`, b.get(dev[l][j]), want, { atol: 1e-7, rtol: 2e-5 });
      });
    }
    for (const l of tsS) for (const s of l) ref.free(s);
  });
}

test("cuda Adadelta multi-tensor step matches the TypeScript backend (3 steps, 5 tensors, weight decay)", () => {
  for (const weightDecay of [0, 0.01]) {
    checkOptimizer(`Adadelta wd=${weightDecay}`, 4, null, (be, [p, gr, sq, acc], sizes) =>
      be.adadeltaStep(
        { params: p, grads: gr, squareAvgs: sq, accDeltas: acc, sizes },
        { lr: 1, rho: 0.9, eps: 1e-6, weightDecay },
      ));
  }
});

test("cuda SGD multi-tensor step matches the TypeScript backend (no momentum, momentum, dampening, Nesterov, weight decay)", () => {
  checkOptimizer("SGD plain", 3, 2, (be, [p, gr], sizes, i) =>
    be.sgdStep(
      { params: p, grads: gr, momentumBufs: null, sizes },
      { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, first: i === 1 },
    ));
  for (
    const [momentum, dampening, nesterov, weightDecay] of [[0.9, 0, false, 0], [0.9, 0.1, false, 1e-3], [
      0.8,
      0,
      true,
      0.01,
    ]] as const
  ) {
    checkOptimizer(
      `SGD momentum ${momentum} dampening ${dampening} nesterov ${nesterov}`,
      3,
      null,
      (be, [p, gr, m], sizes, i) =>
        be.sgdStep(
          { params: p, grads: gr, momentumBufs: m, sizes },
          { lr: 0.1, momentum, dampening, nesterov, weightDecay, first: i === 1 },
        ),
    );
  }
});

test("cuda Adam multi-tensor step matches the TypeScript backend (with and without AMSGrad, weight decay)", () => {
  for (const amsgrad of [false, true]) {
    checkOptimizer(
      `Adam amsgrad=${amsgrad}`,
      5,
      amsgrad ? null : 4,
      (be, [p, gr, m1, m2, mx], sizes, step) =>
        be.adamStep(
          { params: p, grads: gr, expAvgs: m1, expAvgSqs: m2, maxExpAvgSqs: amsgrad ? mx : null, sizes },
          { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: amsgrad ? 0.01 : 0, amsgrad, step },
        ),
    );
  }
});

// ------------------------------------------------------------------------------------------ storage and errors

test("cuda storage: alloc is zeroed, fromHost/toHost round-trip, a freed handle is an error, float64 is refused", () => {
  const be = dev().backend;
  const z = be.alloc("float32", 1031);
  near("alloc float32 zeroed", be.toHost("float32", z, 1031), new Float32Array(1031));
  const zi = be.alloc("int32", 3);
  near("alloc int32 zeroed", be.toHost("int32", zi, 3), new Int32Array(3));
  const v = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
  const s = be.fromHost("float32", v);
  const back = be.toHost("float32", s, 1000);
  near("round-trip", back, v);
  assertOk(back !== v && back.buffer !== v.buffer, "toHost returns a new array");
  for (const x of [z, zi, s]) be.free(x);
  be.free(s); // twice: harmless
  assertThrows(() => be.toHost("float32", s, 1000), "freed");
  assertThrows(() => be.alloc("float64", 3), "float64 tensors are not supported on the CUDA backend; use float32");
  assertThrows(
    () => be.fromHost("float64", new Float64Array(3)),
    "float64 tensors are not supported on the CUDA backend; use float32",
  );
  const empty = be.alloc("float32", 0);
  assertEquals(be.toHost("float32", empty, 0).length, 0);
  be.free(empty);
});

test("cuda alloc's zero-fill is deferred: reads see zeros (accumulators, beta 1, in place, partial fill, optimizer state)", () => {
  const be = dev().backend;
  const live: CudaStorage[] = [];
  const z = (dtype: "float32" | "int32", n: number) => {
    const s = be.alloc(dtype, n);
    live.push(s);
    return s;
  };
  const put = (a: Float32Array) => {
    const s = be.fromHost("float32", a);
    live.push(s);
    return s;
  };
  try {
    const x = Float32Array.from({ length: 1031 }, (_, i) => i - 500);
    const acc = z("float32", 1031);
    be.addInPlace(acc, put(x), 1031);
    near("addInPlace into a new allocation", be.toHost("float32", acc, 1031), x);
    const c = z("float32", 6);
    be.gemm(c, put(new Float32Array([1, 2, 3, 4, 5, 6])), put(new Float32Array(9).fill(1)), {
      m: 2,
      n: 3,
      k: 3,
      transA: false,
      transB: true,
      alpha: 1,
      beta: 1,
    });
    near("gemm beta 1 into a new allocation", be.toHost("float32", c, 6), [6, 6, 6, 15, 15, 15]);
    const inPlace = z("float32", 9);
    be.unary("exp", inPlace, inPlace, 9);
    near("exp in place on a new allocation", be.toHost("float32", inPlace, 9), new Float32Array(9).fill(1));
    const partial = z("int32", 10);
    be.fill(partial, 7, 4);
    near("fill of the first 4 of 10", be.toHost("int32", partial, 10), [7, 7, 7, 7, 0, 0, 0, 0, 0, 0]);
    const p = put(new Float32Array([1, -2, 3])), g = put(new Float32Array([0.5, 0.5, -1]));
    const sq = z("float32", 3), ad = z("float32", 3);
    be.adadeltaStep({ params: [p], grads: [g], squareAvgs: [sq], accDeltas: [ad], sizes: [3] }, {
      lr: 1,
      rho: 0.9,
      eps: 1e-6,
      weightDecay: 0,
    });
    const [wantP] = reference(
      [new Float32Array([0.5, 0.5, -1]), new Float32Array(3), new Float32Array(3)],
      [["float32", 3, new Float32Array([1, -2, 3])]],
      (ps, gs, sqs, ads) =>
        ref.adadeltaStep({ params: [ps], grads: [gs], squareAvgs: [sqs], accDeltas: [ads], sizes: [3] }, {
          lr: 1,
          rho: 0.9,
          eps: 1e-6,
          weightDecay: 0,
        }),
    );
    near("Adadelta from zero state", be.toHost("float32", p, 3), wantP, { rtol: 1e-5 });
  } finally {
    for (const s of live) be.free(s);
  }
});

/**
 * A CUDA device on the test's library whose symbols count their calls and track this test's own live
 * allocations (the allocator's statistics are the whole process's, shared with test files running in
 * parallel).
 */
function instrumented(): { device: Device; counts: Record<string, number>; live: Map<bigint, bigint> } {
  const lib = dev().backend.library;
  const counts: Record<string, number> = {};
  const live = new Map<bigint, bigint>();
  const symbols = Object.fromEntries(
    Object.entries(lib.symbols).map(([k, f]) => [k, (...a: unknown[]) => {
      counts[k] = (counts[k] ?? 0) + 1;
      const st = (f as (...a: unknown[]) => unknown)(...a);
      if (st === 0 && k === "cn_alloc") live.set((a[0] as BigUint64Array)[0], a[1] as bigint);
      if (st === 0 && k === "cn_free") live.delete(Deno.UnsafePointer.value(a[0] as Deno.PointerValue));
      return st;
    }]),
  ) as unknown as typeof lib.symbols;
  const backend = createCudaBackend({ ...lib, symbols });
  return {
    device: { type: "cuda", backend, description: "cuda (instrumented)", memory: () => backend.memoryStats() },
    counts,
    live,
  };
}

test("cuda training step: no zero-fill launch for outputs a kernel overwrites", () => {
  const { device: d, counts } = instrumented();
  manualSeed(3);
  const net = new Net().to(d);
  const opt = new Adadelta(net.parameters(), { lr: 1 });
  const x = tensor(new Float32Array(10 * 784).fill(0.5), [10, 1, 28, 28], { device: d });
  const y = tensor(new Int32Array(10).fill(3), [10], { dtype: "int32", device: d });
  const step = () =>
    tidy(() => {
      opt.zeroGrad();
      const loss = crossEntropy(net.forward(x), y);
      loss.backward();
      opt.step();
    });
  step(); // the first step creates the optimizer's state (zeros, filled when first read)
  for (const k of Object.keys(counts)) delete counts[k];
  step();
  x.dispose();
  y.dispose();
  // The one fill left is the loss's seed gradient (ones); every other output is overwritten whole.
  assertOk((counts.cn_fill ?? 0) <= 1, JSON.stringify(counts));
});

test("cuda device: the description names the card and the library; memory() reports its allocator", () => {
  const d = dev();
  assertEquals(d.type, "cuda");
  assertOk(d.description.includes(d.info.name) && d.description.includes(d.backend.library.path), d.description);
  if (!onCard) assertOk(/emulat/i.test(d.description + d.backend.library.buildInfo), d.description);
  registerCudaProvider(() => d);
  assertOk(device("cuda") === d);
  const t = tensor([1, 2, 3], [3], { device: d });
  const m = memory();
  assertOk(m.cuda !== undefined && m.cuda.bytesInUse >= 12 && m.cuda.blocks >= 1, JSON.stringify(m));
  t.dispose();
});

test("cuda tensors: using a disposed tensor is an Error, not a crash", () => {
  const d = dev();
  const t = tensor([1, 2, 3], [3], { device: d });
  const u = t.add(1);
  near("t + 1", u.toArray(), [2, 3, 4]);
  t.dispose();
  u.dispose();
  assertThrows(() => t.add(1), "disposed");
  assertThrows(() => u.toArray(), "disposed");
  assertThrows(() => tensor([1.5], [1], { dtype: "float64", device: d }), "float64");
});

test("device(): CONVNET_LIB picks the library; a missing one, or no --allow-ffi, falls back with one line", async () => {
  if (onCard) return; // on a card, CONVNET_LIB is the real library: covered by gpu_check's own run
  const lib = await ensureEmuLibrary({ log: quiet });
  const pick = `import { device } from "ROOT/mod.ts";
const d = device("auto", { onNotice: (l) => console.log("NOTICE " + l) });
console.log("TYPE " + d.type + " " + d.description);`;
  const [emu, missing, noFfi] = await Promise.all([
    child(pick, { CONVNET_LIB: lib }, ["-A"]),
    child(pick, { CONVNET_LIB: "/nonexistent/libconvnet_cuda.so" }, ["-A"]),
    child(pick, { CONVNET_LIB: lib }, ["--allow-read", "--allow-env"]),
  ]);
  assertOk(/TYPE cuda .*libconvnet_emu\.so/.test(emu) && !emu.includes("NOTICE"), emu);
  assertOk(
    missing.includes("TYPE cpu") && /NOTICE .*\/nonexistent\/libconvnet_cuda\.so not found/.test(missing),
    missing,
  );
  assertOk(noFfi.includes("TYPE cpu") && /NOTICE .*--allow-ffi/.test(noFfi), noFfi);
});

// The library's allocator, memory limit and kernel-error record belong to the process, and Deno runs
// test files in parallel in one process: these checks change or read that shared state, so each runs
// in a process of its own.
test("cuda process-wide state (own process): OOM under a memory limit, a target out of range, free and GC", async () => {
  const lib = dev().backend.library.path;
  const script = `import { device, F, memory, tensor } from "ROOT/mod.ts";
import type { CudaBackend } from "ROOT/src/backend/cuda/mod.ts";
const d = device("cuda");
const be = d.backend as CudaBackend;
const inUse = () => memory().cuda!.bytesInUse;
const err = (f: () => unknown) => {
  try {
    f();
    return "no error";
  } catch (e) {
    return { name: (e as Error).name, status: (e as { status?: number }).status, message: (e as Error).message };
  }
};
const r: Record<string, unknown> = {};
r.start = inUse();
be.setMemoryLimit(1 << 20);
r.oom = err(() => tensor(new Float32Array(1 << 20), [1 << 20], { device: d }));
be.setMemoryLimit(0);
const logits = tensor(new Float32Array(50), [5, 10], { device: d });
const bad = tensor([1, 2, 3, 10, 4], [5], { dtype: "int32", device: d });
r.target = err(() => F.crossEntropy(logits, bad).item());
r.afterError = Array.from(tensor([1, 2], [2], { device: d }).add(1).toArray());
const held = tensor(new Float32Array(1000), [1000], { device: d });
r.held = inUse();
held.dispose();
r.disposed = inUse();
(() => { for (let i = 0; i < 100; i++) tensor(new Float32Array(1000), [1000], { device: d }); })();
r.dropped = inUse();
for (let i = 0; i < 20 && inUse() > r.disposed; i++) {
  (globalThis as unknown as { gc(): void }).gc();
  await new Promise((ok) => setTimeout(ok, 5));
}
r.collected = inUse();
console.log("RESULT " + JSON.stringify(r));`;
  const out = await child(script, { CONVNET_LIB: lib }, ["-A", "--v8-flags=--expose-gc"]);
  const m = /RESULT (.*)/.exec(out);
  assertOk(m, out);
  const r = JSON.parse(m[1]);
  // Out of memory: a CudaError with the bytes asked for and in use.
  assertEquals(r.oom.name, "CudaError", out);
  assertEquals(r.oom.status, STATUS.OOM, out);
  assertOk(/^cuda: cn_alloc: out of device memory: asked for 4194304 bytes with \d+ in use/.test(r.oom.message), out);
  // A target out of range: reported by the next call that waits, naming the batch index and the value.
  assertEquals(r.target.name, "CudaError", out);
  assertEquals(r.target.status, STATUS.KERNEL, out);
  assertOk(/\b3\b/.test(r.target.message) && /\b10\b/.test(r.target.message), out);
  assertEquals(r.afterError, [2, 3], out); // reported once; the library works afterwards
  // dispose() returns the bytes at once; the FinalizationRegistry returns those of dropped tensors.
  assertOk(r.held >= r.disposed + 4000 && r.dropped >= r.disposed + 100 * 4000, out);
  assertOk(r.collected <= r.disposed, out); // (earlier temporaries may be collected too)
});

// ------------------------------------------------------------------------------------------ training

/** A synthetic MNIST-shaped dataset: random bytes, labels from a seeded generator. */
function synthetic(count: number, rows = 28, cols = 28): ImageDataset {
  const g = new Generator(13);
  return {
    name: "synthetic",
    images: Uint8Array.from(ints(g, count * rows * cols, 0, 255)),
    labels: Uint8Array.from(ints(g, count, 0, 9)),
    length: count,
    rows,
    cols,
  };
}

/** Runs `steps` training steps of `model` on `loader`'s batches; returns the loss of each step. */
function train(model: Module, opt: Optimizer, loader: DataLoader, steps: number, onDevice: Device | null): number[] {
  const losses: number[] = [];
  while (losses.length < steps) {
    for (const [x, y] of loader) {
      if (losses.length >= steps) {
        x.dispose();
        y.dispose();
        break;
      }
      losses.push(tidy(() => {
        const [xd, yd] = onDevice && x.device !== onDevice ? [x.to(onDevice), y.to(onDevice)] : [x, y];
        opt.zeroGrad();
        const loss = crossEntropy(model.forward(xd), yd);
        loss.backward();
        opt.step();
        return loss.item();
      }));
      x.dispose();
      y.dispose();
    }
  }
  return losses;
}

test("cuda trains the seed's Net for 50 steps with the TypeScript backend's losses (within 1e-3 relative)", () => {
  const d = dev();
  const ds = synthetic(500);
  const loaderOpts = { batchSize: 10, shuffle: true, seed: 1, transform: { mean: 0.1307, std: 0.3081 } };
  manualSeed(1);
  const cpuNet = new Net();
  manualSeed(1);
  const cudaNet = new Net().to(d);
  const want = train(cpuNet, new Adadelta(cpuNet.parameters(), { lr: 1 }), new DataLoader(ds, loaderOpts), 50, null);
  const loader = new DataLoader(ds, { ...loaderOpts, device: d }); // batches gathered on the device
  const got = train(cudaNet, new Adadelta(cudaNet.parameters(), { lr: 1 }), loader, 50, d);
  loader.dispose();
  near("losses of 50 steps", got, want, { atol: 1e-5, rtol: 1e-3 });
  // The weights agree too.
  const a = cpuNet.stateDict(), b = cudaNet.stateDict();
  for (const k of Object.keys(a)) near(`weights ${k}`, b[k].toArray(), a[k].toArray(), { atol: 1e-4, rtol: 1e-2 });
  noGrad(() => {
    for (const t of [...Object.values(a), ...Object.values(b)]) t.dispose();
  });
});

/** A small CNN for the long-run memory test (the seed's layers, fewer channels, 12×12 images). */
class Small extends Module {
  conv = new Conv2d(1, 4, { kernelSize: 3, padding: 1 });
  relu = new ReLU();
  pool = new MaxPool2d({ kernelSize: 2 });
  fc = new Linear(4 * 6 * 6, 10);
  forward(x: Tensor): Tensor {
    const h = this.pool.forward(this.relu.forward(this.conv.forward(x)));
    return this.fc.forward(h.view([h.shape[0], -1]));
  }
}

test("cuda memory() stays flat over 500 training steps (live tensors, their bytes, device blocks)", () => {
  const { device: d, live } = instrumented();
  registerCudaProvider(() => d);
  device("cuda"); // memory() reports the device that device() opened
  manualSeed(2);
  const model = new Small().to(d);
  const loader = new DataLoader(synthetic(64, 12, 12), { batchSize: 8, shuffle: true, seed: 2, device: d });
  const opt = new Adadelta(model.parameters(), { lr: 1 });
  const deviceBytes = () => [...live.values()].reduce((a, b) => a + b, 0n);
  train(model, opt, loader, 20, d); // warm-up: the optimizer's state exists
  const before = { ...memory(), blocks: live.size, deviceBytes: deviceBytes() };
  const losses = train(model, opt, loader, 500, d);
  const after = { ...memory(), blocks: live.size, deviceBytes: deviceBytes() };
  loader.dispose();
  const report = JSON.stringify({ before, after }, (_, v) => (typeof v === "bigint" ? Number(v) : v));
  assertOk(losses.every(Number.isFinite), "losses are finite");
  assertOk(after.cuda !== undefined, `memory() reports the CUDA allocator: ${report}`);
  // At most equal: the garbage collector may finalize tensors of earlier tests meanwhile.
  assertOk(after.tensors <= before.tensors && after.bytes <= before.bytes, `tensors grew: ${report}`);
  assertOk(after.blocks <= before.blocks && after.deviceBytes <= before.deviceBytes, `device memory grew: ${report}`);
});
