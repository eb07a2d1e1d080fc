import { Generator, keep, manualSeed, memory, nn, noGrad, Tensor, tensor, tidy } from "../mod.ts";
import { assertClose, assertEquals, assertOk, assertThrows } from "./_std.ts";

Deno.test("tensor infers shape and dtype from nested arrays and typed arrays", () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals([...a.shape], [2, 3]);
  assertEquals(a.dtype, "float32");
  assertEquals(Array.from(a.toArray()), [1, 2, 3, 4, 5, 6]);
  assertEquals(tensor(new Int32Array([1, 2])).dtype, "int32");
  assertEquals(tensor(new Float64Array([1, 2])).dtype, "float64");
  assertEquals(tensor([1.5, 2.5], [2], { dtype: "int32" }).toArray(), new Int32Array([1, 2]));
});

Deno.test("Tensor.view infers one -1 dimension and shares storage with its base", () => {
  const x = Tensor.zeros([10, 16, 14, 14]);
  assertEquals([...x.view([x.shape[0], -1]).shape], [10, 3136]);
  assertEquals([...x.reshape([-1]).shape], [31360]);
});

Deno.test("Tensor arithmetic broadcasts bias-style and against scalars", () => {
  const a = tensor([[1, 2], [3, 4]]);
  assertEquals(Array.from(a.add(tensor([10, 20])).toArray()), [11, 22, 13, 24]);
  assertEquals(Array.from(a.sub(1).toArray()), [0, 1, 2, 3]);
  assertEquals(Array.from(a.mul(tensor([[2], [3]])).toArray()), [2, 4, 9, 12]);
  assertEquals(Array.from(a.div(2).toArray()), [0.5, 1, 1.5, 2]);
  assertEquals(Array.from(a.neg().toArray()), [-1, -2, -3, -4]);
  assertClose(tensor([0, 1]).exp().toArray(), [1, Math.E]);
  assertClose(tensor([1, Math.E]).log().toArray(), [0, 1]);
});

Deno.test("Tensor reductions: sum and mean over all or one dim, argmax, eq, matmul", () => {
  const a = tensor([[1, 5, 2], [7, 0, 1]]);
  assertEquals(a.sum().item(), 16);
  assertEquals(Array.from(a.sum(0).toArray()), [8, 5, 3]);
  assertEquals([...a.sum(1, { keepDim: true }).shape], [2, 1]);
  assertEquals(Array.from(a.mean(-1).toArray()), [8 / 3, 8 / 3].map(Math.fround));
  assertEquals(a.argmax(1).toArray(), new Int32Array([1, 0]));
  assertEquals(a.argmax(1).eq(tensor([1, 2], [2], { dtype: "int32" })).sum().item(), 1);
  assertEquals(Array.from(tensor([[1, 2], [3, 4]]).matmul(tensor([[5], [6]])).toArray()), [17, 39]);
});

Deno.test("backward accumulates into .grad across calls and flows through broadcasts", () => {
  const w = tensor([1, 2, 3], [3], { requiresGrad: true });
  const x = tensor([[1, 1, 1], [2, 2, 2]]);
  x.mul(w).sum().backward(); // d/dw = column sums of x = 3
  assertEquals(Array.from(w.grad!.toArray()), [3, 3, 3]);
  w.mul(w).sum().backward(); // + 2w
  assertEquals(Array.from(w.grad!.toArray()), [5, 7, 9]);
});

Deno.test("backward uses a tensor twice (diamond) and sums both paths", () => {
  const x = tensor([2], [1], { requiresGrad: true });
  const y = x.mul(3);
  y.mul(y).add(y).sum().backward(); // d/dx (9x² + 3x) = 18x + 3 = 39
  assertEquals(x.grad!.item(), 39);
});

Deno.test("backward releases the graph: a second backward through it is an error", () => {
  const x = tensor([2], [1], { requiresGrad: true });
  const loss = x.mul(x).sum();
  loss.backward();
  assertEquals(loss._node, null);
  assertThrows(() => loss.backward(), "already released", "run the forward pass again");
  assertEquals(x.grad!.item(), 4);
});

Deno.test("noGrad and detach stop recording", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  assertEquals(noGrad(() => w.mul(2)).requiresGrad, false);
  assertEquals(w.detach().requiresGrad, false);
  assertEquals(w.mul(2).requiresGrad, true);
});

Deno.test("tidy disposes intermediates but keeps returned and kept tensors", () => {
  const start = memory().tensors;
  let kept: Tensor | null = null;
  const out = tidy(() => {
    const a = tensor([1, 2, 3]);
    const b = a.mul(2).add(1);
    kept = keep(tensor([9]));
    return b.sum();
  });
  assertEquals(out.item(), 15);
  assertEquals(kept!.item(), 9);
  assertEquals(memory().tensors, start + 2);
  out.dispose();
  kept!.dispose();
  assertEquals(memory().tensors, start);
});

Deno.test("a disposed tensor cannot be used", () => {
  const t = tensor([1, 2]);
  t.dispose();
  assertOk(t.isDisposed);
  assertThrows(() => t.add(1), "disposed");
  assertThrows(() => t.toArray(), "disposed");
  t.dispose(); // twice is harmless
});

Deno.test("memory stays flat over 200 training steps inside tidy", async () => {
  manualSeed(3);
  const net = new nn.Sequential(
    new nn.Conv2d(1, 4, { kernelSize: 3, padding: 1 }),
    new nn.ReLU(),
    new nn.MaxPool2d({ kernelSize: 2 }),
    new nn.Flatten(),
    new nn.Linear(4 * 4 * 4, 3),
  );
  const { Adadelta } = (await import("../mod.ts")).optim;
  const opt = new Adadelta(net.parameters());
  const x = Tensor.randn([2, 1, 8, 8]);
  const y = tensor([0, 2], [2], { dtype: "int32" });
  const { F } = await import("../mod.ts");
  const step = () =>
    tidy(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(net.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    });
  for (let i = 0; i < 10; i++) step();
  const after10 = memory();
  for (let i = 0; i < 200; i++) step();
  assertEquals(memory().tensors, after10.tensors);
  assertEquals(memory().bytes, after10.bytes);
});

Deno.test("Generator reproduces PyTorch's MT19937 stream and uniform_ values", () => {
  const g = new Generator(0);
  // torch.manual_seed(0); torch.empty(5).uniform_(0, 1)
  const want = [0.49625658988952637, 0.7682217955589294, 0.08847743272781372, 0.13203048706054688, 0.30742281675338745];
  assertEquals(want.map(() => g.random()), want);
  const p = new Generator(7).permutation(10);
  assertEquals([...p].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("nn.Module names parameters as PyTorch does and loads a state dict strictly", () => {
  manualSeed(0);
  const seq = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU(), new nn.Linear(2, 1));
  assertEquals(seq.namedParameters().map(([n]) => n), ["0.weight", "0.bias", "2.weight", "2.bias"]);
  manualSeed(1);
  const other = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU(), new nn.Linear(2, 1));
  other.loadStateDict(seq.stateDict());
  for (const [name, p] of other.namedParameters()) {
    assertEquals(p.toArray(), seq.stateDict()[name].toArray(), name);
  }
  const bad = { ...seq.stateDict(), extra: tensor([1]) } as Record<string, Tensor>;
  delete bad["0.bias"];
  bad["2.weight"] = Tensor.zeros([3, 3]);
  assertThrows(() => other.loadStateDict(bad), "missing keys: 0.bias", "unexpected keys: extra", "2.weight");
});
