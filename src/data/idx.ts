/**
 * Reading IDX files, the format MNIST ships in (raw or gzip-compressed).
 *
 * An IDX file is: two zero bytes, a type code (0x08 = unsigned byte), the number of
 * dimensions, one big-endian u32 per dimension, then the data. Every check here
 * turns a bad file into an error that names the file and what was wrong.
 *
 * @module
 */

/** The contents of an unsigned-byte IDX file: its dimensions and its data, row-major. */
export interface IdxArray {
  /** The dimensions from the header, e.g. `[60000, 28, 28]` for MNIST training images. */
  readonly dims: number[];
  /** The data bytes; `data.length` is the product of `dims`. */
  readonly data: Uint8Array;
}

/** Options for {@linkcode readIdx} and {@linkcode parseIdx}. */
export interface ReadIdxOptions {
  /** The number of dimensions the file must have (3 for images, 1 for labels). */
  ndim?: number;
  /** The name used in error messages when reading bytes (a path is named by itself). */
  name?: string;
  /**
   * When given, the SHA-256 (lowercase hex) the file's bytes must have, as stored
   * (before gunzip); a mismatch is an error.
   */
  sha256?: string;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "short",
  0x0c: "int",
  0x0d: "float",
  0x0e: "double",
};

/**
 * The SHA-256 of `bytes` as lowercase hex.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./idx.ts";
 * await sha256Hex(new Uint8Array()); // "e3b0c442...b855"
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * True when `bytes` start with the gzip magic number (1f 8b).
 *
 * @example
 * ```ts
 * import { isGzip } from "./idx.ts";
 * isGzip(new Uint8Array([0x1f, 0x8b, 8])); // true
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip bytes with the platform's `DecompressionStream`.
 *
 * @example
 * ```ts
 * import { gunzip } from "./idx.ts";
 * const raw = await gunzip(await Deno.readFile("train-labels-idx1-ubyte.gz"));
 * ```
 */
export async function gunzip(bytes: Uint8Array, name = "<bytes>"): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(
      `gunzip: ${name} starts like a gzip file but could not be decompressed: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/**
 * Parses the bytes of an uncompressed IDX file (unsigned-byte data only).
 *
 * Checks the magic number, the dimension count (when `opts.ndim` is given) and that the
 * data length equals the product of the dimensions exactly. The returned `data` is a view
 * into `bytes`, not a copy.
 *
 * @example
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]);
 * parseIdx(bytes).dims; // [3]
 * ```
 */
export function parseIdx(bytes: Uint8Array, opts: ReadIdxOptions = {}): IdxArray {
  const name = opts.name ?? "<bytes>";
  const fn = "readIdx";
  if (bytes.length < 4) {
    throw new Error(
      `${fn}: ${name} is too short to be an IDX file: it has ${bytes.length} bytes, ` +
        `the magic number alone needs 4`,
    );
  }
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const magicHex = `0x${magic.toString(16).padStart(8, "0")}`;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(
      `${fn}: ${name} is not an IDX file: magic number ${magicHex} should start with two ` +
        `zero bytes (expected e.g. 0x00000803 for images, 0x00000801 for labels)`,
    );
  }
  const type = bytes[2];
  const ndim = bytes[3];
  if (type !== 0x08) {
    const typeName = TYPE_NAMES[type] ?? "unknown";
    throw new Error(
      `${fn}: ${name} has magic number ${magicHex}: type code 0x${
        type.toString(16).padStart(2, "0")
      } (${typeName}) is not supported; expected 0x08 (unsigned byte)`,
    );
  }
  if (ndim === 0) {
    throw new Error(
      `${fn}: ${name} has magic number ${magicHex}: 0 dimensions; expected at least 1`,
    );
  }
  if (opts.ndim !== undefined && ndim !== opts.ndim) {
    const want = `0x000008${opts.ndim.toString(16).padStart(2, "0")}`;
    throw new Error(
      `${fn}: ${name} has magic number ${magicHex} (${ndim} dimensions) but expected ${want} ` +
        `(${opts.ndim} dimension${opts.ndim === 1 ? "" : "s"})`,
    );
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) {
    throw new Error(
      `${fn}: ${name} is truncated: its header needs ${headerLen} bytes for ${ndim} ` +
        `dimensions, file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let expected = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    expected *= n;
  }
  const have = bytes.length - headerLen;
  const says = `header says ${dims.join("×")} = ${expected} bytes of data`;
  if (have < expected) {
    throw new Error(`${fn}: ${name} is truncated: ${says}, file has ${have}`);
  }
  if (have > expected) {
    throw new Error(
      `${fn}: ${name} has ${have - expected} trailing bytes: ${says}, file has ${have}`,
    );
  }
  return { dims, data: bytes.subarray(headerLen) };
}

/**
 * Reads an unsigned-byte IDX file, raw or gzip-compressed (detected by its first two
 * bytes, not by its name), from a path or from bytes already in memory.
 *
 * @example
 * ```ts
 * import { readIdx } from "./idx.ts";
 * const { dims, data } = await readIdx("data/train-labels-idx1-ubyte.gz", { ndim: 1 });
 * console.log(dims[0], data[0]); // 60000 5
 * ```
 */
export async function readIdx(
  source: string | URL | Uint8Array,
  opts: ReadIdxOptions = {},
): Promise<IdxArray> {
  let bytes: Uint8Array;
  let name: string;
  if (source instanceof Uint8Array) {
    bytes = source;
    name = opts.name ?? "<bytes>";
  } else {
    name = opts.name ?? String(source);
    try {
      bytes = await Deno.readFile(source);
    } catch (e) {
      throw new Error(`readIdx: cannot read ${name}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (opts.sha256 !== undefined) {
    const got = await sha256Hex(bytes);
    if (got !== opts.sha256.toLowerCase()) {
      throw new Error(
        `readIdx: ${name} has SHA-256 ${got} but expected ${opts.sha256.toLowerCase()}; ` +
          `the file is damaged or not the one expected`,
      );
    }
  }
  if (isGzip(bytes)) {
    bytes = await gunzip(bytes, name);
    name = `${name} (after gunzip)`;
  }
  return parseIdx(bytes, { ...opts, name });
}

/** Images and labels read from a pair of IDX files, checked against each other. */
export interface IdxPair {
  /** Images: `dims` is `[count, rows, cols]`. */
  readonly images: IdxArray;
  /** Labels: `dims` is `[count]`. */
  readonly labels: IdxArray;
}

/** Options for {@linkcode loadIdxPair}. */
export interface LoadIdxPairOptions {
  /** When given, every label must be below this (e.g. 10 for MNIST). */
  numClasses?: number;
  /** When given, the SHA-256 each file's stored bytes must have (see {@linkcode ReadIdxOptions.sha256}). */
  sha256?: { images: string; labels: string };
}

/**
 * Reads an images file (magic 0x00000803) and a labels file (magic 0x00000801) and checks
 * that they hold the same number of items and that every label fits `numClasses`.
 *
 * @example
 * ```ts
 * import { loadIdxPair } from "./idx.ts";
 * const { images, labels } = await loadIdxPair(
 *   "data/t10k-images-idx3-ubyte",
 *   "data/t10k-labels-idx1-ubyte",
 *   { numClasses: 10 },
 * );
 * images.dims; // [10000, 28, 28]
 * ```
 */
export async function loadIdxPair(
  imagesPath: string | URL,
  labelsPath: string | URL,
  opts: LoadIdxPairOptions = {},
): Promise<IdxPair> {
  const [images, labels] = await Promise.all([
    readIdx(imagesPath, { ndim: 3, sha256: opts.sha256?.images }),
    readIdx(labelsPath, { ndim: 1, sha256: opts.sha256?.labels }),
  ]);
  if (images.dims[0] !== labels.dims[0]) {
    throw new Error(
      `loadIdxPair: ${String(imagesPath)} holds ${images.dims[0]} images but ` +
        `${String(labelsPath)} holds ${labels.dims[0]} labels; expected the same count`,
    );
  }
  const { numClasses } = opts;
  if (numClasses !== undefined) {
    if (!Number.isInteger(numClasses) || numClasses < 1) {
      throw new Error(
        `loadIdxPair: numClasses must be a positive integer, got ${numClasses}`,
      );
    }
    const d = labels.data;
    for (let i = 0; i < d.length; i++) {
      if (d[i] >= numClasses) {
        throw new Error(
          `loadIdxPair: ${String(labelsPath)} has label ${d[i]} at index ${i}; ` +
            `expected labels in [0, ${numClasses - 1}]`,
        );
      }
    }
  }
  return { images, labels };
}
