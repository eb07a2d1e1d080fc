/**
 * The raw CUDA backend (`device("cuda").backend`) refuses calls that would make a kernel read or
 * write outside its buffers (issue 11 part 7). Before these checks, the gemm, conv2d and gather
 * calls below ended the process with SIGSEGV on the emulator (an illegal address on a card), and
 * the fill past the end returned OK. Each is now an Error naming the op, the argument, what was
 * given and what was expected, and the backend stays usable afterwards.
 *
 * @module
 */
import { assertEquals, assertThrows } from "./_std.ts";
import { test, withBuffers } from "./_cuda.ts";
import type { Conv2dGeometry, GemmOptions } from "../src/backend/backend.ts";
import type { CudaStorage } from "../src/backend/cuda/mod.ts";

const GEMM: GemmOptions = { m: 2, n: 3, k: 4, transA: false, transB: false, alpha: 1, beta: 0 };

/** conv2d of a 1×1×5×5 input (25 elements) with a 2×1×3×3 weight (18): y is 1×2×3×3 (18). */
const CONV: Conv2dGeometry = {
  n: 1,
  c: 1,
  h: 5,
  w: 5,
  k: 2,
  kh: 3,
  kw: 3,
  oh: 3,
  ow: 3,
  strideH: 1,
  strideW: 1,
  padH: 0,
  padW: 0,
  dilationH: 1,
  dilationW: 1,
  groups: 1,
};

test("cuda backend args: alloc and fill refuse bad sizes and dtypes, and writes past the end", () => {
  withBuffers((b) => {
    assertThrows(() => b.be.alloc("float32", 1.5), "cuda: alloc: size must be a non-negative integer, got 1.5");
    assertThrows(() => b.be.alloc("float32", -1), "size must be a non-negative integer, got -1");
    assertThrows(() => b.be.alloc(1.5 as unknown as "float32", 4), "dtype 1.5 is not supported");
    const s = b.alloc("float32", 4);
    assertThrows(() => b.be.fill(s, 1, 100), "cuda: fill: the output holds 4 float32 elements but the call writes 100");
    assertThrows(() => b.be.fill(s, 1, 2.5), "cuda: fill: size must be a non-negative integer, got 2.5");
    assertThrows(() => b.be.toHost("float32", s, -1), "toHost: size must be a non-negative integer, got -1");
    const i64 = b.alloc("int64", 4), i32 = b.alloc("int32", 4);
    // copy and cast read with the dtype they are told: a mismatch would read 8-byte elements from a 4-byte buffer
    assertThrows(() => b.be.copy(i32, i64, 4), "cuda: copy: out must be int64, got int32");
    assertThrows(() => b.be.cast(i32, "int32", s, "int64", 4), "cuda: cast: x must be int64, got float32");
    assertThrows(() => b.be.unary("neg", s, s, 5), "cuda: neg: x holds 4 float32 elements but size reaches 5");
    b.be.fill(s, 7, 4); // still usable
    assertEquals(Array.from(b.get(s)), [7, 7, 7, 7]);
  });
});

test("cuda backend args: storage that this backend did not allocate is refused", () => {
  withBuffers((b) => {
    const real = b.alloc("float32", 4);
    const forged = { ...real, size: 1 << 20 } as CudaStorage; // a copy: same pointer, a made-up size
    assertThrows(() => b.be.fill(forged, 0, 1 << 20), "expected storage allocated by this CUDA backend");
    assertThrows(() => b.be.toHost("float32", forged, 4), "expected storage allocated by this CUDA backend");
    const cpu = { data: new Float32Array(4) } as unknown as CudaStorage;
    assertThrows(() => b.be.unary("neg", real, cpu, 4), "is not CUDA storage (another device's?)");
    assertThrows(() => b.be.free(cpu), "cuda: free: expected storage allocated by this CUDA backend");
  });
});

test("cuda backend args: gemm sizes and strides must fit a, b and c", () => {
  withBuffers((b) => {
    const a = b.alloc("float32", 8), bm = b.alloc("float32", 12), c = b.alloc("float32", 6);
    b.be.gemm(c, a, bm, GEMM); // 2×4 · 4×3 fits exactly
    assertThrows(
      () => b.be.gemm(c, a, bm, { ...GEMM, m: 1000, n: 1000, k: 1000 }),
      "cuda: gemm: c holds 6 float32 elements but m=1000, n=1000, k=1000, batch=1",
    );
    assertThrows(() => b.be.gemm(c, a, bm, { ...GEMM, k: 5 }), "cuda: gemm: a holds 8 float32 elements");
    assertThrows(() => b.be.gemm(c, a, bm, { ...GEMM, batch: 2, strideC: 6 }), "c holds 6 float32 elements");
    assertThrows(() => b.be.gemm(c, a, bm, { ...GEMM, batch: 2, strideA: 0, strideB: 12, strideC: 0 }), "b holds 12");
    assertThrows(() => b.be.gemm(c, a, bm, { ...GEMM, m: 2.5 }), "cuda: gemm: m must be a non-negative integer");
    assertThrows(() => b.be.gemm(c, a, bm, { ...GEMM, n: 2 ** 31 }), "n must be a non-negative integer of at most");
  });
});

test("cuda backend args: conv2d and pooling geometry must fit their buffers", () => {
  withBuffers((b) => {
    const x = b.alloc("float32", 25), w = b.alloc("float32", 18), y = b.alloc("float32", 18);
    b.be.conv2dForward(y, x, w, null, CONV);
    const big = { ...CONV, n: 8, c: 3, h: 32, w: 32, k: 16, oh: 30, ow: 30 };
    assertThrows(() => b.be.conv2dForward(y, x, w, null, big), "cuda: conv2d: x holds 25 float32 elements");
    assertThrows(() => b.be.conv2dForward(y, x, w, null, { ...CONV, k: 3 }), "cuda: conv2d: w holds 18");
    assertThrows(() => b.be.conv2dForward(y, x, w, b.alloc("float32", 1), CONV), "bias holds 1 float32 elements");
    assertThrows(() => b.be.conv2dBackwardInput(x, y, w, big), "cuda: conv2d: dy holds 18");
    assertThrows(() => b.be.conv2dBackwardWeight(w, y, x, { ...CONV, n: 2 }), "cuda: conv2d: dy holds 18");
    assertThrows(() => b.be.conv2dBackwardBias(b.alloc("float32", 1), y, CONV), "the output holds 1 float32");
    assertThrows(() => b.be.conv2dForward(y, x, w, null, { ...CONV, groups: 0 }), "geometry.groups must be >= 1");
    assertThrows(() => b.be.conv2dForward(y, x, w, null, { ...CONV, h: -5 }), "geometry.h must be a non-negative");
    const pool = { n: 1, c: 1, h: 5, w: 5, kh: 2, kw: 2, oh: 2, ow: 2, strideH: 2, strideW: 2, padH: 0, padW: 0 };
    const idx = b.alloc("int32", 4);
    b.be.pool2dForward("max", b.alloc("float32", 4), idx, x, pool);
    assertThrows(() => b.be.pool2dForward("max", y, idx, x, { ...pool, c: 2 }), "cuda: maxPool2d: x holds 25");
    assertThrows(() => b.be.pool2dBackward("max", x, y, idx, { ...pool, oh: 3, ow: 3 }), "indices holds 4 int32");
  });
});

test("cuda backend args: gather, scatterAdd, reduce and strided layouts stay inside their buffers", () => {
  withBuffers((b) => {
    const x = b.alloc("float32", 4), i = b.alloc("int32", 4), o = b.alloc("float32", 4);
    assertThrows(
      () => b.be.gather(o, x, i, { outer: 1, n: 4, m: 10000, inner: 1 }),
      "cuda: gather: index holds 4 int32 elements but outer=1, n=4, m=10000, inner=1 reaches 10000",
    );
    assertThrows(() => b.be.gather(o, x, i, { outer: 1, n: 9, m: 4, inner: 1 }), "cuda: gather: x holds 4");
    assertThrows(() => b.be.scatterAdd(o, x, i, { outer: 2, n: 2, m: 4, inner: 1 }), "cuda: scatterAdd: index holds 4");
    assertThrows(
      () => b.be.gather(b.alloc("int32", 4), x, i, { outer: 1, n: 4, m: 4, inner: 1 }),
      "out must be float32",
    );
    assertThrows(() => b.be.reduce("sum", o, x, 2, 4, 1), "cuda: sum: x holds 4 float32 elements but outer=2, n=4");
    assertThrows(
      () => b.be.binary("add", o, x, x, { shape: [2, 4], aStrides: [4, 1], bStrides: [0, 1] }),
      "cuda: add: the layout reaches past the end of a",
    );
    assertThrows(
      () => b.be.copyStrided(o, x, { shape: [4], outStrides: [1], outOffset: 1, xStrides: [1], xOffset: 0 }),
      "cuda: copyStrided: the layout reaches past the end of out",
    );
    assertThrows(
      () => b.be.where(o, i, x, x, { shape: [8], condStrides: [0], aStrides: [1], bStrides: [0] }),
      "cuda: where: the layout reaches past the end of a",
    );
    assertThrows(() => b.be.logSoftmaxNllForward(o, o, x, i, 4, 2), "cuda: crossEntropy: logits holds 4 float32");
    const p = b.alloc("float32", 4);
    const t = { params: [p], grads: [b.alloc("float32", 2)], squareAvgs: [p], accDeltas: [p], sizes: [4] };
    assertThrows(
      () => b.be.adadeltaStep(t, { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0 }),
      "cuda: Adadelta: tensor 0 of list 1 holds 2 float32 elements; expected at least sizes[0] = 4",
    );
  });
});
