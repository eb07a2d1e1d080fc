/**
 * Over 500 lines: every piece of a checkpoint and the end-to-end resume, which share fixtures.
 * Checkpoints (src/io/checkpoint.ts, src/io/atomic.ts, the generator state in src/tensor/random.ts,
 * examples/mnist/checkpoint.ts): each piece round trips, a restored run goes on bit-identically with
 * every optimizer and scheduler, writes are atomic and clean up after a killed save, bad files and
 * models that do not fit are clear errors, and the MNIST script resumes to a byte-identical model.
 */
import {
  data,
  F,
  Generator,
  globalGenerator,
  io,
  manualSeed,
  nn,
  optim,
  philoxGenerator,
  Tensor,
  tensor,
  tidy,
} from "../mod.ts";
import { assertEquals, assertOk, dirname, fromFileUrl, join } from "./_std.ts";

const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..");

/** Fails unless the promise rejects with an Error whose message holds every one of `includes`. */
async function assertRejects(p: Promise<unknown>, ...includes: string[]): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assertOk(e instanceof Error, `not an Error: ${String(e)}`);
    for (const s of includes) assertOk(e.message.includes(s), `message lacks ${JSON.stringify(s)}:\n${e.message}`);
    return e;
  }
  throw new Error(`expected a rejection with ${includes.join(", ")}`);
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "checkpoint_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A small model with dropout, so the Philox stream matters too. */
class Small extends nn.Module {
  fc1: nn.Linear = new nn.Linear(5, 4);
  drop: nn.Dropout = new nn.Dropout({ p: 0.3 });
  fc2: nn.Linear = new nn.Linear(4, 3);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.drop.forward(this.fc1.forward(x).relu()));
  }
}

const LABELS = tensor([0, 1, 2, 0, 1, 2], [6], { dtype: "int32" });

interface Scheduler {
  step(metric: number): void;
  getLastLr(): number[];
  stateDict(): optim.SchedulerStateDict;
  loadStateDict(s: optim.SchedulerStateDict): void;
}

/** `n` training steps on fresh global-generator inputs; each step ends with a scheduler step. */
function train(model: Small, opt: optim.Optimizer, sched: Scheduler | undefined, n: number): number[][] {
  const lrs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const loss = tidy(() => {
      const x = Tensor.randn([6, 5]); // the MT19937 stream matters
      opt.zeroGrad();
      const l = F.crossEntropy(model.forward(x), LABELS);
      l.backward();
      opt.step();
      return l.item();
    });
    sched?.step(loss);
    lrs.push(sched ? sched.getLastLr() : opt.paramGroups.map((g) => g.lr));
  }
  return lrs;
}

function weights(model: nn.Module): Record<string, number[]> {
  return Object.fromEntries(
    Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.toHost() as Float32Array)]),
  );
}

type MakeOptimizer = (params: Tensor[]) => optim.Optimizer;
type MakeScheduler = (opt: optim.Optimizer) => Scheduler;

const OPTIMIZERS: Record<string, MakeOptimizer> = {
  "SGD": (p) => new optim.SGD(p, { lr: 0.1 }),
  "SGD momentum nesterov": (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
  "Adam amsgrad": (p) => new optim.Adam(p, { lr: 0.01, amsgrad: true }),
  "AdamW": (p) => new optim.AdamW(p, { lr: 0.01 }),
  "Adadelta": (p) => new optim.Adadelta(p, { lr: 1.0 }),
  "RMSprop centered momentum": (p) => new optim.RMSprop(p, { lr: 0.01, centered: true, momentum: 0.5 }),
  "Adagrad": (p) => new optim.Adagrad(p, { lr: 0.1 }),
};

const SCHEDULERS: Record<string, MakeScheduler> = {
  "StepLR": (o) => new optim.StepLR(o, { stepSize: 2, gamma: 0.5 }),
  "MultiStepLR": (o) => new optim.MultiStepLR(o, { milestones: [2, 5], gamma: 0.3 }),
  "ExponentialLR": (o) => new optim.ExponentialLR(o, { gamma: 0.9 }),
  "CosineAnnealingLR": (o) => new optim.CosineAnnealingLR(o, { tMax: 4, etaMin: 0.001 }),
  "LinearLR": (o) => new optim.LinearLR(o, { startFactor: 0.25, totalIters: 5 }),
  "LambdaLR": (o) => new optim.LambdaLR(o, { lrLambda: (e) => 0.95 ** e }),
  "OneCycleLR": (o) => new optim.OneCycleLR(o, { maxLr: 0.5, totalSteps: 20 }),
  "ReduceLROnPlateau": (o) => new optim.ReduceLROnPlateau(o, { patience: 0, factor: 0.5, threshold: 0.5 }),
  "SequentialLR": (o) =>
    new optim.SequentialLR(o, {
      schedulers: [
        new optim.LinearLR(o, { startFactor: 0.5, totalIters: 2 }),
        new optim.ExponentialLR(o, { gamma: 0.8 }),
      ],
      milestones: [3],
    }),
};

/**
 * Trains `before` steps, saves, trains `after` more; then a fresh model (other weights, other seed)
 * loads the checkpoint and trains `after` steps: weights, learning rates and states must match.
 */
async function resumesBitIdentically(
  dir: string,
  makeOpt: MakeOptimizer,
  makeSched: MakeScheduler | undefined,
  before: number,
): Promise<void> {
  const after = 4;
  const path = join(dir, "ckpt.safetensors");
  manualSeed(7);
  const model = new Small();
  const opt = makeOpt(model.parameters());
  const sched = makeSched?.(opt);
  train(model, opt, sched, before);
  await io.saveCheckpoint(path, { model, optimizer: opt, scheduler: sched, epoch: before });
  const savedSched = sched?.stateDict();
  const lrsA = train(model, opt, sched, after);

  manualSeed(99); // other weights and streams: everything must come from the file
  const copy = new Small();
  const opt2 = makeOpt(copy.parameters());
  const sched2 = makeSched?.(opt2);
  const { epoch } = await io.loadCheckpoint(path, { model: copy, optimizer: opt2, scheduler: sched2 });
  assertEquals(epoch, before);
  assertEquals(sched2?.stateDict(), savedSched);
  const lrsB = train(copy, opt2, sched2, after);
  assertEquals(lrsB, lrsA);
  assertEquals(weights(copy), weights(model));
}

Deno.test("Generator getState/setState replays the same draws, through JSON too", () => {
  const g = new Generator(5);
  for (let i = 0; i < 700; i++) g.nextUint32(); // past a twist
  g.normal(); // leaves the pair's second value cached
  const saved = g.getState();
  assertOk(saved.spareNormal !== null);
  const expected = [g.normal(), g.nextUint32(), g.uniform(-1, 1), ...g.permutation(10)];
  const viaJson = JSON.parse(JSON.stringify({ ...saved, state: Array.from(saved.state) }));
  for (const state of [saved, viaJson]) {
    const h = new Generator(123);
    h.setState(state);
    assertEquals([h.normal(), h.nextUint32(), h.uniform(-1, 1), ...h.permutation(10)], expected);
  }
  // getState copies: later draws do not change a saved state.
  const before = Array.from(saved.state);
  for (let i = 0; i < 1000; i++) g.nextUint32();
  assertEquals(Array.from(saved.state), before);
});

Deno.test("Generator.setState rejects a bad state by name and changes nothing", () => {
  const g = new Generator(1);
  const good = g.getState();
  const cases: [unknown, string][] = [
    [null, "expected { state, index, spareNormal }"],
    [{ ...good, state: new Uint32Array(10) }, "624 words"],
    [{ ...good, state: [...Array.from(good.state).slice(1), -1] }, "state[623]"],
    [{ ...good, index: 625 }, "index must be an integer in [0, 624]"],
    [{ ...good, spareNormal: NaN }, "spareNormal"],
  ];
  const first = new Generator(1).nextUint32();
  for (const [bad, want] of cases) {
    let err: Error | undefined;
    try {
      g.setState(bad as never);
    } catch (e) {
      err = e as Error;
    }
    assertOk(err?.message.startsWith("Generator.setState: ") && err.message.includes(want), err?.message);
  }
  assertEquals(g.nextUint32(), first);
});

for (const [name, makeOpt] of Object.entries(OPTIMIZERS)) {
  Deno.test(`saveCheckpoint/loadCheckpoint with ${name} go on bit-identically`, () =>
    withDir((dir) => resumesBitIdentically(dir, makeOpt, undefined, 3)));
}

for (const [name, makeSched] of Object.entries(SCHEDULERS)) {
  Deno.test(`saveCheckpoint/loadCheckpoint with ${name} go on bit-identically`, () =>
    withDir(async (dir) => {
      const sgd = OPTIMIZERS["SGD momentum nesterov"];
      await resumesBitIdentically(dir, sgd, makeSched, 3);
      await resumesBitIdentically(dir, sgd, makeSched, 0); // before any step (ReduceLROnPlateau: best = Infinity)
    }));
}

Deno.test("a checkpoint holds the generators, the data order, ±Infinity, NaN, -0 and bigints", () =>
  withDir(async (dir) => {
    const path = join(dir, "c.safetensors");
    manualSeed(3);
    const model = new Small();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    const plateau = new optim.ReduceLROnPlateau(opt, { mode: "max" });
    assertEquals(plateau.best, -Infinity);
    const loader = new data.DataLoader(new data.TensorDataset(Tensor.randn([20, 2]), Tensor.zeros([20])), {
      batchSize: 4,
      shuffle: true,
      seed: 11,
    });
    for (const _ of loader); // one epoch
    globalGenerator().normal();
    philoxGenerator().uniform([5]).dispose();
    const extra = {
      inf: [Infinity, -Infinity],
      nan: NaN,
      negZero: -0,
      big: 2n ** 70n,
      text: "é",
      nested: { a: [1, null] },
    };
    await io.saveCheckpoint(path, { model, optimizer: opt, scheduler: plateau, loader, epoch: 1, extra });
    const mtNext = [globalGenerator().normal(), globalGenerator().nextUint32()];
    const philoxNext = Array.from(philoxGenerator().uniform([5]).toHost() as Float32Array);
    const epoch2 = loader.order(1);

    manualSeed(50);
    const loader2 = new data.DataLoader(new data.TensorDataset(Tensor.randn([20, 2]), Tensor.zeros([20])), {
      batchSize: 4,
      shuffle: true,
      seed: 11,
    });
    const plateau2 = new optim.ReduceLROnPlateau(opt, { mode: "max" });
    plateau2.step(5);
    const info = await io.loadCheckpoint(path, { model, scheduler: plateau2, loader: loader2 });
    assertEquals(info.epoch, 1);
    assertEquals(info.extra, extra);
    assertOk(Object.is((info.extra as { negZero: number }).negZero, -0));
    assertEquals(plateau2.best, -Infinity);
    assertEquals(loader2.epoch, 1);
    assertEquals(loader2.order(loader2.epoch), epoch2);
    assertEquals([globalGenerator().normal(), globalGenerator().nextUint32()], mtNext);
    assertEquals(Array.from(philoxGenerator().uniform([5]).toHost() as Float32Array), philoxNext);

    // Any safetensors reader opens it; the model is under "model.", PyTorch's names after it.
    const { tensors, metadata } = io.parseSafetensors(await Deno.readFile(path));
    assertEquals(Object.keys(tensors), ["model.fc1.weight", "model.fc1.bias", "model.fc2.weight", "model.fc2.bias"]);
    assertEquals(metadata.format, "convnet.checkpoint");
    assertOk(metadata.scheduler.includes('"best":{"$float":"-Infinity"}'), metadata.scheduler);
  }));

Deno.test("saveCheckpoint rejects what it cannot keep, naming it", () =>
  withDir(async (dir) => {
    const model = new Small();
    const path = join(dir, "c.safetensors");
    await assertRejects(io.saveCheckpoint(path, { model, epoch: -1 }), "saveCheckpoint: epoch", "-1");
    await assertRejects(
      io.saveCheckpoint(path, { model, extra: { w: Tensor.zeros([2]) } }),
      'extra holds a Tensor at "w"',
    );
    await assertRejects(io.saveCheckpoint(path, { model, bogus: 1 } as never), 'unknown option "bogus"');
    await assertRejects(io.saveCheckpoint(path, { model: {} as nn.Module }), "model must be an nn.Module");
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  }));

Deno.test("saveCheckpoint writes atomically: no temporary file stays, an old checkpoint is replaced whole", () =>
  withDir(async (dir) => {
    const path = join(dir, "ckpt.safetensors");
    const model = new Small();
    await io.saveCheckpoint(path, { model, epoch: 1 });
    await io.saveCheckpoint(path, { model, epoch: 2 });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["ckpt.safetensors"]);
    assertEquals((await io.loadCheckpoint(path, { model })).epoch, 2);
    await io.save(model.stateDict(), join(dir, "w.safetensors"));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["ckpt.safetensors", "w.safetensors"]);
  }));

Deno.test("a save killed before its rename leaves a temporary file that the next save removes", () =>
  withDir(async (dir) => {
    const path = join(dir, "ckpt.safetensors");
    const script = join(dir, "killed_save.ts");
    // The real save path, with the rename made to hang: the process is killed there.
    await Deno.writeTextFile(
      script,
      `import { io, nn } from ${JSON.stringify(join(ROOT, "mod.ts"))};
       (Deno as unknown as { rename: unknown }).rename = () => { console.log("renaming"); return new Promise(() => {}); };
       await io.saveCheckpoint(${JSON.stringify(path)}, { model: new nn.Linear(300, 300) });`,
    );
    const child = new Deno.Command(Deno.execPath(), { args: ["run", "-A", script], stdout: "piped", stderr: "null" })
      .spawn();
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("renaming")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await Deno.remove(script);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assertEquals(left.length, 1, `expected one orphan temporary file, found ${left.join(", ")}`);
    assertOk(/^\.ckpt\.safetensors\.[0-9a-f-]{36}\.tmp$/.test(left[0]), left[0]);
    // Files that are not this path's temporaries stay.
    const others = [".other.safetensors.0f8fad5b-d9cb-469f-a165-70867728950e.tmp", "notes.tmp"];
    for (const f of others) await Deno.writeTextFile(join(dir, f), "keep");
    await io.saveCheckpoint(path, { model: new Small(), epoch: 4 });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [...others, "ckpt.safetensors"].sort());
    assertEquals((await io.loadCheckpoint(path, { model: new Small() })).epoch, 4);
  }));

Deno.test("loadCheckpoint names a missing, corrupt or foreign file", () =>
  withDir(async (dir) => {
    const model = new Small();
    const path = join(dir, "ckpt.safetensors");
    await assertRejects(
      io.loadCheckpoint(join(dir, "nope.safetensors"), { model }),
      "loadCheckpoint: cannot read",
      "nope",
    );
    await io.saveCheckpoint(path, { model, epoch: 1 });
    const bytes = await Deno.readFile(path);
    const cut = join(dir, "cut.safetensors");
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 7));
    await assertRejects(
      io.loadCheckpoint(cut, { model }),
      `loadCheckpoint: ${cut}: not a readable safetensors`,
      "truncated",
    );
    const junk = join(dir, "junk.safetensors");
    await Deno.writeFile(junk, new TextEncoder().encode("this is not a checkpoint"));
    await assertRejects(io.loadCheckpoint(junk, { model }), `loadCheckpoint: ${junk}`, "header length");
    const plain = join(dir, "plain.safetensors");
    await io.save(model.stateDict(), plain);
    await assertRejects(io.loadCheckpoint(plain, { model }), "not a checkpoint", "io.load");
    const { tensors, metadata } = io.parseSafetensors(bytes);
    const changes: [Record<string, string>, string][] = [
      [{ extra: "{" }, 'metadata "extra" is not valid JSON'],
      [{ version: "9" }, "version"],
    ];
    for (const [change, want] of changes) {
      const bad = join(dir, "bad.safetensors");
      await io.save(tensors, bad, { metadata: { ...metadata, ...change } });
      await assertRejects(io.loadCheckpoint(bad, { model }), `loadCheckpoint: ${bad}: `, want);
    }
  }));

Deno.test("loadCheckpoint names what does not fit, and then changes nothing", () =>
  withDir(async (dir) => {
    const path = join(dir, "ckpt.safetensors");
    manualSeed(1);
    const model = new Small();
    const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
    const sched = new optim.StepLR(opt, { stepSize: 1 });
    train(model, opt, sched, 2);
    await io.saveCheckpoint(path, { model, optimizer: opt, scheduler: sched, epoch: 2 });
    await io.saveCheckpoint(join(dir, "bare.safetensors"), { model });

    class Wider extends nn.Module {
      fc1 = new nn.Linear(5, 6);
      fc2 = new nn.Linear(6, 3);
      forward(x: Tensor): Tensor {
        return this.fc2.forward(this.fc1.forward(x));
      }
    }
    await assertRejects(
      io.loadCheckpoint(path, { model: new Wider() }),
      "the model does not fit the checkpoint",
      "fc1.weight: expected shape [6, 5], got [4, 5]",
    );

    manualSeed(2);
    const target = new Small();
    const before = weights(target);
    const adam = new optim.Adam(target.parameters(), { lr: 0.5 });
    const cases: [Partial<io.LoadCheckpointOptions>, string[]][] = [
      [{ optimizer: new optim.SGD(target.parameters(), { lr: 1 }) }, ["holds Adam state", "given is a SGD"]],
      [
        {
          optimizer: new optim.Adam([{ params: [target.fc1.weight, target.fc1.bias!] }, {
            params: [target.fc2.weight, target.fc2.bias!],
          }]),
        },
        ["the optimizer does not fit the checkpoint", "parameter groups"],
      ],
      [{ optimizer: adam, scheduler: new optim.ExponentialLR(adam, { gamma: 0.5 }) }, [
        "holds StepLR state",
        "ExponentialLR",
      ]],
      [{ loader: { seed: 1, epoch: 0, setEpoch() {} } }, ["no data order"]],
    ];
    for (const [extra, wants] of cases) {
      await assertRejects(io.loadCheckpoint(path, { model: target, ...extra }), `loadCheckpoint: ${path}: `, ...wants);
      assertEquals(weights(target), before);
    }
    await assertRejects(
      io.loadCheckpoint(join(dir, "bare.safetensors"), { model: target, optimizer: adam }),
      "no optimizer state",
    );
    assertEquals(weights(target), before);
    assertEquals(adam.paramGroups[0].lr, 0.5);

    // A scheduler that fails after the model and the optimizer loaded: both are put back.
    const steps = new optim.StepLR(adam, { stepSize: 1 });
    const orig = steps.loadStateDict.bind(steps);
    steps.loadStateDict = () => {
      throw new Error("refused");
    };
    await assertRejects(
      io.loadCheckpoint(path, { model: target, optimizer: adam, scheduler: steps }),
      "scheduler",
      "refused",
    );
    assertEquals(weights(target), before);
    assertEquals(adam.stateDict().state, {});
    assertEquals(adam.paramGroups[0].lr, 0.5);
    steps.loadStateDict = orig;
    await io.loadCheckpoint(path, { model: target, optimizer: adam, scheduler: steps });
    assertEquals(weights(target), weights(model));
    assertEquals(adam.paramGroups[0].lr, opt.paramGroups[0].lr);
  }));

Deno.test("loadCheckpoint refuses a loader with another shuffle seed", () =>
  withDir(async (dir) => {
    const path = join(dir, "c.safetensors");
    const ds = new data.TensorDataset(Tensor.zeros([8, 1]), Tensor.zeros([8]));
    const model = new Small();
    await io.saveCheckpoint(path, { model, loader: new data.DataLoader(ds, { batchSize: 4, shuffle: true, seed: 4 }) });
    const other = new data.DataLoader(ds, { batchSize: 4, shuffle: true, seed: 5 });
    await assertRejects(io.loadCheckpoint(path, { model, loader: other }), "shuffle seed 4", "seed 5");
  }));

Deno.test("checkWritable names a missing folder and a folder given as the file, and leaves nothing", () =>
  withDir(async (dir) => {
    await io.checkWritable(join(dir, "out.safetensors"));
    assertEquals([...Deno.readDirSync(dir)].length, 0);
    const missing = join(dir, "no", "out.safetensors");
    await assertRejects(io.checkWritable(missing), `checkWritable: cannot write ${missing}`, "does not exist");
    await assertRejects(
      io.checkWritable(dir, { label: "run: saveModel" }),
      "run: saveModel: cannot write",
      "is a folder",
    );
  }));

// --- the MNIST script: --checkpoint, --resume, outputs checked up front ---

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", "train_mnist.ts"), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Epoch `epoch`'s training lines and its test line (the timing line is wall-clock time, left out). */
function epochLines(stdout: string, epoch: number): string[] {
  const lines = stdout.split("\n");
  const first = lines.findIndex((l) => l.startsWith(`Train Epoch: ${epoch} `));
  const test = lines.findIndex((l, i) => i > first && l.startsWith("Test set: "));
  assertOk(first >= 0 && test > first, stdout);
  return lines.slice(first, test + 1);
}

Deno.test("train_mnist --epochs 1 --checkpoint C, then --resume C --epochs 2, saves the same bytes as --epochs 2", () =>
  withDir(async (dir) => {
    const common = ["--limit", "2000", "--test-limit", "500", "--log-interval", "50", "--device", "cpu"];
    const [a, b, c] = ["A.safetensors", "B.safetensors", "C.safetensors"].map((f) => join(dir, f));
    const straight = await cli("--epochs", "2", "--save-model", a, ...common);
    assertEquals(straight.code, 0, straight.stderr);
    const first = await cli("--epochs", "1", "--checkpoint", c, ...common);
    assertEquals(first.code, 0, first.stderr);
    assertOk(first.stdout.includes(`saved a checkpoint to ${c}`), first.stdout);
    const resumed = await cli("--resume", c, "--epochs", "2", "--save-model", b, ...common);
    assertEquals(resumed.code, 0, resumed.stderr);
    assertOk(resumed.stdout.includes(`resumed from ${c}: 1 epoch of 2 done`), resumed.stdout);
    assertOk(!resumed.stdout.includes("Train Epoch: 1 "), resumed.stdout);
    assertEquals(await Deno.readFile(b), await Deno.readFile(a), "the resumed model differs from the straight run's");
    assertEquals(epochLines(resumed.stdout, 2), epochLines(straight.stdout, 2));
    const summary = (s: string) =>
      s.split("\n").find((l) => l.startsWith("best accuracy"))?.replace(/total time.*/, "");
    assertEquals(summary(resumed.stdout), summary(straight.stdout));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "A.safetensors",
      "B.safetensors",
      "C.safetensors",
    ]);

    // A resume with other settings, or with nothing left to do, is refused.
    const other = await cli("--resume", c, "--epochs", "2", "--batch-size", "20", ...common);
    assertEquals(other.code, 1, other.stdout);
    assertOk(
      other.stderr.includes("other settings") && other.stderr.includes("batchSize 10 there, 20 here"),
      other.stderr,
    );
    const done = await cli("--resume", c, "--epochs", "1", ...common);
    assertEquals(done.code, 1, done.stdout);
    assertOk(done.stderr.includes("has 1 epoch done and epochs is 1; ask for more"), done.stderr);
  }));

Deno.test("train_mnist checks --save-model, --checkpoint and --resume before training", () =>
  withDir(async (dir) => {
    const missing = join(dir, "missing");
    const common = ["--epochs", "1", "--limit", "20", "--test-limit", "10", "--device", "cpu"];
    const cases: [string[], string[]][] = [
      [["--save-model", join(missing, "m.safetensors")], ["saveModel (--save-model)", missing, "does not exist"]],
      [["--checkpoint", join(missing, "c.safetensors")], ["checkpoint (--checkpoint)", missing, "does not exist"]],
      [["--resume", join(dir, "none.safetensors")], ["resume (--resume)", "none.safetensors"]],
      [["--resume", join(dir, "c"), "--load-model", join(dir, "m")], ["exclude each other"]],
    ];
    for (const [args, wants] of cases) {
      const { code, stdout, stderr } = await cli(...args, ...common);
      assertEquals(code, 1, `${args.join(" ")}: ${stderr}`);
      assertEquals(stdout, "", `${args.join(" ")} started before failing:\n${stdout}`);
      for (const w of wants) assertOk(stderr.includes(w), `${args.join(" ")}: ${stderr}`);
    }
  }));
