/**
 * linearForward on the CUDA backend (the emulation build here): `x · wᵀ + bias` with the bits of
 * `gemm` then the broadcast `add`, in one launch on the dot-product path (the seed's Linear) and
 * in two elsewhere; linearBackwardWeightBias: the weight and bias gradients with the bits of `gemm`
 * and `reduce`, one launch up to 32 rows; through `linear`, values and gradients equal the unfused ops.
 */
import { assertEquals } from "./_std.ts";
import { Buffers, dev, Generator, test, uniform } from "./_cuda.ts";
import { linear } from "../src/ops/linear.ts";
import { add } from "../src/ops/add.ts";
import { noGrad, type Tensor, tensor, tidy } from "../src/tensor/mod.ts";

const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

for (const [m, n, k, launches] of [[10, 10, 3136, 1], [3, 7, 1024, 1], [37, 19, 23, 2], [40, 30, 2000, 3]]) {
  test(`cuda linearForward equals gemm + add bit for bit: ${m}x${n}x${k} (${launches} launches)`, () => {
    const g = new Generator(m * n + k);
    const x = uniform(g, m * k), w = uniform(g, n * k), bias = uniform(g, n, -4, 4);
    bias[0] = NaN;
    const b = new Buffers();
    try {
      const X = b.put(x), W = b.put(w), B = b.put(bias);
      const want = b.out("float32", m * n), summed = b.out("float32", m * n);
      b.be.gemm(want, X, W, { m, n, k, transA: false, transB: true, alpha: 1, beta: 0 });
      b.be.binary("add", summed, want, B, { shape: [m, n], aStrides: [n, 1], bStrides: [0, 1] });
      const y = b.out("float32", m * n), plain = b.out("float32", m * n);
      const before = dev().threadStats().launches;
      b.be.linearForward(y, X, W, B, m, n, k);
      assertEquals(dev().threadStats().launches - before, launches, "launches");
      b.be.linearForward(plain, X, W, null, m, n, k);
      assertEquals(bits(b.get(y)), bits(b.get(summed)), "with bias");
      assertEquals(bits(b.get(plain)), bits(b.get(want)), "without bias");
    } finally {
      b.free();
    }
  });
}

for (const [rows, out, inF, launches] of [[10, 10, 3136, 1], [32, 7, 5, 1], [1, 1, 1, 1], [33, 10, 20, 2]]) {
  test(`cuda linearBackwardWeightBias equals gemm + reduce bit for bit: ${rows} rows, ${out}x${inF}`, () => {
    const g = new Generator(rows * 7 + inF);
    const dy = uniform(g, rows * out), x = uniform(g, rows * inF);
    x[0] = NaN;
    const b = new Buffers();
    try {
      const DY = b.put(dy), X = b.put(x);
      const dw = b.out("float32", out * inF), db = b.out("float32", out);
      b.be.gemm(dw, DY, X, { m: out, n: inF, k: rows, transA: true, transB: false, alpha: 1, beta: 0 });
      b.be.reduce("sum", db, DY, 1, rows, out);
      const dw2 = b.out("float32", out * inF), db2 = b.out("float32", out);
      const before = dev().threadStats().launches;
      b.be.linearBackwardWeightBias(dw2, db2, DY, X, rows, out, inF);
      assertEquals(dev().threadStats().launches - before, launches, "launches");
      assertEquals(bits(b.get(dw2)), bits(b.get(dw)), "dw");
      assertEquals(bits(b.get(db2)), bits(b.get(db)), "db");
    } finally {
      b.free();
    }
  });
}

test("cuda linear: the fused bias gives the unfused ops' values and gradients (x, weight, bias)", () => {
  const d = dev(), g = new Generator(9);
  const xv = uniform(g, 10 * 3136), wv = uniform(g, 10 * 3136, -0.02, 0.02), bv = uniform(g, 10), dyv = uniform(g, 100);
  const run = (fused: boolean) =>
    tidy(() => {
      const t = (v: Float32Array, shape: number[]) => tensor(v, shape, { device: d, requiresGrad: true });
      const x = t(xv, [10, 3136]), w = t(wv, [10, 3136]), bias = t(bv, [10]);
      const y = fused ? linear(x, w, bias) : add(linear(x, w), bias); // the path before linearForward
      y.mul(tensor(dyv, [10, 10], { device: d })).sum().backward();
      const out = [y, x.grad, w.grad, bias.grad].map((v) => (v as Tensor).toArray() as Float32Array);
      noGrad(() => [x, w, bias].forEach((p) => p.grad?.dispose()));
      return out;
    });
  const got = run(true), want = run(false);
  ["y", "dx", "dw", "db"].forEach((name, i) => assertEquals(bits(got[i]), bits(want[i]), name));
});
