/**
 * The two loops of a training script, for any model, loss and loader: `trainEpoch` (zero the
 * gradients, forward, loss, backward, step, with PyTorch's `Train Epoch: ...` log lines) and
 * `evaluate` (the average loss and the accuracy, without autograd).
 *
 * @module
 */
import type { Device } from "../backend/device.ts";
import { keep, noGrad, type Tensor, tidy } from "../tensor/mod.ts";
import { crossEntropy } from "../tensor/functional.ts";
import type { Module } from "../nn/mod.ts";
import type { Optimizer } from "../optim/mod.ts";
import { compileStep } from "./compile_step.ts";

/**
 * A loss: the model's output and the batch's target in, a scalar (the batch mean, as PyTorch's
 * default `reduction="mean"`) out. The default everywhere is `F.crossEntropy`.
 *
 * @example
 * ```ts
 * import type { train } from "@convnet/convnet";
 * const mse: train.LossFunction = (output, target) => output.sub(target).pow(2).mean();
 * ```
 */
export type LossFunction = (output: Tensor, target: Tensor) => Tensor;

/**
 * What the loops iterate over: `[input, target]` batches, one pass per epoch, with the sizes
 * PyTorch's log lines print (`len(loader)` and `len(loader.dataset)`). `data.DataLoader` is one.
 * The loops dispose each batch after its step, so every pass must yield fresh tensors.
 *
 * @example
 * ```ts
 * import { Tensor, type train } from "@convnet/convnet";
 * // 4 batches of 8 random points, whose target is their sum.
 * const loader: train.BatchLoader = {
 *   length: 4,
 *   dataset: { length: 32 },
 *   *[Symbol.iterator]() {
 *     for (let i = 0; i < 4; i++) {
 *       const x = Tensor.randn([8, 3]);
 *       yield [x, x.sum(1, { keepDim: true })];
 *     }
 *   },
 * };
 * ```
 */
export interface BatchLoader extends Iterable<[input: Tensor, target: Tensor]> {
  /** Batches one pass yields. */
  readonly length: number;
  /** What the batches are drawn from; its `length` (samples per pass) is printed in the log lines. */
  readonly dataset: { readonly length: number };
}

/**
 * Where a loop is, reported to `onProgress` after every batch by {@linkcode trainEpoch} and
 * {@linkcode evaluate}; `ProgressBar` draws it.
 *
 * @example
 * ```ts
 * import type { train } from "@convnet/convnet";
 * const onProgress = (p: train.Progress) =>
 *   console.log(`${p.phase} ${p.epoch}: ${p.batch}/${p.batches}, ${p.samples / p.seconds} samples/s, loss ${p.loss}`);
 * ```
 */
export interface Progress {
  /** `"train"` (from `trainEpoch`) or `"test"` (from `evaluate`). */
  phase: "train" | "test";
  /** The epoch (1-based; 0 for an evaluation outside training). */
  epoch: number;
  /** Batches done in this phase. */
  batch: number;
  /** Batches this phase will run. */
  batches: number;
  /** Samples done in this phase. */
  samples: number;
  /** Wall-clock seconds since this phase started. */
  seconds: number;
  /**
   * The running mean loss, `NaN` before any is known. Training: over the batches since the last
   * log line, as last read back from the device (at each log line and, with `onProgress`, about
   * twice a second: reading syncs a GPU). Evaluation: over the batches so far.
   */
  loss: number;
}

/** What {@linkcode trainEpoch} records at each log interval: a `MetricsLog` is one. */
export interface IntervalRecorder {
  /** Takes one interval's numbers. */
  record(entry: {
    kind: "log";
    epoch: number;
    step: number;
    batch: number;
    batches: number;
    lr: number;
    trainLoss: number;
    trainAccuracy?: number;
  }): unknown;
}

/** Options of {@linkcode trainEpoch}. */
export interface TrainEpochOptions {
  /** The loss to minimise; default `F.crossEntropy` (logits and class indices). */
  loss?: LossFunction;
  /** The epoch number used in the log lines (1-based); default 1. */
  epoch?: number;
  /** Log every this many batches (batch 0 included, as PyTorch's example does); default 100. */
  logInterval?: number;
  /** Stop after this many batches (a dry run uses 1); default: the whole epoch. */
  maxBatches?: number;
  /** The device batches are moved to; default: where the loader built them (no move). */
  device?: Device;
  /** Where the log lines go; default `console.log`. */
  log?: (line: string) => void;
  /** Called after every batch (e.g. to draw a progress bar). */
  onProgress?: (p: Progress) => void;
  /**
   * Also count the training samples whose `output.argmax(1)` equals the target (class-index
   * targets), for `accuracy` and the metrics; default `false` (a few more ops per batch).
   */
  accuracy?: boolean;
  /** Record every log interval (epoch, step, lr, the interval's mean loss) here: a `MetricsLog`. */
  metrics?: IntervalRecorder;
  /**
   * On CUDA, replay the step (zero the gradients, forward, loss, backward, optimizer step) as a CUDA
   * graph ({@linkcode compileStep}: captured at the epoch's second batch, then replayed; the last,
   * smaller batch runs eagerly); default `false`. Same results, bit for bit; the CPU ignores it.
   * Every optimizer works: Adadelta, SGD, Adam and AdamW read their hyper-parameters (a scheduler's
   * learning rate, Adam's step count) from device memory; Adagrad and RMSprop recapture when one
   * changes.
   */
  graph?: boolean;
}

/** What {@linkcode trainEpoch} did. */
export interface TrainEpochResult {
  /** The epoch number (`opts.epoch`). */
  epoch: number;
  /** Optimizer steps since the start of training: `(epoch - 1) · batches + batches`. */
  step: number;
  /** The first parameter group's learning rate at the start of the epoch. */
  lr: number;
  /** Mean training loss over all the epoch's samples (measured while the weights moved). */
  loss: number;
  /** Correct training predictions (`NaN` unless `opts.accuracy`). */
  correct: number;
  /** `100 · correct / samples` (`NaN` unless `opts.accuracy`). */
  accuracy: number;
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
 * One training epoch: for each batch, zero the gradients, forward, loss, backward, optimizer
 * step; every `logInterval` batches log `Train Epoch: 1 [1000/60000 (2%)]\tLoss: 0.412345`
 * exactly as PyTorch's examples print it. Each step runs inside `tidy`, so memory stays flat
 * however long the epoch. Every batch's loss (and with `accuracy`, its hits) is summed on the
 * device; the sums are read back (a GPU sync) on the logged batches, and about twice a second
 * for `onProgress`'s running loss.
 *
 * @example
 * ```ts
 * import { manualSeed, nn, optim, Tensor, train } from "@convnet/convnet";
 * manualSeed(1);
 * const model = new nn.Linear(3, 1);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const loader: train.BatchLoader = {
 *   length: 50,
 *   dataset: { length: 400 },
 *   *[Symbol.iterator]() {
 *     for (let i = 0; i < 50; i++) {
 *       const x = Tensor.randn([8, 3]);
 *       yield [x, x.sum(1, { keepDim: true })];
 *     }
 *   },
 * };
 * const mse = (out: Tensor, y: Tensor) => out.sub(y).pow(2).mean();
 * const { losses, loss } = train.trainEpoch(model, opt, loader, { loss: mse, logInterval: 10 });
 * // logs "Train Epoch: 1 [0/400 (0%)]\tLoss: ..." and 4 more lines; losses falls towards 0,
 * // loss is the epoch's mean
 * ```
 */
export function trainEpoch(
  model: Module,
  optimizer: Optimizer,
  loader: BatchLoader,
  opts: TrainEpochOptions = {},
): TrainEpochResult {
  const lossFn: LossFunction = opts.loss ?? crossEntropy;
  const epoch = opts.epoch ?? 1;
  const logInterval = opts.logInterval ?? 100;
  const log = opts.log ?? console.log;
  if (!Number.isInteger(logInterval) || logInterval < 1) {
    throw new Error(`trainEpoch: logInterval must be a positive integer, got ${String(opts.logInterval)}`);
  }
  const total = loader.dataset.length;
  const numBatches = loader.length;
  const batches = Math.min(numBatches, opts.maxBatches ?? numBatches);
  const countHits = opts.accuracy ?? false;
  const lr = optimizer.paramGroups[0].lr;
  const losses: number[] = [];
  const sums = new RunningSums();
  let samples = 0;
  let batchIdx = 0;
  let lastRead = performance.now();
  const start = lastRead;
  model.train();
  const graph = opts.graph ?? false;
  const step = compileStep((x: Tensor, y: Tensor): Tensor[] => {
    optimizer.zeroGrad();
    const out = model.forward(x);
    const hits = countHits ? [out.detach().argmax(1).eq(y).sum()] : [];
    const loss = lossFn(out, y);
    loss.backward();
    optimizer.step();
    return [loss, ...hits];
  }, { graph });
  try {
    for (const [input, target] of loader) {
      if (batchIdx >= batches) {
        input.dispose();
        target.dispose();
        break;
      }
      const n = input.shape[0];
      const logThis = batchIdx % logInterval === 0;
      const loss = tidy(() => {
        const [x, y] = toDevice(input, target, opts.device);
        // On a replay, loss and hits are the graph's outputs, overwritten by the next one: the sums
        // read the loss now and keep a copy of the hits.
        const [loss, hits] = step(x, y);
        sums.add(loss.detach(), hits && graph ? hits.detach().clone() : hits, n);
        return logThis ? loss.item() : NaN; // item() syncs a GPU: only when logging
      });
      input.dispose();
      target.dispose();
      if (logThis) {
        losses.push(loss);
        log(
          `Train Epoch: ${epoch} [${batchIdx * n}/${total} (${(100 * batchIdx / numBatches).toFixed(0)}%)]` +
            `\tLoss: ${loss.toFixed(6)}`,
        );
        const interval = sums.endInterval();
        opts.metrics?.record({
          kind: "log",
          epoch,
          step: (epoch - 1) * batches + batchIdx + 1,
          batch: batchIdx + 1,
          batches,
          lr: optimizer.paramGroups[0].lr, // a per-batch schedule moves it within the epoch
          trainLoss: interval.loss,
          trainAccuracy: countHits ? interval.accuracy : undefined,
        });
        lastRead = performance.now();
      }
      samples += n;
      batchIdx++;
      if (opts.onProgress) {
        const now = performance.now();
        if (now - lastRead >= 500) {
          sums.read();
          lastRead = now;
        }
        const seconds = (now - start) / 1000;
        opts.onProgress({ phase: "train", epoch, batch: batchIdx, batches, samples, seconds, loss: sums.running });
      }
    }
    sums.read();
  } finally {
    step.dispose();
    sums.dispose();
  }
  return {
    epoch,
    step: (epoch - 1) * batches + batchIdx,
    lr,
    loss: samples === 0 ? NaN : sums.lossSum / samples,
    correct: countHits ? sums.hits : NaN,
    accuracy: countHits && samples > 0 ? 100 * sums.hits / samples : NaN,
    batches: batchIdx,
    samples,
    losses,
    seconds: (performance.now() - start) / 1000,
  };
}

/**
 * The training loss (times the batch size) and hits summed on the device across batches, read
 * back into float64 totals only when asked: one sync per read, not per batch. On the CPU,
 * where reading costs nothing, each batch's values are read at once (no extra ops).
 */
class RunningSums {
  #loss: Tensor | undefined;
  #hits: Tensor | undefined;
  #hostLoss = 0;
  #hostHits = 0;
  #pending = 0;
  #interval = { loss: 0, hits: 0, samples: 0 };
  /** Totals of the epoch so far (read back). */
  lossSum = 0;
  hits = 0;
  /** Mean loss of the current log interval as last read; NaN before the first read. */
  running = NaN;

  /** Adds one batch (inside the step's `tidy`: the new sums are kept, the old ones freed). */
  add(loss: Tensor, hits: Tensor | undefined, n: number): void {
    this.#pending += n;
    if (loss.device.type === "cpu") {
      this.#hostLoss += loss.item() * n;
      this.#hostHits += hits?.item() ?? 0;
      return;
    }
    const weighted = loss.mul(n);
    const lossSum = this.#loss === undefined ? weighted : this.#loss.add(weighted);
    const hitSum = hits === undefined ? undefined : this.#hits === undefined ? hits : this.#hits.add(hits);
    this.#loss?.dispose();
    this.#hits?.dispose();
    this.#loss = keep(lossSum);
    this.#hits = hitSum && keep(hitSum);
  }

  /** Reads the device sums back into the totals. */
  read(): void {
    if (this.#pending === 0) return;
    const loss = this.#hostLoss + (this.#loss?.item() ?? 0);
    const hits = this.#hostHits + (this.#hits?.item() ?? 0);
    this.#hostLoss = this.#hostHits = 0;
    this.dispose();
    this.lossSum += loss;
    this.hits += hits;
    this.#interval.loss += loss;
    this.#interval.hits += hits;
    this.#interval.samples += this.#pending;
    this.#pending = 0;
    this.running = this.#interval.loss / this.#interval.samples;
  }

  /** Reads, and closes the log interval: its mean loss and accuracy (percent). */
  endInterval(): { loss: number; accuracy: number } {
    this.read();
    const { loss, hits, samples } = this.#interval;
    this.#interval = { loss: 0, hits: 0, samples: 0 };
    return { loss: loss / samples, accuracy: 100 * hits / samples };
  }

  dispose(): void {
    this.#loss?.dispose();
    this.#hits?.dispose();
    this.#loss = this.#hits = undefined;
  }
}

/** Options of {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** The loss to average; default `F.crossEntropy` (logits and class indices). */
  loss?: LossFunction;
  /**
   * Count the samples whose `output.argmax(1)` equals the target (class-index targets);
   * default `true`. With `false`, `correct` and `accuracy` are `NaN`.
   */
  accuracy?: boolean;
  /** The device batches are moved to; default: where the loader built them (no move). */
  device?: Device;
  /** The epoch passed on to `onProgress`; default 0. */
  epoch?: number;
  /** Called after every batch. */
  onProgress?: (p: Progress) => void;
}

/** What {@linkcode evaluate} measured. */
export interface EvaluateResult {
  /** Mean loss over all samples (sum of batch mean × batch size, divided by N). */
  loss: number;
  /** Correctly classified samples (`NaN` with `accuracy: false`). */
  correct: number;
  /** Samples evaluated. */
  total: number;
  /** `100 · correct / total` (`NaN` with `accuracy: false`). */
  accuracy: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/**
 * Evaluates `model` on every batch of `loader` in eval mode without autograd: the average loss
 * (PyTorch's examples sum per-sample losses and divide by N) and the accuracy. The model's
 * train/eval mode is restored afterwards.
 *
 * @example
 * ```ts
 * import { nn, randint, Tensor, train } from "@convnet/convnet";
 * const model = new nn.Linear(4, 3); // logits of 3 classes
 * const loader: train.BatchLoader = {
 *   length: 2,
 *   dataset: { length: 20 },
 *   *[Symbol.iterator]() {
 *     for (let i = 0; i < 2; i++) yield [Tensor.randn([10, 4]), randint(3, [10])];
 *   },
 * };
 * const { loss, correct, accuracy } = train.evaluate(model, loader); // cross-entropy; about 33% at chance
 * ```
 */
export function evaluate(model: Module, loader: BatchLoader, opts: EvaluateOptions = {}): EvaluateResult {
  const lossFn: LossFunction = opts.loss ?? crossEntropy;
  const countHits = opts.accuracy ?? true;
  const start = performance.now();
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let correct = 0;
  let total = 0;
  let batch = 0;
  try {
    noGrad(() => {
      for (const [input, target] of loader) {
        const n = input.shape[0];
        const [l, c] = tidy(() => {
          const [x, y] = toDevice(input, target, opts.device);
          const out = model.forward(x);
          const loss = lossFn(out, y).item();
          const hits = countHits ? out.argmax(1).eq(y).sum().item() : NaN;
          return [loss, hits];
        });
        input.dispose();
        target.dispose();
        lossSum += l * n;
        correct += c;
        total += n;
        opts.onProgress?.({
          phase: "test",
          epoch: opts.epoch ?? 0,
          batch: ++batch,
          batches: loader.length,
          samples: total,
          seconds: (performance.now() - start) / 1000,
          loss: lossSum / total,
        });
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

function toDevice(input: Tensor, target: Tensor, dev: Device | undefined): [Tensor, Tensor] {
  return dev === undefined || dev === input.device ? [input, target] : [input.to(dev), target.to(dev)];
}
