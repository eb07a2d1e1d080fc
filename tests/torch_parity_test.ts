/**
 * convnet against PyTorch 1.13: forward values and gradients of every layer op, the update rules of
 * every optimizer, and 20 training steps of the seed's network; the layer ops on the CPU and on the
 * CUDA backend (the emulation build here). The numbers come from
 * `scripts/gen_fixtures.py` (run with Debian's python3-torch); the fixtures are committed.
 */
import { type Device, F, manualSeed, nn, optim, Tensor, tensor } from "../mod.ts";
import { devices } from "./_op_cases.ts";
import { assertClose, assertEquals, dirname, fromFileUrl, join } from "./_std.ts";
import { Net } from "../examples/mnist/net.ts";

const fixtures = join(dirname(fromFileUrl(import.meta.url)), "fixtures");

interface T {
  shape: number[];
  data: number[];
}
interface OpCase {
  op: string;
  name: string;
  options: Record<string, unknown>;
  inputs: Record<string, T>;
  grad_output: T;
  output: T;
  grads: Record<string, T>;
}

const ops: { cases: OpCase[] } = JSON.parse(Deno.readTextFileSync(join(fixtures, "ops.json")));

const leaf = (t: T, device?: Device) => tensor(t.data, t.shape, { requiresGrad: true, device });

function run(c: OpCase, x: Record<string, Tensor>): Tensor {
  // deno-lint-ignore no-explicit-any
  const o = c.options as any;
  switch (c.op) {
    case "conv2d":
      return F.conv2d(x.x, x.w, x.b ?? null, o);
    case "max_pool2d":
      return F.maxPool2d(x.x, o);
    case "avg_pool2d":
      return F.avgPool2d(x.x, o);
    case "sum_pool2d":
      return F.sumPool2d(x.x, o);
    case "linear":
      return F.linear(x.x, x.w, x.b ?? null);
    case "relu":
      return F.relu(x.x);
    case "cross_entropy":
      return F.crossEntropy(x.logits, x.targets);
  }
  throw new Error(`unknown op ${c.op} in ops.json`);
}

for (const op of ["conv2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "linear", "relu", "cross_entropy"]) {
  Deno.test(`F.${op} matches PyTorch's values and gradients`, async (t) => {
    const cases = ops.cases.filter((c) => c.op === op);
    assertEquals(cases.length > 0, true, `no ${op} cases in ops.json`);
    for (const device of devices()) {
      for (const c of cases) {
        await t.step(device.type === "cpu" ? c.name : `${c.name} (${device.type})`, () => {
          const inputs: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(c.inputs)) {
            inputs[k] = k === "targets" ? tensor(v.data, v.shape, { dtype: "int32", device }) : leaf(v, device);
          }
          const y = run(c, inputs);
          assertEquals([...y.shape], c.output.shape);
          assertClose(y.toArray(), c.output.data, { atol: 1e-5, rtol: 1e-4, label: `${c.name}: output` });
          y.backward(tensor(c.grad_output.data, c.grad_output.shape, { device }));
          for (const [k, g] of Object.entries(c.grads)) {
            const got = inputs[k].grad;
            assertEquals(got !== null, true, `${c.name}: no gradient for ${k}`);
            assertEquals([...got!.shape], g.shape);
            assertClose(got!.toArray(), g.data, { atol: 1e-5, rtol: 1e-4, label: `${c.name}: d${k}` });
          }
        });
      }
    }
  });
}

interface OptimConfig {
  optimizer: "Adadelta" | "SGD" | "Adam";
  options: Record<string, unknown>;
  p0: T;
  grads: T[];
  params: T[];
}
const optimFx: {
  configs: OptimConfig[];
  step_lr: { lr: number; stepSize: number; gamma: number; last_lrs: number[] };
} = JSON.parse(Deno.readTextFileSync(join(fixtures, "optim.json")));

Deno.test("optim.Adadelta, SGD and Adam follow PyTorch's update rules step by step", async (t) => {
  for (const c of optimFx.configs) {
    await t.step(`${c.optimizer} ${JSON.stringify(c.options)}`, () => {
      const p = leaf(c.p0);
      // deno-lint-ignore no-explicit-any
      const o = c.options as any;
      const opt = c.optimizer === "Adadelta"
        ? new optim.Adadelta([p], o)
        : c.optimizer === "SGD"
        ? new optim.SGD([p], o)
        : new optim.Adam([p], o);
      c.grads.forEach((g, i) => {
        p.grad = tensor(g.data, g.shape);
        opt.step();
        assertClose(p.toArray(), c.params[i].data, { atol: 1e-6, rtol: 1e-5, label: `step ${i + 1}` });
      });
    });
  }
});

Deno.test("optim.StepLR decays the learning rate as PyTorch's StepLR does", () => {
  const { lr, stepSize, gamma, last_lrs } = optimFx.step_lr;
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr });
  const sched = new optim.StepLR(opt, { stepSize, gamma });
  const got = last_lrs.map(() => {
    sched.step();
    return sched.getLastLr()[0];
  });
  assertEquals(got, last_lrs);
});

interface NetFixture {
  seed: number;
  steps: number;
  batch: number;
  epoch_steps: number;
  init: Record<string, { shape: number[]; sum: number; first: number[] }>;
  losses: number[];
  lrs: number[];
  final: { file: string; params: { name: string; shape: number[]; offset: number; sum: number; first: number[] }[] };
}

/** Replays gen_fixtures.py's 20 steps: Adadelta(lr 1) + StepLR(1, 0.7) stepped every 5 steps. */
function trainSeedNet(
  fx: NetFixture,
): { model: Net; losses: number[]; lrs: number[]; init: Record<string, Float32Array> } {
  manualSeed(fx.seed);
  const model = new Net();
  const init: Record<string, Float32Array> = {};
  for (const [name, p] of model.namedParameters()) init[name] = p.toArray() as Float32Array;
  const criterion = new nn.CrossEntropyLoss();
  const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
  const sched = new optim.StepLR(opt, { stepSize: 1, gamma: 0.7 });
  const losses: number[] = [], lrs: number[] = [];
  for (let step = 0; step < fx.steps; step++) {
    const x = Tensor.rand([fx.batch, 1, 28, 28]).sub(0.1307).div(0.3081);
    const target = tensor(Array.from({ length: fx.batch }, (_, i) => ((step * fx.batch + i) * 7) % 10), [fx.batch], {
      dtype: "int32",
    });
    lrs.push(opt.paramGroups[0].lr);
    opt.zeroGrad();
    const loss = criterion.forward(model.forward(x), target);
    loss.backward();
    opt.step();
    losses.push(loss.item());
    if ((step + 1) % fx.epoch_steps === 0) sched.step();
  }
  return { model, losses, lrs, init };
}

const netFx: NetFixture = JSON.parse(Deno.readTextFileSync(join(fixtures, "net_adadelta.json")));

Deno.test("nn.Conv2d and nn.Linear initialise exactly as PyTorch does from the same seed", () => {
  manualSeed(netFx.seed);
  const model = new Net();
  assertEquals(model.namedParameters().map(([n]) => n), Object.keys(netFx.init));
  for (const [name, p] of model.namedParameters()) {
    const want = netFx.init[name];
    assertEquals([...p.shape], want.shape);
    const v = p.toArray();
    // Bit-identical: the same MT19937 draws, rounded the same way.
    assertEquals(Array.from(v.slice(0, want.first.length)), want.first.map(Math.fround), `${name}: first values`);
    assertClose([Array.from(v).reduce((s, x) => s + x, 0)], [want.sum], {
      atol: 1e-9,
      rtol: 1e-12,
      label: `${name}: sum`,
    });
  }
});

Deno.test("the seed's Net under Adadelta + StepLR matches PyTorch's losses and weights for 20 steps", () => {
  const { model, losses, lrs } = trainSeedNet(netFx);
  assertClose(losses, netFx.losses, { atol: 0, rtol: 1e-4, label: "losses" });
  assertClose(lrs, netFx.lrs, { atol: 0, rtol: 1e-12, label: "learning rates" });
  const bin = Deno.readFileSync(join(fixtures, netFx.final.file));
  const all = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
  const params = new Map(model.namedParameters());
  for (const spec of netFx.final.params) {
    const p = params.get(spec.name)!;
    assertEquals([...p.shape], spec.shape);
    const want = all.subarray(spec.offset, spec.offset + p.size);
    // Relative error 1e-4 of the tensor's scale: weights near zero are compared on that scale.
    const scale = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    assertClose(p.toArray(), want, { atol: 1e-4 * scale, rtol: 1e-4, label: `${spec.name} after 20 steps` });
  }
});

Deno.test("the same seed gives bit-identical weights and losses on every run", () => {
  const a = trainSeedNet({ ...netFx, steps: 6 });
  const b = trainSeedNet({ ...netFx, steps: 6 });
  assertEquals(a.losses, b.losses);
  const pb = new Map(b.model.namedParameters());
  for (const [name, p] of a.model.namedParameters()) {
    assertEquals(p.toArray(), pb.get(name)!.toArray(), `${name} differs between runs`);
  }
});
