/**
 * CIFAR-10 from its binary version (`cifar-10-binary.tar.gz`, extracted): `data_batch_1.bin` ..
 * `data_batch_5.bin` and `test_batch.bin`, each 10000 records of one label byte and 3072 pixel
 * bytes (the 32×32 red plane, then green, then blue: CHW, as our images are).
 *
 * @module
 */
import { join } from "../_path.ts";
import type { ImageDataset } from "./dataset.ts";

/** CIFAR-10's class names, by label. */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]);

/** Bytes per record: one label byte, then 3 × 32 × 32 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 3073;

/** The training files, in the order their records are concatenated. */
const TRAIN_FILES = [
  "data_batch_1.bin",
  "data_batch_2.bin",
  "data_batch_3.bin",
  "data_batch_4.bin",
  "data_batch_5.bin",
];
const TEST_FILES = ["test_batch.bin"];
/** The folder the binary tarball extracts to. */
const TARBALL_FOLDER = "cifar-10-batches-bin";

/** Options for {@linkcode loadCifar10}. */
export interface LoadCifar10Options {
  /**
   * The folder holding the `.bin` files, directly or in `cifar-10-batches-bin/` (where the
   * binary tarball extracts to). Nothing is downloaded.
   */
  dir: string;
  /** `true` for the 50000 training images (five files), `false` for the 10000 test images. */
  train: boolean;
}

/**
 * CIFAR-10 held in memory as bytes: 32×32 RGB images (`channels` 3, CHW) and labels 0-9
 * (names in {@linkcode CIFAR10_CLASSES}).
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const test = await data.CIFAR10.load({ dir: "./data", train: false });
 * console.log(test.length, data.CIFAR10_CLASSES[test.labels[0]]); // 10000 cat
 * ```
 */
export class CIFAR10 implements ImageDataset {
  /** `"cifar10/train"` or `"cifar10/test"`. */
  readonly name: string;
  /** All pixels, `length × 3 × 32 × 32` bytes, CHW per image. */
  readonly images: Uint8Array;
  /** One label (0-9) per image. */
  readonly labels: Uint8Array;
  /** The number of images. */
  readonly length: number;
  /** Colour channels (3). */
  readonly channels = 3;
  /** Image height (32). */
  readonly rows = 32;
  /** Image width (32). */
  readonly cols = 32;
  /** The files it was read from, in order. */
  readonly files: readonly string[];

  /** Wraps already-checked data; use {@linkcode loadCifar10} to read files. */
  constructor(init: { name: string; images: Uint8Array; labels: Uint8Array; files: string[] }) {
    if (init.images.length !== init.labels.length * (CIFAR10_RECORD_BYTES - 1)) {
      throw new Error(
        `CIFAR10: ${init.name} has ${init.images.length} image bytes for ${init.labels.length} labels; ` +
          `expected ${init.labels.length}×3×32×32 = ${init.labels.length * (CIFAR10_RECORD_BYTES - 1)}`,
      );
    }
    this.name = init.name;
    this.images = init.images;
    this.labels = init.labels;
    this.length = init.labels.length;
    this.files = Object.freeze([...init.files]);
  }

  /** Same as {@linkcode loadCifar10}. */
  static load(opts: LoadCifar10Options): Promise<CIFAR10> {
    return loadCifar10(opts);
  }
}

/**
 * Splits the bytes of one CIFAR-10 binary file into images and labels, checking its size and
 * labels; `name` (e.g. the path) is what errors call the file.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const record = new Uint8Array(3073);
 * record[0] = 6; // a frog, all black
 * const { images, labels } = data.parseCifar10(record, { name: "one.bin" }); // 3072 bytes, [6]
 * ```
 */
export function parseCifar10(
  bytes: Uint8Array,
  opts: { name?: string } = {},
): { images: Uint8Array; labels: Uint8Array } {
  const name = opts.name ?? "CIFAR-10 data";
  checkSize(name, bytes.length);
  const n = bytes.length / CIFAR10_RECORD_BYTES;
  const images = new Uint8Array(n * (CIFAR10_RECORD_BYTES - 1));
  const labels = new Uint8Array(n);
  fillRecords(name, bytes, images, labels, 0);
  return { images, labels };
}

/**
 * Loads CIFAR-10's training or test split from the binary files in `dir`.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * // After: tar xzf cifar-10-binary.tar.gz -C ./data
 * const train = await data.loadCifar10({ dir: "./data", train: true }); // 50000 images [3, 32, 32]
 * ```
 */
export async function loadCifar10(opts: LoadCifar10Options): Promise<CIFAR10> {
  if (opts === null || typeof opts !== "object") {
    throw new Error(`loadCifar10: options must be an object with dir and train, got ${String(opts)}`);
  }
  if (typeof opts.train !== "boolean") {
    throw new Error(`loadCifar10: options.train must be true or false, got ${String(opts.train)}`);
  }
  if (typeof opts.dir !== "string" || opts.dir === "") {
    throw new Error(
      `loadCifar10: options.dir must be the folder holding the .bin files, got ${JSON.stringify(opts.dir)}`,
    );
  }
  const names = opts.train ? TRAIN_FILES : TEST_FILES;
  const files = await findFiles(opts.dir, names);
  // Sizes first, so a wrong file fails before anything big is read.
  const sizes: number[] = [];
  for (const file of files) {
    const size = (await Deno.stat(file)).size;
    checkSize(file, size);
    sizes.push(size);
  }
  const total = sizes.reduce((a, b) => a + b, 0) / CIFAR10_RECORD_BYTES;
  const images = new Uint8Array(total * (CIFAR10_RECORD_BYTES - 1));
  const labels = new Uint8Array(total);
  let first = 0;
  for (const [k, file] of files.entries()) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (e) {
      throw new Error(`loadCifar10: cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
    if (bytes.length !== sizes[k]) {
      throw new Error(`loadCifar10: ${file} changed size while loading (${sizes[k]} bytes, then ${bytes.length})`);
    }
    fillRecords(file, bytes, images, labels, first);
    first += bytes.length / CIFAR10_RECORD_BYTES;
  }
  return new CIFAR10({ name: `cifar10/${opts.train ? "train" : "test"}`, images, labels, files });
}

function checkSize(name: string, size: number): void {
  if (size === 0 || size % CIFAR10_RECORD_BYTES !== 0) {
    throw new Error(
      `loadCifar10: ${name} has ${size} bytes, ${size === 0 ? "none" : "not a multiple"} of ${CIFAR10_RECORD_BYTES} ` +
        `(1 label byte + 3072 pixel bytes per record); expected a CIFAR-10 binary file of ` +
        `10000 records (${10000 * CIFAR10_RECORD_BYTES} bytes)`,
    );
  }
}

/** Copies `bytes`' records into `images` and `labels` from record `first` on, checking labels. */
function fillRecords(name: string, bytes: Uint8Array, images: Uint8Array, labels: Uint8Array, first: number): void {
  const pixels = CIFAR10_RECORD_BYTES - 1;
  const n = bytes.length / CIFAR10_RECORD_BYTES;
  for (let r = 0; r < n; r++) {
    const at = r * CIFAR10_RECORD_BYTES;
    const label = bytes[at];
    if (label > 9) {
      throw new Error(
        `loadCifar10: ${name} has label ${label} in record ${r} (byte ${at}); expected labels 0-9`,
      );
    }
    labels[first + r] = label;
    images.set(bytes.subarray(at + 1, at + 1 + pixels), (first + r) * pixels);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new Error(`loadCifar10: cannot look at ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The files in the first of `dir` and `dir/cifar-10-batches-bin` holding all of them. */
async function findFiles(dir: string, names: string[]): Promise<string[]> {
  let best: { folder: string; missing: string[] } | null = null;
  for (const folder of [dir, join(dir, TARBALL_FOLDER)]) {
    const missing: string[] = [];
    for (const name of names) if (!await isFile(join(folder, name))) missing.push(name);
    if (missing.length === 0) return names.map((name) => join(folder, name));
    if (best === null || missing.length < best.missing.length) best = { folder, missing };
  }
  const { folder, missing } = best!;
  throw new Error(
    `loadCifar10: ${missing.map((name) => join(folder, name)).join(", ")} not found ` +
      `(looked in ${dir} and ${join(dir, TARBALL_FOLDER)}); expected ${names.join(", ")} from ` +
      `cifar-10-binary.tar.gz, extracted`,
  );
}
