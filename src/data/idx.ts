/**
 * Reading IDX files, the format MNIST ships in (raw or gzip-compressed).
 *
 * An IDX file is: two zero bytes, a type code (0x08 = unsigned byte), the number of
 * dimensions, one big-endian u32 per dimension, then the data. Every check here
 * turns a bad file into an error that names the file and what was wrong. A gzip file is
 * inflated no further than its header promises (plus one byte, to detect trailing data).
 *
 * @module
 */
import { inflateGzip, type InflateSink, MAX_DEFLATE_RATIO } from "./_gzip.ts";

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
  /**
   * The dimensions the header must state, `null` for any size: `[null, 28, 28]` accepts any
   * number of 28×28 images. Checked on the header, before the data is read or inflated.
   */
  dims?: readonly (number | null)[];
  /** The name used in error messages when reading bytes (a path is named by itself). */
  name?: string;
  /**
   * When given, the SHA-256 (lowercase hex) the file's IDX contents must have: the bytes
   * after gunzip when it is compressed, so a raw file and any `.gz` of it share one hash.
   * A mismatch is an error.
   */
  sha256?: string;
}

/** Options for {@linkcode gunzip}. */
export interface GunzipOptions {
  /** The name used in error messages; default `"<bytes>"`. */
  name?: string;
  /** Stop with an error as soon as the output would exceed this many bytes; default no limit. */
  maxBytes?: number;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "short",
  0x0c: "int",
  0x0d: "float",
  0x0e: "double",
};

/** The longest IDX header: the magic number and 255 dimensions. */
const MAX_HEADER_BYTES = 4 + 4 * 255;

/**
 * The SHA-256 of `bytes` as lowercase hex.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * await data.sha256Hex(new Uint8Array()); // "e3b0c442...b855"
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
 * import { data } from "@convnet/convnet";
 * data.isGzip(new Uint8Array([0x1f, 0x8b, 8])); // true
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip bytes (one member or several, as `cat a.gz b.gz` makes) with the platform's
 * `DecompressionStream`, checking every member's CRC-32 and size. With `maxBytes`, inflation
 * stops with an error at the first byte past it, so a gzip bomb costs no more memory than that.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const gz = await Deno.readFile("train-labels-idx1-ubyte.gz");
 * const raw = await data.gunzip(gz, { name: "train-labels-idx1-ubyte.gz", maxBytes: 1 << 20 });
 * ```
 */
export async function gunzip(bytes: Uint8Array, opts: GunzipOptions | string = {}): Promise<Uint8Array> {
  const { name = "<bytes>", maxBytes = Infinity } = typeof opts === "string" ? { name: opts } : opts;
  if (maxBytes !== Infinity && (!Number.isInteger(maxBytes) || maxBytes < 0)) {
    throw new Error(`gunzip: options.maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  const sink: InflateSink = {
    get length() {
      return length;
    },
    write(chunk) {
      if (length + chunk.length > maxBytes) {
        throw new Error(
          `gunzip: ${name} inflates to more than options.maxBytes = ${maxBytes} bytes; stopped inflating there`,
        );
      }
      chunks.push(chunk);
      length += chunk.length;
    },
    truncate(n) {
      while (length > n) {
        const last = chunks.pop()!;
        length -= last.length;
        if (length < n) {
          chunks.push(last.subarray(0, n - length));
          length = n;
        }
      }
    },
  };
  await inflateGzip(bytes, sink, name);
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** An IDX header, checked: the dims, the header's length and the data's length it promises. */
interface IdxHeader {
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

/**
 * Reads and checks the header at the start of `bytes`. With `complete` false (more bytes may
 * follow), returns undefined when `bytes` is too short to hold the whole header.
 */
function readHeader(bytes: Uint8Array, opts: ReadIdxOptions, name: string, complete: boolean): IdxHeader | undefined {
  const fn = "readIdx";
  if (bytes.length < 4) {
    if (!complete) return undefined;
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
  const wantNdim = opts.dims?.length ?? opts.ndim;
  if (wantNdim !== undefined && ndim !== wantNdim) {
    const want = `0x000008${wantNdim.toString(16).padStart(2, "0")}`;
    throw new Error(
      `${fn}: ${name} has magic number ${magicHex} (${ndim} dimensions) but expected ${want} ` +
        `(${wantNdim} dimension${wantNdim === 1 ? "" : "s"})`,
    );
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    if (!complete) return undefined;
    throw new Error(
      `${fn}: ${name} is truncated: its header needs ${headerBytes} bytes for ${ndim} ` +
        `dimensions, file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let dataBytes = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    dataBytes *= n;
  }
  if (opts.dims !== undefined && opts.dims.some((want, d) => want !== null && want !== dims[d])) {
    throw new Error(
      `${fn}: ${name} has dims ${dims.join("×")} but expected ${opts.dims.map((want) => want ?? "N").join("×")}${
        opts.dims.includes(null) ? " (N: any)" : ""
      }`,
    );
  }
  return { dims, headerBytes, dataBytes };
}

function checkOptions(opts: ReadIdxOptions): void {
  if (opts === null || typeof opts !== "object") {
    throw new Error(`readIdx: options must be an object, got ${String(opts)}`);
  }
  const { dims } = opts;
  if (
    dims !== undefined &&
    (!Array.isArray(dims) || dims.length === 0 || dims.length > 255 ||
      dims.some((d) => d !== null && (!Number.isInteger(d) || d < 0 || d >= 2 ** 32)))
  ) {
    throw new Error(
      `readIdx: options.dims must be 1 to 255 sizes (non-negative integers or null), got ${JSON.stringify(dims)}`,
    );
  }
}

/**
 * Parses the bytes of an uncompressed IDX file (unsigned-byte data only).
 *
 * Checks the magic number, the dimension count (when `opts.ndim` is given), the dims (when
 * `opts.dims` is given) and that the data length equals the product of the dimensions exactly.
 * The returned `data` is a view into `bytes`, not a copy.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]);
 * data.parseIdx(bytes).dims; // [3]
 * ```
 */
export function parseIdx(bytes: Uint8Array, opts: ReadIdxOptions = {}): IdxArray {
  checkOptions(opts);
  const name = opts.name ?? "<bytes>";
  const { dims, headerBytes, dataBytes } = readHeader(bytes, opts, name, true)!;
  const have = bytes.length - headerBytes;
  const says = `header says ${dims.join("×")} = ${dataBytes} bytes of data`;
  if (have < dataBytes) {
    throw new Error(`readIdx: ${name} is truncated: ${says}, file has ${have}`);
  }
  if (have > dataBytes) {
    throw new Error(
      `readIdx: ${name} has ${have - dataBytes} trailing bytes: ${says}, file has ${have}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/**
 * Collects an IDX file as it inflates: the header is checked as soon as it is complete, then
 * exactly the bytes it promises are kept; the first byte past them stops the inflation.
 */
class IdxInflation implements InflateSink {
  #head = new Uint8Array(MAX_HEADER_BYTES);
  #headLength = 0;
  #out: Uint8Array | null = null;
  #length = 0;
  #header: IdxHeader | null = null;

  constructor(readonly opts: ReadIdxOptions, readonly name: string, readonly compressedBytes: number) {}

  get length(): number {
    return this.#out === null ? this.#headLength : this.#length;
  }

  truncate(length: number): void {
    if (this.#out === null) this.#headLength = Math.min(this.#headLength, length);
    else this.#length = Math.min(this.#length, length);
  }

  write(chunk: Uint8Array): void {
    if (this.#out !== null) return this.#append(chunk);
    const take = Math.min(chunk.length, MAX_HEADER_BYTES - this.#headLength);
    this.#head.set(chunk.subarray(0, take), this.#headLength);
    this.#headLength += take;
    const header = readHeader(this.#head.subarray(0, this.#headLength), this.opts, this.name, false);
    if (header === undefined) return;
    this.#header = header;
    this.#out = this.#allocate(header);
    this.#append(this.#head.subarray(0, this.#headLength));
    this.#append(chunk.subarray(take));
  }

  /** The file's contents once inflation has ended, checked as {@linkcode parseIdx} checks them. */
  finish(): { idx: IdxArray; bytes: Uint8Array } {
    const bytes = this.#out === null ? this.#head.subarray(0, this.#headLength) : this.#out.subarray(0, this.#length);
    return { idx: parseIdx(bytes, { ...this.opts, name: this.name }), bytes };
  }

  #allocate({ dims, headerBytes, dataBytes }: IdxHeader): Uint8Array {
    const total = headerBytes + dataBytes;
    const says = `its header says ${dims.join("×")} = ${dataBytes} bytes of data`;
    const most = MAX_DEFLATE_RATIO * this.compressedBytes;
    if (total > most) {
      throw new Error(
        `readIdx: ${this.name}: ${says}, but ${this.compressedBytes} bytes of gzip data inflate to at most ${most} ` +
          `(deflate's limit is ${MAX_DEFLATE_RATIO}:1); the header is wrong or the file is cut short`,
      );
    }
    try {
      return new Uint8Array(total);
    } catch (e) {
      throw new Error(`readIdx: ${this.name}: ${says}, more than fits in memory here`, { cause: e });
    }
  }

  #append(bytes: Uint8Array): void {
    const out = this.#out!;
    if (this.#length + bytes.length > out.length) {
      const { dims, dataBytes } = this.#header!;
      throw new Error(
        `readIdx: ${this.name} has trailing bytes: header says ${dims.join("×")} = ${dataBytes} bytes of data, ` +
          `and the data goes on past them (inflation stopped at the first byte beyond; a damaged file or a gzip bomb)`,
      );
    }
    out.set(bytes, this.#length);
    this.#length += bytes.length;
  }
}

/**
 * Reads an unsigned-byte IDX file, raw or gzip-compressed (detected by its first two
 * bytes, not by its name), from a path or from bytes already in memory.
 *
 * A gzip file is inflated as a stream: its header is checked (magic number, `ndim`, `dims`) as
 * soon as it is out, and inflation stops at the first byte past the size the header promises,
 * so a damaged file or a gzip bomb fails early, in bounded memory. Files of several gzip members
 * are read as one.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const { dims, data: labels } = await data.readIdx("data/train-labels-idx1-ubyte.gz", { ndim: 1 });
 * console.log(dims[0], labels[0]); // 60000 5
 * ```
 */
export async function readIdx(
  source: string | URL | Uint8Array,
  opts: ReadIdxOptions = {},
): Promise<IdxArray> {
  checkOptions(opts);
  let stored: Uint8Array;
  let name: string;
  if (source instanceof Uint8Array) {
    stored = source;
    name = opts.name ?? "<bytes>";
  } else {
    name = opts.name ?? String(source);
    try {
      stored = await Deno.readFile(source);
    } catch (e) {
      throw new Error(`readIdx: cannot read ${name}: ${(e as Error).message}`, { cause: e });
    }
  }
  let idx: IdxArray;
  let contents: Uint8Array;
  if (isGzip(stored)) {
    const inflation = new IdxInflation(opts, `${name} (after gunzip)`, stored.length);
    await inflateGzip(stored, inflation, name);
    ({ idx, bytes: contents } = inflation.finish());
  } else {
    idx = parseIdx(stored, { ...opts, name });
    contents = stored;
  }
  if (opts.sha256 !== undefined) {
    const got = await sha256Hex(contents);
    const want = opts.sha256.toLowerCase();
    if (got !== want) {
      throw new Sha256MismatchError(
        `readIdx: ${name} has SHA-256 ${got} but expected ${want} (of the IDX contents${
          contents === stored ? "" : ", after gunzip"
        }); the file is damaged or not the one expected`,
      );
    }
  }
  return idx;
}

/**
 * The error {@linkcode readIdx} throws when a file's contents do not have the SHA-256 asked for.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * try {
 *   await data.readIdx("labels-idx1-ubyte", { sha256: "00".repeat(32) });
 * } catch (e) {
 *   if (e instanceof data.Sha256MismatchError) console.log("not the file expected");
 * }
 * ```
 */
export class Sha256MismatchError extends Error {
  /** Always "Sha256MismatchError". */
  override name = "Sha256MismatchError";
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
  /** When given, the SHA-256 each file's IDX contents must have (see {@linkcode ReadIdxOptions.sha256}). */
  sha256?: { images: string; labels: string };
  /**
   * When given, the dims each file's header must state, `null` for any size (see
   * {@linkcode ReadIdxOptions.dims}), e.g. `{ images: [null, 28, 28], labels: [null] }`.
   */
  dims?: { images: readonly (number | null)[]; labels: readonly (number | null)[] };
}

/**
 * Reads an images file (magic 0x00000803) and a labels file (magic 0x00000801) and checks
 * that they hold the same number of items and that every label fits `numClasses`.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const { images, labels } = await data.loadIdxPair(
 *   "data/t10k-images-idx3-ubyte",
 *   "data/t10k-labels-idx1-ubyte",
 *   { numClasses: 10, dims: { images: [null, 28, 28], labels: [null] } },
 * );
 * images.dims; // [10000, 28, 28]
 * ```
 */
export async function loadIdxPair(
  imagesPath: string | URL,
  labelsPath: string | URL,
  opts: LoadIdxPairOptions = {},
): Promise<IdxPair> {
  const [imagesRead, labelsRead] = await Promise.allSettled([
    readIdx(imagesPath, { ndim: 3, dims: opts.dims?.images, sha256: opts.sha256?.images }),
    readIdx(labelsPath, { ndim: 1, dims: opts.dims?.labels, sha256: opts.sha256?.labels }),
  ]);
  // The images' error first, whichever failed first: the same bad files always give the same message.
  if (imagesRead.status === "rejected") throw imagesRead.reason;
  if (labelsRead.status === "rejected") throw labelsRead.reason;
  const images = imagesRead.value, labels = labelsRead.value;
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
