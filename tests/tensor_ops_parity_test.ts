/**
 * The Tensor API's shape, indexing, reduction, elementwise, matmul and creation ops against PyTorch 1.13:
 * every case of tests/fixtures/tensor_ops.json (written by `scripts/gen_fixtures.py --only tensor_ops`,
 * whose gen_tensor_ops() documents the format) runs through convnet, and the output and the gradient of
 * sum(output · grad_output) with respect to each float input must match within atol 1e-5 + rtol 1e-4.
 *
 * Each op has one entry in CALLS, which maps the fixture's `inputs` and `args` onto convnet's call.
 */
import {
  arange,
  cat,
  cpu,
  type Device,
  eye,
  manualSeed,
  onesLike,
  randint,
  stack,
  type Tensor,
  tensor,
  where,
  zerosLike,
} from "../mod.ts";
import { assertEquals, dirname, fromFileUrl, join } from "./_std.ts";

/** A fixture tensor: float32 unless `dtype` says int32. */
interface T {
  shape: number[];
  data: number[];
  dtype?: "int32";
}

/** The non-tensor arguments, in convnet's terms; a missing key is an argument left out. */
interface Args {
  dim?: number;
  dim0?: number;
  dim1?: number;
  dims?: number | number[];
  keepDim?: boolean;
  unbiased?: boolean;
  transpose?: [number, number];
  startDim?: number;
  endDim?: number;
  start?: number;
  end?: number;
  step?: number;
  length?: number;
  index?: number;
  splitSizeOrSections?: number | number[];
  chunks?: number;
  other?: number;
  min?: number;
  max?: number;
  n?: number;
  m?: number;
  seed?: number;
  high?: number;
  low?: number;
  shape?: number[];
}

interface Case {
  op: string;
  name: string;
  args: Args;
  inputs: Record<string, T>;
  output: T | T[];
  /** Absent for ops without a gradient (comparisons, argmin, creation). */
  grad_output?: T | T[];
  grads?: Record<string, T>;
}

const fixture: { torch: string; cases: Case[] } = JSON.parse(
  Deno.readTextFileSync(join(dirname(fromFileUrl(import.meta.url)), "fixtures", "tensor_ops.json")),
);

/** The keys of `args` that are present, for options objects (so that a missing option stays missing). */
function only<K extends keyof Args>(args: Args, ...keys: K[]): Pick<Args, K> {
  const picked: Pick<Args, K> = {} as Pick<Args, K>;
  for (const k of keys) if (args[k] !== undefined) picked[k] = args[k];
  return picked;
}

type Inputs = Record<string, Tensor>;

/** The inputs named t0, t1, ... in order (cat, stack). */
const listed = (x: Inputs): Tensor[] => Object.keys(x).filter((k) => /^t\d+$/.test(k)).map((k) => x[k]);

/** `x.op(y)` against the input y, or `x.op(other)` against a number. */
const compare = (op: "gt" | "lt" | "ge" | "le" | "ne" | "eq") => (x: Inputs, a: Args): Tensor =>
  a.other === undefined ? x.x[op](x.y) : x.x[op](a.other);

const CALLS: Record<string, (x: Inputs, a: Args) => Tensor | Tensor[]> = {
  // shape
  transpose: (x, a) => x.x.transpose(a.dim0!, a.dim1!),
  permute: (x, a) => x.x.permute(a.dims as number[]),
  contiguous: (x, a) => (a.transpose ? x.x.transpose(a.transpose[0], a.transpose[1]) : x.x).contiguous(),
  flatten: (x, a) => x.x.flatten(a.startDim, a.endDim),
  squeeze: (x, a) => a.dim === undefined ? x.x.squeeze() : x.x.squeeze(a.dim),
  unsqueeze: (x, a) => x.x.unsqueeze(a.dim!),
  narrow: (x, a) => x.x.narrow(a.dim!, a.start!, a.length!),
  select: (x, a) => x.x.select(a.dim!, a.index!),
  split: (x, a) => x.x.split(a.splitSizeOrSections!, a.dim),
  chunk: (x, a) => x.x.chunk(a.chunks!, a.dim),
  cat: (x, a) => cat(listed(x), a.dim),
  stack: (x, a) => stack(listed(x), a.dim),
  // indexing
  indexSelect: (x, a) => x.x.indexSelect(a.dim!, x.index),
  gather: (x, a) => x.x.gather(a.dim!, x.index),
  where: (x) => where(x.cond, x.a, x.b),
  gt: compare("gt"),
  lt: compare("lt"),
  ge: compare("ge"),
  le: compare("le"),
  ne: compare("ne"),
  eq: compare("eq"),
  clamp: (x, a) => x.x.clamp(only(a, "min", "max")),
  // reductions
  min: (x, a) => a.dim === undefined ? x.x.min() : x.x.min(a.dim, only(a, "keepDim")),
  max: (x, a) => a.dim === undefined ? x.x.max() : x.x.max(a.dim, only(a, "keepDim")),
  argmin: (x, a) => x.x.argmin(a.dim!),
  sum: (x, a) => a.dims === undefined ? x.x.sum() : x.x.sum(a.dims, only(a, "keepDim")),
  mean: (x, a) => a.dims === undefined ? x.x.mean() : x.x.mean(a.dims, only(a, "keepDim")),
  var: (x, a) => x.x.var(a.dims, only(a, "unbiased", "keepDim")),
  // elementwise / NN
  sqrt: (x) => x.x.sqrt(),
  abs: (x) => x.x.abs(),
  sigmoid: (x) => x.x.sigmoid(),
  tanh: (x) => x.x.tanh(),
  softmax: (x, a) => x.x.softmax(a.dim!),
  logSoftmax: (x, a) => x.x.logSoftmax(a.dim!),
  // matmul
  matmul: (x) => x.a.matmul(x.b),
  bmm: (x) => x.a.bmm(x.b),
  // creation
  arange: (_, a) => a.start === undefined ? arange(a.end!) : arange(a.start, a.end!, only(a, "step")),
  eye: (_, a) => eye(a.n!, a.m),
  zerosLike: (x) => zerosLike(x.x),
  onesLike: (x) => onesLike(x.x),
  randint: (_, a) => {
    manualSeed(a.seed!);
    return randint(a.high!, a.shape!, only(a, "low"));
  },
};

/**
 * The devices each case runs on.
 *
 * TODO(cuda): when CONVNET_TEST_CUDA_LIB points at an emulation library, return [cpu, <its CUDA device>]
 * as well (that wiring is someone else's change); until then only the CPU runs.
 */
function devices(): Device[] {
  return [cpu];
}

/**
 * Elementwise |got − want| ≤ atol + rtol·|want|; NaN matches NaN.
 * On failure: how many differ and the first five, with their coordinates in `shape`.
 */
function near(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  opts: { atol?: number; rtol?: number; shape?: readonly number[] } = {},
): void {
  const { atol = 0, rtol = 0, shape } = opts;
  if (got.length !== want.length) throw new Error(`${label}: ${got.length} values, expected ${want.length}`);
  const coords = (i: number) => {
    if (!shape) return `[${i}]`;
    const c: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      c.unshift(i % shape[d]);
      i = Math.floor(i / shape[d]);
    }
    return `[${c.join(", ")}]`;
  };
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) ? Number.isNaN(g) : g === w || Math.abs(g - w) <= atol + rtol * Math.abs(w)) continue;
    count++;
    if (bad.length < 5) bad.push(`${coords(i)} got ${g}, expected ${w} (diff ${Math.abs(g - w).toExponential(2)})`);
  }
  if (count > 0) {
    throw new Error(
      `${label}: ${count} of ${got.length} elements differ (atol ${atol}, rtol ${rtol}); first: ${bad.join("; ")}`,
    );
  }
}

const TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

/** Shape, dtype and values of `got` against the fixture tensor `want`. */
function expectTensor(label: string, got: Tensor, want: T): void {
  assertEquals([...got.shape], want.shape, `${label}: shape`);
  assertEquals(got.dtype, want.dtype ?? "float32", `${label}: dtype`);
  near(label, got.toArray(), want.data, { ...TOLERANCE, shape: want.shape });
}

const asList = <V>(v: V | V[]): V[] => Array.isArray(v) ? v : [v];

function runCase(c: Case, dev: Device): void {
  const inputs: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    inputs[k] = tensor(v.data, v.shape, {
      dtype: v.dtype ?? "float32",
      requiresGrad: c.grads !== undefined && k in c.grads,
      device: dev,
    });
  }
  const out = CALLS[c.op](inputs, c.args);
  const outs = asList(out), wants = asList(c.output);
  assertEquals(Array.isArray(out), Array.isArray(c.output), `${c.name}: a list of tensors or one tensor`);
  assertEquals(outs.length, wants.length, `${c.name}: number of outputs`);
  outs.forEach((o, i) => expectTensor(outs.length > 1 ? `${c.name}: output ${i}` : `${c.name}: output`, o, wants[i]));
  if (c.grad_output === undefined || c.grads === undefined) return;

  const gradOutputs = asList(c.grad_output);
  const loss = outs
    .map((o, i) => o.mul(tensor(gradOutputs[i].data, gradOutputs[i].shape, { device: dev })).sum())
    .reduce((acc, term) => acc.add(term));
  loss.backward();
  for (const [k, want] of Object.entries(c.grads)) {
    const got = inputs[k].grad;
    if (got === null) throw new Error(`${c.name}: no gradient for input ${k}`);
    expectTensor(`${c.name}: d${k}`, got, want);
  }
}

for (const op of Object.keys(CALLS)) {
  Deno.test(`${op} matches PyTorch 1.13 in values and gradients`, async (t) => {
    const cases = fixture.cases.filter((c) => c.op === op);
    assertEquals(cases.length > 0, true, `no ${op} cases in tensor_ops.json`);
    for (const dev of devices()) {
      for (const c of cases) {
        await t.step(dev === cpu ? c.name : `${c.name} (${dev.type})`, () => runCase(c, dev));
      }
    }
  });
}

Deno.test("tensor_ops.json has a CALLS entry for every op it covers", () => {
  const unknown = [...new Set(fixture.cases.map((c) => c.op))].filter((op) => !(op in CALLS));
  assertEquals(unknown, [], `ops in tensor_ops.json without a CALLS entry: ${unknown.join(", ")}`);
});
