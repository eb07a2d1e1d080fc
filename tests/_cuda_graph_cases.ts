/**
 * CUDA graph capture and replay of the seed's training step (`train.compileStep`, native/src/graph.cu,
 * the emulator's native/emu/graph.cpp; the card under scripts/gpu_check.sh): a replayed step gives
 * the eager step's bits, makes one graph launch and no host-to-device copy, and a capture that cannot
 * work fails with a message naming the call. Run by tests/cuda_graph_test.ts in a process of its own
 * (a capture would refuse other test files' kernels under `deno test --parallel`). What a replay
 * reads from device memory (optimizer values, the random stream): tests/_cuda_graph_values_cases.ts.
 */
import { assertEquals, assertOk, assertThrows, near } from "./_std.ts";
import { dev, test } from "./_cuda.ts";
import type { CudaStats } from "../src/backend/cuda/mod.ts";
import { noGrad, type Tensor, tidy } from "../src/tensor/mod.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { Adadelta, Adam } from "../src/optim/mod.ts";
import { compileStep } from "../src/train/compile_step.ts";
import { Net } from "../examples/mnist/net.ts";
import { assertSameRun, batches, cpu, disposeParameters, seedStep, synthetic, train } from "./_graph_train.ts";

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

test("compileStep: a replayed step is one graph launch, its two input copies, no host copy, no wait", () => {
  const d = dev();
  const data = batches().slice(0, 3);
  manualSeed(1);
  const net = new Net().to(d);
  const opt = new Adadelta(net.parameters(), { lr: 1.0 });
  const step = seedStep(net, opt);
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
  disposeParameters(net);
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
  disposeParameters(net);
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
    disposeParameters(net);
    return { lines, launches, losses: r.losses };
  };
  const eager = run(false), graph = run(true);
  assertEquals(graph.lines, eager.lines);
  assertEquals(graph.losses, eager.losses);
  assertEquals([graph.launches, eager.launches], [5, 0], "an eager warm-up, then 5 graph launches");
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
    disposeParameters(net);
    return { steps, launches };
  };
  const eager = counts(false), graph = counts(true);
  assertEquals(eager.steps, [6, 6, 6, 6]);
  assertEquals(graph.steps, eager.steps);
  assertOk(graph.launches >= 4, `replays ran: ${graph.launches}`);
  for (const [x, y] of data) x.dispose(), y.dispose();
});
