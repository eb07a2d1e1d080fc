/**
 * The fast TypeScript backend under the whole library: tensors read recycled storage as zeros,
 * and training is bit-identical run to run and across thread counts (1, 2 and 3 threads).
 * The kernel-level checks are in ts_backend_test.ts, which imports the backend only.
 */
import { assertBitEqual, assertEquals } from "./_std.ts";
import { data, F, getNumThreads, manualSeed, optim, setNumThreads, Tensor, tidy } from "../mod.ts";
import { Net } from "../examples/mnist/net.ts";

Deno.test("Tensor.zeros reads zeros after the fast backend recycled a block", () => {
  const n = 1000;
  // Tensor.zeros allocates without writing: its values must still be zeros.
  for (let i = 0; i < 3; i++) {
    const t = Tensor.full([n], 5);
    t.dispose();
    assertBitEqual(Tensor.zeros([n]).toArray(), new Float32Array(n), `Tensor.zeros after a recycled block (${i})`);
  }
});

/** 20 training steps of the seed's Net on real MNIST: the final weights and the losses. */
async function train20(): Promise<{ weights: Float32Array[]; losses: number[] }> {
  const ds = await data.loadMnist({ train: true });
  manualSeed(3);
  const model = new Net();
  const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
  const loader = new data.DataLoader(ds, { batchSize: 10, shuffle: true, seed: 3, limit: 200 });
  const losses: number[] = [];
  for (const [x, y] of loader) {
    losses.push(tidy(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x), y);
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
  name: "tsBackend with 2 threads: training is bit-identical run to run and to 1 thread",
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
