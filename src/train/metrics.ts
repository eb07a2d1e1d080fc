/**
 * A run's numbers as JSON lines: one record per log interval (from `trainEpoch`) and one per
 * epoch (train and test), written as they happen, kept in memory for {@linkcode plotCurves}.
 *
 * @module
 */
import type { EvaluateResult, TrainEpochResult } from "./loop.ts";

/**
 * One line of a metrics file. `kind: "log"` records come from `trainEpoch` every `logInterval`
 * batches; `kind: "epoch"` records from {@linkcode MetricsLog.logEpoch}. A number that was not
 * measured (no train accuracy asked for, no test set) is left out, never written as `null`.
 *
 * @example
 * ```ts
 * import type { train } from "@convnet/convnet";
 * const r: train.MetricsRecord = {
 *   kind: "epoch", epoch: 1, step: 200, lr: 1, trainLoss: 0.61, testLoss: 0.28, testAccuracy: 91.8, seconds: 4.2,
 * };
 * ```
 */
export interface MetricsRecord {
  /** `"log"`: a log interval of training; `"epoch"`: the end of an epoch (or an evaluation-only run, epoch 0). */
  kind: "log" | "epoch";
  /** 1-based epoch (0: an evaluation before any training). */
  epoch: number;
  /** Optimizer steps done since the start of training: `(epoch - 1) · batches per epoch + batch`. */
  step: number;
  /** Log records: batches done in this epoch, this one included. */
  batch?: number;
  /** Log records: batches the epoch runs. */
  batches?: number;
  /** The first parameter group's learning rate during these steps. */
  lr?: number;
  /**
   * Training loss, the mean over samples: over the batches since the previous log record (log
   * records), over the whole epoch (epoch records). Measured while the weights moved, as in
   * PyTorch's examples; not a second pass.
   */
  trainLoss?: number;
  /** Training accuracy in percent over the same samples as `trainLoss` (when `trainEpoch` counted it). */
  trainAccuracy?: number;
  /** Epoch records: the test set's mean loss after the epoch. */
  testLoss?: number;
  /** Epoch records: the test accuracy in percent. */
  testAccuracy?: number;
  /** Epoch records: seconds the epoch's training took (evaluation excluded). */
  trainSeconds?: number;
  /** Seconds since the {@linkcode MetricsLog} was created (plus the last record's, when it appended to a file). */
  seconds: number;
}

/** A record as given to {@linkcode MetricsLog.record}: `seconds` is filled in. */
export type MetricsEntry = Omit<MetricsRecord, "seconds">;

/** Options of {@linkcode MetricsLog}. */
export interface MetricsLogOptions {
  /**
   * Go on with an existing file (a resumed run) instead of replacing it: its records are read
   * into `records`, `seconds` continues from its last record, and a line cut short by a kill is
   * dropped. Default `false`.
   */
  append?: boolean;
}

/** What {@linkcode MetricsLog.logEpoch} records. */
export interface EpochMetrics {
  /** The epoch; default `train.epoch`, or 0 without `train`. */
  epoch?: number;
  /** `trainEpoch`'s result: epoch, step, lr, the training loss and accuracy, the time. */
  train?: TrainEpochResult;
  /** `evaluate`'s result after the epoch: the test loss and accuracy. */
  test?: EvaluateResult;
}

/**
 * Collects a run's metrics records in {@linkcode MetricsLog.records} and, given a path, appends
 * each as one JSON line the moment it is recorded (so a killed run keeps what it did; no file
 * stays open between records). The constructor creates the file: a path in a missing folder
 * fails before any training.
 * `trainEpoch(..., { metrics })` records its log intervals; call {@linkcode MetricsLog.logEpoch}
 * after each epoch's evaluation.
 *
 * @example
 * ```ts
 * import { manualSeed, nn, optim, Tensor, train } from "@convnet/convnet";
 * manualSeed(1);
 * const model = new nn.Linear(3, 1);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const loader: train.BatchLoader = {
 *   length: 20,
 *   dataset: { length: 160 },
 *   *[Symbol.iterator]() {
 *     for (let i = 0; i < 20; i++) {
 *       const x = Tensor.randn([8, 3]);
 *       yield [x, x.sum(1, { keepDim: true })];
 *     }
 *   },
 * };
 * const mse = (out: Tensor, y: Tensor) => out.sub(y).pow(2).mean();
 * const metrics = new train.MetricsLog(await Deno.makeTempFile({ suffix: ".jsonl" }));
 * for (let epoch = 1; epoch <= 3; epoch++) {
 *   const tr = train.trainEpoch(model, opt, loader, { epoch, loss: mse, logInterval: 10, metrics, log: () => {} });
 *   metrics.logEpoch({ train: tr, test: train.evaluate(model, loader, { loss: mse, accuracy: false }) });
 * }
 * // The file holds 9 lines: 2 log records and 1 epoch record per epoch.
 * const svg = train.plotCurves(metrics.records);
 * ```
 */
export class MetricsLog {
  /** Every record so far, in order. */
  readonly records: MetricsRecord[] = [];
  /** The file written to, if any. */
  readonly path: string | undefined;
  readonly #start = performance.now();
  #offset = 0;

  /** Records in memory only, or also to the JSON-lines file `path` (created, or replaced unless `opts.append`). */
  constructor(path?: string, opts: MetricsLogOptions = {}) {
    const keys = Object.keys(opts).filter((k) => k !== "append");
    if (keys.length > 0) throw new Error(`MetricsLog: unknown option ${keys[0]}; accepted options: append`);
    this.path = path;
    if (path === undefined) return;
    if (opts.append) this.#resume(path);
    try {
      Deno.writeTextFileSync(path, "", { append: opts.append ?? false });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new Error(`MetricsLog: cannot open ${JSON.stringify(path)} for writing (${reason})`, { cause: e });
    }
  }

  /** Reads an existing file's complete lines into `records`, and cuts off a partial last line. */
  #resume(path: string): void {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw new Error(`MetricsLog: cannot read ${JSON.stringify(path)} to append to it`, { cause: e });
    }
    const end = bytes.lastIndexOf(0x0a) + 1;
    if (end < bytes.length) Deno.truncateSync(path, end);
    this.records.push(...parseMetrics(new TextDecoder().decode(bytes.subarray(0, end))));
    this.#offset = this.records.at(-1)?.seconds ?? 0;
  }

  /**
   * Adds `entry` with the seconds since this log was created, drops fields that are `undefined`
   * or not finite, writes it as one line, and returns the stored record.
   *
   * @example
   * ```ts
   * import { train } from "@convnet/convnet";
   * const metrics = new train.MetricsLog();
   * metrics.record({ kind: "log", epoch: 1, step: 1, batch: 1, batches: 10, lr: 1, trainLoss: 2.3 });
   * ```
   */
  record(entry: MetricsEntry): MetricsRecord {
    const r: Record<string, unknown> = {};
    const seconds = round(this.#offset + (performance.now() - this.#start) / 1000);
    const all: Record<string, unknown> = { ...entry, seconds };
    for (const [k, v] of Object.entries(all)) {
      if (v !== undefined && (typeof v !== "number" || Number.isFinite(v))) r[k] = v;
    }
    const rec = r as unknown as MetricsRecord;
    this.records.push(rec);
    if (this.path !== undefined) Deno.writeTextFileSync(this.path, JSON.stringify(rec) + "\n", { append: true });
    return rec;
  }

  /**
   * Records the end of an epoch: `train`'s epoch, step, lr, mean loss, accuracy and time, and
   * `test`'s loss and accuracy.
   *
   * @example
   * ```ts
   * import { train } from "@convnet/convnet";
   * const metrics = new train.MetricsLog();
   * // An evaluation-only run (epoch 0):
   * metrics.logEpoch({ test: { loss: 2.3, correct: 98, total: 1000, accuracy: 9.8, seconds: 0.5 } });
   * ```
   */
  logEpoch(m: EpochMetrics): MetricsRecord {
    const { train, test } = m;
    return this.record({
      kind: "epoch",
      epoch: m.epoch ?? train?.epoch ?? 0,
      step: train?.step ?? 0,
      lr: train?.lr,
      trainLoss: train?.loss,
      trainAccuracy: train?.accuracy,
      testLoss: test?.loss,
      testAccuracy: test?.accuracy,
      trainSeconds: train ? round(train.seconds) : undefined,
    });
  }
}

/**
 * Parses a metrics file's text (JSON lines; blank lines skipped) back into records.
 *
 * @example
 * ```ts
 * import { train } from "@convnet/convnet";
 * const records = train.parseMetrics('{"kind":"epoch","epoch":1,"step":10,"testLoss":0.3,"seconds":1}\n');
 * const svg = train.plotCurves(records);
 * ```
 */
export function parseMetrics(text: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new Error(`parseMetrics: line ${i + 1} is not JSON: ${JSON.stringify(line.slice(0, 80))}`, { cause: e });
    }
    const rec = r as Partial<MetricsRecord> | null;
    if (
      rec === null || typeof rec !== "object" || (rec.kind !== "log" && rec.kind !== "epoch") ||
      typeof rec.epoch !== "number" || typeof rec.step !== "number"
    ) {
      throw new Error(
        `parseMetrics: line ${i + 1} is not a metrics record (want kind "log" or "epoch", a numeric epoch and step), ` +
          `got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    out.push(rec as MetricsRecord);
  });
  return out;
}

/** Milliseconds are plenty for timings, and keep the lines short. */
function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
