/**
 * examples/resnet_fashion.ts: the network's state dict has PyTorch's keys, shapes, dtypes and order
 * for the same structure, and with `manualSeed(1)` PyTorch's initial weights (its logits on a fixed
 * batch); a forward/backward on 4 images gives the same logits and gradients on the CPU and the CUDA
 * backend (emulation build); and the recipe (AdamW + OneCycleLR stepped per batch, through
 * trainMnist) drives the loss down in 30 steps on synthetic images.
 *
 * The expected keys and logits come from the same network written in PyTorch 1.13
 * (`/usr/bin/python3`): torchvision's BasicBlock layout (conv1, bn1, conv2, bn2, downsample as
 * Sequential(1×1 conv, BatchNorm2d), convolutions without bias), a stem conv1/bn1, layer1..3 as
 * Sequential of two blocks, avgpool, fc; `torch.manual_seed(1)`, then the network, then
 * `net(x)` in training mode with x = ((arange(4·28·28) % 17 − 8) / 8).reshape(4, 1, 28, 28).
 */
import { type data, device, manualSeed, type optim, type Tensor, tensor } from "../mod.ts";
import { assertEquals, assertOk, near } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";
import { FashionResNet, oneCycleAdamW } from "../examples/resnet_fashion.ts";
import { type OptimizerSetup, trainMnist } from "../examples/mnist/train.ts";

/** `PyTorch's net.state_dict()`: "name [shape] dtype", in order. */
const TORCH_KEYS = [
  "conv1.weight [16,1,3,3] float32",
  "bn1.weight [16] float32",
  "bn1.bias [16] float32",
  "bn1.running_mean [16] float32",
  "bn1.running_var [16] float32",
  "bn1.num_batches_tracked [] int64",
  "layer1.0.conv1.weight [16,16,3,3] float32",
  "layer1.0.bn1.weight [16] float32",
  "layer1.0.bn1.bias [16] float32",
  "layer1.0.bn1.running_mean [16] float32",
  "layer1.0.bn1.running_var [16] float32",
  "layer1.0.bn1.num_batches_tracked [] int64",
  "layer1.0.conv2.weight [16,16,3,3] float32",
  "layer1.0.bn2.weight [16] float32",
  "layer1.0.bn2.bias [16] float32",
  "layer1.0.bn2.running_mean [16] float32",
  "layer1.0.bn2.running_var [16] float32",
  "layer1.0.bn2.num_batches_tracked [] int64",
  "layer1.1.conv1.weight [16,16,3,3] float32",
  "layer1.1.bn1.weight [16] float32",
  "layer1.1.bn1.bias [16] float32",
  "layer1.1.bn1.running_mean [16] float32",
  "layer1.1.bn1.running_var [16] float32",
  "layer1.1.bn1.num_batches_tracked [] int64",
  "layer1.1.conv2.weight [16,16,3,3] float32",
  "layer1.1.bn2.weight [16] float32",
  "layer1.1.bn2.bias [16] float32",
  "layer1.1.bn2.running_mean [16] float32",
  "layer1.1.bn2.running_var [16] float32",
  "layer1.1.bn2.num_batches_tracked [] int64",
  "layer2.0.conv1.weight [32,16,3,3] float32",
  "layer2.0.bn1.weight [32] float32",
  "layer2.0.bn1.bias [32] float32",
  "layer2.0.bn1.running_mean [32] float32",
  "layer2.0.bn1.running_var [32] float32",
  "layer2.0.bn1.num_batches_tracked [] int64",
  "layer2.0.conv2.weight [32,32,3,3] float32",
  "layer2.0.bn2.weight [32] float32",
  "layer2.0.bn2.bias [32] float32",
  "layer2.0.bn2.running_mean [32] float32",
  "layer2.0.bn2.running_var [32] float32",
  "layer2.0.bn2.num_batches_tracked [] int64",
  "layer2.0.downsample.0.weight [32,16,1,1] float32",
  "layer2.0.downsample.1.weight [32] float32",
  "layer2.0.downsample.1.bias [32] float32",
  "layer2.0.downsample.1.running_mean [32] float32",
  "layer2.0.downsample.1.running_var [32] float32",
  "layer2.0.downsample.1.num_batches_tracked [] int64",
  "layer2.1.conv1.weight [32,32,3,3] float32",
  "layer2.1.bn1.weight [32] float32",
  "layer2.1.bn1.bias [32] float32",
  "layer2.1.bn1.running_mean [32] float32",
  "layer2.1.bn1.running_var [32] float32",
  "layer2.1.bn1.num_batches_tracked [] int64",
  "layer2.1.conv2.weight [32,32,3,3] float32",
  "layer2.1.bn2.weight [32] float32",
  "layer2.1.bn2.bias [32] float32",
  "layer2.1.bn2.running_mean [32] float32",
  "layer2.1.bn2.running_var [32] float32",
  "layer2.1.bn2.num_batches_tracked [] int64",
  "layer3.0.conv1.weight [64,32,3,3] float32",
  "layer3.0.bn1.weight [64] float32",
  "layer3.0.bn1.bias [64] float32",
  "layer3.0.bn1.running_mean [64] float32",
  "layer3.0.bn1.running_var [64] float32",
  "layer3.0.bn1.num_batches_tracked [] int64",
  "layer3.0.conv2.weight [64,64,3,3] float32",
  "layer3.0.bn2.weight [64] float32",
  "layer3.0.bn2.bias [64] float32",
  "layer3.0.bn2.running_mean [64] float32",
  "layer3.0.bn2.running_var [64] float32",
  "layer3.0.bn2.num_batches_tracked [] int64",
  "layer3.0.downsample.0.weight [64,32,1,1] float32",
  "layer3.0.downsample.1.weight [64] float32",
  "layer3.0.downsample.1.bias [64] float32",
  "layer3.0.downsample.1.running_mean [64] float32",
  "layer3.0.downsample.1.running_var [64] float32",
  "layer3.0.downsample.1.num_batches_tracked [] int64",
  "layer3.1.conv1.weight [64,64,3,3] float32",
  "layer3.1.bn1.weight [64] float32",
  "layer3.1.bn1.bias [64] float32",
  "layer3.1.bn1.running_mean [64] float32",
  "layer3.1.bn1.running_var [64] float32",
  "layer3.1.bn1.num_batches_tracked [] int64",
  "layer3.1.conv2.weight [64,64,3,3] float32",
  "layer3.1.bn2.weight [64] float32",
  "layer3.1.bn2.bias [64] float32",
  "layer3.1.bn2.running_mean [64] float32",
  "layer3.1.bn2.running_var [64] float32",
  "layer3.1.bn2.num_batches_tracked [] int64",
  "fc.weight [10,64] float32",
  "fc.bias [10] float32",
];

/** PyTorch's logits [4, 10] of the fixed batch, training mode, right after `torch.manual_seed(1)`. */
const TORCH_LOGITS = [
  -0.185229,
  0.219683,
  -0.022984,
  -0.769216,
  0.511828,
  -0.763869,
  -0.558244,
  0.544047,
  0.225769,
  0.229665,
  -0.224186,
  0.195514,
  -0.102293,
  -0.589577,
  0.678727,
  -0.748589,
  -0.464358,
  0.535416,
  0.349146,
  0.279175,
  -0.110449,
  0.183783,
  -0.08741,
  -0.70257,
  0.604264,
  -0.746249,
  -0.448251,
  0.551942,
  0.240259,
  0.253882,
  -0.178491,
  0.171912,
  -0.056694,
  -0.628665,
  0.705394,
  -0.752731,
  -0.491678,
  0.568206,
  0.348833,
  0.277319,
];

/** The fixed batch of the header: a pattern in [−1, 1]. */
function fixedBatch(dev = device("cpu")): Tensor {
  return tensor(Array.from({ length: 4 * 28 * 28 }, (_, i) => ((i % 17) - 8) / 8), [4, 1, 28, 28], { device: dev });
}

Deno.test("FashionResNet state dict has PyTorch's keys, shapes, dtypes and order", () => {
  manualSeed(1);
  const net = new FashionResNet();
  const got = Object.entries(net.stateDict()).map(([k, t]) => `${k} [${t.shape.join(",")}] ${t.dtype}`);
  assertEquals(got, TORCH_KEYS);
  assertEquals(net.numParameters(), 174970);
});

Deno.test("FashionResNet with manualSeed(1) gives PyTorch's initial logits", () => {
  manualSeed(1);
  const out = new FashionResNet().forward(fixedBatch());
  assertEquals([...out.shape], [4, 10]);
  near("logits", out.toArray(), TORCH_LOGITS, { atol: 2e-5, rtol: 1e-4, shape: [4, 10] });
});

/** Logits, loss and every parameter's gradient of one forward/backward of the fixed batch on `dev`. */
function forwardBackward(dev: ReturnType<typeof device>) {
  manualSeed(1);
  const net = new FashionResNet().to(dev);
  const out = net.forward(fixedBatch(dev));
  const loss = out.logSoftmax(1).mean().neg();
  loss.backward();
  const grads = net.namedParameters().map(([name, p]) => {
    assertOk(p.grad !== null, `${name}: no gradient`);
    assertEquals([...p.grad.shape], [...p.shape], `${name}: gradient shape`);
    return [name, p.grad.toArray()] as const;
  });
  return { logits: out.toArray(), loss: loss.item(), grads };
}

Deno.test("FashionResNet forward/backward on 4 images: every gradient, same on the CPU and the CUDA backend", () => {
  const cpu = forwardBackward(device("cpu"));
  near("cpu logits", cpu.logits, TORCH_LOGITS, { atol: 2e-5, rtol: 1e-4 });
  for (const [name, g] of cpu.grads) {
    assertOk(g.every(Number.isFinite), `${name}: non-finite gradient`);
    assertOk(g.some((v) => v !== 0), `${name}: gradient is all zeros`);
  }
  if (ignore) return; // no C++ compiler: no emulation build
  const cuda = forwardBackward(dev());
  near("cuda logits", cuda.logits, cpu.logits, { atol: 1e-5, rtol: 1e-4 });
  near("cuda loss", [cuda.loss], [cpu.loss], { rtol: 1e-5 });
  cuda.grads.forEach(([name, g], i) => {
    const want = cpu.grads[i][1];
    const scale = Math.max(...Array.from(want, Math.abs));
    near(`cuda grad ${name}`, g, want, { atol: 1e-4 * scale + 1e-7, rtol: 1e-3 });
  });
});

/** Uniform numbers in [0, 1) from a linear congruential generator. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
const templateRand = lcg(7);
const TEMPLATES = Array.from({ length: 10 }, () => Array.from({ length: 144 }, () => templateRand() * 200));

/** 10 classes of 12×12 images: each class a fixed random texture, each image with its own noise. */
function syntheticSet(n: number, noiseSeed: number): data.ImageDataset {
  const rand = lcg(noiseSeed);
  const images = new Uint8Array(n * 144), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    for (let p = 0; p < 144; p++) images[i * 144 + p] = Math.round(TEMPLATES[i % 10][p] + rand() * 55);
  }
  return { name: "synthetic", images, labels, length: n, rows: 12, cols: 12 };
}

Deno.test(
  "resnet_fashion's recipe (AdamW + OneCycleLR per batch) learns synthetic images in 30 steps",
  async () => {
    const set = syntheticSet(240, 1);
    let setup: OptimizerSetup | undefined;
    let plan = {};
    const { epochs } = await trainMnist({
      epochs: 1,
      batchSize: 8, // 240 / 8 = 30 steps
      testBatchSize: 80,
      lr: 0.01,
      logInterval: 1,
      device: "cpu",
      trainData: set,
      testData: syntheticSet(80, 8), // the same classes, other noise
      model: () => new FashionResNet(),
      optimizer: (params, p) => {
        plan = p;
        return (setup = oneCycleAdamW(params, p));
      },
    }, () => {});
    assertEquals(plan, { lr: 0.01, gamma: 0.7, epochs: 1, stepsPerEpoch: 30 });
    const losses = epochs[0].trainLosses;
    assertEquals(losses.length, 30);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const [first, last] = [mean(losses.slice(0, 5)), mean(losses.slice(-5))];
    assertOk(epochs[0].accuracy >= 90, `held-out accuracy ${epochs[0].accuracy}%, want ≥ 90%`);
    assertOk(
      last < 0.25 * first,
      `mean loss of the first 5 steps ${first}, of the last 5 ${last}: want under a quarter`,
    );
    // Stepped after each of the 30 batches, as PyTorch's loop does: the 30th batch trained at the cycle's
    // end, maxLr / divFactor / finalDivFactor, and the step after it left the lr just past the trough:
    // the fall runs from step 8 (30% of 30, less 1) to step 29, so step 30 is 22/21 of the way down.
    const scheduler = setup!.scheduler as optim.OneCycleLR;
    assertEquals(scheduler.lastEpoch, 30);
    const lrAt = (fractionDown: number) =>
      0.01 / 25 / 1e4 + (0.01 - 0.01 / 25 / 1e4) * (1 + Math.cos(Math.PI * fractionDown)) / 2;
    near("lr after 30 steps", [setup!.optimizer.paramGroups[0].lr], [lrAt(22 / 21)], { rtol: 1e-6 });
  },
);
