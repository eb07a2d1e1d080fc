/**
 * AdamW, RMSprop and Adagrad against PyTorch 1.13 step by step; every optimizer's state dict in
 * PyTorch's layout (after 3 steps, against PyTorch's; loaded from PyTorch's, then 3 more steps;
 * saved and loaded into a fresh optimizer: bit-identical to 6 straight steps); gradient clipping.
 * Each runs on the CPU, on a CPU backend without fused optimizer kernels (the composites), and on
 * the CUDA backend (the emulation build here, the card under gpu_check). The numbers come from
 * scripts/fixtures_optim_more.py.
 */
import { cpu, type Device, memory, optim, type Tensor, tensor } from "../mod.ts";
import type { Backend } from "../src/backend/backend.ts";
import { tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { assertEquals, assertThrows, dirname, fromFileUrl, join, near } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";

interface T {
  shape: number[];
  data: number[];
}
type Options = Record<string, unknown>;
interface Config {
  optimizer: keyof typeof CLASSES;
  options: Options;
  groups: ({ params: number[] } & Options)[] | null;
  p0: T[];
  grads: (T | null)[][];
  params: T[][];
  state_dict: { state: Record<string, Record<string, number | T | null>>; param_groups: Options[] };
}
interface ClipNorm {
  name: string;
  grads: (T | null)[];
  max_norm: number;
  norm_type: number | "inf";
  total_norm: number;
  clipped: (T | null)[];
}
interface ClipValue {
  name: string;
  grads: (T | null)[];
  clip_value: number;
  clipped: (T | null)[];
}
const fx: { configs: Config[]; clip_norm: ClipNorm[]; clip_value: ClipValue[] } = JSON.parse(
  Deno.readTextFileSync(join(dirname(fromFileUrl(import.meta.url)), "fixtures", "optim_more.json")),
);

const CLASSES = {
  Adadelta: optim.Adadelta,
  SGD: optim.SGD,
  Adam: optim.Adam,
  AdamW: optim.AdamW,
  RMSprop: optim.RMSprop,
  Adagrad: optim.Adagrad,
};

/** The CPU reference backend without its fused optimizer steps: Adadelta, SGD, Adam (and AdamW) by composites. */
const composites: Device = {
  type: "cpu",
  backend: (() => {
    const be = { ...tsReferenceBackend, name: "ts-no-fused-optim" } as Backend;
    delete be.adadeltaStep;
    delete be.sgdStep;
    delete be.adamStep;
    return be;
  })(),
  description: "cpu (TypeScript reference, no fused optimizer kernels)",
};

/** Registers `fn` on the CPU, on the composites and on the CUDA backend (skipped without a C++ compiler). */
function onDevices(name: string, fn: (device: Device) => void): void {
  Deno.test(`${name} (cpu)`, () => fn(cpu));
  Deno.test(`${name} (cpu without fused optimizer kernels)`, () => fn(composites));
  Deno.test({ name: `${name} (cuda)`, ignore, fn: () => fn(dev()) });
}

const TOL = { atol: 1e-6, rtol: 1e-5 };
const label = (c: Config) =>
  `${c.optimizer} ${JSON.stringify(c.options)}${c.groups ? " " + JSON.stringify(c.groups) : ""}`;
const leaf = (t: T, device: Device) => tensor(t.data, t.shape, { device, requiresGrad: true });

/** The config's optimizer over `params`, with `override` applied to every group. */
function make(c: Config, params: Tensor[], override: Options = {}): optim.Optimizer {
  const arg = c.groups
    ? c.groups.map(({ params: indices, ...opts }) => ({ params: indices.map((i) => params[i]), ...opts, ...override }))
    : params;
  // deno-lint-ignore no-explicit-any
  return new (CLASSES[c.optimizer] as any)(arg, { ...c.options, ...override });
}

/** Sets each parameter's gradient to the fixture's (or none) for step `step` (from 0). */
function setGrads(c: Config, params: Tensor[], step: number, device: Device): void {
  params.forEach((p, i) => {
    const g = c.grads[step][i];
    p.grad?.dispose();
    p.grad = g ? tensor(g.data, g.shape, { device }) : null;
  });
}

/** The state dict against PyTorch's: the same keys, steps and hyper-parameters, and close buffers. */
function checkStateDict(what: string, got: optim.OptimizerStateDict, want: Config["state_dict"]): void {
  assertEquals(Object.keys(got.state).sort(), Object.keys(want.state).sort(), `${what}: parameters with state`);
  for (const [index, entry] of Object.entries(want.state)) {
    const mine = got.state[Number(index)];
    assertEquals(Object.keys(mine).sort(), Object.keys(entry).sort(), `${what}: state ${index} keys`);
    for (const [key, v] of Object.entries(entry)) {
      if (v === null || typeof v === "number") assertEquals(mine[key], v, `${what}: state ${index} ${key}`);
      else {
        const t = mine[key] as Tensor;
        assertEquals([...t.shape], v.shape, `${what}: state ${index} ${key} shape`);
        near(`${what}: state ${index} ${key}`, t.toArray(), v.data, { ...TOL, shape: v.shape });
      }
    }
  }
  const sorted = (g: Options) => Object.fromEntries(Object.entries(g).sort(([a], [b]) => a < b ? -1 : 1));
  assertEquals(got.param_groups.map(sorted), want.param_groups.map(sorted), `${what}: param_groups`);
}

onDevices("AdamW, RMSprop, Adagrad (and every optimizer's state dict) follow PyTorch for 6 steps", (device) => {
  for (const c of fx.configs) {
    const params = c.p0.map((t) => leaf(t, device));
    const opt = make(c, params);
    for (let step = 0; step < c.params.length; step++) {
      setGrads(c, params, step, device);
      opt.step();
      params.forEach((p, i) => {
        const want = c.params[step][i];
        near(`${label(c)}: parameter ${i} after step ${step + 1}`, p.toArray(), want.data, {
          ...TOL,
          shape: want.shape,
        });
      });
      if (step + 1 === 3) checkStateDict(`${label(c)} after 3 steps`, opt.stateDict(), c.state_dict);
    }
  }
});

/** A state dict of fixture values as tensors on `device`. */
function fromFixture(sd: Config["state_dict"], device: Device): optim.OptimizerStateDict {
  const state: optim.OptimizerStateDict["state"] = {};
  for (const [index, entry] of Object.entries(sd.state)) {
    state[Number(index)] = Object.fromEntries(
      Object.entries(entry).map((
        [k, v],
      ) => [k, v === null || typeof v === "number" ? v : tensor(v.data, v.shape, { device })]),
    );
  }
  return { state, param_groups: sd.param_groups as optim.ParamGroupState[] };
}

onDevices("loadStateDict takes PyTorch's state dict after 3 steps: the next 3 steps give PyTorch's", (device) => {
  for (const c of fx.configs) {
    const params = c.params[2].map((t) => leaf(t, device));
    const opt = make(c, params, { lr: 123 }); // the dict's lr must win
    opt.loadStateDict(fromFixture(c.state_dict, device));
    for (let step = 3; step < c.params.length; step++) {
      setGrads(c, params, step, device);
      opt.step();
      params.forEach((p, i) => {
        const want = c.params[step][i];
        near(`${label(c)}: parameter ${i} after step ${step + 1}`, p.toArray(), want.data, {
          ...TOL,
          shape: want.shape,
        });
      });
    }
  }
});

/** Runs steps [from, to) of `c` with the learning rates halved after step 2 (what a scheduler does). */
function train(c: Config, params: Tensor[], opt: optim.Optimizer, from: number, to: number, device: Device): void {
  for (let step = from; step < to; step++) {
    setGrads(c, params, step, device);
    opt.step();
    if (step === 1) { for (const g of opt.paramGroups) g.lr /= 2; }
  }
}

/** The state dict with every tensor copied to the CPU, as a checkpoint file would hold it. */
function toCpu(sd: optim.OptimizerStateDict): optim.OptimizerStateDict {
  const state: optim.OptimizerStateDict["state"] = {};
  for (const [index, entry] of Object.entries(sd.state)) {
    state[Number(index)] = Object.fromEntries(
      Object.entries(entry).map((
        [k, v],
      ) => [k, v === null || typeof v === "number" ? v : tensor(v.toArray(), v.shape)]),
    );
  }
  return { state, param_groups: JSON.parse(JSON.stringify(sd.param_groups)) };
}

onDevices(
  "stateDict round trip: 3 steps, save, load into a fresh optimizer, 3 more == 6 straight, bit for bit",
  (device) => {
    for (const c of fx.configs) {
      for (const viaCpu of [false, true]) {
        const straight = c.p0.map((t) => leaf(t, device));
        train(c, straight, make(c, straight), 0, 6, device);

        const first = c.p0.map((t) => leaf(t, device));
        const firstOpt = make(c, first);
        train(c, first, firstOpt, 0, 3, device);
        const saved = viaCpu ? toCpu(firstOpt.stateDict()) : firstOpt.stateDict();
        const resumed = first.map((p) => leaf({ shape: [...p.shape], data: Array.from(p.toArray()) }, device));
        const opt = make(c, resumed, { lr: 123 });
        opt.loadStateDict(saved);
        firstOpt.zeroGrad();
        train(c, first, firstOpt, 3, 4, device); // the source keeps training: the loaded state is a copy
        train(c, resumed, opt, 3, 6, device);
        resumed.forEach((p, i) =>
          assertEquals(Array.from(p.toArray()), Array.from(straight[i].toArray()), `${label(c)} parameter ${i}`)
        );
      }
    }
  },
);

onDevices("the new optimizers free their temporaries: the tensor count is flat over steps", (device) => {
  for (const c of fx.configs) {
    const params = c.p0.map((t) => leaf(t, device));
    const opt = make(c, params);
    setGrads(c, params, 0, device);
    opt.step(); // creates the state
    const before = memory().tensors;
    for (let i = 0; i < 3; i++) opt.step();
    assertEquals(memory().tensors, before, `${label(c)}: tensors after 3 more steps`);
  }
});

/** Parameters whose gradients are the fixture's (null: no gradient). */
function withGrads(grads: (T | null)[], device: Device): Tensor[] {
  return grads.map((g) => {
    const p = tensor([0], [1], { device, requiresGrad: true });
    p.grad = g ? tensor(g.data, g.shape, { device }) : null;
    return p;
  });
}

function checkClipped(what: string, params: Tensor[], clipped: (T | null)[]): void {
  params.forEach((p, i) => {
    const want = clipped[i];
    if (want === null) return assertEquals(p.grad, null, `${what}: parameter ${i} has no gradient`);
    assertEquals([...p.grad!.shape], want.shape, `${what}: gradient ${i} shape`);
    near(`${what}: gradient ${i}`, p.grad!.toArray(), want.data, { ...TOL, shape: want.shape });
  });
}

onDevices("clipGradNorm and clipGradValue give PyTorch's norms and gradients", (device) => {
  for (const c of fx.clip_norm) {
    const params = withGrads(c.grads, device);
    const normType = c.norm_type === "inf" ? Infinity : c.norm_type;
    const total = optim.clipGradNorm(params, c.max_norm, { normType });
    near(`${c.name}: total norm`, [total], [c.total_norm], TOL);
    checkClipped(c.name, params, c.clipped);
  }
  for (const c of fx.clip_value) {
    const params = withGrads(c.grads, device);
    optim.clipGradValue(params, c.clip_value);
    checkClipped(c.name, params, c.clipped);
  }
});

Deno.test("clipGradNorm takes a single tensor, returns 0 without gradients, and checks its arguments", () => {
  const w = tensor([0, 0], [2], { requiresGrad: true });
  assertEquals(optim.clipGradNorm(w, 1), 0);
  w.grad = tensor([3, 4]);
  near("total", [optim.clipGradNorm(w, 1)], [5], TOL);
  near("clipped", w.grad.toArray(), [0.6, 0.8], TOL);
  w.grad = tensor([NaN, 1]);
  assertThrows(() => optim.clipGradNorm([w], 1, { errorIfNonfinite: true }), "clipGradNorm", "NaN", "errorIfNonfinite");
  assertEquals(Array.from(w.grad.toArray()), [NaN, 1]);
  assertThrows(() => optim.clipGradNorm([w], -1), "clipGradNorm: maxNorm must be a number ≥ 0, got -1");
  assertThrows(() => optim.clipGradNorm([w], 1, { normType: 0 }), "normType must be a number > 0 or Infinity, got 0");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => optim.clipGradNorm([w], 1, { norm: 2 } as any), 'clipGradNorm: unknown option "norm"');
  // deno-lint-ignore no-explicit-any
  assertThrows(() => optim.clipGradNorm(5 as any, 1), "clipGradNorm: params must be a Tensor or an iterable");
  assertThrows(() => optim.clipGradValue([w], NaN), "clipGradValue: clipValue must be a number ≥ 0, got null");
});

Deno.test("AdamW, RMSprop and Adagrad check their options", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  assertThrows(() => new optim.AdamW([w], { lr: -1 }), "AdamW: lr must be a number ≥ 0, got -1");
  assertThrows(() => new optim.AdamW([w], { betas: [0.9, 1] }), "AdamW: betas[1] must be a number in [0, 1), got 1");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new optim.AdamW([w], { weight_decay: 0.1 } as any), 'AdamW: unknown option "weight_decay"');
  assertThrows(() => new optim.RMSprop([w], { alpha: -0.5 }), "RMSprop: alpha must be a number ≥ 0, got -0.5");
  assertThrows(() => new optim.RMSprop([w], { momentum: NaN }), "RMSprop: momentum must be a number ≥ 0, got NaN");
  assertThrows(() => new optim.Adagrad([w], { lrDecay: -1 }), "Adagrad: lrDecay must be a number ≥ 0, got -1");
  assertThrows(
    () => new optim.Adagrad([w], { initialAccumulatorValue: -1 }),
    "Adagrad: initialAccumulatorValue must be a number ≥ 0, got -1",
  );
});

Deno.test("loadStateDict refuses a state dict that does not fit, and changes nothing then", () => {
  const a = tensor([1, 2, 3], [3], { requiresGrad: true }), b = tensor([4, 5], [2], { requiresGrad: true });
  const opt = new optim.Adam([a, b], { lr: 0.1 });
  a.grad = tensor([1, 1, 1]);
  b.grad = tensor([1, -1]);
  opt.step();
  const good = () => opt.stateDict();
  const load = (edit: (sd: optim.OptimizerStateDict) => void) => () => {
    const sd = good();
    edit(sd);
    opt.loadStateDict(sd);
  };
  assertThrows(
    load((sd) => sd.param_groups.push({ ...sd.param_groups[0] })),
    "Adam.loadStateDict: the state dict has 2 parameter groups, this optimizer 1",
  );
  assertThrows(
    load((sd) => sd.param_groups[0].params.pop()),
    "Adam.loadStateDict: parameter group 0 has 1 parameters in the state dict, 2 here",
  );
  assertThrows(load((sd) => delete sd.param_groups[0].eps), "parameter group 0: missing key eps");
  assertThrows(load((sd) => sd.param_groups[0].rho = 0.9), "parameter group 0: unknown keys rho");
  assertThrows(load((sd) => sd.param_groups[0].maximize = true), "maximize is not supported");
  assertThrows(load((sd) => sd.param_groups[0].amsgrad = 1), "amsgrad must be like false, got 1");
  assertThrows(load((sd) => sd.param_groups[0].lr = -1), "parameter group 0: Adam: lr must be a number ≥ 0, got -1");
  assertThrows(load((sd) => sd.param_groups[0].amsgrad = true), "state 0: missing max_exp_avg_sq");
  assertThrows(load((sd) => sd.state[0].square_avg = 1), "state 0: unknown square_avg");
  assertThrows(load((sd) => delete sd.state[1].step), "state 1: missing step");
  assertThrows(load((sd) => sd.state[1].step = 1.5), "state 1: step must be an integer ≥ 0, got 1.5");
  assertThrows(
    load((sd) => sd.state[1].exp_avg = tensor([1, 2, 3])),
    "state 1: exp_avg is [3] float32, expected a float tensor of the parameter's shape [2]",
  );
  assertThrows(load((sd) => sd.state[5] = sd.state[0]), "state for parameter 5, but the groups list 0, 1");
  // Nothing changed: the next step is the one the untouched optimizer takes.
  assertEquals(opt.paramGroups[0].lr, 0.1);
  assertEquals(opt.stateDict().state[0].step, 1);
  // PyTorch's implementation switches are accepted and ignored.
  const sd = good();
  Object.assign(sd.param_groups[0], {
    foreach: null,
    maximize: false,
    capturable: false,
    differentiable: false,
    fused: false,
  });
  opt.loadStateDict(sd);
});

Deno.test("stateDict: SGD keeps momentum_buffer null without momentum and no step, as PyTorch", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  const opt = new optim.SGD([w], { lr: 0.1 });
  assertEquals(opt.stateDict(), {
    state: {},
    param_groups: [{ lr: 0.1, momentum: 0, dampening: 0, weight_decay: 0, nesterov: false, params: [0] }],
  });
  w.grad = tensor([1, 1]);
  opt.step();
  assertEquals(opt.stateDict().state, { 0: { momentum_buffer: null } });
});

Deno.test("Adagrad: each group's initialAccumulatorValue starts its sums", () => {
  const a = tensor([1, 2], [2], { requiresGrad: true }), b = tensor([3], [1], { requiresGrad: true });
  const opt = new optim.Adagrad([{ params: [a] }, { params: [b], initialAccumulatorValue: 2 }], {
    initialAccumulatorValue: 0.5,
  });
  a.grad = tensor([1, -1]);
  b.grad = tensor([3]);
  opt.step();
  const { state } = opt.stateDict();
  assertEquals(Array.from((state[0].sum as Tensor).toArray()), [1.5, 1.5]);
  assertEquals(Array.from((state[1].sum as Tensor).toArray()), [11]);
});

Deno.test("stateDict carries a scheduler's initial_lr, as PyTorch's, and loadStateDict restores it", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  const opt = new optim.SGD([w], { lr: 0.1 });
  assertEquals("initial_lr" in opt.stateDict().param_groups[0], false);
  const sched = new optim.StepLR(opt, { stepSize: 1, gamma: 0.5 });
  opt.step();
  sched.step();
  const saved = opt.stateDict();
  assertEquals([saved.param_groups[0].lr, saved.param_groups[0].initial_lr], [0.05, 0.1]);
  const fresh = new optim.SGD([tensor([1, 2], [2], { requiresGrad: true })], { lr: 1 });
  fresh.loadStateDict({ ...saved, param_groups: [{ ...saved.param_groups[0], max_lr: 1, min_lr: 0 }] });
  assertEquals(fresh.paramGroups[0].lr, 0.05);
  assertEquals(new optim.StepLR(fresh, { stepSize: 1 }).baseLrs, [0.1]);
});
