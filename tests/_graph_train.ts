/**
 * Shared by the CUDA graph case files (tests/_cuda_graph_cases.ts, tests/_cuda_graph_values_cases.ts):
 * synthetic MNIST-shaped batches, the seed's Net trained for some steps eagerly or through
 * `compileStep`, and bit-for-bit comparisons of two runs.
 */
import { assertEquals } from "./_std.ts";
import { dev } from "./_cuda.ts";
import type { Device } from "../src/backend/backend.ts";
import { tsBackend } from "../src/backend/ts/mod.ts";
import { crossEntropy } from "../src/tensor/functional.ts";
import { keep, noGrad, type Tensor, tidy } from "../src/tensor/mod.ts";
import { Generator, manualSeed } from "../src/tensor/random.ts";
import { Adadelta, type Optimizer } from "../src/optim/mod.ts";
import { DataLoader, type ImageDataset } from "../src/data/mod.ts";
import { type CompiledStep, compileStep, type CompileStepOptions } from "../src/train/compile_step.ts";
import type { Module } from "../src/nn/mod.ts";
import { Net } from "../examples/mnist/net.ts";

/** A synthetic MNIST-shaped dataset: random bytes, labels from a seeded generator. */
export function synthetic(count: number): ImageDataset {
  const g = new Generator(13);
  const bytes = (n: number, hi: number) => Uint8Array.from({ length: n }, () => g.int(hi));
  return {
    name: "synthetic",
    images: bytes(count * 784, 256),
    labels: bytes(count, 10),
    length: count,
    rows: 28,
    cols: 28,
  };
}

/** The batches of one pass over 105 samples at batch 10 (the last one holds 5), on the device. */
export function batches(): [Tensor, Tensor][] {
  const loader = new DataLoader(synthetic(105), {
    batchSize: 10,
    shuffle: true,
    seed: 1,
    transform: { mean: 0.1307, std: 0.3081 },
    device: dev(),
  });
  const out: [Tensor, Tensor][] = [];
  for (const [x, y] of loader) out.push([keep(x.clone()), keep(y.clone())]);
  loader.dispose();
  return out;
}

export interface Run {
  losses: Float32Array;
  weights: Float32Array[];
  /** The optimizer's per-parameter step counts (its state dict). */
  steps: (number | undefined)[];
  info?: ReturnType<typeof compileStep>["info"];
}

/** The TypeScript backend, the reference of the CUDA runs. */
export const cpu: Device = { type: "cpu", backend: tsBackend, description: "cpu (TypeScript backend)" };

/** An optimizer over `params`, for {@linkcode train}. */
export type MakeOptimizer = (params: Tensor[]) => Optimizer;

/**
 * `steps` steps of the seed's Net over `data`, eager or compiled, on `device` (default the CUDA
 * one); `opt` (default Adadelta, lr 1.0) and `onStep(i, opt)` before step i (default: lr 0.7 from
 * step 100, as StepLR would set it) — no `key`: the optimizers keep their values in device memory.
 */
export function train(
  data: [Tensor, Tensor][],
  steps: number,
  graph: boolean,
  opts: { opt?: MakeOptimizer; onStep?: (i: number, opt: Optimizer) => void; device?: Device } = {},
): Run {
  manualSeed(1);
  const device = opts.device ?? dev();
  const net = new Net().to(device);
  const opt = (opts.opt ?? ((ps) => new Adadelta(ps, { lr: 1.0 })))(net.parameters());
  const onStep = opts.onStep ?? ((i, o) => {
    if (i === 100) o.paramGroups[0].lr = 0.7;
  });
  const step = seedStep(net, opt, { graph, log: () => {} });
  const losses: Tensor[] = [];
  for (let i = 0; i < steps; i++) {
    onStep(i, opt);
    const [x, y] = data[i % data.length];
    losses.push(keep(tidy(() => {
      const loss = step(x.to(device), y.to(device)); // in graph mode the graph's output, overwritten by the next replay
      return noGrad(() => loss.clone());
    })));
  }
  const run: Run = {
    losses: Float32Array.from(losses.map((l) => l.item())),
    weights: net.parameters().map((p) => p.toArray() as Float32Array),
    steps: Object.values(opt.stateDict().state).map((st) => st.step as number | undefined),
    info: step.info,
  };
  step.dispose();
  noGrad(() => {
    for (const l of losses) l.dispose();
  });
  disposeParameters(net);
  return run;
}

/** The seed script's step (zero the gradients, forward, cross-entropy, backward, `opt.step()`), compiled. */
export function seedStep(
  net: Module,
  opt: Optimizer,
  opts: CompileStepOptions = {},
): CompiledStep<[Tensor, Tensor], Tensor> {
  return compileStep((x: Tensor, y: Tensor) => {
    opt.zeroGrad();
    const loss = crossEntropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  }, opts);
}

/** Frees a model's parameters. */
export function disposeParameters(net: Module): void {
  noGrad(() => {
    for (const p of net.parameters()) p.dispose();
  });
}

/** The index and values of the first element whose bits differ, or -1. */
export function firstDifference(a: Float32Array, b: Float32Array): string {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i]) return `[${i}]: graph ${a[i]}, eager ${b[i]}`;
  return a.length === b.length ? "" : `lengths ${a.length} and ${b.length}`;
}

/** Asserts `graph` equals `eager` bit for bit: losses, weights and step counts. */
export function assertSameRun(graph: Run, eager: Run, label: string): void {
  const lossDiff = firstDifference(graph.losses, eager.losses);
  assertEquals(lossDiff, "", `${label}: losses differ at ${lossDiff}`);
  for (let k = 0; k < eager.weights.length; k++) {
    const d = firstDifference(graph.weights[k], eager.weights[k]);
    assertEquals(d, "", `${label}: parameter ${k} differs at ${d}`);
  }
  assertEquals(graph.steps, eager.steps, `${label}: step counts`);
}
