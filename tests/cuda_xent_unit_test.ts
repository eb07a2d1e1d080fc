/**
 * The cross-entropy forward's gradient for `backward()`'s implied 1 (CUDA's
 * logSoftmaxNllForwardGrad): the backward kernel's bits with dloss = 1, in one launch up to ~16K
 * logits and after the split forward beyond; through autograd, `loss.backward()` gives the same
 * gradient as `loss.backward(1)` with no fill and no backward launch, and other upstream
 * gradients still go through the backward kernel.
 */
import { assertEquals, assertThrows } from "./_std.ts";
import { Buffers, dev, Generator, ints, near, test, uniform } from "./_cuda.ts";
import { crossEntropy } from "../src/tensor/functional.ts";
import { memory, noGrad, type Tensor, tensor, tidy } from "../src/tensor/mod.ts";

const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

for (const [n, c] of [[10, 10], [67, 10], [3, 1000], [2000, 10]]) {
  test(`cuda logSoftmaxNllForwardGrad: the backward's bits for dloss = 1 (n=${n}, c=${c}, ignored rows)`, () => {
    const g = new Generator(n + c);
    const logits = uniform(g, n * c, -8, 8), t = ints(g, n, 0, c - 1);
    t[1] = -100;
    const b = new Buffers();
    try {
      const X = b.put(logits), T = b.put(t);
      const loss = b.out("float32", 1), logp = b.out("float32", n * c), dl = b.out("float32", n * c);
      b.be.logSoftmaxNllForward(loss, logp, X, T, n, c);
      b.be.logSoftmaxNllBackward(dl, logp, T, b.put(Float32Array.of(1)), n, c);
      const loss1 = b.out("float32", 1), logp1 = b.out("float32", n * c), unit = b.out("float32", n * c);
      const before = dev().threadStats().launches;
      b.be.logSoftmaxNllForwardGrad(loss1, logp1, unit, X, T, n, c);
      const launches = dev().threadStats().launches - before;
      assertEquals(bits(b.get(loss1)), bits(b.get(loss)), "loss");
      assertEquals(bits(b.get(logp1)), bits(b.get(logp)), "logp");
      assertEquals(bits(b.get(unit)), bits(b.get(dl)), "the unit gradient");
      // one block up to ~16K logits: one launch; beyond, the split forward, its mean and the backward
      assertEquals(launches, n * c <= 16384 ? 1 : 3, "launches");
    } finally {
      b.free();
    }
  });
}

/** logits.grad after `backward(upstream)` (implied 1 when undefined) of the mean cross-entropy. */
function grad(upstream?: number): { g: Float32Array; launches: number; fills: number } {
  const d = dev(), gen = new Generator(4);
  const v = uniform(gen, 12 * 10, -3, 3), t = ints(gen, 12, 0, 9);
  return tidy(() => {
    const logits = tensor(v, [12, 10], { device: d, requiresGrad: true });
    const loss = crossEntropy(logits, tensor(t, [12], { dtype: "int32", device: d }));
    const up = upstream === undefined ? undefined : tensor([upstream], [], { device: d });
    const before = d.threadStats();
    loss.backward(up);
    const after = d.threadStats();
    const g = (logits.grad as Tensor).toArray() as Float32Array;
    noGrad(() => logits.grad?.dispose());
    return { g, launches: after.launches - before.launches, fills: after.memsets - before.memsets };
  });
}

test("cuda crossEntropy backward(): the forward's unit gradient, no fill, no launch; other upstreams scale", () => {
  const implied = grad(), one = grad(1), half = grad(0.5);
  assertEquals(bits(implied.g), bits(one.g), "backward() and backward(1) give the same bits");
  assertEquals(implied.launches, 0, "backward() launches nothing");
  assertEquals(implied.fills, 0, "backward() fills nothing");
  assertEquals(one.launches, 1, "backward(1): the backward kernel");
  near("backward(0.5) halves the gradient", half.g, one.g.map((x) => x / 2), { atol: 1e-7, rtol: 1e-6 });
});

test("cuda crossEntropy: a second backward() is still an error; noGrad leaves nothing behind", () => {
  const d = dev();
  tidy(() => {
    const logits = tensor(new Float32Array(20).fill(0.5), [2, 10], { device: d, requiresGrad: true });
    const loss = crossEntropy(logits, tensor([3, 4], [2], { dtype: "int32", device: d }));
    loss.backward();
    assertThrows(() => loss.backward(), "already released by an earlier backward()");
    near(
      "uniform logits: (0.1 - onehot) / 2",
      logits.grad!.toArray() as Float32Array,
      Float32Array.from({ length: 20 }, (_, i) => (i === 3 || i === 14 ? -0.9 : 0.1) / 2),
      { atol: 1e-7 },
    );
    // This worker's tensors (the allocator's block count is the process's: other test files run beside it).
    const before = memory();
    noGrad(() => crossEntropy(logits, tensor([3, 4], [2], { dtype: "int32", device: d })).dispose());
    const after = memory();
    assertEquals(
      [after.tensors, after.bytes],
      [before.tensors + 1, before.bytes + 8],
      "noGrad: only the targets (2 int32) are left",
    );
  });
});
