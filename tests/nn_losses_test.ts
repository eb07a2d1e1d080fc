/**
 * The losses beyond their PyTorch fixtures (tests/fixtures/nn_losses.json, run by the op tests):
 * every target ignored under "mean" (NaN, zero gradients, as PyTorch), the fused kernel kept for
 * crossEntropy's default options, BCE at saturated probabilities, temporaries freed without a
 * graph, the loss layers (options, PyTorch's buffer names, devices) and the errors.
 */
import { F, memory, nn, noGrad, type Tensor, tensor } from "../mod.ts";
import { assertEquals, assertOk, assertThrows, near } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";

const labels = (v: number[], shape = [v.length]) => tensor(v, shape, { dtype: "int32" });
const TOL = { atol: 1e-6, rtol: 1e-5 };
const logits = (requiresGrad = true) => tensor([[1, 2, 3], [0, 0, 5]], undefined, { requiresGrad });

/** The op that made `t`, from its autograd node (the fused crossEntropy records one node). */
const madeBy = (t: Tensor) => (t as unknown as { _node: { op: string } | null })._node?.op;

Deno.test("nllLoss and crossEntropy with every target ignored: mean is NaN and the gradient 0 (PyTorch 1.13)", () => {
  const ignored = labels([-100, -100]);
  const cases: [string, (x: Tensor) => Tensor][] = [
    ["nllLoss", (x) => F.nllLoss(x, ignored)],
    ["nllLoss with weights", (x) => F.nllLoss(x, ignored, { weight: tensor([1, 2, 3]) })],
    ["crossEntropy", (x) => F.crossEntropy(x, ignored, { ignoreIndex: -100 })],
    ["crossEntropy with weights", (x) => F.crossEntropy(x, ignored, { weight: tensor([1, 2, 3]) })],
    ["crossEntropy with smoothing", (x) => F.crossEntropy(x, ignored, { ignoreIndex: -100, labelSmoothing: 0.2 })],
    [
      "crossEntropy with weights and smoothing",
      (x) => F.crossEntropy(x, ignored, { weight: tensor([1, 2, 3]), labelSmoothing: 0.2 }),
    ],
  ];
  for (const [label, loss] of cases) {
    const x = logits();
    const l = loss(x);
    assertOk(Number.isNaN(l.item()), `${label}: ${l.item()}, expected NaN`);
    l.backward();
    near(`${label}: dx`, x.grad!.toArray(), [0, 0, 0, 0, 0, 0]);
  }
});

Deno.test("crossEntropy keeps the fused kernel for the default options, and the composite agrees with it", () => {
  const t = labels([2, 0]);
  const xFused = logits(), xComposite = logits();
  const fused = F.crossEntropy(xFused, t);
  const viaLayer = new nn.CrossEntropyLoss().forward(logits(), t);
  const composite = F.crossEntropy(xComposite, t, { ignoreIndex: -100, reduction: "mean", labelSmoothing: 0 });
  assertEquals(madeBy(fused), "crossEntropy");
  assertEquals(madeBy(viaLayer), "crossEntropy", "nn.CrossEntropyLoss() takes the fused path");
  assertOk(madeBy(composite) !== "crossEntropy", "an explicit ignoreIndex takes the composite");
  near("loss", [composite.item()], [fused.item()], TOL);
  fused.backward();
  composite.backward();
  near("dx", xComposite.grad!.toArray(), xFused.grad!.toArray(), TOL);
});

Deno.test("crossEntropy with the default options ignores a target of -100 on the CPU, as PyTorch", () => {
  const t = labels([2, -100]);
  // PyTorch: F.cross_entropy(x, [2, -100]) = −log_softmax(x)[0, 2]
  near("default", [F.crossEntropy(logits(false), t).item()], [0.40760597], TOL);
  near("ignored", [F.crossEntropy(logits(false), t, { ignoreIndex: -100 }).item()], [0.40760597], TOL);
});

Deno.test("crossEntropy and nllLoss name an out-of-range target's value (the composite path)", () => {
  for (const bad of [3, -1]) {
    const t = labels([0, bad]);
    assertThrows(
      () => F.crossEntropy(logits(), t, { ignoreIndex: -100 }),
      "crossEntropy",
      "out of range",
      `index ${bad}`,
      "[0, 3)",
      "ignoreIndex -100",
    );
    assertThrows(() => F.nllLoss(logits(), t), "nllLoss", "out of range", `index ${bad}`, "[0, 3)");
  }
  // K-dimensional targets: the position is the flat index into the target.
  const x = tensor(new Array(2 * 3 * 2).fill(0), [2, 3, 2]);
  assertThrows(() => F.nllLoss(x, labels([0, 1, 2, 7], [2, 2])), "nllLoss", "index 7 at position 3");
});

Deno.test("binaryCrossEntropy at saturated probabilities: losses of 100 and PyTorch's finite input gradient", () => {
  const p = tensor([0, 1, 1, 0, 0.5], undefined, { requiresGrad: true });
  const t = tensor([0, 1, 0, 1, 1], undefined, { requiresGrad: true });
  const loss = F.binaryCrossEntropy(p, t, { reduction: "none" });
  near("loss", loss.toArray(), [0, 0, 100, 100, 0.69314718], TOL);
  loss.sum().backward();
  // PyTorch 1.13: (p − t) / max(p(1 − p), 1e-12); the target's gradient log(1 − p) − log p is ±∞ there.
  near("dp", p.grad!.toArray(), [0, 0, 1e12, -1e12, -2], { rtol: 1e-6 });
  near("dt", t.grad!.toArray(), [Infinity, -Infinity, -Infinity, Infinity, 0]);
});

Deno.test("the losses free their temporaries when no graph is recorded", () => {
  const values = [0.2, -1, 3, 0.5, 1, 0.9, -2, 0.1];
  const plain = tensor(values, [2, 4]);
  const tracked = tensor(values, [2, 4], { requiresGrad: true });
  const t = labels([3, -1]), inRange = labels([3, 0]);
  const y = tensor([[0.1, 0.9, 0.5, 0], [1, 0, 0.3, 0.7]]);
  const p = tensor([[0.3, 0.5, 0.9, 0.05], [0.6, 0.1, 0.2, 0.8]]);
  const w = tensor([1, 2, 0.5, 1]);
  const calls: [string, (x: Tensor) => Tensor][] = [
    ["crossEntropy", (x) => F.crossEntropy(x, t, { weight: w, ignoreIndex: -1, labelSmoothing: 0.1 })],
    ["crossEntropy (fused)", (x) => F.crossEntropy(x, inRange)],
    ["nllLoss", (x) => F.nllLoss(x, t, { ignoreIndex: -1, reduction: "sum" })],
    ["mseLoss", (x) => F.mseLoss(x, y)],
    ["l1Loss", (x) => F.l1Loss(x, y, { reduction: "none" })],
    ["smoothL1Loss", (x) => F.smoothL1Loss(x, y, { beta: 0.5 })],
    ["binaryCrossEntropy", (x) => F.binaryCrossEntropy(p, x, { weight: w })],
    ["binaryCrossEntropyWithLogits", (x) => F.binaryCrossEntropyWithLogits(x, y, { weight: w, posWeight: w })],
  ];
  for (const [label, call] of calls) {
    for (const [how, run] of [["plain inputs", () => call(plain)], ["noGrad", () => noGrad(() => call(tracked))]]) {
      const before = memory().tensors;
      (run as () => Tensor)().dispose();
      assertEquals(memory().tensors, before, `${label} (${how}): live tensors`);
    }
  }
});

Deno.test("loss layers equal their functional forms and keep PyTorch's buffer names", () => {
  const x = tensor([[0.5, -1, 2], [3, 0, -0.5]]);
  const t = labels([2, 1]);
  const y = tensor([[1, 0, 1], [0, 0.5, 1]]);
  const w = tensor([0.5, 1, 2]);
  const same = (label: string, a: Tensor, b: Tensor) => near(label, a.toArray(), b.toArray(), TOL);
  same(
    "NLLLoss",
    new nn.NLLLoss({ weight: w, reduction: "sum" }).forward(x, t),
    F.nllLoss(x, t, { weight: w, reduction: "sum" }),
  );
  same(
    "CrossEntropyLoss",
    new nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1, ignoreIndex: 1 }).forward(x, t),
    F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.1, ignoreIndex: 1 }),
  );
  same("MSELoss", new nn.MSELoss({ reduction: "none" }).forward(x, y), F.mseLoss(x, y, { reduction: "none" }));
  same("L1Loss", new nn.L1Loss().forward(x, y), F.l1Loss(x, y));
  same("SmoothL1Loss", new nn.SmoothL1Loss({ beta: 0.3 }).forward(x, y), F.smoothL1Loss(x, y, { beta: 0.3 }));
  const p = y.mul(0.8).add(0.1);
  same("BCELoss", new nn.BCELoss({ weight: w }).forward(p, y), F.binaryCrossEntropy(p, y, { weight: w }));
  same(
    "BCEWithLogitsLoss",
    new nn.BCEWithLogitsLoss({ weight: w, posWeight: w, reduction: "sum" }).forward(x, y),
    F.binaryCrossEntropyWithLogits(x, y, { weight: w, posWeight: w, reduction: "sum" }),
  );

  assertEquals(Object.keys(new nn.CrossEntropyLoss({ weight: w }).stateDict()), ["weight"]);
  assertEquals(Object.keys(new nn.CrossEntropyLoss().stateDict()), []);
  assertEquals(Object.keys(new nn.NLLLoss({ weight: w }).stateDict()), ["weight"]);
  assertEquals(Object.keys(new nn.BCELoss({ weight: w }).stateDict()), ["weight"]);
  assertEquals(Object.keys(new nn.BCEWithLogitsLoss({ weight: w, posWeight: w }).stateDict()), [
    "weight",
    "pos_weight",
  ]);
  assertEquals(new nn.CrossEntropyLoss({ weight: w }).parameters().length, 0, "a class weight is not trained");

  // Loading a state dict writes the weights the loss uses.
  const criterion = new nn.CrossEntropyLoss({ weight: tensor([1, 1, 1]), reduction: "sum" });
  criterion.loadStateDict({ weight: w });
  same("loaded weight", criterion.forward(x, t), F.crossEntropy(x, t, { weight: w, reduction: "sum" }));
});

Deno.test({
  name: "loss layers move their weights with to() and compute on the CUDA backend (emulation build)",
  ignore,
  fn() {
    const x = tensor([[0.5, -1, 2], [3, 0, -0.5]]);
    const y = tensor([[1, 0, 1], [0, 0.5, 1]]);
    const t = labels([2, 1]);
    const w = tensor([0.5, 1, 2]);
    const cuda = dev();
    const bce = new nn.BCEWithLogitsLoss({ posWeight: tensor([0.5, 1, 2]), weight: tensor([2, 1]).view([2, 1]) });
    const want = bce.forward(x, y).item();
    bce.to(cuda);
    assertEquals(bce.posWeight!.device, cuda);
    near("BCEWithLogitsLoss on CUDA", [bce.forward(x.to(cuda), y.to(cuda)).item()], [want], TOL);
    const ce = new nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1 });
    const wantCe = ce.forward(x, t).item();
    ce.to(cuda);
    near("CrossEntropyLoss on CUDA", [ce.forward(x.to(cuda), t.to(cuda)).item()], [wantCe], TOL);
  },
});

Deno.test("loss options are checked, naming the op, the option, what was given and what was expected", () => {
  const x = tensor([[0.5, -1, 2], [3, 0, -0.5]]);
  const t = labels([2, 1]);
  const y = tensor([[1, 0, 1], [0, 0.5, 1]]);
  assertThrows(() => F.crossEntropy(x, t, { reduce: "sum" } as never), 'crossEntropy: unknown option "reduce"');
  assertThrows(
    () => F.mseLoss(x, y, { reduction: "avg" as never }),
    "mseLoss",
    "reduction",
    '"mean", "sum" or "none"',
    '"avg"',
  );
  assertThrows(() => F.crossEntropy(x, t, { labelSmoothing: 1.5 }), "crossEntropy", "labelSmoothing", "[0, 1]", "1.5");
  assertThrows(() => F.nllLoss(x, t, { ignoreIndex: 0.5 }), "nllLoss", "ignoreIndex must be an integer", "0.5");
  assertThrows(() => F.smoothL1Loss(x, y, { beta: -1 }), "smoothL1Loss", "beta", "≥ 0", "-1");
  assertThrows(() => F.nllLoss(x, tensor([2, 1])), "nllLoss", "target must be an int32 tensor", "float32 [2]");
  assertThrows(() => F.nllLoss(x, labels([2, 1, 0])), "nllLoss", "target must have shape [2]", "got [3]");
  assertThrows(
    () => F.crossEntropy(tensor(new Array(12).fill(0), [2, 3, 2]), labels([0, 1])),
    "crossEntropy",
    "targets must have shape [2, 2] for logits [2, 3, 2]",
    "got [2]",
  );
  assertThrows(() => F.crossEntropy(x, t, { weight: tensor([1, 2]) }), "crossEntropy", "weight has shape [2]", "[3]");
  assertThrows(() => F.crossEntropy(tensor([], [0, 3]), labels([])), "crossEntropy", "logits [0, 3] is empty");
  assertThrows(() => F.mseLoss(x, tensor([1, 2, 3])), "mseLoss", "target has shape [3] but input has [2, 3]");
  assertThrows(() => F.l1Loss(x, labels([1, 2, 3, 4, 5, 6], [2, 3])), "l1Loss", "target must be a float tensor");
  assertThrows(
    () => F.binaryCrossEntropy(y, y, { weight: tensor([1, 2]) }),
    "binaryCrossEntropy",
    "weight has shape [2]",
    "does not broadcast to the input's [2, 3]",
  );
  assertThrows(
    () => F.binaryCrossEntropyWithLogits(x, y, { posWeight: tensor([1, 2, 3, 4]) }),
    "binaryCrossEntropyWithLogits",
    "posWeight has shape [4]",
  );
  assertThrows(() => new nn.CrossEntropyLoss({ labelSmoothing: -0.1 }), "CrossEntropyLoss", "labelSmoothing");
  assertThrows(() => new nn.BCELoss({ posWeight: y } as never), 'BCELoss: unknown option "posWeight"');
  assertThrows(() => new nn.NLLLoss({ weight: [1, 2, 3] as never }), "NLLLoss", "weight must be a Tensor");
  assertThrows(() => new nn.SmoothL1Loss({ reduction: "mean", beta: Number.NaN }), "SmoothL1Loss", "beta");
});

Deno.test({
  name: "crossEntropy's fused kernels ignore -100 on CUDA as on the CPU (values and gradients; all ignored is NaN)",
  ignore,
  fn() {
    const x = [[2, 0.5, -1], [0, 1, 0], [-0.5, 3, 1], [1, 1, 1]];
    for (const t of [[2, -100, 1, -100], [-100, -100, -100, -100], [0, 1, 2, 0]]) {
      const run = (device: ReturnType<typeof dev> | undefined) => {
        const logits = tensor(x, undefined, { requiresGrad: true, device });
        const loss = F.crossEntropy(logits, tensor(t, [4], { dtype: "int32", device }));
        loss.backward();
        return { loss: loss.item(), grad: Array.from(logits.grad!.toArray()) };
      };
      const cpu = run(undefined), cuda = run(dev());
      if (t.every((v) => v === -100)) {
        assertOk(Number.isNaN(cpu.loss) && Number.isNaN(cuda.loss), `all ignored: ${cpu.loss}, ${cuda.loss}`);
        continue;
      }
      near(`loss ${t}`, [cuda.loss], [cpu.loss], { atol: 1e-6, rtol: 1e-5 });
      near(`grad ${t}`, cuda.grad, cpu.grad, { atol: 1e-6, rtol: 1e-5 });
      // The composite path (any explicit option) agrees.
      const logits = tensor(x, undefined, { requiresGrad: true });
      const composite = F.crossEntropy(logits, tensor(t, [4], { dtype: "int32" }), { ignoreIndex: -100 });
      near(`composite ${t}`, [composite.item()], [cpu.loss], { atol: 1e-6, rtol: 1e-5 });
    }
  },
});
