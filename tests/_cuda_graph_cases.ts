/**
 * CUDA graph capture and replay of the seed's training step (`train.compileStep`, native/src/graph.cu,
 * the emulator's native/emu/graph.cpp; the card under scripts/gpu_check.sh): a replayed step gives
 * the eager step's bits, makes one graph launch and no host-to-device copy, and a capture that cannot
 * work fails with a message naming the call. Run by tests/cuda_graph_test.ts in a process of its own
 * (a capture would refuse other test files' kernels under `deno test --parallel`).
 */
import { assertEquals, assertOk, assertThrows, near } from "./_std.ts";
import { dev, test } from "./_cuda.ts";
import type { Device } from "../src/backend/backend.ts";
import { tsBackend } from "../src/backend/ts/mod.ts";
import type { CudaStats } from "../src/backend/cuda/mod.ts";
import { crossEntropy } from "../src/tensor/functional.ts";
import { keep, noGrad, type Tensor, tidy } from "../src/tensor/mod.ts";
import { Generator, manualSeed } from "../src/tensor/random.ts";
import { Adadelta, Adam, AdamW, type Optimizer, RMSprop, SGD } from "../src/optim/mod.ts";
import { DataLoader, type ImageDataset } from "../src/data/mod.ts";
import { compileStep } from "../src/train/compile_step.ts";
import { Net } from "../examples/mnist/net.ts";

/** A synthetic MNIST-shaped dataset: random bytes, labels from a seeded generator. */
function synthetic(count: number): ImageDataset {
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
function batches(): [Tensor, Tensor][] {
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

interface Run {
  losses: Float32Array;
  weights: Float32Array[];
  /** The optimizer's per-parameter step counts (its state dict). */
  steps: (number | undefined)[];
  info?: ReturnType<typeof compileStep>["info"];
}

/** The TypeScript backend, the reference of the CUDA runs. */
const cpu: Device = { type: "cpu", backend: tsBackend, description: "cpu (TypeScript backend)" };

/** An optimizer over `params`, for {@linkcode train}. */
type MakeOptimizer = (params: Tensor[]) => Optimizer;

/**
 * `steps` steps of the seed's Net over `data`, eager or compiled, on `device` (default the CUDA
 * one); `opt` (default Adadelta, lr 1.0) and `onStep(i, opt)` before step i (default: lr 0.7 from
 * step 100, as StepLR would set it) — no `key`: the optimizers keep their values in device memory.
 */
function train(
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
  const step = compileStep((x: Tensor, y: Tensor) => {
    opt.zeroGrad();
    const loss = crossEntropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  }, { graph, log: () => {} });
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
    for (const p of net.parameters()) p.dispose();
  });
  return run;
}

/** The index and values of the first element whose bits differ, or -1. */
function firstDifference(a: Float32Array, b: Float32Array): string {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i]) return `[${i}]: graph ${a[i]}, eager ${b[i]}`;
  return a.length === b.length ? "" : `lengths ${a.length} and ${b.length}`;
}

/** Asserts `graph` equals `eager` bit for bit: losses, weights and step counts. */
function assertSameRun(graph: Run, eager: Run, label: string): void {
  const lossDiff = firstDifference(graph.losses, eager.losses);
  assertEquals(lossDiff, "", `${label}: losses differ at ${lossDiff}`);
  for (let k = 0; k < eager.weights.length; k++) {
    const d = firstDifference(graph.weights[k], eager.weights[k]);
    assertEquals(d, "", `${label}: parameter ${k} differs at ${d}`);
  }
  assertEquals(graph.steps, eager.steps, `${label}: step counts`);
}

test("compileStep: 200 steps of the seed's Net replayed as graphs give the eager losses and weights bit for bit, and the TS backend's within 1e-5", () => {
  const data = batches();
  const eager = train(data, 200, false), graph = train(data, 200, true);
  assertSameRun(graph, eager, "Adadelta");
  assertOk(Number.isFinite(eager.losses[199]) && eager.losses[199] < eager.losses[0], "the loss falls");
  // Full batches and the 5-sample one get a graph each; the lr change at step 100 is a write to the
  // optimizer's device buffer, not a new capture. Eager runs: the first call of each shape only.
  const info = graph.info!;
  assertEquals(info.fallback, undefined, `no fallback: ${info.fallback}`);
  assertEquals(info.captures, 2, JSON.stringify(info));
  assertEquals(info.eager, 2, JSON.stringify(info));
  assertEquals(info.replays, 198, JSON.stringify(info));
  // The same 200 steps on the TypeScript backend.
  const ts = train(data, 200, false, { device: cpu });
  near("losses of 200 steps", graph.losses, ts.losses, { rtol: 1e-5 });
  graph.weights.forEach((w, k) => near(`weights ${k} after 200 steps`, w, ts.weights[k], { atol: 1e-6, rtol: 1e-5 }));
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: a learning rate set at every step, Adam and AdamW's step counts: one capture, replays bit for bit", () => {
  const data = batches().slice(0, 10); // full batches only: one graph
  const schedule = (i: number, o: Optimizer) => {
    for (const g of o.paramGroups) g.lr = 1e-3 * (1 + Math.cos(i / 7)); // a new value at every step
  };
  const constant = () => {}; // no write after the first: Adam's count is the device's own
  const cases: [string, MakeOptimizer, typeof schedule][] = [
    ["Adam", (ps) => new Adam(ps), schedule],
    ["Adam, constant lr", (ps) => new Adam(ps), constant],
    ["AdamW amsgrad", (ps) => new AdamW(ps, { weightDecay: 0.05, amsgrad: true }), schedule],
    ["AdamW, constant lr", (ps) => new AdamW(ps, { weightDecay: 0.05 }), constant],
    ["Adam weightDecay", (ps) => new Adam(ps, { weightDecay: 1e-3, betas: [0.8, 0.95] }), schedule],
    ["SGD nesterov", (ps) => new SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }), schedule],
  ];
  for (const [label, opt, onStep] of cases) {
    const eager = train(data, 12, false, { opt, onStep });
    const graph = train(data, 12, true, { opt, onStep });
    assertSameRun(graph, eager, label);
    assertEquals([graph.info!.captures, graph.info!.replays, graph.info!.eager], [1, 11, 1], label);
    // The device's step count and hyper-parameters are the host's: the TS backend's numbers.
    const ts = train(data, 12, false, { opt, onStep, device: cpu });
    near(`${label}: losses`, graph.losses, ts.losses, { rtol: 1e-5 });
    graph.weights.forEach((w, k) => near(`${label}: weights ${k}`, w, ts.weights[k], { atol: 1e-6, rtol: 1e-5 }));
  }
  const adam = train(data, 12, true, { opt: (ps) => new Adam(ps), onStep: schedule });
  assertEquals(adam.steps, [12, 12, 12, 12], "Adam's step counts advance at each replay");
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: an optimizer state loaded between replays (a rollback) is captured again and followed, as eager", () => {
  const data = batches().slice(0, 10);
  let snapshot: ReturnType<Optimizer["stateDict"]> | undefined;
  const rollback = (i: number, o: Optimizer) => {
    if (i === 4) {
      const dict = o.stateDict(); // buffers share storage with the optimizer's: copy them
      snapshot = {
        param_groups: dict.param_groups,
        state: Object.fromEntries(
          Object.entries(dict.state).map(([k, st]) => [
            k,
            Object.fromEntries(
              Object.entries(st).map(([n, v]) => [n, typeof v === "number" || v === null ? v : keep(v.clone())]),
            ),
          ]),
        ),
      };
    }
    if (i === 8) o.loadStateDict(snapshot!);
  };
  const opt: MakeOptimizer = (ps) => new Adam(ps, { lr: 2e-3 });
  const eager = train(data, 11, false, { opt, onStep: rollback });
  const graph = train(data, 11, true, { opt, onStep: rollback });
  assertSameRun(graph, eager, "Adam with a rollback");
  assertEquals(eager.steps, [7, 7, 7, 7], "4 steps, then 3 more from the loaded state");
  assertEquals([graph.info!.captures, graph.info!.replays], [2, 10], JSON.stringify(graph.info));
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: the optimizer's device buffer is written only when a value changed (64 bytes), never read back", () => {
  const d = dev();
  const data = batches().slice(0, 3);
  manualSeed(1);
  const net = new Net().to(d);
  const opt = new Adam(net.parameters(), { lr: 1e-3 });
  const step = compileStep((x: Tensor, y: Tensor) => {
    opt.zeroGrad();
    const loss = crossEntropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  });
  for (let i = 0; i < 3; i++) step(...data[i]); // eager, capture + replay, replay
  const measure = (lrAt: (i: number) => number) => {
    const before: CudaStats = d.stats();
    for (let i = 0; i < 4; i++) {
      opt.paramGroups[0].lr = lrAt(i);
      step(...data[i % 3]);
    }
    const after: CudaStats = d.stats();
    return { copies: (after.h2dCopies - before.h2dCopies) / 4, bytes: (after.h2dBytes - before.h2dBytes) / 4 };
  };
  assertEquals(
    measure(() => 1e-3),
    { copies: 0, bytes: 0 },
    "an unchanged lr: no copy (Adam's count advances on the card)",
  );
  assertEquals(measure((i) => 1e-3 / (i + 2)), { copies: 1, bytes: 64 }, "a new lr at every step: one 64-byte copy");
  assertEquals(step.info.captures, 1, JSON.stringify(step.info));
  assertEquals(Object.values(opt.stateDict().state).map((st) => st.step), [11, 11, 11, 11]);
  step.dispose();
  noGrad(() => {
    for (const p of net.parameters()) p.dispose();
  });
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: an optimizer of elementwise ops (RMSprop) is captured again when its lr changes; at every step, eager with one line", () => {
  const data = batches().slice(0, 10);
  const opt: MakeOptimizer = (ps) => new RMSprop(ps, { lr: 1e-3, momentum: 0.5 });
  const once = (i: number, o: Optimizer) => {
    if (i === 6) o.paramGroups[0].lr = 5e-4;
  };
  const eager = train(data, 10, false, { opt, onStep: once }), graph = train(data, 10, true, { opt, onStep: once });
  assertSameRun(graph, eager, "RMSprop");
  assertEquals([graph.info!.captures, graph.info!.replays, graph.info!.eager], [2, 9, 1], JSON.stringify(graph.info));
  const lines: string[] = [];
  manualSeed(1);
  const net = new Net().to(dev());
  const rms = new RMSprop(net.parameters(), { lr: 1e-3 });
  const step = compileStep((x: Tensor, y: Tensor) => {
    rms.zeroGrad();
    const loss = crossEntropy(net.forward(x), y);
    loss.backward();
    rms.step();
    return loss;
  }, { log: (l) => lines.push(l) });
  for (let i = 0; i < 8; i++) {
    rms.paramGroups[0].lr = 1e-3 / (i + 1);
    tidy(() => step(...data[i]));
  }
  assertEquals(lines.length, 1, lines.join("\n"));
  assertOk(lines[0].includes("went stale at 3 calls in a row: RMSprop's [lr, alpha, eps"), lines[0]);
  assertEquals(step.info.fallback !== undefined, true);
  step.dispose();
  noGrad(() => {
    for (const p of net.parameters()) p.dispose();
  });
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: a replayed step is one graph launch, its two input copies, no host copy, no wait", () => {
  const d = dev();
  const data = batches().slice(0, 3);
  manualSeed(1);
  const net = new Net().to(d);
  const opt = new Adadelta(net.parameters(), { lr: 1.0 });
  const step = compileStep((x: Tensor, y: Tensor) => {
    opt.zeroGrad();
    const loss = crossEntropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  });
  let loss: Tensor | undefined;
  for (let i = 0; i < 3; i++) loss = step(...data[i]); // eager, capture + replay, replay
  const before: CudaStats = d.stats();
  const steps = 5;
  for (let i = 0; i < steps; i++) step(...data[i % 3]);
  const after: CudaStats = d.stats();
  const per = (k: keyof CudaStats) => (after[k] - before[k]) / steps;
  const why = JSON.stringify(Object.fromEntries(Object.keys(after).map((k) => [k, per(k as keyof CudaStats)])));
  assertEquals(per("graphLaunches"), 1, why);
  assertEquals(per("launches"), 0, why);
  assertEquals(per("h2dCopies"), 0, why);
  assertEquals(per("syncs"), 0, why);
  assertEquals(per("d2dCopies"), 2, why);
  assertEquals(per("driverAllocs"), 0, why);
  assertOk(Number.isFinite(loss!.item()), "the graph's loss is readable after the step");
  step.dispose();
  noGrad(() => {
    for (const p of net.parameters()) p.dispose();
  });
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: a step that reads a value back cannot be captured: one line says why, the step runs eagerly", () => {
  const data = batches().slice(0, 2);
  manualSeed(1);
  const net = new Net().to(dev());
  const lines: string[] = [];
  const values: number[] = [];
  const step = compileStep((x: Tensor) => {
    const s = net.forward(x).sum();
    values.push(s.item()); // a device-to-host read: not allowed while capturing
    return s;
  }, { log: (l) => lines.push(l) });
  noGrad(() => {
    for (let i = 0; i < 3; i++) tidy(() => step(data[i % 2][0]));
  });
  assertEquals(lines.length, 1, lines.join("\n"));
  assertOk(lines[0].startsWith("compileStep: running the step eagerly"), lines[0]);
  assertOk(lines[0].includes("memcpy_d2h: not allowed during graph capture"), lines[0]);
  assertOk(step.info.fallback !== undefined && step.info.eager === 3, JSON.stringify(step.info));
  assertEquals(values.length, 3, "the three eager runs read their sums (the capture's read failed)");
  assertEquals(values[2], values[0], "after the failed capture, the same input gives the same sum");
  noGrad(() => {
    for (const p of net.parameters()) p.dispose();
  });
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("cn_capture_*: misuse and a capture that needs a new block fail with messages naming the call", () => {
  const lib = dev().backend.library;
  const sym = lib.symbols;
  const handle = new BigUint64Array(1);
  assertThrows(() => lib.check(sym.cn_capture_end(handle), "cn_capture_end"), "no capture is running");
  lib.check(sym.cn_capture_begin(), "cn_capture_begin");
  assertThrows(() => lib.check(sym.cn_capture_begin(), "cn_capture_begin"), "already running");
  const ptr = new BigUint64Array(1);
  // 3 GiB + 1: no cached block is that large, and the driver may not be asked during a capture.
  assertThrows(() => lib.check(sym.cn_alloc(ptr, 3n * 2n ** 30n + 1n), "cn_alloc"), "during graph capture");
  assertThrows(() => lib.check(sym.cn_synchronize(), "cn_synchronize"), "synchronize: not allowed during");
  assertThrows(() => lib.check(sym.cn_capture_end(handle), "cn_capture_end"), "the capture failed: synchronize");
  assertEquals(handle[0], 0n);
  lib.check(sym.cn_synchronize(), "cn_synchronize"); // no capture now
});

test("trainMnist on CUDA: graph replay (the default) and --no-graph give the same epochs, bit for bit", async () => {
  const { trainMnist } = await import("../examples/mnist/train.ts");
  const run = async (noGraph: boolean) => {
    const lines: string[] = [];
    const before = dev().stats().graphLaunches;
    const r = await trainMnist({
      epochs: 2, // StepLR changes the lr between them: the graphs are captured again
      device: dev(),
      noGraph,
      logInterval: 4,
      trainData: synthetic(95), // 9 full batches and one of 5
      testData: synthetic(20),
    }, (l) => lines.push(l));
    const graphLaunches = dev().stats().graphLaunches - before;
    return { lines: lines.filter((l) => l.includes("Train Epoch") || l.includes("Test set")), r, graphLaunches };
  };
  const graph = await run(false), eager = await run(true);
  assertEquals(graph.lines, eager.lines);
  assertEquals(graph.r.epochs.map((e) => e.trainLosses), eager.r.epochs.map((e) => e.trainLosses));
  assertEquals(graph.lines.length, 2 * 3 + 2, graph.lines.join("\n"));
  // trainEpoch compiles the step per epoch: 9 full batches (an eager warm-up, then 8 replays), and
  // the last one (its warm-up, run eagerly); none without graphs.
  assertEquals([graph.graphLaunches, eager.graphLaunches], [2 * 8, 0]);
});

test("trainEpoch graph with Adam: replays, the eager epoch's losses bit for bit", async () => {
  const { trainEpoch } = await import("../src/train/loop.ts");
  const data = batches().slice(0, 6);
  const run = (graph: boolean) => {
    manualSeed(1);
    const net = new Net().to(dev());
    const lines: string[] = [];
    const loader = {
      length: data.length,
      dataset: { length: data.length * 10 },
      *[Symbol.iterator](): IterableIterator<[Tensor, Tensor]> {
        for (const [x, y] of data) yield [x.clone(), y.clone()];
      },
    };
    const before = dev().stats().graphLaunches;
    const r = trainEpoch(net, new Adam(net.parameters()), loader, { graph, logInterval: 1, log: (l) => lines.push(l) });
    const launches = dev().stats().graphLaunches - before;
    noGrad(() => {
      for (const p of net.parameters()) p.dispose();
    });
    return { lines, launches, losses: r.losses };
  };
  const eager = run(false), graph = run(true);
  assertEquals(graph.lines, eager.lines);
  assertEquals(graph.losses, eager.losses);
  assertEquals([graph.launches, eager.launches], [5, 0], "an eager warm-up, then 5 graph launches");
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: a dropout is captured; each replay draws the next mask, the eager calls' masks bit for bit", async () => {
  const { dropout } = await import("../src/ops/dropout.ts");
  const { philoxGenerator } = await import("../src/tensor/philox.ts");
  const data = batches().slice(0, 1);
  const run = (graph: boolean) => {
    manualSeed(3);
    const step = compileStep((x: Tensor) => dropout(dropout(x, { p: 0.5 }), { p: 0.25 }), { graph, log: () => {} });
    const out = noGrad(() =>
      [0, 1, 2, 3, 4].map((i) => {
        // Draws elsewhere (here on the CPU) move the stream on: the next launch's state is written first.
        if (i === 3) philoxGenerator().uniform([10]).dispose();
        return tidy(() => step(data[0][0]).toArray() as Float32Array);
      })
    );
    const info = step.info;
    step.dispose();
    return { out, info, state: philoxGenerator().getState() };
  };
  const eager = run(false), graph = run(true);
  eager.out.forEach((o, i) => assertEquals(firstDifference(graph.out[i], o), "", `call ${i}`));
  for (let i = 1; i < 5; i++) {
    assertOk(firstDifference(eager.out[i], eager.out[i - 1]) !== "", `call ${i} draws a new mask`);
  }
  assertEquals([graph.info.captures, graph.info.replays, graph.info.eager], [1, 4, 1], JSON.stringify(graph.info));
  assertEquals(graph.state, eager.state, "the generator's offset after the replays is the eager one");
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("compileStep: the seed's Net with a dropout trains the same replayed as eager, and as on the TS backend", async () => {
  const { Dropout } = await import("../src/nn/mod.ts");
  const data = batches().slice(0, 10);
  const dropNet = (d: Device) => {
    const net = new Net().to(d);
    const drop = new Dropout({ p: 0.3 });
    const forward = net.forward.bind(net);
    net.forward = (x: Tensor) => forward(drop.forward(x));
    return net;
  };
  const runWith = (graph: boolean, device?: Device) => {
    const d = device ?? dev();
    manualSeed(1);
    const net = dropNet(d);
    const opt = new Adadelta(net.parameters(), { lr: 1.0 });
    const step = compileStep((x: Tensor, y: Tensor) => {
      opt.zeroGrad();
      const loss = crossEntropy(net.forward(x), y);
      loss.backward();
      opt.step();
      return loss;
    }, { graph, log: () => {} });
    const losses = data.map(([x, y]) => tidy(() => step(x.to(d), y.to(d)).item()));
    const info = step.info;
    const weights = net.parameters().map((p) => p.toArray() as Float32Array);
    step.dispose();
    noGrad(() => {
      for (const p of net.parameters()) p.dispose();
    });
    return { losses: Float32Array.from(losses), weights, info };
  };
  const eager = runWith(false), graph = runWith(true), ts = runWith(false, cpu);
  assertEquals(firstDifference(graph.losses, eager.losses), "", "losses");
  graph.weights.forEach((w, k) => assertEquals(firstDifference(w, eager.weights[k]), "", `parameter ${k}`));
  assertEquals([graph.info.captures, graph.info.replays], [1, 9], JSON.stringify(graph.info));
  near("losses against the TS backend (the same Philox masks)", graph.losses, ts.losses, { rtol: 1e-5 });
  for (const [x, y] of data) x.dispose(), y.dispose();
});

test("trainEpoch graph: replays advance the optimizer's step counts as eager steps do (a checkpoint stays right)", async () => {
  const { trainEpoch } = await import("../src/train/loop.ts");
  const { Adadelta } = await import("../src/optim/mod.ts");
  const data = batches().slice(0, 6);
  const counts = (graph: boolean) => {
    manualSeed(1);
    const net = new Net().to(dev());
    const opt = new Adadelta(net.parameters(), { lr: 1 });
    const loader = {
      length: data.length,
      dataset: { length: data.length * data[0][0].shape[0] },
      *[Symbol.iterator](): IterableIterator<[Tensor, Tensor]> {
        for (const [x, y] of data) yield [x.clone(), y.clone()];
      },
    };
    const before = dev().stats().graphLaunches;
    trainEpoch(net, opt, loader, { graph, log: () => {} });
    const launches = dev().stats().graphLaunches - before;
    const steps = Object.values(opt.stateDict().state).map((s) => s.step);
    noGrad(() => {
      for (const p of net.parameters()) p.dispose();
    });
    return { steps, launches };
  };
  const eager = counts(false), graph = counts(true);
  assertEquals(eager.steps, [6, 6, 6, 6]);
  assertEquals(graph.steps, eager.steps);
  assertOk(graph.launches >= 4, `replays ran: ${graph.launches}`);
  for (const [x, y] of data) x.dispose(), y.dispose();
});
