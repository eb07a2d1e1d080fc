/**
 * `DataLoader`: batches of `[images, labels]` tensors from an in-memory image dataset.
 *
 * @module
 */
import { Tensor, tensor } from "../tensor/tensor.ts";
import type { Device } from "../tensor/device.ts";
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
   * Where batches are built. On a CUDA device the dataset's bytes are uploaded once (on the first
   * epoch) and each batch is gathered and normalized there, in the same order and with the same
   * values as on the CPU; otherwise (the default) batches are CPU tensors.
   */
  device?: Device;
}

/** Device copies of a dataset's bytes, freed with the loader. */
interface Uploaded {
  device: Device;
  images: unknown;
  labels: unknown;
}

const uploads = new FinalizationRegistry<Uploaded>((u) => freeUpload(u));

function freeUpload(u: Uploaded): void {
  u.device.backend.free(u.images);
  u.device.backend.free(u.labels);
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
  /** Where batches are built (null: on the CPU). */
  readonly device: Device | null;
  #epoch = 0;
  #uploaded: Uploaded | null = null;

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
    this.device = opts.device?.type === "cuda" ? opts.device : null;
  }

  /** Frees the dataset's device copy, if any (a later epoch uploads it again). */
  dispose(): void {
    if (this.#uploaded === null) return;
    uploads.unregister(this);
    freeUpload(this.#uploaded);
    this.#uploaded = null;
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
    if (this.device !== null) return yield* this.#deviceBatches(order, this.device);
    const { images, labels, rows, cols } = this.dataset;
    const pixels = rows * cols;
    const table = this.transform.table;
    const batches = this.length;
    for (let b = 0; b < batches; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, order.length - start);
      const x = new Float32Array(size * pixels);
      const y = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        const idx = order[start + i];
        y[i] = labels[idx];
        const src = idx * pixels;
        const dst = i * pixels;
        for (let p = 0; p < pixels; p++) x[dst + p] = table[images[src + p]];
      }
      yield [
        tensor(x, [size, 1, rows, cols], { dtype: "float32" }),
        tensor(y, [size], { dtype: "int32" }),
      ];
    }
  }

  /** Batches gathered on the device from the uploaded bytes (Backend.gatherNormalize). */
  *#deviceBatches(order: Int32Array, dev: Device): IterableIterator<Batch> {
    const { rows, cols } = this.dataset;
    const be = dev.backend;
    if (this.#uploaded === null) {
      this.#uploaded = {
        device: dev,
        images: be.uploadBytes(this.dataset.images),
        labels: be.uploadBytes(this.dataset.labels),
      };
      uploads.register(this, this.#uploaded, this);
    }
    const up = this.#uploaded;
    const opts = { pixels: rows * cols, mean: this.transform.mean, std: this.transform.std };
    for (let b = 0; b < this.length; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, order.length - start);
      const x = be.alloc("float32", size * opts.pixels);
      const y = be.alloc("int32", size);
      be.gatherNormalize(x, y, up.images, up.labels, order.subarray(start, start + size), opts);
      yield [new Tensor(x, [size, 1, rows, cols], "float32", dev), new Tensor(y, [size], "int32", dev)];
    }
  }
}
