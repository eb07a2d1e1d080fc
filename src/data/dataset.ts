/**
 * The dataset protocol (PyTorch's map-style `Dataset`: a length and an item per index) and the
 * in-memory image dataset every image reader in `src/data` returns.
 *
 * @module
 */
import { channelsOf, imageSize } from "./_image.ts";
import { type Tensor, tensor } from "../tensor/mod.ts";
import { loadIdxPair } from "./idx.ts";

/**
 * A map-style dataset, as PyTorch's `torch.utils.data.Dataset`: `length` items, item `i` is
 * `get(i)` for `0 ≤ i < length`. The `DataLoader` batches any dataset whose items are arrays of
 * tensors and integers, e.g. `[image, label]`.
 *
 * @example
 * ```ts
 * import { data, Tensor } from "@convnet/convnet";
 * // 100 random points, labelled by the sign of their first coordinate.
 * const points: data.Dataset<[Tensor, number]> = {
 *   length: 100,
 *   get(i) {
 *     const x = Tensor.randn([2]);
 *     return [x, x.toArray()[0] > 0 ? 1 : 0];
 *   },
 * };
 * const loader = new data.DataLoader(points, { batchSize: 10 }); // batches [10, 2] and [10]
 * ```
 */
export interface Dataset<T> {
  /** The number of items. */
  readonly length: number;
  /** Item `index`, for `0 ≤ index < length`. */
  get(index: number): T;
}

/**
 * An image dataset's item as {@linkcode Subset.get} gives it: the image as a float32 `[C, H, W]`
 * tensor of `byte / 255` (torchvision's `ToTensor()`), and its label.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const ds: data.ImageDataset = {
 *   name: "two", images: new Uint8Array(8), labels: new Uint8Array([3, 7]), length: 2, rows: 2, cols: 2,
 * };
 * const [image, label]: data.ImageItem = new data.Subset(ds, [1]).get(0); // [1, 2, 2], 7
 * ```
 */
export type ImageItem = [image: Tensor, label: number];

/**
 * Images as bytes plus one class label per image. Image `i` is the `channels * rows * cols`
 * bytes at `i * channels * rows * cols`, channel by channel (CHW), each channel row-major.
 */
export interface ImageDataset {
  /** A readable name, e.g. `"mnist/train"`. */
  readonly name: string;
  /** All images' pixels, `length * rows * cols` bytes. */
  readonly images: Uint8Array;
  /** One label per image. */
  readonly labels: Uint8Array;
  /** The number of images. */
  readonly length: number;
  /** Image height in pixels. */
  readonly rows: number;
  /** Image width in pixels. */
  readonly cols: number;
  /** Colour channels per image; default 1 (MNIST), 3 for RGB (CIFAR-10). */
  readonly channels?: number;
}

/**
 * Whether `value` is an {@linkcode ImageDataset} (it holds its images as bytes).
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * data.isImageDataset(await data.loadMnist({ train: false })); // true
 * ```
 */
export function isImageDataset(value: unknown): value is ImageDataset {
  return value !== null && typeof value === "object" && (value as ImageDataset).images instanceof Uint8Array;
}

/**
 * Image `index` of `dataset` as a float32 `[C, H, W]` tensor of `byte / 255` and its label.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const [image, label] = data.imageItem(await data.loadMnist({ train: false }), 0); // [1, 28, 28], 7
 * ```
 */
export function imageItem(dataset: ImageDataset, index: number): ImageItem {
  if (!Number.isInteger(index) || index < 0 || index >= dataset.length) {
    throw new Error(
      `imageItem: index ${index} is out of range for ${dataset.name} (${dataset.length} images); ` +
        `expected an integer in [0, ${dataset.length - 1}]`,
    );
  }
  const size = imageSize(dataset);
  const bytes = dataset.images.subarray(index * size, (index + 1) * size);
  const x = new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = bytes[i] / 255;
  return [tensor(x, [channelsOf(dataset), dataset.rows, dataset.cols]), dataset.labels[index]];
}

/**
 * The first `n` samples of `dataset`, sharing its memory (no copy), as `--limit N` wants.
 *
 * @example
 * ```ts
 * import { subset } from "./dataset.ts";
 * import { loadMnist } from "./mnist.ts";
 * const small = subset(await loadMnist({ train: true }), 1000);
 * small.length; // 1000
 * ```
 */
export function subset(dataset: ImageDataset, n: number): ImageDataset {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`subset: n must be a non-negative integer, got ${n}`);
  }
  if (n > dataset.length) {
    throw new Error(
      `subset: n is ${n} but ${dataset.name} has only ${dataset.length} samples; ` +
        `expected n <= ${dataset.length}`,
    );
  }
  if (n === dataset.length) return dataset;
  const pixels = imageSize(dataset);
  return {
    name: `${dataset.name}[:${n}]`,
    images: dataset.images.subarray(0, n * pixels),
    labels: dataset.labels.subarray(0, n),
    length: n,
    rows: dataset.rows,
    cols: dataset.cols,
    ...(dataset.channels === undefined ? {} : { channels: dataset.channels }),
  };
}

/** Options for {@linkcode loadIdxDataset}. */
export interface LoadIdxDatasetOptions {
  /** The dataset's name in messages; defaults to the images path. */
  name?: string;
  /** When given, every label must be below this. */
  numClasses?: number;
}

/**
 * Loads any images/labels IDX pair (raw or `.gz`) as an {@linkcode ImageDataset}.
 *
 * @example
 * ```ts
 * import { loadIdxDataset } from "./dataset.ts";
 * const ds = await loadIdxDataset(
 *   "emnist/emnist-digits-test-images-idx3-ubyte.gz",
 *   "emnist/emnist-digits-test-labels-idx1-ubyte.gz",
 *   { name: "emnist-digits/test", numClasses: 10 },
 * );
 * ```
 */
export async function loadIdxDataset(
  imagesPath: string | URL,
  labelsPath: string | URL,
  opts: LoadIdxDatasetOptions = {},
): Promise<ImageDataset> {
  const { images, labels } = await loadIdxPair(imagesPath, labelsPath, {
    numClasses: opts.numClasses,
  });
  const name = opts.name ?? String(imagesPath);
  if (images.dims[0] === 0) {
    throw new Error(
      `loadIdxDataset: ${name}: ${String(imagesPath)} holds no images (dims ${images.dims.join("×")}); ` +
        `expected at least one`,
    );
  }
  return {
    name,
    images: images.data,
    labels: labels.data,
    length: images.dims[0],
    rows: images.dims[1],
    cols: images.dims[2],
  };
}
