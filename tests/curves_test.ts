/**
 * What a user sees of a run: the metrics file (train.MetricsLog, trainEpoch's log-interval records,
 * the MNIST scripts' --metrics), the learning curves (train.plotCurves, --plot: parsed as XML), and
 * the progress bar (rate, ETA, running loss) drawn into a fake terminal.
 */
import { assertEquals, assertOk, assertThrows, join, near } from "./_std.ts";
import { manualSeed, nn, optim, tensor, train } from "../mod.ts";
import { dev, ignore } from "./_cuda.ts";
import { runMnistCli } from "../examples/mnist/cli.ts";

const { MetricsLog, ProgressBar, evaluate, parseMetrics, plotCurves, trainEpoch } = train;

// ---------------------------------------------------------------------------------------------
// A small classification problem: 37 samples of 4 features, 3 classes, batches of 4 (the last
// one holds 1 sample, so means must weight by batch size). Fresh tensors on every pass.

const N = 37, BATCH = 4, FEATURES = 4, CLASSES = 3;
const xs = Float32Array.from({ length: N * FEATURES }, (_, i) => Math.sin(i * 1.7) + (i % 5) * 0.3);
const ys = Int32Array.from({ length: N }, (_, i) => (i * 7) % CLASSES);
const loader: train.BatchLoader = {
  length: Math.ceil(N / BATCH),
  dataset: { length: N },
  *[Symbol.iterator]() {
    for (let s = 0; s < N; s += BATCH) {
      const n = Math.min(BATCH, N - s);
      yield [
        tensor(xs.slice(s * FEATURES, (s + n) * FEATURES), [n, FEATURES]),
        tensor(ys.slice(s, s + n), [n], { dtype: "int32" }),
      ];
    }
  },
};

function setup(lr = 0.5): { model: nn.Linear; opt: optim.SGD } {
  manualSeed(3);
  const model = new nn.Linear(FEATURES, CLASSES);
  return { model, opt: new optim.SGD(model.parameters(), { lr }) };
}

Deno.test("MetricsLog: trainEpoch writes one JSON line per log interval, logEpoch one per epoch", async () => {
  // The reference: every batch's loss (logInterval 1), from the same seed.
  const ref = setup();
  const perBatch = [1, 2].map((epoch) =>
    trainEpoch(ref.model, ref.opt, loader, { epoch, logInterval: 1, log: () => {} }).losses
  );

  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  const { model, opt } = setup();
  const metrics = new MetricsLog(path);
  const results = [];
  for (const epoch of [1, 2]) {
    const tr = trainEpoch(model, opt, loader, { epoch, logInterval: 4, log: () => {}, metrics, accuracy: true });
    const ev = evaluate(model, loader);
    metrics.logEpoch({ train: tr, test: ev });
    results.push({ tr, ev });
  }
  const text = await Deno.readTextFile(path);
  assertOk(text.endsWith("\n") && !text.includes("null"), text);
  const records = text.trimEnd().split("\n").map((l) => JSON.parse(l));
  assertEquals(records, metrics.records);
  assertEquals(parseMetrics(text), metrics.records);

  // Batches 0, 4, 8 are logged (PyTorch's batch_idx % log_interval == 0); 10 batches per epoch.
  assertEquals(records.map((r) => [r.kind, r.epoch, r.step, r.batch]), [
    ["log", 1, 1, 1],
    ["log", 1, 5, 5],
    ["log", 1, 9, 9],
    ["epoch", 1, 10, undefined],
    ["log", 2, 11, 1],
    ["log", 2, 15, 5],
    ["log", 2, 19, 9],
    ["epoch", 2, 20, undefined],
  ]);
  for (const r of records) {
    assertEquals(r.lr, 0.5);
    assertOk(r.seconds >= 0 && Number.isFinite(r.trainLoss), JSON.stringify(r));
    if (r.kind === "log") assertEquals(r.batches, 10);
  }
  const seconds = records.map((r) => r.seconds);
  assertEquals(seconds, [...seconds].sort((a, b) => a - b));

  // Each log record's loss is the sample-weighted mean over its interval (batches after the last
  // logged one, up to this one); the epoch record's, over the whole epoch (37 samples).
  const sizes = Array.from({ length: 10 }, (_, i) => Math.min(BATCH, N - i * BATCH));
  const mean = (losses: number[], from: number, to: number) => {
    let s = 0, n = 0;
    for (let i = from; i < to; i++) [s, n] = [s + losses[i] * sizes[i], n + sizes[i]];
    return s / n;
  };
  for (const [e, losses] of perBatch.entries()) {
    const got = records.filter((r) => r.epoch === e + 1).map((r) => r.trainLoss);
    const want = [mean(losses, 0, 1), mean(losses, 1, 5), mean(losses, 5, 9), mean(losses, 0, 10)];
    near(`epoch ${e + 1} train losses`, got, want, { rtol: 1e-6 });
    const { tr, ev } = results[e];
    assertEquals(got[3], tr.loss);
    const rec = records.filter((r) => r.kind === "epoch")[e];
    assertEquals([rec.testLoss, rec.testAccuracy, rec.trainAccuracy], [ev.loss, ev.accuracy, tr.accuracy]);
    assertEquals(rec.trainSeconds, Math.round(tr.seconds * 1000) / 1000);
  }
  await Deno.remove(path);
});

Deno.test("trainEpoch: with lr 0 its mean loss and accuracy equal evaluate's on the same batches", () => {
  const { model, opt } = setup(0);
  const tr = trainEpoch(model, opt, loader, { accuracy: true, log: () => {} });
  const ev = evaluate(model, loader);
  near("mean loss", [tr.loss], [ev.loss], { rtol: 1e-6 });
  assertEquals([tr.correct, tr.samples], [ev.correct, ev.total]);
  assertEquals(tr.accuracy, ev.accuracy);
  // Without `accuracy`, nothing is counted.
  const plain = trainEpoch(model, opt, loader, { log: () => {} });
  assertOk(Number.isNaN(plain.correct) && Number.isNaN(plain.accuracy));
  assertEquals([plain.epoch, plain.step, plain.lr], [1, 10, 0]);
});

Deno.test("trainEpoch: the CUDA backend sums the losses and hits on the device to the CPU's totals", {
  ignore,
}, () => {
  const cpuRun = setup();
  const a = trainEpoch(cpuRun.model, cpuRun.opt, loader, { accuracy: true, logInterval: 3, log: () => {} });
  const cudaRun = setup();
  cudaRun.model.to(dev());
  const metrics = new MetricsLog();
  const b = trainEpoch(cudaRun.model, cudaRun.opt, loader, {
    accuracy: true,
    logInterval: 3,
    log: () => {},
    device: dev(),
    metrics,
  });
  near("epoch mean loss", [b.loss], [a.loss], { rtol: 1e-4 });
  assertEquals(b.correct, a.correct);
  assertEquals(metrics.records.length, 4); // batches 0, 3, 6, 9
  for (const t of cudaRun.model.parameters()) t.dispose();
});

Deno.test("MetricsLog: appending reads the earlier records, drops a line cut short, and goes on counting seconds", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  await Deno.writeTextFile(
    path,
    '{"kind":"epoch","epoch":1,"step":10,"testLoss":0.5,"seconds":42}\n{"kind":"log","epoch":2,"st',
  );
  const metrics = new MetricsLog(path, { append: true });
  assertEquals(metrics.records.length, 1);
  const rec = metrics.record({ kind: "epoch", epoch: 2, step: 20, testLoss: 0.25, lr: NaN });
  assertOk(rec.seconds >= 42 && rec.seconds < 52, String(rec.seconds));
  assertOk(!("lr" in rec), "a NaN is left out, not written as null");
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
  assertEquals(lines.length, 2);
  assertEquals(JSON.parse(lines[1]), rec);
  // Without append the file starts over.
  new MetricsLog(path);
  assertEquals(await Deno.readTextFile(path), "");
  await Deno.remove(path);
});

Deno.test("MetricsLog: a path in a missing folder, bad options and bad lines are errors naming them", () => {
  assertThrows(() => new MetricsLog("/nonexistent-folder/run.jsonl"), "MetricsLog", "/nonexistent-folder/run.jsonl");
  assertThrows(() => new MetricsLog(undefined, { apend: true } as never), "MetricsLog", "apend", "append");
  assertThrows(() => parseMetrics('{"kind":"epoch","epoch":1,"step":1}\nnot json\n'), "parseMetrics", "line 2");
  assertThrows(() => parseMetrics('{"epoch":1}\n'), "parseMetrics", "line 1", "kind");
});

// ---------------------------------------------------------------------------------------------
// SVG: parsed as XML by a small strict parser (well-formedness: one root, nested tags, quoted
// attributes, known entities), then checked series by series.

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at ${i}: ${JSON.stringify(src.slice(i, i + 40))}`);
  };
  const decode = (s: string) => {
    if (/[<]/.test(s)) fail("raw < in text or attribute");
    return s.replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);|&/gi, (m, e: string | undefined) => {
      const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
      if (e === undefined) return fail("bare &");
      if (e.startsWith("#")) return String.fromCodePoint(Number(e[1] === "x" ? "0" + e.slice(1) : e.slice(1)));
      return named[e] ?? fail(`unknown entity ${m}`);
    });
  };
  if (src.startsWith("<?xml")) i = src.indexOf("?>") + 2;
  const skipSpace = () => {
    while (/\s/.test(src[i] ?? "")) i++;
  };
  const element = (): XmlElement => {
    if (src[i] !== "<") fail("expected <");
    const name = /^<([A-Za-z_][\w.:-]*)/.exec(src.slice(i))?.[1] ?? fail("bad tag name");
    i += name.length + 1;
    const el: XmlElement = { name, attrs: {}, children: [], text: "" };
    for (;;) {
      skipSpace();
      if (src.startsWith("/>", i)) {
        i += 2;
        return el;
      }
      if (src[i] === ">") break;
      const m = /^([A-Za-z_][\w.:-]*)="([^"]*)"/.exec(src.slice(i)) ?? fail("bad attribute");
      if (m[1] in el.attrs) fail(`duplicate attribute ${m[1]}`);
      el.attrs[m[1]] = decode(m[2]);
      i += m[0].length;
    }
    i++;
    for (;;) {
      const next = src.indexOf("<", i);
      if (next < 0) fail(`unclosed <${name}>`);
      el.text += decode(src.slice(i, next));
      i = next;
      if (src.startsWith("</", i)) {
        if (!src.startsWith(`</${name}>`, i)) fail(`</${name}> expected`);
        i += name.length + 3;
        return el;
      }
      el.children.push(element());
    }
  };
  skipSpace();
  const root = element();
  skipSpace();
  if (i !== src.length) fail("content after the root element");
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  return [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
}

function points(svg: XmlElement, series: string): [number, number][] {
  const [line] = all(svg, (e) => e.name === "polyline" && e.attrs["data-series"] === series);
  assertOk(line, `no polyline for ${series}`);
  return line.attrs.points.split(" ").map((p) => p.split(",").map(Number) as [number, number]);
}

const EPOCHS: train.MetricsRecord[] = [
  { kind: "log", epoch: 1, step: 1, batch: 1, batches: 4, lr: 1, trainLoss: 2.3, seconds: 0 },
  { kind: "log", epoch: 1, step: 3, batch: 3, batches: 4, lr: 1, trainLoss: 0.9, seconds: 1 },
  {
    kind: "epoch",
    epoch: 1,
    step: 4,
    trainLoss: 1.2,
    trainAccuracy: 70,
    testLoss: 0.5,
    testAccuracy: 85,
    seconds: 2,
  },
  { kind: "log", epoch: 2, step: 5, batch: 1, batches: 4, lr: 1, trainLoss: 0.6, seconds: 2 },
  { kind: "epoch", epoch: 2, step: 8, trainLoss: 0.4, trainAccuracy: 88, testLoss: 0.3, testAccuracy: 91, seconds: 4 },
  {
    kind: "epoch",
    epoch: 3,
    step: 12,
    trainLoss: 0.3,
    trainAccuracy: 92,
    testLoss: 0.35,
    testAccuracy: 90,
    seconds: 6,
  },
];

Deno.test("plotCurves: well-formed SVG with the loss and accuracy series, train and test, per epoch", () => {
  const src = plotCurves(EPOCHS, { title: 'run <1> & "quotes"' });
  const svg = parseXml(src);
  assertEquals(svg.name, "svg");
  assertEquals(svg.attrs.xmlns, "http://www.w3.org/2000/svg");
  assertEquals([svg.attrs.width, svg.attrs.height], ["900", "380"]);
  const texts = all(svg, (e) => e.name === "text").map((e) => e.text);
  assertOk(texts.includes('run <1> & "quotes"'), "the title, escaped and read back");
  for (const t of ["Loss (log scale)", "Accuracy (%)", "epoch", "test", "train", "train (epoch mean)"]) {
    assertOk(texts.includes(t), `missing text ${t}: ${texts.join(" | ")}`);
  }
  const series = all(svg, (e) => e.name === "polyline").map((e) => e.attrs["data-series"]);
  assertEquals(series, ["loss/train-interval", "loss/train", "loss/test", "accuracy/train", "accuracy/test"]);
  const legends = all(svg, (e) => e.attrs["data-legend"] !== undefined).map((e) => e.attrs["data-legend"]);
  assertEquals(legends, series);

  // One point per epoch, left to right at equal steps; a lower loss is drawn lower (larger y),
  // a higher accuracy higher.
  const testLoss = points(svg, "loss/test");
  assertEquals(testLoss.length, 3);
  const [x1, x2, x3] = testLoss.map((p) => p[0]);
  assertOk(x1 < x2 && x2 < x3 && Math.abs((x2 - x1) - (x3 - x2)) < 0.2, String([x1, x2, x3]));
  assertOk(testLoss[0][1] < testLoss[1][1] && testLoss[1][1] > testLoss[2][1], "0.5 > 0.3 < 0.35");
  const testAcc = points(svg, "accuracy/test").map((p) => p[1]);
  assertOk(testAcc[0] > testAcc[1] && testAcc[1] < testAcc[2], "85 < 91 > 90");
  assertEquals(points(svg, "accuracy/train").length, 3);
  // Log intervals sit within their epoch: batch 1 of 4 in epoch 1 is at epoch 0.25.
  const interval = points(svg, "loss/train-interval");
  assertEquals(interval.length, 3);
  const xAt = (epoch: number) => x1 + (epoch - 1) * (x2 - x1);
  assertOk(Math.abs(interval[0][0] - xAt(0.25)) < 0.2 && Math.abs(interval[2][0] - xAt(1.25)) < 0.2, String(interval));
  // A circle with a hover title per epoch point.
  const circles = all(svg, (e) => e.name === "circle" && e.attrs["data-series"] === "loss/test");
  assertEquals(circles.map((c) => c.children[0]?.text), [
    "epoch 1: loss test 0.5",
    "epoch 2: loss test 0.3",
    "epoch 3: loss test 0.35",
  ]);
});

Deno.test("plotCurves: a resumed file's repeated epochs count once, linear scale, and no data at all", () => {
  const resumed = [...EPOCHS, { ...EPOCHS[4], testLoss: 0.2, seconds: 9 }];
  assertEquals(points(parseXml(plotCurves(resumed)), "loss/test").length, 3);
  const linear = parseXml(plotCurves(EPOCHS, { lossScale: "linear", width: 600, height: 300 }));
  const texts = all(linear, (e) => e.name === "text").map((e) => e.text);
  assertOk(texts.includes("Loss") && texts.includes("0") && texts.includes("2.5"), texts.join(" | "));
  const empty = parseXml(plotCurves([]));
  assertEquals(all(empty, (e) => e.name === "polyline").length, 0);
  assertEquals(all(empty, (e) => e.text === "nothing recorded").length, 2);
  // Regression (no accuracy): the accuracy panel says so.
  const noAcc = parseXml(plotCurves(EPOCHS.map(({ trainAccuracy: _, testAccuracy: __, ...r }) => r)));
  assertEquals(all(noAcc, (e) => e.text === "nothing recorded").length, 1);
  assertThrows(() => plotCurves(EPOCHS, { lossScale: "log2" as never }), "plotCurves", "lossScale", "log2");
  assertThrows(() => plotCurves(EPOCHS, { witdh: 3 } as never), "plotCurves", "witdh", "width");
  assertThrows(() => plotCurves(EPOCHS, { width: 10 }), "plotCurves", "width", "10");
});

// ---------------------------------------------------------------------------------------------
// The progress bar, drawn into a fake terminal that honours \r, \n and ESC[K.

class FakeTerminal {
  lines: string[] = [""];
  #col = 0;
  write = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      const row = this.lines.length - 1;
      if (text.startsWith("\x1b[K", i)) {
        this.lines[row] = this.lines[row].slice(0, this.#col);
        i += 2;
      } else if (text[i] === "\r") this.#col = 0;
      else if (text[i] === "\n") {
        this.lines.push("");
        this.#col = 0;
      } else {
        const line = this.lines[row].padEnd(this.#col);
        this.lines[row] = line.slice(0, this.#col) + text[i] + line.slice(this.#col + 1);
        this.#col++;
      }
    }
  };
}

Deno.test("ProgressBar: one line with the batch count, samples/s, ETA and running loss, redrawn in place", () => {
  const term = new FakeTerminal();
  const bar = new ProgressBar({ write: term.write, columns: 80, redrawMs: 0 });
  const p = { phase: "train" as const, epoch: 1, batches: 200, loss: NaN };
  bar.update({ ...p, batch: 0, samples: 0, seconds: 0 });
  assertEquals(term.lines, ["epoch 1 train [..................]   0/200     - samples/s ETA -:--"]);
  bar.update({ ...p, batch: 50, samples: 5000, seconds: 5, loss: 0.43214 });
  assertEquals(term.lines.length, 1);
  const line = term.lines[0];
  assertEquals(line, "epoch 1 train [#####.............]  50/200  1000 samples/s ETA 0:15 loss 0.4321");
  assertEquals(line.length, 79); // the bar (18 wide here) takes what the numbers leave of 80 columns
  bar.update({ ...p, phase: "test", batch: 10, batches: 10, samples: 1000, seconds: 4000, loss: 0.1 });
  assertEquals(term.lines, ["epoch 1 test  [####################] 10/10     0 samples/s ETA 0:00 loss 0.1000"]);
  // clear() leaves nothing of the bar for the next log line; the bar is drawn again below it.
  bar.clear();
  term.write("Train Epoch: 2 [0/2000 (0%)]\tLoss: 0.123456\n");
  bar.update({ ...p, epoch: 2, batch: 100, batches: 6000, samples: 1000, seconds: 4000, loss: 0.2 });
  assertEquals(term.lines[0], "Train Epoch: 2 [0/2000 (0%)]\tLoss: 0.123456");
  assertOk(term.lines[1].startsWith("epoch 2 train ["), term.lines[1]);
  assertOk(/ETA 65:33:20 loss 0\.2000$/.test(term.lines[1]), term.lines[1]); // 5900 batches left, 40 s each
});

Deno.test("ProgressBar: narrow terminals cut the line; redraws are throttled except the last batch", () => {
  const term = new FakeTerminal();
  const narrow = new ProgressBar({ write: term.write, columns: 40, redrawMs: 0 });
  narrow.update({ phase: "train", epoch: 1, batch: 1, batches: 60000, samples: 10, seconds: 1, loss: 2.3 });
  assertEquals(term.lines[0].length, 39);
  let writes = 0;
  const slow = new ProgressBar({ write: () => writes++, columns: 80, redrawMs: 60_000 });
  const p = { phase: "train" as const, epoch: 1, batches: 3, samples: 1, seconds: 1, loss: 1 };
  slow.update({ ...p, batch: 1 });
  slow.update({ ...p, batch: 2 });
  slow.update({ ...p, batch: 3 });
  assertEquals(writes, 2);
  assertEquals(ProgressBar.onTerminal() !== undefined, Deno.stderr.isTerminal());
});

Deno.test("ProgressBar: trainEpoch's progress shows the running loss the loop read back", () => {
  const term = new FakeTerminal();
  const bar = new ProgressBar({ write: term.write, columns: 100, redrawMs: 0 });
  const { model, opt } = setup();
  const seen: train.Progress[] = [];
  const tr = trainEpoch(model, opt, loader, {
    logInterval: 4,
    log: () => {},
    onProgress: (p) => {
      seen.push(p);
      bar.update(p);
    },
  });
  assertEquals(seen.map((p) => p.samples), [4, 8, 12, 16, 20, 24, 28, 32, 36, 37]);
  assertOk(seen.every((p, i) => i === 0 || p.seconds >= seen[i - 1].seconds));
  // Read back at the logged batches (0, 4, 8) at least: batch 0's loss is its own.
  assertEquals(seen[0].loss, tr.losses[0]);
  assertOk(seen.every((p) => Number.isFinite(p.loss) && p.loss > 0));
  assertOk(/^epoch 1 train \[#+\] 10\/10 +\d+ samples\/s ETA 0:00 loss \d\.\d{4}$/.test(term.lines[0]), term.lines[0]);
  // evaluate reports its running loss too; the last one is its result.
  const evSeen: train.Progress[] = [];
  const ev = evaluate(model, loader, { epoch: 1, onProgress: (p) => evSeen.push(p) });
  assertEquals(evSeen.at(-1)!.loss, ev.loss);
  assertEquals(evSeen.at(-1)!.samples, N);
});

// ---------------------------------------------------------------------------------------------
// The MNIST script's flags, end to end on a short real run.

Deno.test("train_mnist --metrics --plot: the records of a short run and its curves", async () => {
  const dir = await Deno.makeTempDir();
  const [metricsPath, plotPath] = [join(dir, "run.jsonl"), join(dir, "run.svg")];
  const recipe = { name: "train_mnist", title: "test", usage: "test" };
  const args = ["--epochs", "2", "--limit", "300", "--test-limit", "200", "--log-interval", "10", "--device", "cpu"];
  const code = await quietly(() => runMnistCli([...args, "--metrics", metricsPath, "--plot", plotPath], recipe));
  assertEquals(code, 0);
  const records = parseMetrics(await Deno.readTextFile(metricsPath));
  const epochs = records.filter((r) => r.kind === "epoch");
  assertEquals(epochs.map((r) => [r.epoch, r.step, r.lr]), [[1, 30, 1], [2, 60, 0.7]]);
  assertEquals(records.filter((r) => r.kind === "log").map((r) => r.step), [1, 11, 21, 31, 41, 51]);
  for (const r of epochs) {
    for (const k of ["trainLoss", "trainAccuracy", "testLoss", "testAccuracy", "trainSeconds"] as const) {
      assertOk(typeof r[k] === "number" && Number.isFinite(r[k]), `${k} in ${JSON.stringify(r)}`);
    }
    assertOk(r.testAccuracy! > 30, `epoch ${r.epoch}: ${r.testAccuracy}% on 200 test images`);
    assertOk(Number.isInteger(r.testAccuracy! * 2), "correct / 200, in percent");
  }
  const svg = parseXml(await Deno.readTextFile(plotPath));
  for (const s of ["loss/train-interval", "loss/train", "loss/test", "accuracy/train", "accuracy/test"]) {
    assertEquals(points(svg, s).length, s === "loss/train-interval" ? 6 : 2, s);
  }
  // A bad output path fails before any training, naming the flag.
  const errors: string[] = [];
  const bad = await quietly(() => runMnistCli([...args, "--plot", join(dir, "missing", "c.svg")], recipe), errors);
  assertEquals(bad, 1);
  assertOk(errors.some((e) => e.includes("--plot") && e.includes("missing")), errors.join("\n"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train_mnist --resume appends to the same --metrics file, and --plot draws the whole run", async () => {
  const dir = await Deno.makeTempDir();
  const [metricsPath, plotPath, ckpt] = ["run.jsonl", "run.svg", "run.ckpt"].map((f) => join(dir, f));
  const recipe = { name: "train_mnist", title: "test", usage: "test" };
  const args = ["--limit", "200", "--test-limit", "100", "--log-interval", "10", "--device", "cpu"];
  const outputs = ["--metrics", metricsPath, "--plot", plotPath, "--checkpoint", ckpt];
  assertEquals(await quietly(() => runMnistCli([...args, ...outputs, "--epochs", "1"], recipe)), 0);
  assertEquals(await quietly(() => runMnistCli([...args, ...outputs, "--epochs", "2", "--resume", ckpt], recipe)), 0);
  const records = parseMetrics(await Deno.readTextFile(metricsPath));
  assertEquals(records.map((r) => [r.kind, r.epoch, r.step]), [
    ["log", 1, 1],
    ["log", 1, 11],
    ["epoch", 1, 20],
    ["log", 2, 21],
    ["log", 2, 31],
    ["epoch", 2, 40],
  ]);
  const seconds = records.map((r) => r.seconds);
  assertEquals(seconds, [...seconds].sort((a, b) => a - b));
  assertEquals(points(parseXml(await Deno.readTextFile(plotPath)), "loss/test").length, 2);
  await Deno.remove(dir, { recursive: true });
});

/** Runs `fn` with console.log and console.error silenced (errors collected into `errors`). */
async function quietly<T>(fn: () => Promise<T>, errors: string[] = []): Promise<T> {
  const [log, error] = [console.log, console.error];
  console.log = () => {};
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    return await fn();
  } finally {
    [console.log, console.error] = [log, error];
  }
}
