/**
 * Every bad input is an Error that names the op, the argument, what was given and what was expected.
 */
import { F, nn, optim, Tensor, tensor } from "../mod.ts";
import { assertEquals, assertThrows } from "./_std.ts";

const z = (shape: number[]): Tensor => Tensor.zeros(shape);
const labels = (values: number[]): Tensor => tensor(values, [values.length], { dtype: "int32" });
// Casts for calls the types forbid, as untyped JavaScript callers would make them.
const bad = <T>(v: unknown): T => v as T;

// ---- conv2d ----

Deno.test("conv2d rejects inputs and weights of the wrong rank, naming the expected layout", () => {
  assertThrows(() => F.conv2d(z([3, 4, 4]), z([2, 3, 3, 3])), "conv2d", "input", "4-d [N, C, H, W]", "[3, 4, 4]");
  assertThrows(
    () => F.conv2d(z([1, 3, 4, 4]), z([2, 3, 3])),
    "conv2d",
    "weight",
    "4-d [outChannels, inChannels / groups, kH, kW]",
    "[2, 3, 3]",
  );
});

Deno.test("conv2d rejects a channel mismatch, naming both counts and the weight shape", () => {
  assertThrows(
    () => F.conv2d(z([1, 3, 28, 28]), z([16, 1, 3, 3])),
    "conv2d: input has 3 channels but weight expects 1 (weight shape [16, 1, 3, 3])",
  );
});

Deno.test("conv2d rejects groups that do not divide the channels, or are not positive integers", () => {
  assertThrows(
    () => F.conv2d(z([1, 3, 4, 4]), z([4, 1, 3, 3]), null, { groups: 2 }),
    "conv2d",
    "input has 3 channels",
    "1 × groups 2 = 2",
    "[4, 1, 3, 3]",
  );
  assertThrows(
    () => F.conv2d(z([1, 4, 4, 4]), z([3, 2, 3, 3]), null, { groups: 2 }),
    "conv2d",
    "3 output channels",
    "not divisible by groups 2",
  );
  for (const groups of [0, -1, 1.5]) {
    assertThrows(
      () => F.conv2d(z([1, 4, 4, 4]), z([4, 4, 3, 3]), null, { groups }),
      "conv2d",
      "groups must be a positive integer",
      `got ${groups}`,
    );
  }
});

Deno.test("conv2d rejects a bias of the wrong shape, naming the expected shape", () => {
  assertThrows(() => F.conv2d(z([1, 2, 4, 4]), z([2, 2, 3, 3]), z([3])), "conv2d", "bias must have shape [2]", "[3]");
  assertThrows(
    () => F.conv2d(z([1, 2, 4, 4]), z([2, 2, 3, 3]), z([2, 1])),
    "conv2d",
    "bias must have shape [2]",
    "[2, 1]",
  );
});

Deno.test("conv2d rejects a kernel larger than the padded input, with sizes, dilation and padding", () => {
  assertThrows(
    () => F.conv2d(z([1, 1, 4, 4]), z([1, 1, 5, 5])),
    "conv2d",
    "kernel 5×5",
    "larger than the padded input 4×4",
    "padding 0×0",
  );
  assertThrows(
    () => F.conv2d(z([1, 1, 4, 4]), z([1, 1, 3, 3]), null, { dilation: 2 }),
    "conv2d",
    "dilation 2×2",
    "spanning 5×5",
    "4×4",
  );
  // With enough padding the same kernel fits.
  assertEquals([...F.conv2d(z([1, 1, 4, 4]), z([1, 1, 5, 5]), null, { padding: 1 }).shape], [1, 1, 2, 2]);
});

Deno.test("conv2d rejects bad stride, padding and dilation values, quoting them", () => {
  const x = z([1, 1, 4, 4]), w = z([1, 1, 3, 3]);
  for (const stride of [0, -1, 1.5]) {
    assertThrows(() => F.conv2d(x, w, null, { stride }), "conv2d", "stride must be an integer ≥ 1", `got ${stride}`);
  }
  assertThrows(() => F.conv2d(x, w, null, { stride: bad([1]) }), "conv2d", "stride", "pair [h, w]", "got [1]");
  assertThrows(() => F.conv2d(x, w, null, { padding: -1 }), "conv2d", "padding must be an integer ≥ 0", "got -1");
  assertThrows(() => F.conv2d(x, w, null, { padding: [1, -1] }), "conv2d", "padding", "got [1,-1]");
  assertThrows(() => F.conv2d(x, w, null, { dilation: 0 }), "conv2d", "dilation must be an integer ≥ 1", "got 0");
});

Deno.test("conv2d rejects an unknown option key, naming it and the known ones", () => {
  assertThrows(
    () => F.conv2d(z([1, 1, 4, 4]), z([1, 1, 3, 3]), null, bad({ strides: 2 })),
    "conv2d",
    'unknown option "strides"',
    "stride, padding, dilation, groups",
  );
});

Deno.test("conv2d rejects int32 inputs and mixed float dtypes", () => {
  assertThrows(
    () => F.conv2d(tensor([1, 2, 3, 4], [1, 1, 2, 2], { dtype: "int32" }), z([1, 1, 1, 1])),
    "conv2d",
    "input must be a float tensor",
    "int32",
  );
  assertThrows(
    () => F.conv2d(z([1, 1, 2, 2]), Tensor.zeros([1, 1, 1, 1], { dtype: "float64" })),
    "conv2d",
    "weight is float64 but the input is float32",
  );
});

// ---- pooling ----

const pools = [["maxPool2d", F.maxPool2d], ["avgPool2d", F.avgPool2d], ["sumPool2d", F.sumPool2d]] as const;

for (const [name, pool] of pools) {
  Deno.test(`${name} rejects a wrong rank, an oversized kernel, excess padding, bad sizes and unknown options`, () => {
    assertThrows(() => pool(z([4, 4]), { kernelSize: 2 }), name, "input must be 4-d [N, C, H, W]", "[4, 4]");
    assertThrows(
      () => pool(z([1, 1, 2, 2]), { kernelSize: 3 }),
      name,
      "kernel 3×3 is larger than the padded input 2×2",
      "padding 0×0",
    );
    assertThrows(
      () => pool(z([1, 1, 4, 4]), { kernelSize: 2, padding: 2 }),
      name,
      "padding 2×2 is more than half the kernel 2×2",
      "padding ≤ kernel / 2",
    );
    assertThrows(
      () => pool(z([1, 1, 4, 4]), { kernelSize: [3, 2], padding: [1, 2] }),
      name,
      "padding 1×2",
      "kernel 3×2",
    );
    assertThrows(() => pool(z([1, 1, 4, 4]), { kernelSize: 0 }), name, "kernelSize must be an integer ≥ 1", "got 0");
    assertThrows(() => pool(z([1, 1, 4, 4]), { kernelSize: 2, stride: 0 }), name, "stride", "got 0");
    assertThrows(
      () => pool(z([1, 1, 4, 4]), bad({ kernelSize: 2, pad: 1 })),
      name,
      'unknown option "pad"',
      "kernelSize, stride, padding",
    );
    assertThrows(() => pool(z([1, 1, 4, 4]), bad({})), name, "kernelSize is required");
    assertThrows(() => pool(z([1, 1, 4, 4]), bad(undefined)), name, "options { kernelSize, stride?, padding? }");
  });
}

// ---- linear ----

Deno.test("linear rejects a feature mismatch, naming both sizes and shapes", () => {
  assertThrows(
    () => F.linear(z([10, 3136]), z([10, 3137])),
    "linear: input has 3136 features (shape [10, 3136]) but weight expects 3137 (weight shape [10, 3137])",
  );
});

Deno.test("linear rejects a weight of the wrong rank and a bias of the wrong shape", () => {
  assertThrows(() => F.linear(z([1, 3]), z([3])), "linear", "weight must be 2-d [outFeatures, inFeatures]", "[3]");
  assertThrows(() => F.linear(z([1, 3]), z([2, 3]), z([3])), "linear", "bias must have shape [2]", "got [3]");
});

// ---- crossEntropy ----

Deno.test("crossEntropy rejects float targets, naming the dtype and shape", () => {
  assertThrows(
    () => F.crossEntropy(z([2, 3]), tensor([0, 1])),
    "crossEntropy",
    "targets must be an int32 tensor of class indices",
    "got float32 [2]",
  );
});

Deno.test("crossEntropy rejects targets outside [0, C), above and below, naming the batch index", () => {
  assertThrows(
    () => F.crossEntropy(z([2, 3]), labels([0, 3])),
    "crossEntropy: target 3 at batch index 1 is out of range; expected a class in [0, 3)",
  );
  assertThrows(
    () => F.crossEntropy(z([2, 3]), labels([-1, 0])),
    "crossEntropy",
    "target -1 at batch index 0",
    "[0, 3)",
  );
});

Deno.test("crossEntropy rejects a batch-size mismatch and targets that do not fit K-dimensional logits", () => {
  assertThrows(
    () => F.crossEntropy(z([2, 3]), labels([0, 1, 2])),
    "crossEntropy",
    "targets must have shape [2]",
    "got [3]",
  );
  // [2, 3, 1] is K-dimensional input (PyTorch's [N, C, d1]): its targets are [2, 1].
  assertThrows(
    () => F.crossEntropy(z([2, 3, 1]), labels([0, 1])),
    "crossEntropy",
    "targets must have shape [2, 1] for logits [2, 3, 1]",
    "got [2]",
  );
  assertThrows(() => F.crossEntropy(z([6]), labels([0])), "crossEntropy", "logits", "[6]");
});

// ---- Tensor ----

Deno.test("Tensor.view rejects an incompatible size and more than one -1, naming both shapes", () => {
  assertThrows(() => z([2, 3]).view([4, 2]), "view: cannot view [2, 3] (6 elements) as [4, 2] (8 elements)");
  assertThrows(() => z([2, 3]).view([4, -1]), "view", "[2, 3]", "[4, -1]");
  assertThrows(() => z([2, 3]).view([-1, -1]), "view: only one dimension may be -1", "[-1, -1]");
  assertThrows(() => z([2, 3]).reshape([5]), "view", "[2, 3]", "[5]");
});

Deno.test("Tensor.matmul rejects mismatched inner dimensions and non-matrices", () => {
  assertThrows(() => z([2, 3]).matmul(z([2, 3])), "matmul", "inner dimensions differ", "[2, 3] × [2, 3]", "3 rows");
  assertThrows(() => z([2, 3]).matmul(z([3])), "matmul", "two 2-d tensors", "[2, 3]", "[3]");
});

Deno.test("Tensor arithmetic rejects shapes that do not broadcast, naming the dimension", () => {
  assertThrows(
    () => z([2, 3]).add(z([2])),
    "add: shapes [2, 3] and [2] cannot be broadcast together (dimension 1: 3 vs 2)",
  );
  assertThrows(() => z([4, 3]).mul(z([2, 1])), "mul", "[4, 3] and [2, 1]", "dimension 0: 4 vs 2");
});

Deno.test("Tensor.item rejects a tensor with more than one element", () => {
  assertThrows(() => z([2, 3]).item(), "item: the tensor has shape [2, 3] (6 elements); expected exactly one");
});

Deno.test("Tensor.backward rejects an implied gradient for a non-scalar, a wrong gradient, and no grad", () => {
  const x = tensor([1, 2], [2], { requiresGrad: true });
  assertThrows(() => x.mul(2).backward(), "backward", "one-element output", "[2]", "pass the gradient explicitly");
  assertThrows(() => x.mul(2).backward(z([3])), "backward", "gradient has shape [3]", "expected [2]");
  assertThrows(() => z([1]).backward(), "backward", "does not require grad", "requiresGrad: true");
});

Deno.test("Tensor use after dispose names the op and says the tensor was disposed", () => {
  const t = z([2]);
  t.dispose();
  assertThrows(() => t.add(1), "add", "[2] float32 was disposed");
  assertThrows(() => t.toArray(), "toArray", "disposed");
  const x = z([1, 1, 2, 2]);
  x.dispose();
  assertThrows(() => F.conv2d(x, z([1, 1, 1, 1])), "conv2d", "disposed");
});

// ---- tensor() ----

Deno.test("tensor rejects a value count that does not fill the shape, and ragged arrays", () => {
  assertThrows(() => tensor([1, 2, 3], [2, 2]), "tensor: 3 values cannot fill shape [2, 2] (4 elements)");
  assertThrows(() => tensor([[1, 2], [3]]), "tensor: ragged nested array", "1 elements, expected 2");
  assertThrows(() => tensor(bad([[1, 2], 3])), "tensor: ragged nested array", "a number at depth 1");
  assertThrows(() => tensor(bad([1, [2, 3]])), "tensor: ragged nested array", "an array at depth 1");
  assertThrows(() => tensor([1, 2], [-2]), "tensor", "shape [-2] is invalid");
  assertThrows(() => tensor([1, 2], [2], { dtype: bad("float16") }), "tensor", 'unknown dtype "float16"');
  assertThrows(() => tensor([1, 2], [2], { dtype: "int32", requiresGrad: true }), "requiresGrad needs a float tensor");
});

// ---- nn ----

Deno.test("nn.Conv2d rejects bad channel counts, groups, sizes, missing and unknown options", () => {
  assertThrows(() => new nn.Conv2d(0, 2, { kernelSize: 3 }), "Conv2d: inChannels must be an integer ≥ 1, got 0");
  assertThrows(() => new nn.Conv2d(1, 1.5, { kernelSize: 3 }), "Conv2d: outChannels", "got 1.5");
  assertThrows(
    () => new nn.Conv2d(3, 4, { kernelSize: 3, groups: 2 }),
    "Conv2d: inChannels 3 and outChannels 4 must both be divisible by groups 2",
  );
  assertThrows(() => new nn.Conv2d(1, 2, { kernelSize: bad([3]) }), "Conv2d", "kernelSize", "got [3]");
  assertThrows(() => new nn.Conv2d(1, 2, { kernelSize: 3, stride: 0 }), "Conv2d", "stride", "got 0");
  assertThrows(() => new nn.Conv2d(1, 2, { kernelSize: 3, padding: -1 }), "Conv2d", "padding", "got -1");
  assertThrows(() => new nn.Conv2d(1, 2, bad({})), "Conv2d: kernelSize is required");
  assertThrows(() => new nn.Conv2d(1, 2, bad(undefined)), "Conv2d: options { kernelSize");
  assertThrows(
    () => new nn.Conv2d(1, 2, bad({ kernelSize: 3, kernel_size: 3 })),
    'Conv2d: unknown option "kernel_size"',
    "kernelSize",
  );
});

Deno.test("nn.Linear rejects bad feature counts and unknown options", () => {
  assertThrows(() => new nn.Linear(0, 2), "Linear: inFeatures must be an integer ≥ 1, got 0");
  assertThrows(() => new nn.Linear(2, -3), "Linear: outFeatures", "got -3");
  assertThrows(() => new nn.Linear(2, 2, bad({ biass: false })), 'Linear: unknown option "biass"', "bias, generator");
});

Deno.test("nn pooling layers reject a missing kernel size and unknown options at construction", () => {
  assertThrows(() => new nn.MaxPool2d(bad({})), "MaxPool2d: kernelSize is required");
  assertThrows(() => new nn.AvgPool2d(bad({ kernelSize: 2, strid: 2 })), 'AvgPool2d: unknown option "strid"');
  assertThrows(() => new nn.SumPool2d({ kernelSize: 2, stride: 0 }), "SumPool2d", "stride", "got 0");
});

class Net extends nn.Module {
  conv1 = new nn.Conv2d(1, 4, { kernelSize: 3 });
  fc = new nn.Linear(8, 2);
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.conv1.forward(x).view([x.shape[0], -1]));
  }
}

Deno.test("nn.Module.loadStateDict lists missing, unexpected and mis-shaped keys in one message", () => {
  const net = new Net();
  const dict = net.stateDict();
  const before = Array.from(net.conv1.weight.toArray());
  delete dict["fc.bias"];
  dict["fc2.weight"] = z([2, 8]);
  dict["conv1.weight"] = z([4, 1, 5, 5]);
  const e = assertThrows(
    () => net.loadStateDict(dict),
    "loadStateDict",
    "Net",
    "missing keys: fc.bias",
    "unexpected keys: fc2.weight",
    "conv1.weight: expected shape [4, 1, 3, 3], got [4, 1, 5, 5]",
  );
  assertEquals(e.message.split("loadStateDict").length, 2);
  // Nothing was copied.
  assertEquals(Array.from(net.conv1.weight.toArray()), before);
  const wrongDtype = { ...new Net().stateDict(), "fc.bias": Tensor.zeros([2], { dtype: "float64" }) };
  assertThrows(() => net.loadStateDict(wrongDtype), "fc.bias: expected float32, got float64");
});

// ---- optim ----

Deno.test("optimizers reject out-of-range hyperparameters, quoting the value and the range", () => {
  const p = tensor([1, 2], [2], { requiresGrad: true });
  assertThrows(() => new optim.Adadelta([p], { lr: -1 }), "Adadelta: lr must be a number ≥ 0, got -1");
  assertThrows(() => new optim.Adadelta([p], { rho: 1.5 }), "Adadelta: rho", "got 1.5");
  assertThrows(() => new optim.Adadelta([p], { eps: -1e-6 }), "Adadelta: eps", "got -0.000001");
  assertThrows(() => new optim.Adam([p], { betas: [0.9, 1] }), "Adam: betas[1] must be a number in [0, 1), got 1");
  assertThrows(() => new optim.Adam([p], { betas: [-0.1, 0.9] }), "Adam: betas[0]", "got -0.1");
  assertThrows(() => new optim.Adam([p], { betas: bad([0.9]) }), "Adam: betas must be a pair [beta1, beta2]", "[0.9]");
  assertThrows(() => new optim.SGD([p], { lr: NaN }), "SGD: lr must be a number ≥ 0, got NaN");
  assertThrows(() => new optim.SGD([p], { lr: 0.1, momentum: -0.9 }), "SGD: momentum", "got -0.9");
  assertThrows(() => new optim.SGD([], { lr: 0.1 }), "SGD: expected a non-empty array of parameters", "empty array");
});

Deno.test("optim.SGD requires lr and rejects nesterov without momentum", () => {
  const p = tensor([1, 2], [2], { requiresGrad: true });
  assertThrows(() => new optim.SGD([p], bad({})), "SGD: lr is required");
  assertThrows(() => new optim.SGD([p], bad(undefined)), "SGD: lr is required");
  assertThrows(
    () => new optim.SGD([p], { lr: 0.1, nesterov: true }),
    "SGD: nesterov needs momentum > 0 and dampening 0, got momentum 0, dampening 0",
  );
  assertThrows(
    () => new optim.SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
    "SGD: nesterov",
    "dampening 0.1",
  );
});

Deno.test("optimizers reject unknown option keys, top-level and per group", () => {
  const p = tensor([1, 2], [2], { requiresGrad: true });
  assertThrows(() => new optim.SGD([p], bad({ lr: 0.1, momentun: 0.9 })), 'SGD: unknown option "momentun"', "momentum");
  assertThrows(() => new optim.SGD([p], bad({ learningRate: 0.1 })), 'SGD: unknown option "learningRate"');
  assertThrows(() => new optim.Adadelta([p], bad({ lrr: 1 })), 'Adadelta: unknown option "lrr"', "lr, rho, eps");
  assertThrows(() => new optim.Adam([p], bad({ beta: [0.9, 0.9] })), 'Adam: unknown option "beta"', "betas");
  assertThrows(
    () => new optim.SGD(bad([{ params: [p], lrr: 1 }]), { lr: 0.1 }),
    'SGD: unknown option "lrr"',
  );
});

Deno.test("optim.StepLR rejects a bad stepSize or gamma and unknown options", () => {
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 1 });
  for (const stepSize of [0, -1, 1.5]) {
    assertThrows(
      () => new optim.StepLR(opt, { stepSize }),
      `StepLR: stepSize must be a positive integer, got ${stepSize}`,
    );
  }
  assertThrows(() => new optim.StepLR(opt, { stepSize: 1, gamma: -1 }), "StepLR: gamma must be a number ≥ 0, got -1");
  assertThrows(() => new optim.StepLR(opt, bad({ stepSize: 1, gama: 0.1 })), 'StepLR: unknown option "gama"', "gamma");
  assertThrows(() => new optim.StepLR(opt, bad(undefined)), "StepLR: options { stepSize, gamma? } are required");
});
