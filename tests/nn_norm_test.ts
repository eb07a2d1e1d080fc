/**
 * The normalisation layers against PyTorch 1.13 (tests/fixtures/norm_layers.json, written by
 * scripts/fixtures_nn_norm.py): BatchNorm's outputs, gradients and buffers step by step in training
 * and then in evaluation, on the CPU and the CUDA backend (emulation build); a conv → BatchNorm2d →
 * relu → linear model whose state dict has PyTorch's keys, shapes and dtypes, loads PyTorch's
 * weights, gives PyTorch's outputs and survives a safetensors round trip; the layers' init, the
 * ops' and layers' error messages, and that untracked calls free their temporaries.
 *
 * The ops' values and gradients (F.batchNorm, F.layerNorm, F.groupNorm) are checked with every
 * other op's, from tests/fixtures/nn_norm.json, by tests/tensor_ops_parity_test.ts and
 * tests/op_gradcheck_test.ts.
 */
import { type Device, F, io, memory, nn, noGrad, type Tensor, tensor } from "../mod.ts";
import { assertEquals, assertThrows, dirname, fromFileUrl, join, near } from "./_std.ts";
import { devices } from "./_op_cases.ts";

interface T {
  shape: number[];
  data: number[];
  dtype?: "float32" | "int64";
}
interface KeyInfo {
  name: string;
  shape: number[];
  dtype: string;
}
interface Step {
  input: T;
  output: T;
  grad_output: T;
  grads: { input: T; weight?: T; bias?: T };
  buffers: Record<string, T>;
}
interface Run {
  name: string;
  layer: "BatchNorm1d" | "BatchNorm2d";
  numFeatures: number;
  options: nn.BatchNormLayerOptions;
  params: { weight?: T; bias?: T };
  state_dict: KeyInfo[];
  steps: Step[];
  eval: { input: T; output: T; buffers: Record<string, T> };
}
interface Fixture {
  runs: Run[];
  model: {
    keys: KeyInfo[];
    state: Record<string, T>;
    input: T;
    eval_output: T;
    train_output: T;
    buffers_after_train: Record<string, T>;
  };
}

const fixture: Fixture = JSON.parse(
  Deno.readTextFileSync(join(dirname(fromFileUrl(import.meta.url)), "fixtures", "norm_layers.json")),
);
const TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

function toTensor(t: T, dev?: Device, requiresGrad = false): Tensor {
  if (t.dtype === "int64") return tensor(BigInt64Array.from(t.data, BigInt), t.shape, { dtype: "int64", device: dev });
  return tensor(t.data, t.shape, { device: dev, requiresGrad });
}

function expect(label: string, got: Tensor, want: T): void {
  assertEquals([...got.shape], want.shape, `${label}: shape`);
  assertEquals(got.dtype, want.dtype ?? "float32", `${label}: dtype`);
  if (got.dtype === "int64") assertEquals(got.toHost(), BigInt64Array.from(want.data, BigInt), `${label}: values`);
  else near(label, got.toArray(), want.data, { ...TOLERANCE, shape: want.shape });
}

/** The key → "shape dtype" map of a state dict, order aside (PyTorch's load_state_dict goes by name). */
function layout(entries: [string, readonly number[], string][]): Record<string, string> {
  return Object.fromEntries(entries.map(([name, shape, dtype]) => [name, `[${shape.join(", ")}] ${dtype}`]));
}
const layoutOf = (dict: Record<string, Tensor>) => layout(Object.entries(dict).map(([k, t]) => [k, t.shape, t.dtype]));
const layoutOfKeys = (keys: KeyInfo[]) => layout(keys.map((k) => [k.name, k.shape, k.dtype]));

function makeBatchNorm(run: Run, dev: Device): nn.BatchNorm1d | nn.BatchNorm2d {
  const layer = run.layer === "BatchNorm1d"
    ? new nn.BatchNorm1d(run.numFeatures, run.options)
    : new nn.BatchNorm2d(run.numFeatures, run.options);
  layer.to(dev);
  if (run.params.weight) {
    const dict = layer.stateDict();
    dict.weight = toTensor(run.params.weight);
    dict.bias = toTensor(run.params.bias!);
    layer.loadStateDict(dict);
  }
  return layer;
}

for (const run of fixture.runs) {
  Deno.test(`${run.name}: outputs, gradients and buffers equal PyTorch's, step by step`, async (t) => {
    for (const dev of devices()) {
      await t.step(dev.type, () => {
        const layer = makeBatchNorm(run, dev);
        assertEquals(layoutOf(layer.stateDict()), layoutOfKeys(run.state_dict), "state dict keys, shapes, dtypes");
        run.steps.forEach((step, i) => {
          const label = `step ${i + 1}`;
          layer.train();
          layer.zeroGrad();
          const x = toTensor(step.input, dev, true);
          const y = layer.forward(x);
          expect(`${label}: output`, y, step.output);
          y.mul(toTensor(step.grad_output, dev)).sum().backward();
          expect(`${label}: d input`, x.grad!, step.grads.input);
          if (step.grads.weight) expect(`${label}: d weight`, layer.weight!.grad!, step.grads.weight);
          if (step.grads.bias) expect(`${label}: d bias`, layer.bias!.grad!, step.grads.bias);
          const buffers = Object.fromEntries(layer.namedBuffers());
          assertEquals(Object.keys(buffers), Object.keys(step.buffers), `${label}: buffer names`);
          for (const [name, want] of Object.entries(step.buffers)) expect(`${label}: ${name}`, buffers[name], want);
          for (const b of Object.values(buffers)) assertEquals(b.requiresGrad, false, `${label}: buffers need no grad`);
        });
        layer.eval();
        expect("eval: output", noGrad(() => layer.forward(toTensor(run.eval.input, dev))), run.eval.output);
        const buffers = Object.fromEntries(layer.namedBuffers());
        for (const [name, want] of Object.entries(run.eval.buffers)) {
          expect(`eval: ${name} unchanged`, buffers[name], want);
        }
      });
    }
  });
}

/** conv1 → bn1 → relu → fc, as the generator's Net. */
class Net extends nn.Module {
  conv1 = new nn.Conv2d(2, 4, { kernelSize: 3, padding: 1 });
  bn1 = new nn.BatchNorm2d(4);
  fc = new nn.Linear(4 * 5 * 5, 3);
  forward(x: Tensor): Tensor {
    return this.fc.forward(F.relu(this.bn1.forward(this.conv1.forward(x))).flatten(1));
  }
}

const pytorchState = (): Record<string, Tensor> =>
  Object.fromEntries(Object.entries(fixture.model.state).map(([k, v]) => [k, toTensor(v)]));

Deno.test("BatchNorm2d state dict: keys, shapes and dtypes are PyTorch's (num_batches_tracked int64)", () => {
  const dict = new Net().stateDict();
  assertEquals(layoutOf(dict), layoutOfKeys(fixture.model.keys));
  assertEquals(dict["bn1.num_batches_tracked"].dtype, "int64");
  assertEquals(dict["bn1.num_batches_tracked"].shape, []);
});

Deno.test("BatchNorm2d model loads PyTorch's weights and gives PyTorch's outputs in eval and training", async (t) => {
  for (const dev of devices()) {
    await t.step(dev.type, () => {
      const model = new Net();
      model.loadStateDict(pytorchState());
      model.to(dev);
      const x = toTensor(fixture.model.input, dev);
      model.eval();
      expect("eval output", noGrad(() => model.forward(x)), fixture.model.eval_output);
      model.train();
      expect("train output", noGrad(() => model.forward(x)), fixture.model.train_output);
      const buffers = Object.fromEntries(model.bn1.namedBuffers());
      for (const [name, want] of Object.entries(fixture.model.buffers_after_train)) {
        expect(`after training: ${name}`, buffers[name], want);
      }
    });
  }
});

Deno.test("BatchNorm2d state dict survives a safetensors round trip: keys, dtypes, values and outputs", () => {
  const model = new Net();
  model.loadStateDict(pytorchState());
  const saved = model.stateDict();
  const loaded = io.loadBytes(io.saveBytes(saved));
  assertEquals(layoutOf(loaded), layoutOfKeys(fixture.model.keys));
  for (const [name, t] of Object.entries(saved)) assertEquals(loaded[name].toHost(), t.toHost(), name);
  const copy = new Net();
  copy.loadStateDict(loaded);
  copy.eval();
  expect(
    "eval output after the round trip",
    noGrad(() => copy.forward(toTensor(fixture.model.input))),
    fixture.model.eval_output,
  );
});

Deno.test("normalisation layers start as PyTorch's: weight 1, bias 0, running_mean 0, running_var 1, count 0", () => {
  const bn = new nn.BatchNorm2d(3);
  assertEquals(bn.namedParameters().map(([n]) => n), ["weight", "bias"]);
  assertEquals([...bn.weight!.toArray()], [1, 1, 1]);
  assertEquals([...bn.bias!.toArray()], [0, 0, 0]);
  assertEquals([...bn.runningMean!.toArray()], [0, 0, 0]);
  assertEquals([...bn.runningVar!.toArray()], [1, 1, 1]);
  assertEquals(bn.numBatchesTracked!.toHost(), BigInt64Array.of(0n));
  assertEquals(Object.keys(new nn.BatchNorm1d(2, { affine: false }).stateDict()), [
    "running_mean",
    "running_var",
    "num_batches_tracked",
  ]);
  assertEquals(Object.keys(new nn.BatchNorm1d(2, { trackRunningStats: false }).stateDict()), ["weight", "bias"]);
  const ln = new nn.LayerNorm([2, 3]);
  assertEquals(Object.entries(ln.stateDict()).map(([k, v]) => [k, [...v.shape]]), [["weight", [2, 3]], ["bias", [
    2,
    3,
  ]]]);
  assertEquals([...ln.weight!.toArray()], [1, 1, 1, 1, 1, 1]);
  assertEquals(Object.keys(new nn.LayerNorm(4, { elementwiseAffine: false }).stateDict()), []);
  const gn = new nn.GroupNorm(2, 4);
  assertEquals(Object.entries(gn.stateDict()).map(([k, v]) => [k, [...v.shape]]), [["weight", [4]], ["bias", [4]]]);
  assertEquals([...gn.bias!.toArray()], [0, 0, 0, 0]);
});

Deno.test("LayerNorm and GroupNorm layers compute F.layerNorm and F.groupNorm with their parameters", () => {
  const x = tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i) * (i % 5)), [2, 4, 3]);
  const ln = new nn.LayerNorm(3, { eps: 1e-3 });
  ln.loadStateDict({ weight: tensor([1, 2, 3]), bias: tensor([0, -1, 1]) });
  near(
    "LayerNorm",
    ln.forward(x).toArray(),
    F.layerNorm(x, [3], { weight: ln.weight, bias: ln.bias, eps: 1e-3 }).toArray(),
  );
  const gn = new nn.GroupNorm(2, 4);
  gn.loadStateDict({ weight: tensor([1, 2, 3, 4]), bias: tensor([0, -1, 1, 2]) });
  near("GroupNorm", gn.forward(x).toArray(), F.groupNorm(x, 2, { weight: gn.weight, bias: gn.bias }).toArray());
});

Deno.test("BatchNorm updates its running statistics under noGrad too, and not in eval mode", () => {
  const bn = new nn.BatchNorm1d(2);
  const x = tensor([[1, 10], [3, 30]]);
  noGrad(() => bn.forward(x));
  near("running_mean", bn.runningMean!.toArray(), [0.2, 2], { atol: 1e-6 });
  near("running_var", bn.runningVar!.toArray(), [1.1, 20.9], { atol: 1e-5 });
  assertEquals(bn.numBatchesTracked!.toHost(), BigInt64Array.of(1n));
  bn.eval();
  bn.forward(x);
  near("running_mean after eval", bn.runningMean!.toArray(), [0.2, 2], { atol: 1e-6 });
  assertEquals(bn.numBatchesTracked!.toHost(), BigInt64Array.of(1n));
});

Deno.test("batchNorm, layerNorm and groupNorm free their temporaries when nothing requires grad", () => {
  const x = tensor(Array.from({ length: 48 }, (_, i) => Math.cos(i)), [2, 4, 3, 2]);
  const bn = new nn.BatchNorm2d(4);
  const gn = new nn.GroupNorm(2, 4);
  const calls: [string, () => Tensor][] = [
    ["batchNorm (train)", () => bn.forward(x)],
    ["batchNorm (eval)", () => bn.eval().forward(x)],
    ["layerNorm", () => F.layerNorm(x, [3, 2])],
    ["groupNorm", () => gn.forward(x)],
  ];
  for (const [name, call] of calls) {
    call().dispose(); // first call: anything created once (nothing expected) is out of the count
    const before = memory().tensors;
    const y = noGrad(call);
    const extra = memory().tensors - before;
    y.dispose();
    assertEquals(extra <= 1, true, `${name}: ${extra} tensors left alive, expected only the output`);
  }
});

Deno.test("normalisation ops name the argument, what was given and what was expected", () => {
  const x = tensor(new Array(12).fill(1), [2, 3, 2]);
  const stats = () => [tensor([0, 0, 0]), tensor([1, 1, 1])] as const;
  assertThrows(() => F.batchNorm(x, null, null), "batchNorm", "required in evaluation mode");
  assertThrows(
    () => F.batchNorm(tensor([1, 2, 3], [1, 3]), ...stats(), { training: true }),
    "more than 1 value per channel",
    "[1, 3]",
  );
  assertThrows(() => F.batchNorm(x, tensor([0, 0]), tensor([1, 1])), "runningMean must have shape [3]", "got [2]");
  assertThrows(() => F.batchNorm(x, ...stats(), { weight: tensor([1]) }), "batchNorm: weight must have shape [3]");
  assertThrows(() => F.batchNorm(x, tensor([0, 0, 0]), null), "both be tensors or both be null");
  assertThrows(() => F.batchNorm(x, ...stats(), { momentun: 0.1 } as F.BatchNormOptions), 'unknown option "momentun"');
  assertThrows(() => F.batchNorm(tensor([1, 2, 3]), null, null, { training: true }), "at least 2 dimensions");
  assertThrows(() => F.layerNorm(x, [2, 3]), "layerNorm", "[*, 2, 3]", "got [2, 3, 2]");
  assertThrows(() => F.layerNorm(x, 2, { bias: tensor([1, 2, 3]) }), "layerNorm: bias must have shape [2]");
  assertThrows(() => F.layerNorm(x, 2, { eps: -1 }), "eps must be a finite number ≥ 0, got -1");
  assertThrows(() => F.groupNorm(x, 2), "groupNorm: numGroups must be a positive integer dividing the 3 channels");
  assertThrows(() => F.groupNorm(x, 3, { weight: tensor([1, 2]) }), "groupNorm: weight must have shape [3]");
});

Deno.test("normalisation layers name the layer, the argument, what was given and what was expected", () => {
  assertThrows(
    () => new nn.BatchNorm2d(3).forward(tensor(new Array(12).fill(0), [2, 3, 2])),
    "BatchNorm2d",
    "4-d",
    "[2, 3, 2]",
  );
  assertThrows(
    () => new nn.BatchNorm1d(3).forward(tensor(new Array(8).fill(0), [2, 4])),
    "BatchNorm1d",
    "4 channels",
    "numFeatures = 3",
  );
  assertThrows(() => new nn.BatchNorm1d(0), "BatchNorm1d: numFeatures must be an integer ≥ 1, got 0");
  assertThrows(() => new nn.BatchNorm2d(2, { momentum: "0.1" as unknown as number }), "BatchNorm2d: momentum");
  assertThrows(
    () => new nn.BatchNorm2d(2, { trackRunningStat: false } as nn.BatchNormLayerOptions),
    'unknown option "trackRunningStat"',
  );
  assertThrows(() => new nn.LayerNorm([]), "LayerNorm: normalizedShape");
  assertThrows(() => new nn.GroupNorm(3, 4), "GroupNorm: numChannels 4 must be divisible by numGroups 3");
  assertThrows(() => new nn.GroupNorm(2, 4).forward(tensor([1, 2, 3], [1, 3])), "GroupNorm", "[N, 4, ...]", "[1, 3]");
});
