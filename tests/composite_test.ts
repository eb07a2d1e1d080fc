/**
 * The composites of the fused kernels: a backend with only the primitives (the TS reference backend,
 * every fused kernel deleted) runs convolution, pooling, cross-entropy, the optimizers and the seed's
 * training, and gets PyTorch's numbers (the fixtures) and the fused CPU backend's.
 */
import { cpu, F, manualSeed, optim, Tensor, tensor } from "../mod.ts";
import type { Backend, Device, FusedKernels, FusedPasses } from "../src/backend/backend.ts";
import { tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { Net } from "../examples/mnist/net.ts";
import { assertEquals, assertThrows, dirname, fromFileUrl, join, near } from "./_std.ts";

/** Every fused kernel of the contract (the type makes a new one a compile error here until listed). */
const FUSED_KERNELS: Record<keyof FusedKernels, true> = {
  conv2dForward: true,
  conv2dBackwardInput: true,
  conv2dBackwardWeight: true,
  conv2dBackwardBias: true,
  pool2dForward: true,
  pool2dBackward: true,
  reluBackward: true,
  logSoftmaxNllForward: true,
  logSoftmaxNllBackward: true,
  adadeltaStep: true,
  sgdStep: true,
  adamStep: true,
};

/** Every optional multi-op pass (typed: a new pass must be listed here, or this file does not compile). */
const FUSED_PASSES: Record<keyof FusedPasses, true> = {
  conv2dReluMaxPool2dForward: true,
  maxPool2dReluBackward: true,
};

function primitivesOnlyBackend(): Backend {
  const be: Backend = { ...tsReferenceBackend, name: "ts-primitives" } as Backend;
  for (const name of Object.keys(FUSED_KERNELS) as (keyof FusedKernels)[]) delete be[name];
  for (const name of Object.keys(FUSED_PASSES) as (keyof FusedPasses)[]) delete be[name];
  return be;
}

const prim: Device = {
  type: "cpu",
  backend: primitivesOnlyBackend(),
  description: "cpu (TypeScript reference primitives, no fused kernels)",
};

const fixtures = join(dirname(fromFileUrl(import.meta.url)), "fixtures");

interface Values {
  shape: number[];
  data: number[];
}
interface OpCase {
  op: string;
  name: string;
  options: Record<string, unknown>;
  inputs: Record<string, Values>;
  grad_output: Values;
  output: Values;
  grads: Record<string, Values>;
}
const ops: { cases: OpCase[] } = JSON.parse(Deno.readTextFileSync(join(fixtures, "ops.json")));

function runOp(op: string, x: Record<string, Tensor>, options: Record<string, unknown>): Tensor {
  // deno-lint-ignore no-explicit-any
  const o = options as any;
  switch (op) {
    case "conv2d":
      return F.conv2d(x.x, x.w, x.b ?? null, o);
    case "max_pool2d":
      return F.maxPool2d(x.x, o);
    case "avg_pool2d":
      return F.avgPool2d(x.x, o);
    case "sum_pool2d":
      return F.sumPool2d(x.x, o);
    case "cross_entropy":
      return F.crossEntropy(x.logits, x.targets);
  }
  throw new Error(`unknown op ${op}`);
}

/** The op's output and its inputs' gradients on `dev`. */
function forwardBackward(
  dev: Device,
  op: string,
  inputs: Record<string, Values>,
  opts: { options?: Record<string, unknown>; gradOutput?: Values; dtype?: "float32" | "float64" },
): { output: Tensor; grads: Record<string, Tensor> } {
  const x: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    x[k] = k === "targets"
      ? tensor(v.data, v.shape, { dtype: "int32", device: dev })
      : tensor(v.data, v.shape, { dtype: opts.dtype ?? "float32", device: dev, requiresGrad: true });
  }
  const output = runOp(op, x, opts.options ?? {});
  if (opts.gradOutput) {
    output.backward(tensor(opts.gradOutput.data, opts.gradOutput.shape, { dtype: opts.dtype, device: dev }));
  }
  const grads: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(x)) if (t.grad) grads[k] = t.grad;
  return { output, grads };
}

const tolerance = { atol: 1e-5, rtol: 1e-4 };

for (const op of ["conv2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "cross_entropy"]) {
  Deno.test(`${op} without fused kernels matches PyTorch and the fused CPU backend`, async (t) => {
    const cases = ops.cases.filter((c) => c.op === op);
    assertEquals(cases.length > 0, true, `no ${op} cases in ops.json`);
    for (const c of cases) {
      await t.step(c.name, () => {
        const opts = { options: c.options, gradOutput: c.grad_output };
        const got = forwardBackward(prim, op, c.inputs, opts);
        const fusedRun = forwardBackward(cpu, op, c.inputs, opts);
        assertEquals(got.output.device, prim);
        assertEquals([...got.output.shape], c.output.shape);
        near(`${c.name}: output vs PyTorch`, got.output.toArray(), c.output.data, {
          ...tolerance,
          shape: c.output.shape,
        });
        near(`${c.name}: output vs fused`, got.output.toArray(), fusedRun.output.toArray(), tolerance);
        assertEquals(Object.keys(got.grads).sort(), Object.keys(c.grads).sort());
        for (const [k, want] of Object.entries(c.grads)) {
          const g = got.grads[k];
          assertEquals([...g.shape], want.shape, `${c.name}: d${k} shape`);
          near(`${c.name}: d${k} vs PyTorch`, g.toArray(), want.data, { ...tolerance, shape: want.shape });
          near(`${c.name}: d${k} vs fused`, g.toArray(), fusedRun.grads[k].toArray(), tolerance);
        }
      });
    }
  });
}

/** Deterministic values in [-1, 1) (a small LCG), with optional special values planted. */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const filled = (shape: number[], seed: number): Values => ({
  shape,
  data: values(shape.reduce((p, d) => p * d, 1), seed),
});

Deno.test("conv2d without fused kernels matches the fused backend on awkward geometries, float32 and float64", () => {
  const configs = [
    { x: [3, 6, 11, 7], w: [9, 2, 3, 2], options: { stride: [2, 3], padding: [2, 1], dilation: [2, 1], groups: 3 } },
    { x: [1, 4, 5, 13], w: [4, 1, 1, 5], options: { stride: [1, 2], padding: [0, 2], dilation: [1, 3], groups: 4 } },
    { x: [2, 1, 1, 1], w: [5, 1, 1, 1], options: {} },
    { x: [2, 3, 4, 4], w: [2, 3, 4, 4], options: { padding: 3 } },
  ];
  configs.forEach((cfg, i) => {
    const k = cfg.w[0];
    const inputs = { x: filled(cfg.x, 11 + i), w: filled(cfg.w, 23 + i), b: filled([k], 37 + i) };
    const probe = forwardBackward(cpu, "conv2d", inputs, { options: cfg.options }).output;
    const gradOutput = filled([...probe.shape], 41 + i);
    for (const dtype of ["float32", "float64"] as const) {
      const opts = { options: cfg.options, gradOutput, dtype };
      const got = forwardBackward(prim, "conv2d", inputs, opts);
      const want = forwardBackward(cpu, "conv2d", inputs, opts);
      const tol = dtype === "float64" ? { atol: 1e-12, rtol: 1e-10 } : tolerance;
      near(`config ${i} ${dtype}: y`, got.output.toArray(), want.output.toArray(), { ...tol, shape: probe.shape });
      for (const name of ["x", "w", "b"]) {
        near(`config ${i} ${dtype}: d${name}`, got.grads[name].toArray(), want.grads[name].toArray(), tol);
      }
    }
  });
});

Deno.test("pooling without fused kernels matches the fused backend on −∞, NaN, ties and padding", () => {
  const [n, c, h, w] = [2, 3, 7, 6];
  const data = values(n * c * h * w, 5).map((v) => Math.round(v * 3) / 3); // many ties
  // Rows 0–1, columns 0–3 of the first plane are −∞: padded windows there hold nothing else, and the
  // gradient must land on each window's first real position, as the fused kernels put it.
  for (const i of [0, 1, 2, 3, 6, 7, 8, 9]) data[i] = -Infinity;
  data[50] = NaN;
  data[51] = NaN;
  data[100] = Infinity;
  const configs = [
    { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1] },
    { kernelSize: [2, 3], stride: [1, 2], padding: [1, 1] },
    { kernelSize: [3, 2], stride: [3, 1], padding: [0, 1] },
    { kernelSize: [1, 1], stride: [2, 2] },
  ];
  for (const op of ["max_pool2d", "avg_pool2d", "sum_pool2d"]) {
    configs.forEach((options, i) => {
      const inputs = { x: { shape: [n, c, h, w], data } };
      const shape = [...forwardBackward(cpu, op, inputs, { options }).output.shape];
      const opts = { options, gradOutput: filled(shape, 17 + i) };
      const got = forwardBackward(prim, op, inputs, opts);
      const want = forwardBackward(cpu, op, inputs, opts);
      near(`${op} config ${i}: y`, got.output.toArray(), want.output.toArray(), { ...tolerance, shape });
      // Max pooling's gradient lands where the fused kernel's argmax does: the same positions exactly.
      near(`${op} config ${i}: dx`, got.grads.x.toArray(), want.grads.x.toArray(), {
        ...tolerance,
        shape: [n, c, h, w],
      });
    });
  }
});

Deno.test("crossEntropy without fused kernels: an out-of-range target is an error naming its value", () => {
  const logits = tensor(values(12, 3), [3, 4], { device: prim, requiresGrad: true });
  for (const bad of [4, -1]) {
    const targets = tensor([0, bad, 2], [3], { dtype: "int32", device: prim });
    assertThrows(() => F.crossEntropy(logits, targets), "crossEntropy", "out of range", `index ${bad}`, "[0, 4)");
  }
});

interface OptimConfig {
  optimizer: "Adadelta" | "SGD" | "Adam";
  options: Record<string, unknown>;
  p0: Values;
  grads: Values[];
  params: Values[];
}
const optimFx: { configs: OptimConfig[] } = JSON.parse(Deno.readTextFileSync(join(fixtures, "optim.json")));

function optimizer(c: OptimConfig, params: Tensor[]): optim.Optimizer {
  // deno-lint-ignore no-explicit-any
  const o = c.options as any;
  return c.optimizer === "Adadelta"
    ? new optim.Adadelta(params, o)
    : c.optimizer === "SGD"
    ? new optim.SGD(params, o)
    : new optim.Adam(params, o);
}

Deno.test("optimizers without fused kernels follow PyTorch and the fused steps for 20 steps", async (t) => {
  for (const c of optimFx.configs) {
    await t.step(`${c.optimizer} ${JSON.stringify(c.options)}`, () => {
      const p = tensor(c.p0.data, c.p0.shape, { device: prim, requiresGrad: true });
      const ref = tensor(c.p0.data, c.p0.shape, { requiresGrad: true });
      const opt = optimizer(c, [p]), refOpt = optimizer(c, [ref]);
      for (let step = 0; step < 20; step++) {
        const g = c.grads[step % c.grads.length];
        p.grad = tensor(g.data, g.shape, { device: prim });
        ref.grad = tensor(g.data, g.shape);
        opt.step();
        refOpt.step();
        if (step < c.params.length) {
          near(`step ${step + 1} vs PyTorch`, p.toArray(), c.params[step].data, { atol: 1e-6, rtol: 1e-5 });
        }
        near(`step ${step + 1} vs fused`, p.toArray(), ref.toArray(), { atol: 1e-6, rtol: 1e-5, shape: p.shape });
      }
    });
  }
});

Deno.test("the seed's Net trains without fused kernels: 5 steps give the fused backend's losses", () => {
  manualSeed(1);
  const batches = Array.from({ length: 5 }, (_, step) => ({
    x: Tensor.rand([8, 1, 28, 28]).sub(0.1307).div(0.3081),
    target: tensor(Array.from({ length: 8 }, (_, i) => (step * 8 + i) * 7 % 10), [8], { dtype: "int32" }),
  }));
  const train = (dev: Device) => {
    manualSeed(1);
    const model = new Net().to(dev);
    const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
    const losses = batches.map(({ x, target }) => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x.to(dev)), target.to(dev));
      loss.backward();
      opt.step();
      return loss.item();
    });
    return { model, losses };
  };
  const got = train(prim), want = train(cpu);
  assertEquals(got.model.parameters()[0].device, prim);
  near("losses", got.losses, want.losses, { rtol: 1e-5 });
  const params = want.model.parameters();
  got.model.parameters().forEach((p, i) => {
    near(`parameter ${i} after 5 steps`, p.toArray(), params[i].toArray(), { atol: 1e-5, rtol: 1e-4 });
  });
});

Deno.test("the primitives-only backend really has no fused kernels", () => {
  for (const name of Object.keys(FUSED_KERNELS) as (keyof FusedKernels)[]) {
    assertEquals(prim.backend[name], undefined, `${name} is still there`);
  }
});
