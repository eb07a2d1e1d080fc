/**
 * `DataLoader`: batches of tensors from an image dataset, a `TensorDataset`, a `Subset` of either,
 * or any `Dataset` whose items are arrays of tensors and integers.
 *
 * @module
 */
import { keep, type Tensor, tensor } from "../tensor/mod.ts";
import { perBatchScope } from "../autograd/batch_scope.ts";
import type { Backend, Device, StepKernels } from "../backend/backend.ts";
import { cpu } from "../backend/device.ts";
import { Generator, globalGenerator } from "../tensor/random.ts";
import { type Dataset, type ImageDataset, isImageDataset, subset } from "./dataset.ts";
import { channelsOf, imageSize } from "./_image.ts";
import { normalize, type PixelTransform, toTensor } from "./transforms.ts";
import { type ImageSample, type ImageTransform, isImageTransform } from "./image_transforms.ts";
import { Subset } from "./subset.ts";
import { collateItems, residentRows, resolveSource, type Source } from "./_sources.ts";

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
   * Image datasets only. A pixel transform ({@linkcode PixelTransform} or `{ mean, std }`) or an
   * {@linkcode ImageTransform} (`Normalize`, `RandomCrop`, `Compose`, ...), which runs on
   * `byte / 255`; default {@linkcode toTensor} (bytes / 255). A random transform is applied to
   * every sample anew each epoch, from a generator made from `seed` and the epoch.
   */
  transform?: PixelTransform | { mean: number; std: number } | ImageTransform;
  /** Use only the first `limit` samples of the dataset (see {@linkcode subset}). */
  limit?: number;
  /**
   * Where batches are built (default the CPU). An image dataset without random transforms, or a
   * `TensorDataset`, is copied once, on the first epoch, to this device (transformed, as float32),
   * and each batch is gathered from it there (`indexSelect`; on CUDA, images and labels in one
   * launch with the batch's indices passed in it: nothing crosses the bus). Random transforms and
   * other datasets build each batch on the host and copy it.
   */
  device?: Device;
}

/** One batch of an image dataset: images `[B, C, rows, cols]` float32 and labels `[B]` int32. */
export type Batch = [images: Tensor, labels: Tensor];

/** What a dataset's item may hold for the loader: tensors (stacked) and integers (class labels, int32). */
export type LoaderItem = readonly (Tensor | number)[];

/**
 * The batch of items of type `I`: one tensor per position, with the batch as a new first dimension.
 *
 * @example
 * ```ts
 * import type { data, Tensor } from "@convnet/convnet";
 * type PairBatch = data.Collated<[Tensor, number]>; // [Tensor, Tensor]
 * ```
 */
export type Collated<I extends LoaderItem> = { -readonly [K in keyof I]: Tensor };

/**
 * Iterates over a dataset in batches, like PyTorch's `DataLoader`. Each `for...of` over the
 * loader is one epoch; with `shuffle`, epoch `k` uses a permutation determined by the seed
 * and `k` alone, and so do a random transform's draws.
 *
 * The dataset is an {@linkcode ImageDataset} (batches `[images, labels]`), a `TensorDataset`
 * (one tensor per tensor of the dataset), a `Subset` of either, or any {@linkcode Dataset}
 * whose items are arrays of tensors and integers (each position batched: tensors with `stack`,
 * integers as int32 labels). Items that `get` creates are freed once batched.
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
export class DataLoader<I extends LoaderItem = [image: Tensor, label: number]> implements Iterable<Collated<I>> {
  /** The dataset batches are drawn from (after `limit`). */
  readonly dataset: ImageDataset | Dataset<I>;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch visits samples in a new random order. */
  readonly shuffle: boolean;
  /** Whether a final short batch is dropped. */
  readonly dropLast: boolean;
  /** The shuffle seed. */
  readonly seed: number;
  /** The transform applied to images (image datasets only). */
  readonly transform: PixelTransform | ImageTransform;
  /** Where batches are built. */
  readonly device: Device;
  #epoch = 0;
  #source: Source;
  /** The tensors batches are gathered from, when resident; `owned[k]`: made (and freed) by the loader. */
  #resident: { tensors: Tensor[]; owned: boolean[] } | null = null;

  /** Checks the options and prepares the loader; nothing is copied yet. */
  constructor(dataset: ImageDataset | Dataset<I>, opts: DataLoaderOptions) {
    if (
      dataset === null || typeof dataset !== "object" ||
      (!isImageDataset(dataset) && typeof (dataset as Dataset<I>).get !== "function")
    ) {
      throw new Error(
        `DataLoader: dataset must be an ImageDataset (images as a Uint8Array, labels, length, rows and cols) ` +
          `or a Dataset (length and get(i)), got ${String(dataset)}`,
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
    if (!Number.isInteger(dataset.length) || dataset.length < 0) {
      throw new Error(`DataLoader: dataset.length must be a non-negative integer, got ${String(dataset.length)}`);
    }
    if (
      isImageDataset(dataset) &&
      (dataset.labels.length !== dataset.length || dataset.images.length !== dataset.length * imageSize(dataset))
    ) {
      throw new Error(
        `DataLoader: dataset ${dataset.name} is inconsistent: length ${dataset.length}, ` +
          `${dataset.labels.length} labels, ${dataset.images.length} image bytes; expected ` +
          `${dataset.length} labels and ${dataset.length}×${channelsOf(dataset)}×${dataset.rows}×${dataset.cols} bytes`,
      );
    }
    if (limit !== undefined && limit > dataset.length && !isImageDataset(dataset)) {
      throw new Error(
        `DataLoader: options.limit is ${limit} but the dataset has only ${dataset.length} items; ` +
          `expected limit <= ${dataset.length}`,
      );
    }
    this.dataset = limit === undefined
      ? dataset
      : isImageDataset(dataset)
      ? subset(dataset, limit)
      : limit === dataset.length
      ? dataset
      : new Subset(dataset, Int32Array.from({ length: limit }, (_, i) => i)) as Dataset<I>;
    if (this.dataset.length === 0) {
      throw new Error(
        `DataLoader: ${isImageDataset(dataset) ? `dataset ${dataset.name}` : "the dataset"} has no samples${
          limit === 0 ? " (options.limit is 0)" : ""
        }; expected at least one (an empty set trains nothing and evaluates to NaN)`,
      );
    }
    this.#source = resolveSource(this.dataset as ImageDataset | Dataset<unknown>);
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = opts.seed ?? globalGenerator().nextUint32();
    const t = opts.transform;
    if (t !== undefined && this.#source.kind !== "image") {
      throw new Error(
        `DataLoader: options.transform applies to image datasets only, but this dataset's items come from ` +
          `${this.#source.kind === "tensors" ? "a TensorDataset" : "its get(i)"}; transform them there`,
      );
    }
    if (t !== undefined && (t === null || typeof t !== "object")) {
      throw new Error(
        `DataLoader: options.transform must be a pixel transform, { mean, std } or an image transform, got ${
          String(t)
        }`,
      );
    }
    this.transform = t === undefined
      ? toTensor()
      : isImageTransform(t)
      ? t
      : "table" in t
      ? t
      : normalize(t.mean, t.std);
    this.device = opts.device ?? cpu;
  }

  /** Frees the dataset's copy on the device, if any (a later epoch makes it again). */
  dispose(): void {
    if (this.#resident === null) return;
    this.#resident.tensors.forEach((t, k) => {
      if (this.#resident!.owned[k]) t.dispose();
    });
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

  /**
   * One epoch of batches; advances {@linkcode DataLoader.epoch}. Each batch's loop body runs in its
   * own scope: when the loop moves to the next batch, the tensors the previous one made (the batch,
   * activations, the loss) are disposed, so a loop without `tidy` holds one batch at a time.
   * Parameters, buffers, optimizer state and gradients outlive it; `keep(t)` exempts anything else.
   * Leaving the loop early (`break`, an exception) leaves the current batch's tensors alive.
   */
  [Symbol.iterator](): Iterator<Collated<I>> {
    return perBatchScope(this.#batches());
  }

  *#batches(): Iterator<Collated<I>> {
    const epoch = this.#epoch++;
    const order = this.order(epoch);
    const source = this.#source;
    if (source.kind === "items") {
      for (let b = 0; b < this.length; b++) {
        const start = b * this.batchSize;
        const batch = order.subarray(start, Math.min(start + this.batchSize, order.length));
        yield collateItems(source.root, batch, this.device) as Collated<I>;
      }
      return;
    }
    if (source.kind === "image" && isImageTransform(this.transform) && this.transform.random) {
      yield* this.#augmented(source.root, source.indices, order, this.#augmentGenerator(epoch));
      return;
    }
    const { tensors } = this.#resident ??= source.kind === "image"
      ? this.#transformAll(source.root, source.indices)
      : residentRows(source.root, source.indices, this.device);
    for (let b = 0; b < this.length; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, order.length - start);
      yield gatherBatch(tensors, order.subarray(start, start + size), this.device) as Collated<I>;
    }
  }

  /** The generator of epoch `epoch`'s random transforms: one stream from the seed and the epoch. */
  #augmentGenerator(epoch: number): Generator {
    // Other constants than order()'s, so the augmentations are not drawn from the shuffle's stream.
    const mixed = (Math.imul(this.seed >>> 0, 0x27d4eb2f) ^ Math.imul(epoch + 1, 0x165667b1)) >>> 0;
    return new Generator(mixed);
  }

  /** Batches of an image dataset through a random transform, built sample by sample on the host. */
  *#augmented(
    root: ImageDataset,
    indices: Int32Array | null,
    order: Int32Array,
    generator: Generator,
  ): Iterable<Collated<I>> {
    const transform = this.transform as ImageTransform;
    const channels = channelsOf(root), height = root.rows, width = root.cols;
    const size = imageSize(root);
    const scale = toTensor().table;
    for (let b = 0; b < this.length; b++) {
      const start = b * this.batchSize;
      const count = Math.min(this.batchSize, order.length - start);
      const labels = new Int32Array(count);
      let pixels: Float32Array | null = null;
      let shape: [number, number, number] = [0, 0, 0];
      for (let k = 0; k < count; k++) {
        const i = indices === null ? order[start + k] : indices[order[start + k]];
        const bytes = root.images.subarray(i * size, (i + 1) * size);
        const data = new Float32Array(size);
        for (let p = 0; p < size; p++) data[p] = scale[bytes[p]];
        const out = transform.apply({ data, channels, height, width }, generator);
        if (pixels === null) {
          shape = [out.channels, out.height, out.width];
          pixels = new Float32Array(count * out.data.length);
        }
        checkSameShape(out, shape, i, root.name);
        pixels.set(out.data, k * out.data.length);
        labels[k] = root.labels[i];
      }
      yield [
        tensor(pixels ?? new Float32Array(0), [count, ...shape], { device: this.device }),
        tensor(labels, [count], { dtype: "int32", device: this.device }),
      ] as unknown as Collated<I>;
    }
  }

  /** The whole image dataset (at `indices`, when given) through the transform, as tensors on the loader's device. */
  #transformAll(root: ImageDataset, indices: Int32Array | null): { tensors: Tensor[]; owned: boolean[] } {
    const ds = indices === null ? root : gatherImages(root, indices);
    const { images, labels, rows, cols, length } = ds;
    const channels = channelsOf(ds);
    const transform = this.transform;
    let x: Float32Array;
    let shape: number[];
    if (!isImageTransform(transform)) {
      const table = transform.table;
      x = new Float32Array(images.length);
      for (let i = 0; i < x.length; i++) x[i] = table[images[i]];
      shape = [length, channels, rows, cols];
    } else {
      ({ x, shape } = applyToAll(ds, transform));
    }
    return {
      tensors: [
        keep(tensor(x, shape, { device: this.device })),
        keep(tensor(Int32Array.from(labels), [length], { dtype: "int32", device: this.device })),
      ],
      owned: [true, true],
    };
  }
}

/** The images of `root` at `indices`, copied into a dataset of their own. */
/**
 * Rows `rows` of each resident tensor: in one launch, the indices passed in it, where the backend
 * has `gatherRows` (CUDA: no index upload); otherwise an index tensor and `indexSelect` per tensor.
 */
function gatherBatch(tensors: Tensor[], rows: Int32Array, device: Device): Tensor[] {
  const be = device.backend as Backend & StepKernels;
  const n = tensors[0]?.shape[0] ?? 0;
  const fits = tensors.length <= 2 &&
    tensors.every((t) => t.shape[0] === n && (t.dtype === "float32" || t.dtype === "int32"));
  if (be.gatherRows && fits && n > 0) {
    const rowSizes = tensors.map((t) => t.size / n);
    const outs = tensors.map((t) =>
      t._wrap(be.alloc(t.dtype, rows.length * t.size / n), [rows.length, ...t.shape.slice(1)])
    );
    try {
      be.gatherRows(
        outs.map((t) => t._data("DataLoader")),
        tensors.map((t) => t._data("DataLoader")),
        rowSizes,
        n,
        rows,
      );
    } catch (e) {
      for (const t of outs) t.dispose();
      throw e;
    }
    return outs;
  }
  const idx = tensor(rows, [rows.length], { dtype: "int32", device });
  const batch = tensors.map((t) => t.indexSelect(0, idx));
  idx.dispose();
  return batch;
}

function gatherImages(root: ImageDataset, indices: Int32Array): ImageDataset {
  const size = imageSize(root);
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (const [k, i] of indices.entries()) {
    images.set(root.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = root.labels[i];
  }
  return { ...root, name: `${root.name} (subset)`, images, labels, length: indices.length };
}

/** A deterministic image transform over every image of `ds`, once. */
function applyToAll(ds: ImageDataset, transform: ImageTransform): { x: Float32Array; shape: number[] } {
  const channels = channelsOf(ds), height = ds.rows, width = ds.cols;
  const size = imageSize(ds);
  const scale = toTensor().table;
  // Deterministic transforms draw nothing; a generator is passed to honour the interface.
  const generator = new Generator(0);
  let x = new Float32Array(0);
  let shape: [number, number, number] = [channels, height, width];
  for (let i = 0; i < ds.length; i++) {
    const bytes = ds.images.subarray(i * size, (i + 1) * size);
    const data = new Float32Array(size);
    for (let p = 0; p < size; p++) data[p] = scale[bytes[p]];
    const out = transform.apply({ data, channels, height, width }, generator);
    if (i === 0) {
      shape = [out.channels, out.height, out.width];
      x = new Float32Array(ds.length * out.data.length);
    }
    checkSameShape(out, shape, i, ds.name);
    x.set(out.data, i * out.data.length);
  }
  return { x, shape: [ds.length, ...shape] };
}

function checkSameShape(out: ImageSample, shape: readonly number[], index: number, name: string): void {
  if (
    out.channels !== shape[0] || out.height !== shape[1] || out.width !== shape[2] ||
    out.data.length !== shape[0] * shape[1] * shape[2]
  ) {
    throw new Error(
      `DataLoader: the transform made image ${index} of ${name} [${out.channels}, ${out.height}, ${out.width}] ` +
        `(${out.data.length} values) but the first image it made [${shape.join(", ")}]; expected one shape for all`,
    );
  }
}
