/**
 * What a replayed CUDA graph reads from device memory rather than from its captured arguments: the
 * optimizers' hyper-parameters (a learning rate set at any step, Adam's step count advanced by its
 * kernel, a state dict loaded between replays), the composite optimizers' recapture, and the random
 * generator's offset (a dropout draws the eager step's next mask at each replay). Run with
 * tests/_cuda_graph_cases.ts by tests/cuda_graph_test.ts, in a process of its own.
 */
import { assertEquals, assertOk, near } from "./_std.ts";
import { dev, test } from "./_cuda.ts";
import type { Device } from "../src/backend/backend.ts";
import type { CudaStats } from "../src/backend/cuda/mod.ts";
import { keep, noGrad, type Tensor, tidy } from "../src/tensor/mod.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { Adadelta, Adam, AdamW, type Optimizer, RMSprop, SGD } from "../src/optim/mod.ts";
import { compileStep } from "../src/train/compile_step.ts";
import { Net } from "../examples/mnist/net.ts";
import {
  assertSameRun,
  batches,
  cpu,
  disposeParameters,
  firstDifference,
  type MakeOptimizer,
  seedStep,
  train,
} from "./_graph_train.ts";

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
  const step = seedStep(net, opt);
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
  disposeParameters(net);
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
  const step = seedStep(net, rms, { log: (l) => lines.push(l) });
  for (let i = 0; i < 8; i++) {
    rms.paramGroups[0].lr = 1e-3 / (i + 1);
    tidy(() => step(...data[i]));
  }
  assertEquals(lines.length, 1, lines.join("\n"));
  assertOk(lines[0].includes("went stale at 3 calls in a row: RMSprop's [lr, alpha, eps"), lines[0]);
  assertEquals(step.info.fallback !== undefined, true);
  step.dispose();
  disposeParameters(net);
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
    const step = seedStep(net, opt, { graph, log: () => {} });
    const losses = data.map(([x, y]) => tidy(() => step(x.to(d), y.to(d)).item()));
    const info = step.info;
    const weights = net.parameters().map((p) => p.toArray() as Float32Array);
    step.dispose();
    disposeParameters(net);
    return { losses: Float32Array.from(losses), weights, info };
  };
  const eager = runWith(false), graph = runWith(true), ts = runWith(false, cpu);
  assertEquals(firstDifference(graph.losses, eager.losses), "", "losses");
  graph.weights.forEach((w, k) => assertEquals(firstDifference(w, eager.weights[k]), "", `parameter ${k}`));
  assertEquals([graph.info.captures, graph.info.replays], [1, 9], JSON.stringify(graph.info));
  near("losses against the TS backend (the same Philox masks)", graph.losses, ts.losses, { rtol: 1e-5 });
  for (const [x, y] of data) x.dispose(), y.dispose();
});
