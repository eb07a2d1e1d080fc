/**
 * Finite-difference gradient checks in float64: for every op, the analytic gradient that
 * `backward()` accumulates must match central differences of Σ fn(inputs) · g for a random
 * upstream gradient g, on many awkward configurations.
 */
import { F, Generator, noGrad, Tensor, tensor } from "../mod.ts";
import type { Size2 } from "../src/tensor/functional.ts";
import { assertClose, assertOk } from "./_std.ts";

const H = 1e-6;
const ATOL = 1e-6;
const RTOL = 1e-5;
const MAX_SAMPLES = 60;

interface GradcheckOptions {
  /** Names the op and configuration in failure messages. */
  label: string;
  /** Seed of the upstream gradient and of the element sample. */
  seed?: number;
}

/** Σ out · g on the host, in float64. */
function dot(out: Tensor, g: ArrayLike<number>): number {
  const o = out.toArray();
  let s = 0;
  for (let i = 0; i < o.length; i++) s += o[i] * g[i];
  return s;
}

/**
 * Checks the gradients `backward()` gives every float input that requires grad against
 * central differences (step {@linkcode H}), on every element or a seeded sample of
 * {@linkcode MAX_SAMPLES} of them.
 */
function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions): void {
  const gen = new Generator(opts.seed ?? 1234);
  const out = fn(...inputs);
  assertOk(out.dtype === "float64", `${opts.label}: output is ${out.dtype}, expected float64`);
  assertOk(out.requiresGrad, `${opts.label}: output does not require grad`);
  const g = Tensor.randn(out.shape, { dtype: "float64", generator: gen });
  const gHost = g.toArray();
  out.backward(g);

  inputs.forEach((x, i) => {
    if (x.dtype === "int32" || !x.requiresGrad) return;
    assertOk(x.grad !== null, `${opts.label}: input ${i} ${x} got no gradient`);
    const analytic = x.grad.toArray();
    const base = Float64Array.from(x.toArray());
    const idx = base.length <= MAX_SAMPLES
      ? Array.from(base.keys())
      : Array.from(gen.permutation(base.length).subarray(0, MAX_SAMPLES));
    const numeric: number[] = [];
    const picked: number[] = [];
    const f = (j: number, delta: number): number => {
      const v = base.slice();
      v[j] += delta;
      const xp = tensor(v, x.shape, { dtype: "float64" });
      const args = inputs.map((t, k) => (k === i ? xp : t));
      const y = noGrad(() => fn(...args));
      const s = dot(y, gHost);
      y.dispose();
      xp.dispose();
      return s;
    };
    for (const j of idx) {
      numeric.push((f(j, H) - f(j, -H)) / (2 * H));
      picked.push(analytic[j]);
    }
    assertClose(picked, numeric, {
      atol: ATOL,
      rtol: RTOL,
      label: `${opts.label}, input ${i} ${x} (elements ${idx.slice(0, 8).join(", ")}${idx.length > 8 ? ", ..." : ""})`,
    });
  });
}

// ---- inputs ----

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Standard normal float64 leaf that requires grad. */
function randn(shape: number[], gen: Generator): Tensor {
  return Tensor.randn(shape, { dtype: "float64", generator: gen, requiresGrad: true });
}

/**
 * Distinct values far from kinks: a random permutation scaled to steps of 0.1 around 0
 * (so |v| ≥ 0.03 and any two differ by ≥ 0.06), plus noise. For relu and max pooling.
 */
function distinct(shape: number[], gen: Generator): Tensor {
  const n = numel(shape);
  const perm = gen.permutation(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = (perm[i] - n / 2 + 0.5) * 0.1 + (gen.random() - 0.5) * 0.04;
  return tensor(v, shape, { dtype: "float64", requiresGrad: true });
}

/** Values in [0.5, 2): safe for log, division and fractional powers. */
function positive(shape: number[], gen: Generator): Tensor {
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = 0.5 + 1.5 * gen.random();
  return tensor(v, shape, { dtype: "float64", requiresGrad: true });
}

// ---- conv2d ----

interface ConvConfig {
  n: number;
  c: number;
  k: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
  groups?: number;
  bias: boolean;
}

const convConfigs: ConvConfig[] = [
  { n: 1, c: 1, k: 2, h: 5, w: 5, kh: 3, kw: 3, bias: true },
  { n: 3, c: 2, k: 3, h: 7, w: 9, kh: 3, kw: 3, stride: 2, padding: 1, bias: true },
  { n: 1, c: 3, k: 4, h: 7, w: 9, kh: 2, kw: 3, stride: 3, padding: 2, bias: false },
  { n: 2, c: 2, k: 2, h: 5, w: 4, kh: 3, kw: 1, padding: [1, 0], bias: true },
  { n: 1, c: 4, k: 6, h: 5, w: 4, kh: 1, kw: 1, bias: true },
  { n: 1, c: 6, k: 6, h: 7, w: 9, kh: 3, kw: 3, padding: 1, groups: 3, bias: true },
  { n: 3, c: 2, k: 4, h: 7, w: 9, kh: 3, kw: 3, padding: 2, dilation: 2, groups: 2, bias: true },
  { n: 1, c: 3, k: 3, h: 7, w: 9, kh: 2, kw: 3, stride: [2, 1], dilation: [2, 1], bias: true },
  { n: 1, c: 1, k: 2, h: 1, w: 1, kh: 1, kw: 1, bias: true },
  { n: 2, c: 1, k: 3, h: 1, w: 1, kh: 3, kw: 3, padding: 1, bias: true },
  { n: 1, c: 2, k: 2, h: 5, w: 4, kh: 3, kw: 3, stride: 2, padding: 1, dilation: 2, bias: false },
  { n: 3, c: 6, k: 3, h: 5, w: 4, kh: 2, kw: 3, stride: [1, 2], groups: 3, bias: true },
  { n: 1, c: 4, k: 2, h: 7, w: 9, kh: 3, kw: 1, stride: 3, padding: [1, 0], dilation: 2, groups: 2, bias: false },
  { n: 2, c: 3, k: 6, h: 5, w: 5, kh: 3, kw: 3, stride: 2, groups: 3, bias: true },
  { n: 1, c: 2, k: 5, h: 9, w: 7, kh: 2, kw: 3, stride: 2, padding: 1, bias: true },
  { n: 1, c: 5, k: 5, h: 6, w: 6, kh: 3, kw: 3, padding: 1, groups: 5, bias: true },
  { n: 3, c: 1, k: 1, h: 7, w: 9, kh: 3, kw: 3, stride: 3, padding: 2, dilation: 2, bias: true },
  { n: 1, c: 2, k: 4, h: 4, w: 5, kh: 4, kw: 5, bias: true },
];

function convLabel(cfg: ConvConfig): string {
  const { n, c, h, w, k, kh, kw, stride = 1, padding = 0, dilation = 1, groups = 1, bias } = cfg;
  const s = (v: Size2) => JSON.stringify(v);
  return `conv2d x [${n}, ${c}, ${h}, ${w}] w [${k}, ${c / groups}, ${kh}, ${kw}] stride ${s(stride)} ` +
    `padding ${s(padding)} dilation ${s(dilation)} groups ${groups}${bias ? " +bias" : ""}`;
}

Deno.test("F.conv2d gradients match finite differences over strides, paddings, dilations, groups", async (t) => {
  for (const [i, cfg] of convConfigs.entries()) {
    const label = convLabel(cfg);
    await t.step(label, () => {
      const gen = new Generator(100 + i);
      const groups = cfg.groups ?? 1;
      const x = randn([cfg.n, cfg.c, cfg.h, cfg.w], gen);
      const w = randn([cfg.k, cfg.c / groups, cfg.kh, cfg.kw], gen);
      const inputs = cfg.bias ? [x, w, randn([cfg.k], gen)] : [x, w];
      const opts = { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation, groups: cfg.groups };
      gradcheck((x, w, b) => F.conv2d(x, w, b ?? null, opts), inputs, { label, seed: i });
    });
  }
});

// ---- pooling ----

interface PoolConfig {
  shape: [number, number, number, number];
  kernelSize: Size2;
  stride?: Size2;
  padding?: Size2;
}

const poolConfigs: PoolConfig[] = [
  { shape: [1, 2, 5, 5], kernelSize: 2 },
  { shape: [2, 1, 5, 7], kernelSize: 3, stride: 1, padding: 1 },
  { shape: [1, 2, 5, 7], kernelSize: [2, 3], stride: [1, 2], padding: 1 },
  { shape: [1, 1, 7, 9], kernelSize: 3, stride: 2 },
  { shape: [3, 1, 3, 5], kernelSize: 2, stride: 1, padding: 1 },
  { shape: [1, 3, 7, 7], kernelSize: [2, 3] },
  { shape: [2, 2, 1, 1], kernelSize: 3, stride: 2, padding: 1 },
];

const pools = [
  ["maxPool2d", F.maxPool2d],
  ["avgPool2d", F.avgPool2d],
  ["sumPool2d", F.sumPool2d],
] as const;

for (const [name, pool] of pools) {
  Deno.test(`F.${name} gradients match finite differences over kernels, strides and paddings`, async (t) => {
    for (const [i, cfg] of poolConfigs.entries()) {
      const { shape, ...opts } = cfg;
      const label = `${name} x ${JSON.stringify(shape)} ${JSON.stringify(opts)}`;
      await t.step(label, () => {
        // Distinct values: no ties within a max-pooling window.
        const x = distinct(shape, new Generator(200 + i));
        gradcheck((x) => pool(x, opts), [x], { label, seed: i });
      });
    }
  });
}

// ---- linear, relu, crossEntropy ----

Deno.test("F.linear gradients match finite differences with and without bias", async (t) => {
  const configs: { x: number[]; out: number; bias: boolean }[] = [
    { x: [4, 5], out: 3, bias: true },
    { x: [4, 5], out: 3, bias: false },
    { x: [1, 7], out: 1, bias: true },
    { x: [1, 3], out: 6, bias: false },
    { x: [2, 3, 5], out: 4, bias: true },
  ];
  for (const [i, cfg] of configs.entries()) {
    const label = `linear x ${JSON.stringify(cfg.x)} out ${cfg.out}${cfg.bias ? " +bias" : ""}`;
    await t.step(label, () => {
      const gen = new Generator(300 + i);
      const inF = cfg.x[cfg.x.length - 1];
      const inputs = [randn(cfg.x, gen), randn([cfg.out, inF], gen)];
      if (cfg.bias) inputs.push(randn([cfg.out], gen));
      gradcheck((x, w, b) => F.linear(x, w, b ?? null), inputs, { label, seed: i });
    });
  }
});

Deno.test("F.relu gradients match finite differences away from 0", async (t) => {
  for (const [i, shape] of [[7], [2, 3, 4], [1, 1, 1, 1], [3, 2, 5, 5]].entries()) {
    const label = `relu x ${JSON.stringify(shape)}`;
    await t.step(label, () => {
      gradcheck((x) => F.relu(x), [distinct(shape, new Generator(400 + i))], { label, seed: i });
    });
  }
});

Deno.test("F.crossEntropy gradients match finite differences over batch sizes, classes and targets", async (t) => {
  const configs: { n: number; c: number; targets: number[] }[] = [
    { n: 1, c: 2, targets: [1] },
    { n: 1, c: 1, targets: [0] },
    { n: 3, c: 5, targets: [0, 4, 2] },
    { n: 4, c: 10, targets: [9, 9, 0, 3] },
    { n: 6, c: 3, targets: [0, 1, 2, 2, 1, 0] },
  ];
  for (const [i, cfg] of configs.entries()) {
    const label = `crossEntropy logits [${cfg.n}, ${cfg.c}] targets ${JSON.stringify(cfg.targets)}`;
    await t.step(label, () => {
      const gen = new Generator(500 + i);
      const logits = Tensor.randn([cfg.n, cfg.c], { dtype: "float64", generator: gen });
      // Scale up so some rows are confident: exercises the stable log-softmax.
      const scaled = tensor(logits.toArray().map((v) => 3 * v), [cfg.n, cfg.c], {
        dtype: "float64",
        requiresGrad: true,
      });
      const targets = tensor(cfg.targets, [cfg.n], { dtype: "int32" });
      gradcheck((l, y) => F.crossEntropy(l, y), [scaled, targets], { label, seed: i });
    });
  }
});

// ---- tensor ops ----

interface OpCase {
  label: string;
  inputs: (gen: Generator) => Tensor[];
  fn: (...xs: Tensor[]) => Tensor;
}

const opCases: OpCase[] = [
  // add, sub, mul, div: same shape, bias-style broadcasts, scalars
  ...(["add", "sub", "mul", "div"] as const).flatMap((op): OpCase[] => {
    const rhs = op === "div" ? positive : randn;
    return [
      { label: `${op} [3, 4] ⊙ [3, 4]`, inputs: (g) => [randn([3, 4], g), rhs([3, 4], g)], fn: (a, b) => a[op](b) },
      { label: `${op} [3, 4] ⊙ [4]`, inputs: (g) => [randn([3, 4], g), rhs([4], g)], fn: (a, b) => a[op](b) },
      { label: `${op} [4] ⊙ [3, 4]`, inputs: (g) => [randn([4], g), rhs([3, 4], g)], fn: (a, b) => a[op](b) },
      {
        label: `${op} [2, 3, 2, 3] ⊙ [3, 1, 1]`,
        inputs: (g) => [randn([2, 3, 2, 3], g), rhs([3, 1, 1], g)],
        fn: (a, b) => a[op](b),
      },
      { label: `${op} [3, 1] ⊙ [1, 4]`, inputs: (g) => [randn([3, 1], g), rhs([1, 4], g)], fn: (a, b) => a[op](b) },
      { label: `${op} [2, 3] ⊙ []`, inputs: (g) => [randn([2, 3], g), rhs([], g)], fn: (a, b) => a[op](b) },
      { label: `${op} [2, 3] ⊙ 1.7`, inputs: (g) => [randn([2, 3], g)], fn: (a) => a[op](1.7) },
      { label: `${op} x ⊙ x (same tensor twice)`, inputs: (g) => [positive([5], g)], fn: (a) => a[op](a) },
    ];
  }),
  { label: "neg", inputs: (g) => [randn([2, 5], g)], fn: (a) => a.neg() },
  { label: "exp", inputs: (g) => [randn([2, 5], g)], fn: (a) => a.exp() },
  { label: "log", inputs: (g) => [positive([2, 5], g)], fn: (a) => a.log() },
  { label: "pow 2", inputs: (g) => [randn([2, 5], g)], fn: (a) => a.pow(2) },
  { label: "pow 3", inputs: (g) => [randn([2, 5], g)], fn: (a) => a.pow(3) },
  { label: "pow 0.5", inputs: (g) => [positive([2, 5], g)], fn: (a) => a.pow(0.5) },
  { label: "pow -1.5", inputs: (g) => [positive([2, 5], g)], fn: (a) => a.pow(-1.5) },
  { label: "sum all", inputs: (g) => [randn([3, 4], g)], fn: (a) => a.sum() },
  { label: "sum dim 0", inputs: (g) => [randn([3, 4], g)], fn: (a) => a.sum(0) },
  { label: "sum dim -1", inputs: (g) => [randn([2, 3, 4], g)], fn: (a) => a.sum(-1) },
  { label: "sum dim 1 keepDim", inputs: (g) => [randn([2, 3, 4], g)], fn: (a) => a.sum(1, { keepDim: true }) },
  { label: "sum all keepDim", inputs: (g) => [randn([2, 3], g)], fn: (a) => a.sum(undefined, { keepDim: true }) },
  { label: "mean all", inputs: (g) => [randn([3, 4], g)], fn: (a) => a.mean() },
  { label: "mean dim 1", inputs: (g) => [randn([3, 4], g)], fn: (a) => a.mean(1) },
  { label: "mean dim 0 keepDim", inputs: (g) => [randn([3, 4], g)], fn: (a) => a.mean(0, { keepDim: true }) },
  { label: "matmul [3, 4] × [4, 2]", inputs: (g) => [randn([3, 4], g), randn([4, 2], g)], fn: (a, b) => a.matmul(b) },
  { label: "matmul [1, 5] × [5, 1]", inputs: (g) => [randn([1, 5], g), randn([5, 1], g)], fn: (a, b) => a.matmul(b) },
  { label: "matmul x × xᵀ-shaped x", inputs: (g) => [randn([3, 3], g)], fn: (a) => a.matmul(a) },
  {
    label: "view [2, 3, 4] → [6, -1]",
    inputs: (g) => [randn([2, 3, 4], g)],
    fn: (a) => a.view([6, -1]).mul(a.view([6, 4])),
  },
  { label: "reshape [2, 6] → [3, 2, 2]", inputs: (g) => [randn([2, 6], g)], fn: (a) => a.reshape([3, 2, 2]) },
  { label: "clone", inputs: (g) => [randn([2, 3], g)], fn: (a) => a.clone().mul(a) },
  {
    label: "chain exp(x)·log(y) / (x² + 1) summed over dim 0",
    inputs: (g) => [randn([3, 2], g), positive([2], g)],
    fn: (x, y) => x.exp().mul(y.log()).div(x.pow(2).add(1)).sum(0),
  },
];

Deno.test("Tensor op gradients match finite differences (arithmetic, broadcasting, reductions, matmul, views)", async (t) => {
  for (const [i, c] of opCases.entries()) {
    await t.step(c.label, () => {
      gradcheck(c.fn, c.inputs(new Generator(600 + i)), { label: c.label, seed: i });
    });
  }
});

// ---- the seed network, end to end ----

Deno.test("seed Net forward (conv → relu → maxPool → view → linear → crossEntropy) gradients match finite differences", () => {
  const gen = new Generator(7);
  const n = 2, classes = 5;
  const x = randn([n, 1, 6, 6], gen);
  const w1 = randn([4, 1, 3, 3], gen);
  const b1 = randn([4], gen);
  const w2 = randn([classes, 4 * 3 * 3], gen);
  const b2 = randn([classes], gen);
  const targets = tensor([3, 0], [n], { dtype: "int32" });
  const net = (x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, y: Tensor) => {
    let h = F.conv2d(x, w1, b1, { stride: 1, padding: 1 });
    h = F.maxPool2d(F.relu(h), { kernelSize: 2, stride: 2 });
    return F.crossEntropy(F.linear(h.view([h.shape[0], -1]), w2, b2), y);
  };
  gradcheck(net, [x, w1, b1, w2, b2, targets], { label: "seed Net float64", seed: 7 });
});
