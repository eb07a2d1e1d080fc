/**
 * The in-memory image dataset shape every loader in `src/data` works with.
 *
 * @module
 */
import { loadIdxPair } from "./idx.ts";

/**
 * Single-channel images as bytes plus one class label per image. Image `i` is
 * `images.subarray(i * rows * cols, (i + 1) * rows * cols)`, row-major.
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
  const pixels = dataset.rows * dataset.cols;
  return {
    name: `${dataset.name}[:${n}]`,
    images: dataset.images.subarray(0, n * pixels),
    labels: dataset.labels.subarray(0, n),
    length: n,
    rows: dataset.rows,
    cols: dataset.cols,
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
  return {
    name: opts.name ?? String(imagesPath),
    images: images.data,
    labels: labels.data,
    length: images.dims[0],
    rows: images.dims[1],
    cols: images.dims[2],
  };
}
