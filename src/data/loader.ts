/**
 * `DataLoader`: batches of `[images, labels]` tensors from an in-memory image dataset.
 *
 * @module
 */
import { keep, type Tensor, tensor } from "../tensor/mod.ts";
import type { Device } from "../backend/backend.ts";
import { cpu } from "../backend/device.ts";
import { Generator, globalGenerator } from "../tensor/random.ts";
import { type ImageDataset, subset } from "./dataset.ts";
import { normalize, type PixelTransform, toTensor } from "./transforms.ts";

/** Options for {@linkcode DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch, a positive integer. */
  batchSize: number;
  /** Visit samples in a new seeded random order every epoch; default `false`. */
  shuffle?: boolean;
  /**
   * Seed for the shuffle (an integer). Epoch `k`'s order depends only on `seed` and `k`.
   * Default: one draw from the global generator (so `manualSeed` makes runs repeatable).
   */
  seed?: number;
  /** Drop the last batch when it is smaller than `batchSize`; default `false`. */
  dropLast?: boolean;
  /**
   * Pixel transform: a {@linkcode PixelTransform} or `{ mean, std }`; default
   * {@linkcode toTensor} (bytes / 255).
   */
  transform?: PixelTransform | { mean: number; std: number };
  /** Use only the first `limit` samples of the dataset (see {@linkcode subset}). */
  limit?: number;
  /**
   * Where batches are built (default the CPU). The dataset is transformed once, on the first
   * epoch, into a float32 tensor on this device, and each batch is gathered from it there
   * (`indexSelect`): on a GPU, only the batch's indices cross the bus.
   */
  device?: Device;
}

/** One batch: images `[B, 1, rows, cols]` float32 and labels `[B]` int32. */
export type Batch = [images: Tensor, labels: Tensor];

/**
 * Iterates over a dataset in batches, like PyTorch's `DataLoader`. Each `for...of` over the
 * loader is one epoch; with `shuffle`, epoch `k` uses a permutation determined by the seed
 * and `k` alone.
 *
 * @example
 * ```ts
 * import { DataLoader } from "./loader.ts";
 * import { loadMnist } from "./mnist.ts";
 * const train = new DataLoader(await loadMnist({ train: true }), {
 *   batchSize: 64,
 *   shuffle: true,
 *   seed: 1,
 *   transform: { mean: 0.1307, std: 0.3081 },
 * });
 * for (const [x, y] of train) {
 *   // x: [64, 1, 28, 28] float32, y: [64] int32
 * }
 * ```
 */
export class DataLoader implements Iterable<Batch> {
  /** The dataset batches are drawn from (after `limit`). */
  readonly dataset: ImageDataset;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch visits samples in a new random order. */
  readonly shuffle: boolean;
  /** Whether a final short batch is dropped. */
  readonly dropLast: boolean;
  /** The shuffle seed. */
  readonly seed: number;
  /** The pixel transform applied to images. */
  readonly transform: PixelTransform;
  /** Where batches are built. */
  readonly device: Device;
  #epoch = 0;
  #resident: { images: Tensor; labels: Tensor } | null = null;

  /** Checks the options and prepares the loader; nothing is copied yet. */
  constructor(dataset: ImageDataset, opts: DataLoaderOptions) {
    if (
      dataset === null || typeof dataset !== "object" || !(dataset.images instanceof Uint8Array)
    ) {
      throw new Error(
        `DataLoader: dataset must have images (Uint8Array), labels, length, rows and cols`,
      );
    }
    if (opts === null || typeof opts !== "object") {
      throw new Error(`DataLoader: options must be an object with batchSize, got ${String(opts)}`);
    }
    const { batchSize, shuffle = false, dropLast = false, limit } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(
        `DataLoader: options.batchSize must be a positive integer, got ${String(batchSize)}`,
      );
    }
    if (typeof shuffle !== "boolean") {
      throw new Error(`DataLoader: options.shuffle must be true or false, got ${String(shuffle)}`);
    }
    if (typeof dropLast !== "boolean") {
      throw new Error(
        `DataLoader: options.dropLast must be true or false, got ${String(dropLast)}`,
      );
    }
    if (opts.seed !== undefined && !Number.isInteger(opts.seed)) {
      throw new Error(`DataLoader: options.seed must be an integer, got ${String(opts.seed)}`);
    }
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new Error(
        `DataLoader: options.limit must be a non-negative integer, got ${String(limit)}`,
      );
    }
    if (
      dataset.labels.length !== dataset.length ||
      dataset.images.length !== dataset.length * dataset.rows * dataset.cols
    ) {
      throw new Error(
        `DataLoader: dataset ${dataset.name} is inconsistent: length ${dataset.length}, ` +
          `${dataset.labels.length} labels, ${dataset.images.length} image bytes; expected ` +
          `${dataset.length} labels and ${dataset.length}×${dataset.rows}×${dataset.cols} bytes`,
      );
    }
    this.dataset = limit === undefined ? dataset : subset(dataset, limit);
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = opts.seed ?? globalGenerator().nextUint32();
    const t = opts.transform;
    this.transform = t === undefined ? toTensor() : "table" in t ? t : normalize(t.mean, t.std);
    this.device = opts.device ?? cpu;
  }

  /** Frees the dataset's transformed copy, if any (a later epoch makes it again). */
  dispose(): void {
    if (this.#resident === null) return;
    this.#resident.images.dispose();
    this.#resident.labels.dispose();
    this.#resident = null;
  }

  /** The number of batches one epoch yields. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The index of the epoch the next iteration will run (starts at 0). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Sets the epoch the next iteration runs, e.g. to resume a run at epoch `k`. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new Error(`DataLoader.setEpoch: epoch must be a non-negative integer, got ${epoch}`);
    }
    this.#epoch = epoch;
  }

  /**
   * The order in which epoch `epoch` visits the samples: a permutation of `0..length-1`
   * when shuffling, `0, 1, 2, ...` otherwise.
   */
  order(epoch: number): Int32Array {
    const n = this.dataset.length;
    if (!this.shuffle) {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      return p;
    }
    // Mix seed and epoch so each epoch's generator is independent of how many were run before.
    const mixed = (Math.imul(this.seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
    return new Generator(mixed).permutation(n);
  }

  /** One epoch of batches; advances {@linkcode DataLoader.epoch}. */
  *[Symbol.iterator](): Iterator<Batch> {
    const order = this.order(this.#epoch++);
    const { images, labels } = this.#resident ??= this.#transformAll();
    for (let b = 0; b < this.length; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, order.length - start);
      const idx = tensor(order.subarray(start, start + size), [size], { dtype: "int32", device: this.device });
      const batch: Batch = [images.indexSelect(0, idx), labels.indexSelect(0, idx)];
      idx.dispose();
      yield batch;
    }
  }

  /** The whole dataset through the transform, as tensors on the loader's device. */
  #transformAll(): { images: Tensor; labels: Tensor } {
    const { images, labels, rows, cols, length } = this.dataset;
    const table = this.transform.table;
    const x = new Float32Array(images.length);
    for (let i = 0; i < x.length; i++) x[i] = table[images[i]];
    return {
      images: keep(tensor(x, [length, 1, rows, cols], { device: this.device })),
      labels: keep(tensor(Int32Array.from(labels), [length], { dtype: "int32", device: this.device })),
    };
  }
}
