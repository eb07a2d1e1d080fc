/**
 * Learning-rate schedulers against PyTorch 1.13 (tests/fixtures/schedulers.json, written by
 * scripts/fixtures_schedulers.py): every step's learning rates (and OneCycleLR's momenta), the state
 * dicts under PyTorch's keys, resuming mid-way from ours or PyTorch's state dict, and bad options.
 */
import { nn, optim, tensor } from "../mod.ts";
import { assertClose, assertEquals, assertOk, assertThrows, dirname, fromFileUrl, join } from "./_std.ts";

type Options = Record<string, unknown>;
interface SchedulerSpec {
  type: string;
  options: Options;
}
interface Case {
  name: string;
  optimizer: { type: "SGD" | "Adam" | "Adadelta"; options: Options };
  groups: number[];
  schedulers: SchedulerSpec[];
  combine: "single" | "chain" | "sequential";
  milestones?: number[];
  metrics?: number[];
  lrs: number[][];
  momenta?: number[][];
  states?: Record<string, Options>;
}

const fixture: { torch: string; steps: number; cases: Case[] } = JSON.parse(
  Deno.readTextFileSync(join(dirname(fromFileUrl(import.meta.url)), "fixtures", "schedulers.json")),
);
const bad = <T>(v: unknown): T => v as T;

/** The same functions as LAMBDAS in scripts/fixtures_schedulers.py. */
const LAMBDAS: Record<string, optim.LrLambda> = {
  "pow0.95": (e) => 0.95 ** e,
  "warmup5": (e) => Math.min(1, (e + 1) / 5),
  "halfEvery4": (e) => 0.5 ** Math.floor(e / 4),
  "invSqrt": (e) => 1 / Math.sqrt(e + 1),
};

type AnyScheduler = optim.LRScheduler | optim.ReduceLROnPlateau | optim.SequentialLR;

function makeOptimizer(c: Case): optim.Optimizer {
  const groups = c.groups.map((lr) => ({ params: [tensor([0], [1], { requiresGrad: true })], lr }));
  const o = c.optimizer.options;
  if (c.optimizer.type === "SGD") return new optim.SGD(groups, bad(o));
  if (c.optimizer.type === "Adam") return new optim.Adam(groups, bad(o));
  return new optim.Adadelta(groups, bad(o));
}

function makeScheduler(opt: optim.Optimizer, { type, options }: SchedulerSpec): AnyScheduler {
  const o = { ...options };
  if (type === "LambdaLR") {
    const names = o.lrLambda as string | string[];
    o.lrLambda = Array.isArray(names) ? names.map((n) => LAMBDAS[n]) : LAMBDAS[names];
  }
  const classes: Record<string, new (opt: optim.Optimizer, opts: never) => AnyScheduler> = {
    StepLR: optim.StepLR,
    MultiStepLR: optim.MultiStepLR,
    ExponentialLR: optim.ExponentialLR,
    CosineAnnealingLR: optim.CosineAnnealingLR,
    LinearLR: optim.LinearLR,
    LambdaLR: optim.LambdaLR,
    OneCycleLR: optim.OneCycleLR,
    ReduceLROnPlateau: optim.ReduceLROnPlateau,
  };
  return new classes[type](opt, o as never);
}

/** The case's optimizer and schedulers as the fixture built them; `top` is null for a chain. */
function build(c: Case): { opt: optim.Optimizer; scheds: AnyScheduler[]; top: AnyScheduler | null } {
  const opt = makeOptimizer(c);
  const scheds = c.schedulers.map((s) => makeScheduler(opt, s));
  const top = c.combine === "sequential"
    ? new optim.SequentialLR(opt, { schedulers: scheds as optim.LRScheduler[], milestones: c.milestones! })
    : c.combine === "single"
    ? scheds[0]
    : null;
  return { opt, scheds, top };
}

/** One epoch: step(metric) for ReduceLROnPlateau, step() of the top scheduler or of every chained one. */
function stepEpoch(c: Case, built: ReturnType<typeof build>, epoch: number): void {
  const { top, scheds } = built;
  if (top instanceof optim.ReduceLROnPlateau) top.step(c.metrics![epoch - 1]);
  else if (top) top.step();
  else for (const s of scheds) (s as optim.LRScheduler).step();
}

const lrsOf = (opt: optim.Optimizer) => opt.paramGroups.map((g) => g.lr);
const momentaOf = (opt: optim.Optimizer) =>
  opt.paramGroups.map((g) => {
    const group = g as unknown as { betas?: number[]; momentum?: number };
    return group.betas ? group.betas[0] : group.momentum!;
  });
const near = (actual: number[], expected: number[], label: string) =>
  assertClose(actual, expected, { atol: 1e-17, rtol: 1e-12, label });

/** Runs epochs `from + 1 ..` to the end, checking each against the fixture. */
function runAndCheck(c: Case, built: ReturnType<typeof build>, from: number, label: string): void {
  for (let epoch = from + 1; epoch < c.lrs.length; epoch++) {
    stepEpoch(c, built, epoch);
    near(lrsOf(built.opt), c.lrs[epoch], `${label}: lrs at epoch ${epoch}`);
    if (built.top) near(built.top.getLastLr(), c.lrs[epoch], `${label}: getLastLr() at epoch ${epoch}`);
    if (c.momenta) near(momentaOf(built.opt), c.momenta[epoch], `${label}: momenta at epoch ${epoch}`);
  }
}

/** The fixture's JSON state dict with PyTorch's non-finite floats ("Infinity", ...) as numbers again. */
function decode(v: unknown): unknown {
  if (v === "Infinity" || v === "-Infinity" || v === "NaN") return Number(v);
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  return v;
}

/** Deep equality, numbers to 1e-12 relative (they come from the same formulas, not the same libm). */
function assertStateClose(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === "number" && typeof actual === "number") {
    if (Number.isFinite(expected)) near([actual], [expected], path);
    else assertEquals(actual, expected, path);
    return;
  }
  if (expected !== null && typeof expected === "object") {
    assertOk(
      actual !== null && typeof actual === "object",
      `${path}: expected an object, got ${JSON.stringify(actual)}`,
    );
    assertEquals(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, v] of Object.entries(expected)) assertStateClose((actual as Options)[k], v, `${path}.${k}`);
    return;
  }
  assertEquals(actual, expected, path);
}

for (const c of fixture.cases) {
  Deno.test(`optim schedulers follow PyTorch ${fixture.torch} step for step: ${c.name}`, () => {
    const built = build(c);
    near(lrsOf(built.opt), c.lrs[0], "lrs after construction");
    if (c.momenta) near(momentaOf(built.opt), c.momenta[0], "momenta after construction");
    const states = new Map<number, Options>();
    for (let epoch = 1; epoch < c.lrs.length; epoch++) {
      stepEpoch(c, built, epoch);
      near(lrsOf(built.opt), c.lrs[epoch], `lrs at epoch ${epoch}`);
      if (built.top) near(built.top.getLastLr(), c.lrs[epoch], `getLastLr() at epoch ${epoch}`);
      if (c.momenta) near(momentaOf(built.opt), c.momenta[epoch], `momenta at epoch ${epoch}`);
      if (c.states?.[epoch]) states.set(epoch, built.top!.stateDict());
    }
    for (const [epoch, sd] of Object.entries(c.states ?? {})) {
      const ours = epoch === "0" ? build(c).top!.stateDict() : states.get(Number(epoch));
      assertStateClose(ours, decode(sd), `stateDict() at epoch ${epoch}`);
    }
  });

  if (!c.states) continue;
  Deno.test(`optim schedulers resume from a state dict mid-way, ours or PyTorch's: ${c.name}`, () => {
    const saved = Object.keys(c.states!).map(Number).filter((k) => k > 0 && k < c.lrs.length - 1);
    assertOk(saved.length > 0, "the fixture saves a state mid-way");
    for (const k of saved) {
      // Ours: run to k, save through JSON-like copies, restore into fresh objects, continue.
      const first = build(c);
      for (let epoch = 1; epoch <= k; epoch++) stepEpoch(c, first, epoch);
      const ours = structuredClone(first.top!.stateDict());
      for (const [label, state] of [["ours", ours], ["PyTorch's", decode(c.states![k]) as Options]] as const) {
        const resumed = build(c);
        resumed.top!.loadStateDict(state);
        // As loading the optimizer's state would: PyTorch keeps the rates (and momenta) in the optimizer.
        resumed.opt.paramGroups.forEach((g, i) => {
          g.lr = c.lrs[k][i];
          const group = g as unknown as { betas?: number[]; momentum?: number };
          if (c.momenta && group.betas) group.betas = [c.momenta[k][i], group.betas[1]];
          else if (c.momenta) group.momentum = c.momenta[k][i];
        });
        near(resumed.top!.getLastLr(), c.lrs[k], `${label} state at epoch ${k}: getLastLr()`);
        runAndCheck(c, resumed, k, `resumed from ${label} state at epoch ${k}`);
      }
    }
  });
}

Deno.test("optim.StepLR stateDict holds PyTorch's keys and StepLR still decays every stepSize steps", () => {
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 1 });
  const sched = new optim.StepLR(opt, { stepSize: 2, gamma: 0.5 });
  for (let i = 0; i < 5; i++) sched.step();
  assertEquals(sched.stateDict(), {
    step_size: 2,
    gamma: 0.5,
    base_lrs: [1],
    last_epoch: 5,
    verbose: false,
    _step_count: 6,
    _get_lr_called_within_step: false,
    _last_lr: [0.25],
  });
  assertEquals(sched.lastEpoch, 5);
});

Deno.test("optim.OneCycleLR refuses to step past totalSteps and leaves its state as it was", () => {
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 1, momentum: 0.9 });
  const sched = new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 4 });
  for (let i = 0; i < 4; i++) sched.step();
  const before = sched.stateDict();
  assertThrows(() => sched.step(), "OneCycleLR: step() called 5 times, past the cycle's totalSteps (4)");
  assertEquals(sched.stateDict(), before);
});

Deno.test("optim.ReduceLROnPlateau takes a one-element tensor as the metric and rejects other shapes", () => {
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 1 });
  const sched = new optim.ReduceLROnPlateau(opt, { patience: 0, factor: 0.5 });
  sched.step(tensor([2], [1]));
  sched.step(tensor([3], []));
  assertEquals(sched.getLastLr(), [0.5]);
  assertEquals(sched.best, 2);
  assertThrows(() => sched.step(tensor([1, 2], [2])), "ReduceLROnPlateau: step(metric)", "shape [2]");
  assertThrows(() => sched.step(bad("0.5")), "ReduceLROnPlateau: step(metric)", '"0.5"');
});

Deno.test("optim.LambdaLR names the group and epoch when lrLambda returns a non-number", () => {
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 1 });
  const sched = new optim.LambdaLR(opt, { lrLambda: (e) => e < 2 ? 1 : NaN });
  sched.step();
  assertThrows(() => sched.step(), "LambdaLR: lrLambda(2) of group 0 returned NaN, expected a finite number");
  assertEquals(sched.lastEpoch, 1);
});

Deno.test("optim schedulers reject bad options, naming the scheduler, the option, the value and what is expected", () => {
  const p = tensor([1], [1], { requiresGrad: true });
  const sgd = () => new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
  const opt = sgd();
  assertThrows(() => new optim.MultiStepLR(opt, bad({ milestones: [2, -1] })), "MultiStepLR: milestones", "[2,-1]");
  assertThrows(() => new optim.MultiStepLR(opt, bad(undefined)), "MultiStepLR: options { milestones, gamma? }");
  assertThrows(() => new optim.MultiStepLR(opt, bad({ milestones: [1], gama: 1 })), 'unknown option "gama"');
  assertThrows(() => new optim.ExponentialLR(opt, bad({})), "ExponentialLR: gamma must be a number ≥ 0, got undefined");
  assertThrows(
    () => new optim.CosineAnnealingLR(opt, { tMax: 0 }),
    "CosineAnnealingLR: tMax must be an integer ≥ 1, got 0",
  );
  assertThrows(
    () => new optim.CosineAnnealingLR(opt, { tMax: 5, etaMin: -1 }),
    "CosineAnnealingLR: etaMin must be a number ≥ 0, got -1",
  );
  assertThrows(() => new optim.LinearLR(opt, { startFactor: 0 }), "LinearLR: startFactor must be a number > 0 and ≤ 1");
  assertThrows(() => new optim.LinearLR(opt, { endFactor: 1.5 }), "LinearLR: endFactor must be a number ≥ 0 and ≤ 1");
  assertThrows(
    () => new optim.LinearLR(opt, { totalIters: 2.5 }),
    "LinearLR: totalIters must be an integer ≥ 1, got 2.5",
  );
  assertThrows(() => new optim.LambdaLR(opt, bad({ lrLambda: 0.5 })), "LambdaLR: lrLambda must be a function", "0.5");
  assertThrows(
    () => new optim.LambdaLR(opt, { lrLambda: [(e) => e, (e) => e] }),
    "LambdaLR: lrLambda must be one value or one per parameter group (1), got 2",
  );
  assertThrows(() => new optim.OneCycleLR(opt, { maxLr: 1 }), "OneCycleLR: the cycle's length is required");
  assertThrows(
    () => new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, epochs: 2 }),
    "OneCycleLR: give either totalSteps or epochs and stepsPerEpoch, not both",
  );
  assertThrows(
    () => new optim.OneCycleLR(opt, { maxLr: 1, epochs: 2, stepsPerEpoch: 0 }),
    "OneCycleLR: stepsPerEpoch must be an integer ≥ 1, got 0",
  );
  assertThrows(
    () => new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, pctStart: 1.2 }),
    "OneCycleLR: pctStart must be a number ≥ 0 and ≤ 1, got 1.2",
  );
  assertThrows(
    () => new optim.OneCycleLR(opt, bad({ maxLr: 1, totalSteps: 10, annealStrategy: "cosine" })),
    'OneCycleLR: annealStrategy must be one of "cos", "linear", got "cosine"',
  );
  assertThrows(
    () => new optim.OneCycleLR(opt, { maxLr: [1, 2], totalSteps: 10 }),
    "OneCycleLR: maxLr must be one value",
  );
  assertThrows(
    () => new optim.OneCycleLR(new optim.Adadelta([p]), { maxLr: 1, totalSteps: 10 }),
    "OneCycleLR: cycleMomentum needs an optimizer with momentum or betas",
    "Adadelta",
    "cycleMomentum: false",
  );
  assertThrows(
    () => new optim.ReduceLROnPlateau(opt, { factor: 1 }),
    "ReduceLROnPlateau: factor must be a number ≥ 0 and < 1, got 1",
  );
  assertThrows(
    () => new optim.ReduceLROnPlateau(opt, bad({ mode: "minimum" })),
    'ReduceLROnPlateau: mode must be one of "min", "max"',
  );
  assertThrows(
    () => new optim.ReduceLROnPlateau(opt, { patience: -1 }),
    "ReduceLROnPlateau: patience must be an integer ≥ 0, got -1",
  );
  assertThrows(
    () => new optim.ReduceLROnPlateau(opt, { minLr: [0, 0] }),
    "ReduceLROnPlateau: minLr must be one value or one per parameter group (1)",
  );
  assertThrows(
    () => new optim.ReduceLROnPlateau(opt, bad({ min_lr: 0 })),
    'ReduceLROnPlateau: unknown option "min_lr"',
    "minLr",
  );
  assertThrows(() => new optim.StepLR(bad({}), { stepSize: 1 }), "StepLR: expected an optimizer");
  const a = new optim.LinearLR(opt), b = new optim.ExponentialLR(opt, { gamma: 0.9 });
  assertThrows(
    () => new optim.SequentialLR(opt, { schedulers: [a, b], milestones: [] }),
    "SequentialLR: milestones must be 1 increasing integers ≥ 1 (one fewer than the 2 schedulers), got []",
  );
  assertThrows(
    () => new optim.SequentialLR(sgd(), { schedulers: [a, b], milestones: [3] }),
    "SequentialLR: schedulers[0] is attached to another optimizer",
  );
  assertThrows(
    () => new optim.SequentialLR(opt, bad({ schedulers: [a, new optim.ReduceLROnPlateau(opt)], milestones: [3] })),
    "SequentialLR: schedulers[1] must be an epoch scheduler",
    "ReduceLROnPlateau",
  );
});

Deno.test("optim schedulers' loadStateDict names a missing, unknown or mistyped key", () => {
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 0.1 });
  const sched = new optim.CosineAnnealingLR(opt, { tMax: 10 });
  const good = sched.stateDict();
  const { T_max: _, ...missing } = good;
  assertThrows(() => sched.loadStateDict(missing), 'CosineAnnealingLR.loadStateDict: missing "T_max"');
  assertThrows(
    () => sched.loadStateDict({ ...good, gamma: 0.5 }),
    'CosineAnnealingLR.loadStateDict: unknown key "gamma"',
  );
  assertThrows(
    () => sched.loadStateDict({ ...good, base_lrs: [0.1, 0.2] }),
    'CosineAnnealingLR.loadStateDict: "base_lrs" must be an array of 1 numbers, got [0.1,0.2]',
  );
  assertThrows(() => sched.loadStateDict({ ...good, last_epoch: "3" }), '"last_epoch" must be an integer, got "3"');
  assertEquals(sched.stateDict(), good, "a failed load changes nothing");
  const plateau = new optim.ReduceLROnPlateau(opt);
  assertThrows(
    () => plateau.loadStateDict({ ...plateau.stateDict(), mode: "up" }),
    'ReduceLROnPlateau.loadStateDict: "mode" must be one of "min", "max", got "up"',
  );
});

Deno.test("optim.CosineAnnealingLR's recursive form carries an outside change of lr, as PyTorch's does", () => {
  // PyTorch 1.13: CosineAnnealingLR(SGD(lr=1), T_max=4); step(); lr *= 0.5; step() → 0.5 · 0.5/0.8535...
  const opt = new optim.SGD([tensor([1], [1], { requiresGrad: true })], { lr: 1 });
  const sched = new optim.CosineAnnealingLR(opt, { tMax: 4 });
  sched.step();
  opt.paramGroups[0].lr *= 0.5;
  sched.step();
  const closed = (e: number) => (1 + Math.cos(Math.PI * e / 4)) / 2;
  near(sched.getLastLr(), [closed(1) * 0.5 * closed(2) / closed(1)], "lr after an outside halving");
});

Deno.test("optim schedulers train a model: OneCycleLR drives SGD's lr and momentum through a real step", () => {
  const model = new nn.Linear(3, 1);
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const sched = new optim.OneCycleLR(opt, { maxLr: 0.5, totalSteps: 4 });
  const x = tensor([1, 2, 3, -1, 0, 1], [2, 3]);
  for (let i = 0; i < 3; i++) {
    opt.zeroGrad();
    model.forward(x).pow(2).sum().backward();
    opt.step();
    sched.step();
  }
  assertOk(model.parameters().every((p) => Array.from(p.toArray() as Float32Array).every(Number.isFinite)));
  near(sched.getLastLr(), [0.5 / 25 / 1e4], "lr at the cycle's last step");
});
