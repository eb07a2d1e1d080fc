/**
 * The Module API (children, modules, apply, numParameters), `nn.summary`, and printing modules
 * and tensors as PyTorch 1.13 prints them. The expected names, orders and texts were written
 * from what PyTorch gives for the same structures and values (`/usr/bin/python3`, torch 1.13).
 */
import { manualSeed, nn, Tensor, tensor } from "../mod.ts";
import { Net } from "../examples/mnist/net.ts";
import { assertEquals, assertOk, assertThrows } from "./_std.ts";

/** Sequential(Sequential(Conv2d, ReLU), AvgPool2d, Flatten, Linear, MaxPool2d, Conv2d), every repr branch. */
function nested(): nn.Sequential {
  return new nn.Sequential(
    new nn.Sequential(
      new nn.Conv2d(3, 8, { kernelSize: 3, bias: false, dilation: 2, padding: [1, 2] }),
      new nn.ReLU(),
    ),
    new nn.AvgPool2d({ kernelSize: 2 }),
    new nn.Flatten(),
    new nn.Linear(8, 4, { bias: false }),
    new nn.MaxPool2d({ kernelSize: [2, 3] }),
    new nn.Conv2d(4, 4, { kernelSize: [1, 3], stride: [2, 1], groups: 2 }),
  );
}

const typeNames = (ms: nn.Module[]): string[] => ms.map((m) => m.constructor.name);

Deno.test("namedModules, modules, children: PyTorch's names and order ('' for the root, parents first)", () => {
  const net = new Net();
  assertEquals(net.namedModules().map(([n]) => n), ["", "conv1", "relu", "maxpool", "fc"]);
  assertEquals(typeNames(net.modules()), ["Net", "Conv2d", "ReLU", "MaxPool2d", "Linear"]);
  assertEquals(net.namedChildren().map(([n]) => n), ["conv1", "relu", "maxpool", "fc"]);

  const seq = nested();
  assertEquals(seq.namedModules().map(([n]) => n), ["", "0", "0.0", "0.1", "1", "2", "3", "4", "5"]);
  assertEquals(typeNames(seq.children()), ["Sequential", "AvgPool2d", "Flatten", "Linear", "MaxPool2d", "Conv2d"]);
  assertOk(seq.modules()[2] === (seq[0] as nn.Sequential)[0]);
});

Deno.test("namedModules, children: a module held twice is listed once, under its first name (as PyTorch)", () => {
  class Tied extends nn.Module {
    a = new nn.Linear(2, 2);
    b = this.a;
    list = new nn.ModuleList([new nn.ReLU(), this.a]);
    forward(x: Tensor): Tensor {
      return this.b.forward(this.a.forward(x));
    }
  }
  const m = new Tied();
  // torch: [n for n, _ in m.named_modules()] == ['', 'a', 'list', 'list.0']
  assertEquals(m.namedModules().map(([n]) => n), ["", "a", "list", "list.0"]);
  assertEquals(m.namedChildren().map(([n]) => n), ["a", "list"]);
  assertEquals(m.numParameters(), 6);
});

Deno.test("apply: children first (recursively), then the module itself; returns the module", () => {
  const seq = nested();
  const order: string[] = [];
  assertOk(seq.apply((m) => order.push(m.constructor.name)) === seq);
  // torch: seq.apply(lambda m: order.append(type(m).__name__))
  assertEquals(order, [
    "Conv2d",
    "ReLU",
    "Sequential",
    "AvgPool2d",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "Conv2d",
    "Sequential",
  ]);
});

Deno.test("numParameters: 31,530 for the seed Net; trainableOnly leaves out frozen parameters", () => {
  const net = new Net();
  assertEquals(net.numParameters(), 31530); // torch: sum(p.numel() for p in net.parameters())
  net.conv1.weight.requiresGrad = false;
  assertEquals(net.numParameters(), 31530);
  assertEquals(net.numParameters({ trainableOnly: true }), 31530 - 144);
  assertThrows(() => net.numParameters({ trainable: true } as never), "numParameters", "trainable");
});

Deno.test("summary: the seed Net's rows, totals and table; the model is left as it was", () => {
  manualSeed(1);
  const net = new Net();
  net.train();
  const s = nn.summary(net, [1, 1, 28, 28], { print: false });
  assertEquals(
    s.rows.map((r) => [r.name, r.type, r.outputShape, r.params]),
    [
      ["conv1", "Conv2d", [1, 16, 28, 28], 160],
      ["relu", "ReLU", [1, 16, 28, 28], 0],
      ["maxpool", "MaxPool2d", [1, 16, 14, 14], 0],
      ["fc", "Linear", [1, 10], 31370],
    ],
  );
  assertEquals(s.outputShape, [1, 10]);
  assertEquals([s.totalParams, s.trainableParams, s.paramsBytes], [31530, 31530, 126120]);
  const rule = "=".repeat(80);
  assertEquals(
    s.text,
    [
      rule,
      "Layer (type)                            Output Shape              Param #",
      rule,
      "Net                                     [1, 10]                   --",
      "  conv1 (Conv2d)                        [1, 16, 28, 28]           160",
      "  relu (ReLU)                           [1, 16, 28, 28]           --",
      "  maxpool (MaxPool2d)                   [1, 16, 14, 14]           --",
      "  fc (Linear)                           [1, 10]                   31,370",
      rule,
      "Total params: 31,530",
      "Trainable params: 31,530",
      "Non-trainable params: 0",
      "Input size (MB): 0.00",
      "Params size (MB): 0.13",
      rule,
    ].join("\n"),
  );
  assertOk(net.modules().every((m) => m.training), "training flags restored");
  assertOk(net.modules().every((m) => !Object.hasOwn(m, "forward")), "forward wrappers removed");
  assertEquals(net.forward(Tensor.zeros([2, 1, 28, 28])).shape, [2, 10]);
});

Deno.test("summary: any module; a layer called twice is one row per call; a leaf model is its own row", () => {
  class Mlp extends nn.Module {
    layers = new nn.ModuleList([new nn.Linear(4, 8), new nn.Linear(8, 2)]);
    act = new nn.ReLU();
    scale = nn.parameter(Tensor.ones([1]));
    forward(x: Tensor): Tensor {
      for (const layer of this.layers) x = this.act.forward(layer.forward(x));
      return x.mul(this.scale);
    }
  }
  const s = nn.summary(new Mlp(), [3, 4], { print: false });
  assertEquals(s.rows.map((r) => [r.name, r.outputShape, r.recursive]), [
    ["layers.0", [3, 8], false],
    ["act", [3, 8], false],
    ["layers.1", [3, 2], false],
    ["act", [3, 2], true],
  ]);
  assertEquals(s.totalParams, 40 + 18 + 1);
  assertOk(s.text.includes("\nMlp                                     [3, 2]                    1\n"));

  const leaf = nn.summary(new nn.Linear(4, 2), [[5, 4]], { print: false });
  assertEquals(leaf.rows.map((r) => [r.name, r.type, r.outputShape, r.params]), [["", "Linear", [5, 2], 10]]);
  assertOk(leaf.text.includes("\nLinear                                  [5, 2]                    10\n"));
  assertThrows(() => nn.summary(new nn.ReLU(), [1.5] as never, { print: false }), "summary", "inputShape");
});

Deno.test("Module printing: the seed Net and a nested Sequential read as PyTorch's repr", () => {
  const want = [
    "Net(",
    "  (conv1): Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
    "  (relu): ReLU()",
    "  (maxpool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    "  (fc): Linear(in_features=3136, out_features=10, bias=True)",
    ")",
  ].join("\n");
  const net = new Net();
  assertEquals(String(net), want);
  assertEquals(Deno.inspect(net), want);
  assertEquals(
    nested().toString(),
    [
      "Sequential(",
      "  (0): Sequential(",
      "    (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 2), dilation=(2, 2), bias=False)",
      "    (1): ReLU()",
      "  )",
      "  (1): AvgPool2d(kernel_size=2, stride=2, padding=0)",
      "  (2): Flatten(start_dim=1, end_dim=-1)",
      "  (3): Linear(in_features=8, out_features=4, bias=False)",
      "  (4): MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, dilation=1, ceil_mode=False)",
      "  (5): Conv2d(4, 4, kernel_size=(1, 3), stride=(2, 1), groups=2)",
      ")",
    ].join("\n"),
  );
  assertEquals(String(new nn.Sequential()), "Sequential()");
});

// The expected texts below are torch 1.13's repr of the same values, with `dtype=torch.int32`
// written `dtype=int32`, and a `size=(...)` suffix where the values are summarized.
const f32 = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));

Deno.test("Tensor printing: small tensors as PyTorch (fixed, integer, scientific notation; ties to even)", () => {
  assertEquals(
    Deno.inspect(tensor([[1, 2.5], [3, 4]], undefined, { requiresGrad: true })),
    "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]], requires_grad=True)",
  );
  assertEquals(
    Deno.inspect(tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true })),
    "tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)",
  );
  assertEquals(
    Deno.inspect(tensor([0.03125, -0.03125, 1234.25, 0.5])),
    "tensor([ 3.1250e-02, -3.1250e-02,  1.2342e+03,  5.0000e-01])",
  );
  assertEquals(Deno.inspect(tensor([0.03125, -0.03125, 0.5])), "tensor([ 0.0312, -0.0312,  0.5000])");
  assertEquals(Deno.inspect(tensor([NaN, -0, Infinity, -Infinity, 2])), "tensor([nan, -0., inf, -inf, 2.])");
  assertEquals(Deno.inspect(Tensor.zeros([0, 3])), "tensor([], size=(0, 3))");
  assertEquals(
    Deno.inspect(tensor(f32(30, (i) => i / 3))),
    "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n" +
      "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n" +
      "        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,\n" +
      "        9.0000, 9.3333, 9.6667])",
  );
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  assertEquals(Deno.inspect(x.mul(x).sum()), "tensor(5., grad_fn=<SumBackward>)");
});

Deno.test("Tensor printing: large tensors elide their middle with ... and give their size", () => {
  assertEquals(
    Deno.inspect(tensor(f32(2000, (i) => i / 7), [40, 50])),
    [
      "tensor([[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 6.7143e+00, 6.8571e+00,",
      "         7.0000e+00],",
      "        [7.1429e+00, 7.2857e+00, 7.4286e+00,  ..., 1.3857e+01, 1.4000e+01,",
      "         1.4143e+01],",
      "        [1.4286e+01, 1.4429e+01, 1.4571e+01,  ..., 2.1000e+01, 2.1143e+01,",
      "         2.1286e+01],",
      "        ...,",
      "        [2.6429e+02, 2.6443e+02, 2.6457e+02,  ..., 2.7100e+02, 2.7114e+02,",
      "         2.7129e+02],",
      "        [2.7143e+02, 2.7157e+02, 2.7171e+02,  ..., 2.7814e+02, 2.7829e+02,",
      "         2.7843e+02],",
      "        [2.7857e+02, 2.7871e+02, 2.7886e+02,  ..., 2.8529e+02, 2.8543e+02,",
      "         2.8557e+02]], size=(40, 50))",
    ].join("\n"),
  );
  assertEquals(
    Deno.inspect(tensor(f32(1200, (i) => i - 600), [2, 3, 200])),
    [
      "tensor([[[-600., -599., -598.,  ..., -403., -402., -401.],",
      "         [-400., -399., -398.,  ..., -203., -202., -201.],",
      "         [-200., -199., -198.,  ...,   -3.,   -2.,   -1.]],",
      "",
      "        [[   0.,    1.,    2.,  ...,  197.,  198.,  199.],",
      "         [ 200.,  201.,  202.,  ...,  397.,  398.,  399.],",
      "         [ 400.,  401.,  402.,  ...,  597.,  598.,  599.]]], size=(2, 3, 200))",
    ].join("\n"),
  );
});

Deno.test("Tensor printing: int32 and 0-d tensors; toString stays short", () => {
  assertEquals(
    Deno.inspect(tensor(new Int32Array([-3, 10, 7, 0]), [2, 2])),
    "tensor([[-3, 10],\n        [ 7,  0]], dtype=int32)",
  );
  assertEquals(
    Deno.inspect(tensor(Int32Array.from({ length: 5000 }, (_, i) => i * 37 - 90000))),
    "tensor([-90000, -89963, -89926,  ...,  94889,  94926,  94963], size=(5000,),\n       dtype=int32)",
  );
  assertEquals(Deno.inspect(tensor([3.5], [])), "tensor(3.5000)");
  assertEquals(Deno.inspect(tensor(new Int32Array([7]), [])), "tensor(7, dtype=int32)");
  assertEquals(Deno.inspect(tensor([-0.25], [], { dtype: "float64" })), "tensor(-0.2500, dtype=float64)");
  const big = Tensor.zeros([1000, 1000], { requiresGrad: true });
  assertEquals(String(big), "Tensor([1000, 1000], float32, cpu, requiresGrad)");
  big.dispose();
  assertEquals(Deno.inspect(big), "tensor(<disposed>, size=(1000, 1000), requires_grad=True)");
});
