/**
 * `Subset` and `randomSplit`: PyTorch's views of a dataset through a list of indices.
 *
 * @module
 */
import { Generator, globalGenerator } from "../tensor/random.ts";
import { checkOptionKeys } from "../ops/_util.ts";
import { type Dataset, type ImageDataset, type ImageItem, imageItem, isImageDataset } from "./dataset.ts";

/**
 * The items of `dataset` at `indices`, in that order, as PyTorch's `Subset(dataset, indices)`:
 * item `i` is `dataset.get(indices[i])`. Over an {@linkcode ImageDataset}, items are
 * {@linkcode ImageItem}s, and the `DataLoader` still transforms the images as bytes, in one go.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const mnist = await data.loadMnist({ train: true });
 * const evens = new data.Subset(mnist, Array.from({ length: 30000 }, (_, i) => 2 * i));
 * evens.length; // 30000
 * ```
 */
export class Subset<T = ImageItem> implements Dataset<T> {
  /** The dataset the indices point into. */
  readonly dataset: Dataset<T> | ImageDataset;
  /** Which items of {@linkcode Subset.dataset}, in order. */
  readonly indices: Int32Array;

  /** Checks that every index is an integer in `[0, dataset.length)`. */
  constructor(dataset: Dataset<T> | ImageDataset, indices: ArrayLike<number>) {
    if (!isImageDataset(dataset) && !isDataset(dataset)) {
      throw new Error(
        `Subset: dataset must be a Dataset (length and get(i)) or an ImageDataset, got ${String(dataset)}`,
      );
    }
    if (indices === null || typeof indices !== "object" || typeof indices.length !== "number") {
      throw new Error(`Subset: indices must be an array of integers, got ${String(indices)}`);
    }
    const n = dataset.length;
    const own = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i];
      if (!Number.isInteger(k) || k < 0 || k >= n) {
        throw new Error(
          `Subset: indices[${i}] is ${String(k)}, out of range for a dataset of ${n} items; ` +
            `expected integers in [0, ${n - 1}]`,
        );
      }
      own[i] = k;
    }
    this.dataset = dataset;
    this.indices = own;
  }

  /** The number of indices. */
  get length(): number {
    return this.indices.length;
  }

  /** Item `indices[index]` of the dataset. */
  get(index: number): T {
    if (!Number.isInteger(index) || index < 0 || index >= this.indices.length) {
      throw new Error(
        `Subset.get: index ${index} is out of range for a subset of ${this.indices.length} items; ` +
          `expected an integer in [0, ${this.indices.length - 1}]`,
      );
    }
    const k = this.indices[index];
    return isImageDataset(this.dataset) ? imageItem(this.dataset, k) as T : this.dataset.get(k);
  }
}

function isDataset(value: unknown): value is Dataset<unknown> {
  return value !== null && typeof value === "object" && typeof (value as Dataset<unknown>).get === "function" &&
    Number.isInteger((value as Dataset<unknown>).length);
}

/** Options for {@linkcode randomSplit}. */
export interface RandomSplitOptions {
  /** The generator the permutation is drawn from; default the global one (see `manualSeed`). */
  generator?: Generator;
}

/**
 * Splits `dataset` into non-overlapping random {@linkcode Subset}s, as PyTorch's
 * `random_split(dataset, lengths, generator)`. `lengths` are either the subsets' sizes (summing to
 * `dataset.length`) or fractions summing to 1: each subset then gets `floor(length × fraction)`
 * items and the remainder is handed out one by one, round-robin from the first subset.
 *
 * The permutation is a Fisher-Yates shuffle drawn from our MT19937 `Generator`: the split sizes
 * are PyTorch's, but which items land where is not `torch.randperm`'s order, even for the same seed.
 *
 * @example
 * ```ts
 * import { data, Generator } from "@convnet/convnet";
 * const mnist = await data.loadMnist({ train: true });
 * const [train, val] = data.randomSplit(mnist, [0.9, 0.1], { generator: new Generator(42) });
 * [train.length, val.length]; // [54000, 6000]
 * ```
 */
export function randomSplit<T = ImageItem>(
  dataset: Dataset<T> | ImageDataset,
  lengths: readonly number[],
  opts: RandomSplitOptions = {},
): Subset<T>[] {
  if (opts === null || typeof opts !== "object") {
    throw new Error(`randomSplit: options must be an object, got ${String(opts)}`);
  }
  checkOptionKeys("randomSplit", opts, ["generator"]);
  if (opts.generator !== undefined && !(opts.generator instanceof Generator)) {
    throw new Error(`randomSplit: options.generator must be a Generator, got ${String(opts.generator)}`);
  }
  if (!Array.isArray(lengths) || lengths.length === 0 || !lengths.every((v) => typeof v === "number")) {
    throw new Error(`randomSplit: lengths must be a non-empty array of numbers, got ${JSON.stringify(lengths)}`);
  }
  const n = dataset.length;
  const sizes = splitSizes(n, lengths);
  const order = (opts.generator ?? globalGenerator()).permutation(n);
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const size of sizes) {
    out.push(new Subset<T>(dataset, order.subarray(offset, offset + size)));
    offset += size;
  }
  return out;
}

/** PyTorch's rule: fractions when they sum to 1 (math.isclose) and not above it, else sizes. */
function splitSizes(n: number, lengths: readonly number[]): number[] {
  let total = 0;
  for (const v of lengths) total += v; // left to right, as Python's sum()
  if (Math.abs(total - 1) <= 1e-9 * Math.max(1, Math.abs(total)) && total <= 1) {
    const sizes = lengths.map((fraction, i) => {
      if (!(fraction >= 0 && fraction <= 1)) {
        throw new Error(`randomSplit: fraction at index ${i} is ${fraction}; expected a value in [0, 1]`);
      }
      return Math.floor(n * fraction);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length] += 1;
    return sizes;
  }
  for (const [i, v] of lengths.entries()) {
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(
        `randomSplit: lengths[${i}] is ${v}; expected non-negative integer lengths, or fractions summing to 1`,
      );
    }
  }
  if (total !== n) {
    throw new Error(
      `randomSplit: lengths [${lengths.join(", ")}] sum to ${total} but the dataset has ${n} items; ` +
        `expected lengths summing to ${n}, or fractions summing to 1`,
    );
  }
  return [...lengths];
}
