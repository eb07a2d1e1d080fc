/**
 * Activations, dropout and containers. The activation ops' values and gradients are checked against
 * PyTorch by the fixture group nn_activations (tests/tensor_ops_parity_test.ts); dropout's mask
 * cannot equal PyTorch's, so its guarantees are checked here: the same seed gives the same mask on
 * the CPU and on CUDA (the emulation build here), the kept fraction, the scaling, the gradient,
 * the identity in eval mode. Layers give their op's values and switch with train()/eval();
 * Sequential and ModuleList name their children 0, 1, ... as PyTorch, nested too.
 */
import {
  cpu,
  type Device,
  F,
  Generator,
  manualSeed,
  memory,
  nn,
  PhiloxGenerator,
  type Tensor,
  tensor,
} from "../mod.ts";
import { assertEquals, assertOk, assertThrows, near } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";

/** Normal values (none exactly 0) from a fixed MT19937 stream, as a tensor of `shape`. */
function randn(shape: number[], opts: { device?: Device; requiresGrad?: boolean } = {}): Tensor {
  const g = new Generator(123);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = Float32Array.from({ length: n }, () => {
    const u = 1 - g.random(), v = g.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) + 1e-3;
  });
  return tensor(data, shape, opts);
}

const values = (t: Tensor): number[] => Array.from(t.toArray() as Float32Array);

/** y = x · noise with noise 0 or 1 / (1 − p): returns the kept flags, after checking each value. */
function keptFlags(label: string, x: Tensor, y: Tensor, p: number): boolean[] {
  const xs = values(x), ys = values(y);
  const kept = ys.map((v) => v !== 0);
  near(label, ys, xs.map((v, i) => (kept[i] ? v / (1 - p) : 0)), { atol: 1e-6, rtol: 1e-6 });
  return kept;
}

Deno.test("dropout keeps about 1 − p of the elements and scales them by 1 / (1 − p)", () => {
  const x = randn([200, 500]);
  for (const p of [0.1, 0.5, 0.8]) {
    const kept = keptFlags(`p ${p}`, x, F.dropout(x, { p, generator: new PhiloxGenerator(Math.round(p * 10)) }), p);
    const fraction = kept.filter(Boolean).length / kept.length;
    // 100000 draws: the standard deviation of the fraction is below 0.0016.
    assertOk(Math.abs(fraction - (1 - p)) < 0.01, `p ${p}: kept ${fraction}, expected about ${1 - p}`);
  }
});

Deno.test("dropout's gradient is the mask / (1 − p)", () => {
  for (const device of ignore ? [cpu] : [cpu, dev()]) {
    const p = 0.3;
    const x = randn([7, 13], { device, requiresGrad: true });
    const y = F.dropout(x, { p, generator: new PhiloxGenerator(5) });
    const gradOutput = randn([7, 13], { device }).mul(2);
    y.mul(gradOutput).sum().backward();
    const kept = keptFlags(`${device.type}: values`, x, y, p);
    const want = values(gradOutput).map((g, i) => (kept[i] ? g / (1 - p) : 0));
    near(`${device.type}: gradient`, values(x.grad!), want, { atol: 1e-6, rtol: 1e-6 });
  }
});

Deno.test({
  name: "dropout and dropout2d: the same seed gives the same mask on the CPU and on CUDA",
  ignore,
  fn() {
    const cuda = dev();
    for (const [seed, p] of [[0, 0.5], [7, 0.1], [2 ** 40 + 3, 0.9]] as const) {
      for (const op of [F.dropout, F.dropout2d]) {
        const onCpu = op(randn([3, 5, 4, 7]), { p, generator: new PhiloxGenerator(seed) });
        const onCuda = op(randn([3, 5, 4, 7], { device: cuda }), { p, generator: new PhiloxGenerator(seed) });
        assertEquals(onCuda.device.type, "cuda");
        assertEquals(values(onCuda), values(onCpu), `${op.name} seed ${seed} p ${p}`);
      }
    }
    // The layers too, moved with to(): the global stream, reseeded.
    const layer = new nn.Dropout({ p: 0.4 });
    manualSeed(3);
    const onCpu = values(layer.forward(randn([64])));
    manualSeed(3);
    assertEquals(values(layer.to(cuda).forward(randn([64], { device: cuda }))), onCpu);
  },
});

Deno.test("dropout2d zeroes whole channels of [N, C, H, W] and [C, H, W]", () => {
  for (const shape of [[4, 50, 3, 5], [200, 2, 3]]) {
    const p = 0.6;
    const x = randn(shape);
    const kept = keptFlags(`${shape}`, x, F.dropout2d(x, { p, generator: new PhiloxGenerator(9) }), p);
    const plane = shape.at(-1)! * shape.at(-2)!;
    const channels = kept.length / plane;
    let keptChannels = 0;
    for (let c = 0; c < channels; c++) {
      const flags = kept.slice(c * plane, (c + 1) * plane);
      assertOk(flags.every((f) => f === flags[0]), `${shape}: channel ${c} is partly dropped`);
      if (flags[0]) keptChannels++;
    }
    // 200 channels: the standard deviation of the kept fraction is about 0.035.
    const fraction = keptChannels / channels;
    assertOk(Math.abs(fraction - (1 - p)) < 0.15, `${shape}: kept ${fraction} of the channels, expected about 0.4`);
  }
});

Deno.test("dropout is the identity in eval mode and with p = 0, and gives zeros with p = 1", () => {
  for (const op of [F.dropout, F.dropout2d]) {
    const x = randn([2, 3, 4, 5], { requiresGrad: true });
    const generator = new PhiloxGenerator(1);
    assertOk(op(x, { training: false }) === x, `${op.name}: eval mode returns the input`);
    assertOk(op(x, { p: 0, generator }) === x, `${op.name}: p = 0 returns the input`);
    assertEquals(generator.offset, 0, `${op.name}: the identity draws nothing`);
    const zeros = op(x, { p: 1 });
    assertOk(values(zeros).every((v) => v === 0), `${op.name}: p = 1 gives zeros`); // −0 for x < 0, as PyTorch
    zeros.sum().backward();
    assertOk(values(x.grad!).every((v) => v === 0), `${op.name}: p = 1 gives a zero gradient`);
  }
});

Deno.test("dropout draws from the global Philox stream, reseeded by manualSeed", () => {
  const x = randn([50]);
  manualSeed(21);
  const first = values(F.dropout(x)), second = values(F.dropout(x));
  assertOk(first.some((v, i) => (v === 0) !== (second[i] === 0)), "two calls drew the same mask");
  manualSeed(21);
  assertEquals(values(F.dropout(x)), first);
  assertEquals(values(F.dropout(x, { generator: new PhiloxGenerator(21) })), first);
});

Deno.test("dropout and the activations reject bad arguments, naming them", () => {
  const x = randn([2, 3]);
  assertThrows(() => F.dropout(x, { p: 1.5 }), "dropout: p must be a probability in [0, 1], got 1.5");
  assertThrows(() => F.dropout(x, { rate: 0.5 } as never), 'dropout: unknown option "rate"', "p, training, generator");
  assertThrows(
    () => F.dropout(x, { generator: new Generator(1) as never }),
    "dropout: generator must be a PhiloxGenerator",
    "Generator",
  );
  assertThrows(() => F.dropout2d(x), "dropout2d: input must be 4-d [N, C, H, W] or 3-d [C, H, W], got shape [2, 3]");
  assertThrows(() => F.dropout(tensor([1, 2], [2], { dtype: "int32" })), "dropout: expected a float tensor");
  assertThrows(() => F.gelu(x, { approximate: "erf" as never }), 'gelu: approximate must be "none" or "tanh"');
  assertThrows(() => F.leakyRelu(x, { negativeSlope: NaN }), "leakyRelu: negativeSlope must be a finite number");
  assertThrows(() => F.elu(x, { alpha: "1" as never }), "elu: alpha must be a finite number");
  assertThrows(() => new nn.Dropout({ p: -0.1 }), "Dropout: p must be a probability in [0, 1], got -0.1");
  assertThrows(() => new nn.Softmax({} as never), "Softmax: dim must be an integer");
  assertThrows(() => new nn.LogSoftmax(undefined as never), "LogSoftmax: options { dim } are required");
  assertThrows(() => new nn.ELU({ alpa: 1 } as never), 'ELU: unknown option "alpa"');
});

Deno.test("activation layers give their op's values, with PyTorch's defaults", () => {
  const x = randn([3, 4, 5]).mul(3);
  const cases: [nn.Module, Tensor][] = [
    [new nn.Sigmoid(), F.sigmoid(x)],
    [new nn.Tanh(), F.tanh(x)],
    [new nn.GELU(), F.gelu(x, { approximate: "none" })],
    [new nn.GELU({ approximate: "tanh" }), F.gelu(x, { approximate: "tanh" })],
    [new nn.LeakyReLU(), F.leakyRelu(x, { negativeSlope: 0.01 })],
    [new nn.LeakyReLU({ negativeSlope: 0.2 }), F.leakyRelu(x, { negativeSlope: 0.2 })],
    [new nn.SiLU(), F.silu(x)],
    [new nn.ELU(), F.elu(x, { alpha: 1 })],
    [new nn.ELU({ alpha: 0.5 }), F.elu(x, { alpha: 0.5 })],
    [new nn.Softmax({ dim: 1 }), F.softmax(x, 1)],
    [new nn.LogSoftmax({ dim: -1 }), F.logSoftmax(x, -1)],
    [new nn.Identity(), x],
  ];
  for (const [layer, want] of cases) {
    const label = layer.constructor.name;
    assertEquals(values(layer.forward(x)), values(want), label);
    assertEquals(Object.keys(layer.stateDict()), [], `${label}: no parameters`);
  }
  assertOk(new nn.Identity().forward(x) === x, "Identity returns its input");
  // PyTorch 1.13: F.gelu / F.leaky_relu / F.elu of [-1, 0.5] with the defaults.
  near("GELU", values(new nn.GELU().forward(tensor([-1, 0.5]))), [-0.15865525, 0.34573123], { atol: 1e-7 });
  near("LeakyReLU", values(new nn.LeakyReLU().forward(tensor([-1, 0.5]))), [-0.01, 0.5], { atol: 1e-7 });
  near("ELU", values(new nn.ELU().forward(tensor([-1, 0.5]))), [-0.63212055, 0.5], { atol: 1e-7 });
});

Deno.test("Dropout and Dropout2d drop in training mode only, switched by train() and eval()", () => {
  const x = randn([4, 6, 3, 3]);
  for (const layer of [new nn.Dropout({ p: 0.5 }), new nn.Dropout2d({ p: 0.5 })]) {
    const label = layer.constructor.name;
    assertOk(layer.training, `${label}: training by default`);
    assertOk(values(layer.forward(x)).some((v) => v === 0), `${label}: drops in training mode`);
    assertOk(layer.eval().forward(x) === x, `${label}: the identity after eval()`);
    assertOk(values(layer.train().forward(x)).some((v) => v === 0), `${label}: drops again after train()`);
  }
  const seeded = new nn.Dropout({ p: 0.3, generator: new PhiloxGenerator(4) });
  assertEquals(values(seeded.forward(x)), values(F.dropout(x, { p: 0.3, generator: new PhiloxGenerator(4) })));
  assertEquals(new nn.Dropout().p, 0.5);
});

Deno.test("ModuleList: indexable, iterable, append and extend; children named 0, 1, ... as PyTorch", () => {
  manualSeed(0);
  const list = new nn.ModuleList([new nn.Linear(3, 2), new nn.ReLU()]);
  const last = new nn.Linear(2, 1);
  assertOk(list.append(last) === list, "append returns the list");
  assertEquals(list.length, 3);
  assertOk(list[0] instanceof nn.Linear && list[1] instanceof nn.ReLU && list[2] === last);
  assertOk(list.at(-1) === last && list.at(3) === undefined);
  assertEquals([...list].map((m) => m.constructor.name), ["Linear", "ReLU", "Linear"]);
  // PyTorch: nn.ModuleList([nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)]).state_dict().keys()
  assertEquals(Object.keys(list.stateDict()), ["0.weight", "0.bias", "2.weight", "2.bias"]);
  list.extend([new nn.Tanh(), new nn.Linear(1, 1)]);
  assertEquals(list.length, 5);
  assertEquals(list.namedParameters().map(([name]) => name).slice(-2), ["4.weight", "4.bias"]);
  assertEquals(new nn.ModuleList().length, 0);
  assertThrows(() => list.append(3 as never), "ModuleList.append: module must be a Module, got number 3");
  assertThrows(() => new nn.ModuleList([new nn.ReLU(), {}] as never), "ModuleList: argument 1 must be a Module");
  assertThrows(() => new nn.ModuleList(new nn.ReLU() as never), "ModuleList: expected an iterable of modules");
  assertThrows(() => list.forward(), "ModuleList: has no forward()");
});

Deno.test("Sequential: runs its modules in order, named 0.weight ... as PyTorch; append and iteration", () => {
  manualSeed(0);
  const seq = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU(), new nn.Linear(2, 1));
  assertEquals(Object.keys(seq.stateDict()), ["0.weight", "0.bias", "2.weight", "2.bias"]);
  assertEquals(seq.length, 3);
  const x = randn([4, 3]);
  assertEquals(values(seq.forward(x)), values(seq[2].forward(seq[1].forward(seq[0].forward(x)))));
  seq.append(new nn.Sigmoid());
  assertEquals([...seq].map((m) => m.constructor.name), ["Linear", "ReLU", "Linear", "Sigmoid"]);
  assertOk(values(seq.forward(x)).every((v) => v > 0 && v < 1), "the appended Sigmoid runs last");
  assertThrows(() => new nn.Sequential(new nn.ReLU(), "relu" as never), "Sequential: argument 1 must be a Module");
});

Deno.test("containers nest: PyTorch's state-dict names and outputs, and train()/eval() reach every level", () => {
  manualSeed(0);
  class Net extends nn.Module {
    features = new nn.Sequential(
      new nn.Conv2d(1, 2, { kernelSize: 3 }),
      new nn.ReLU(),
      new nn.Sequential(new nn.Conv2d(2, 3, { kernelSize: 2 }), new nn.Tanh()),
      new nn.Dropout2d({ p: 0.5 }),
    );
    heads = new nn.ModuleList([new nn.Sequential(new nn.Flatten(), new nn.Linear(12, 4)), new nn.Linear(4, 3)]);
    act = new nn.GELU();
    forward(x: Tensor): Tensor {
      x = this.features.forward(x);
      for (const head of this.heads) x = this.act.forward(head.forward(x));
      return x;
    }
  }
  const net = new Net();
  // The same network in PyTorch 1.13 after torch.manual_seed(0): state_dict() keys, and the eval
  // output for x = arange(50).reshape(2, 1, 5, 5) / 25 − 1.
  assertEquals(Object.keys(net.stateDict()), [
    "features.0.weight",
    "features.0.bias",
    "features.2.0.weight",
    "features.2.0.bias",
    "heads.0.1.weight",
    "heads.0.1.bias",
    "heads.1.weight",
    "heads.1.bias",
  ]);
  const x = tensor(Float32Array.from({ length: 50 }, (_, i) => i / 25 - 1), [2, 1, 5, 5]);
  net.eval();
  const torchOut = [0.23907797, -0.11481414, 0.36230168, 0.25284815, -0.12012996, 0.35846633];
  near("eval output", values(net.forward(x)), torchOut, { atol: 1e-6, rtol: 1e-5 });

  const dropout = net.features[3] as nn.Dropout2d;
  const innerTanh = (net.features[2] as nn.Sequential)[1];
  const headLinear = (net.heads[0] as nn.Sequential)[1];
  for (const m of [net, net.features, dropout, innerTanh, net.heads, headLinear]) assertEquals(m.training, false);
  net.train();
  for (const m of [net, net.features, dropout, innerTanh, net.heads, headLinear]) assertEquals(m.training, true);
  // In training mode Dropout2d drops channels, so the output changes.
  assertOk(values(net.forward(x)).some((v, i) => Math.abs(v - torchOut[i]) > 1e-4), "training mode drops channels");
});

Deno.test("dropout and exact gelu free what they save: without a graph at once, with one after backward()", () => {
  const ops: [string, (x: Tensor) => Tensor][] = [
    ["dropout", (x) => F.dropout(x, { p: 0.5, generator: new PhiloxGenerator(1) })],
    ["dropout2d", (x) => F.dropout2d(x, { p: 0.5, generator: new PhiloxGenerator(1) })],
    ["gelu", (x) => F.gelu(x)],
  ];
  for (const [name, op] of ops) {
    const x = randn([2, 3, 4, 5]);
    const before = memory().tensors;
    const y = op(x);
    assertEquals(memory().tensors, before + 1, `${name}: only the output remains without a graph`);
    y.dispose();
    const leaf = randn([2, 3, 4, 5], { requiresGrad: true });
    const withGraph = memory().tensors;
    const out = op(leaf), total = out.sum();
    total.backward();
    total.dispose();
    out.dispose();
    leaf.grad!.dispose();
    leaf.grad = null;
    assertEquals(memory().tensors, withGraph, `${name}: backward() released the saved mask or CDF`);
  }
});

Deno.test("layers and containers print as PyTorch prints them", () => {
  const net = new nn.Sequential(
    new nn.GELU(),
    new nn.Dropout({ p: 0.2 }),
    new nn.ModuleList([new nn.LeakyReLU(), new nn.ELU(), new nn.Softmax({ dim: 1 })]),
    new nn.LogSoftmax({ dim: -1 }),
    new nn.Dropout2d(),
    new nn.SiLU(),
    new nn.Identity(),
    new nn.Sigmoid(),
    new nn.Tanh(),
    new nn.GELU({ approximate: "tanh" }),
    new nn.ELU({ alpha: 0.5 }),
    new nn.LeakyReLU({ negativeSlope: 1e-5 }),
  );
  // print(nn.Sequential(...)) in PyTorch 1.13, the same layers
  assertEquals(
    String(net),
    [
      "Sequential(",
      "  (0): GELU(approximate='none')",
      "  (1): Dropout(p=0.2, inplace=False)",
      "  (2): ModuleList(",
      "    (0): LeakyReLU(negative_slope=0.01)",
      "    (1): ELU(alpha=1.0)",
      "    (2): Softmax(dim=1)",
      "  )",
      "  (3): LogSoftmax(dim=-1)",
      "  (4): Dropout2d(p=0.5, inplace=False)",
      "  (5): SiLU()",
      "  (6): Identity()",
      "  (7): Sigmoid()",
      "  (8): Tanh()",
      "  (9): GELU(approximate='tanh')",
      "  (10): ELU(alpha=0.5)",
      "  (11): LeakyReLU(negative_slope=1e-05)",
      ")",
    ].join("\n"),
  );
  assertEquals(String(new nn.ModuleList()), "ModuleList()");
});
