/**
 * The cases of tests/fixtures/tensor_ops.json (written by `scripts/gen_fixtures.py --only tensor_ops`,
 * whose gen_tensor_ops() documents the format) and how to run one through convnet: shared by the
 * parity test (values and gradients against PyTorch, on the CPU and the CUDA emulation build),
 * the float64 gradient check, and the op-table test.
 *
 * A case calls `x.<op>(y?, ...args)` (or `F.<op>(x, y?, ...args)` when Tensor has no such method):
 * the input `x`, the input `y` when there is one, then the fixture's args in order. Ops whose call has another shape (options objects, lists of tensors,
 * creation functions) have an entry in {@linkcode CALLS}.
 */
import {
  arange,
  cat,
  cpu,
  type Device,
  eye,
  F,
  manualSeed,
  onesLike,
  randint,
  stack,
  type Tensor,
  tensor,
  where,
  zerosLike,
} from "../mod.ts";
import { assertEquals, dirname, fromFileUrl, join, near } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";

/** A fixture tensor: float32 unless `dtype` says int32. */
export interface T {
  shape: number[];
  data: number[];
  dtype?: "int32";
}

/** The non-tensor arguments, in convnet's terms; a missing key is an argument left out. */
export interface Args {
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
  // normalisation (scripts/fixtures_nn_norm.py)
  training?: boolean;
  momentum?: number;
  eps?: number;
  normalizedShape?: number | number[];
  numGroups?: number;
  // losses (scripts/fixtures_nn_losses.py)
  reduction?: "mean" | "sum" | "none";
  ignoreIndex?: number;
  labelSmoothing?: number;
  beta?: number;
}

export interface Case {
  op: string;
  name: string;
  args: Args;
  inputs: Record<string, T>;
  output: T | T[];
  /** Absent for ops without a gradient (comparisons, argmin, creation). */
  grad_output?: T | T[];
  grads?: Record<string, T>;
}

const fixtureDir = join(dirname(fromFileUrl(import.meta.url)), "fixtures");

/**
 * The files of cases: tensor_ops.json and the groups of the scripts/fixtures_<group>.py generators
 * (nn_*.json), all in one format.
 */
export const fixtureFiles: string[] = [...Deno.readDirSync(fixtureDir)]
  .map((e) => e.name)
  .filter((name) => name === "tensor_ops.json" || /^nn_[a-z0-9_]+\.json$/.test(name))
  .sort();

/** Every case of every file, in file order. */
export const fixture: { cases: Case[] } = {
  cases: fixtureFiles.flatMap((name) =>
    (JSON.parse(Deno.readTextFileSync(join(fixtureDir, name))) as { cases: Case[] }).cases
  ),
};

/** The keys of `args` that are present, for options objects (so that a missing option stays missing). */
function only<K extends keyof Args>(args: Args, ...keys: K[]): Pick<Args, K> {
  const picked: Pick<Args, K> = {} as Pick<Args, K>;
  for (const k of keys) if (args[k] !== undefined) picked[k] = args[k];
  return picked;
}

export type Inputs = Record<string, Tensor>;

/** The inputs named t0, t1, ... in order (cat, stack). */
const listed = (x: Inputs): Tensor[] => Object.keys(x).filter((k) => /^t\d+$/.test(k)).map((k) => x[k]);

/** Calls that the generic rule of {@linkcode callOp} cannot make (options objects, lists, creation). */
export const CALLS: Record<string, (x: Inputs, a: Args) => Tensor | Tensor[]> = {
  // shape
  contiguous: (x, a) => (a.transpose ? x.x.transpose(a.transpose[0], a.transpose[1]) : x.x).contiguous(),
  flatten: (x, a) => x.x.flatten(a.startDim, a.endDim),
  squeeze: (x, a) => a.dim === undefined ? x.x.squeeze() : x.x.squeeze(a.dim),
  split: (x, a) => x.x.split(a.splitSizeOrSections!, a.dim),
  chunk: (x, a) => x.x.chunk(a.chunks!, a.dim),
  cat: (x, a) => cat(listed(x), a.dim),
  stack: (x, a) => stack(listed(x), a.dim),
  // indexing
  indexSelect: (x, a) => x.x.indexSelect(a.dim!, x.index),
  gather: (x, a) => x.x.gather(a.dim!, x.index),
  where: (x) => where(x.cond, x.a, x.b),
  clamp: (x, a) => x.x.clamp(only(a, "min", "max")),
  // reductions
  min: (x, a) => a.dim === undefined ? x.x.min() : x.x.min(a.dim, only(a, "keepDim")),
  max: (x, a) => a.dim === undefined ? x.x.max() : x.x.max(a.dim, only(a, "keepDim")),
  argmin: (x, a) => x.x.argmin(a.dim!),
  sum: (x, a) => a.dims === undefined ? x.x.sum() : x.x.sum(a.dims, only(a, "keepDim")),
  mean: (x, a) => a.dims === undefined ? x.x.mean() : x.x.mean(a.dims, only(a, "keepDim")),
  var: (x, a) => x.x.var(a.dims, only(a, "unbiased", "keepDim")),
  // matmul
  matmul: (x) => x.a.matmul(x.b),
  bmm: (x) => x.a.bmm(x.b),
  // spatial (scripts/fixtures_nn_spatial.py): the args are the options, in convnet's names
  convTranspose2d: (x, a) => F.convTranspose2d(x.x, x.weight, x.bias ?? null, a as F.ConvTranspose2dOptions),
  // creation
  arange: (_, a) => a.start === undefined ? arange(a.end!) : arange(a.start, a.end!, only(a, "step")),
  eye: (_, a) => eye(a.n!, a.m),
  zerosLike: (x) => zerosLike(x.x),
  onesLike: (x) => onesLike(x.x),
  randint: (_, a) => {
    manualSeed(a.seed!);
    return randint(a.high!, a.shape!, only(a, "low"));
  },
  // normalisation (scripts/fixtures_nn_norm.py): weight and bias are inputs, passed as options
  batchNorm: (x, a) =>
    F.batchNorm(x.x, x.runningMean ?? null, x.runningVar ?? null, {
      weight: x.weight,
      bias: x.bias,
      ...only(a, "training", "momentum", "eps"),
    }),
  layerNorm: (x, a) => F.layerNorm(x.x, a.normalizedShape!, { weight: x.weight, bias: x.bias, ...only(a, "eps") }),
  groupNorm: (x, a) => F.groupNorm(x.x, a.numGroups!, { weight: x.weight, bias: x.bias, ...only(a, "eps") }),
  // losses (scripts/fixtures_nn_losses.py): target y; weight and posWeight are inputs, passed as options
  nllLoss: (x, a) => F.nllLoss(x.x, x.y, { weight: x.weight, ...only(a, "reduction", "ignoreIndex") }),
  crossEntropy: (x, a) =>
    F.crossEntropy(x.x, x.y, { weight: x.weight, ...only(a, "reduction", "ignoreIndex", "labelSmoothing") }),
  mseLoss: (x, a) => F.mseLoss(x.x, x.y, only(a, "reduction")),
  l1Loss: (x, a) => F.l1Loss(x.x, x.y, only(a, "reduction")),
  smoothL1Loss: (x, a) => F.smoothL1Loss(x.x, x.y, only(a, "reduction", "beta")),
  binaryCrossEntropy: (x, a) => F.binaryCrossEntropy(x.x, x.y, { weight: x.weight, ...only(a, "reduction") }),
  binaryCrossEntropyWithLogits: (x, a) =>
    F.binaryCrossEntropyWithLogits(x.x, x.y, { weight: x.weight, posWeight: x.posWeight, ...only(a, "reduction") }),
};

/**
 * Runs case `c`'s op on `inputs`: its {@linkcode CALLS} entry, or `x.<op>(y?, ...args)`.
 */
export function callOp(c: Case, inputs: Inputs): Tensor | Tensor[] {
  const call = CALLS[c.op];
  if (call) return call(inputs, c.args);
  const positional = [...(inputs.y ? [inputs.y] : []), ...Object.values(c.args)];
  const receiver = inputs.x as unknown as Record<string, (...args: unknown[]) => Tensor>;
  if (typeof receiver?.[c.op] === "function") return receiver[c.op](...positional);
  const functional = (F as unknown as Record<string, (...args: unknown[]) => Tensor>)[c.op];
  if (typeof functional === "function") return functional(inputs.x, ...positional);
  throw new Error(`${c.name}: neither Tensor nor F has ${c.op}; add a CALLS entry`);
}

/**
 * The devices each case runs on: the CPU, and the CUDA backend (tests/_cuda.ts: the real card with
 * CONVNET_DEVICE=cuda, else the emulation build; left out only where no C++ compiler exists).
 */
export function devices(): Device[] {
  return ignore ? [cpu] : [cpu, dev()];
}

const TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

/** Shape, dtype and values of `got` against the fixture tensor `want`. */
function expectTensor(label: string, got: Tensor, want: T): void {
  assertEquals([...got.shape], want.shape, `${label}: shape`);
  assertEquals(got.dtype, want.dtype ?? "float32", `${label}: dtype`);
  near(label, got.toArray(), want.data, { ...TOLERANCE, shape: want.shape });
}

const asList = <V>(v: V | V[]): V[] => Array.isArray(v) ? v : [v];

export function runCase(c: Case, dev: Device): void {
  const inputs: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    inputs[k] = tensor(v.data, v.shape, {
      dtype: v.dtype ?? "float32",
      requiresGrad: c.grads !== undefined && k in c.grads,
      device: dev,
    });
  }
  const out = callOp(c, inputs);
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
