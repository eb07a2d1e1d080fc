/**
 * State dicts in the safetensors format, readable by PyTorch's `safetensors.torch.load_file`.
 *
 * Layout: an 8-byte little-endian u64 `N`, then `N` bytes of UTF-8 JSON
 * (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`, padded
 * with spaces to a multiple of 8 bytes), then the tensors' bytes, little-endian, back to back.
 *
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";
import { type Tensor, tensor } from "../tensor/mod.ts";

/** Largest header accepted, as in the reference implementation. */
const MAX_HEADER_BYTES = 100_000_000;

type Dtype = "float32" | "float64" | "int32" | "int64";

const TO_ST: Record<Dtype, string> = { float32: "F32", float64: "F64", int32: "I32", int64: "I64" };
const FROM_ST: Record<string, { dtype: Dtype; bytes: number }> = {
  F32: { dtype: "float32", bytes: 4 },
  F64: { dtype: "float64", bytes: 8 },
  I32: { dtype: "int32", bytes: 4 },
  I64: { dtype: "int64", bytes: 8 },
};

/** Options for {@linkcode save} and {@linkcode saveBytes}. */
export interface SaveOptions {
  /** String key/value pairs stored under `__metadata__`, e.g. `{ format: "pt" }`. */
  metadata?: Record<string, string>;
}

/** A parsed safetensors file: its tensors and its `__metadata__` (empty when absent). */
export interface Safetensors {
  /** The tensors, in the order of the header's keys. */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` strings. */
  metadata: Record<string, string>;
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkEndian(fn: string): void {
  if (!isLittleEndian) {
    throw new Error(`${fn}: safetensors is little-endian and this platform is big-endian`);
  }
}

/**
 * Serializes a state dict to safetensors bytes; tensors are written in the order given.
 * float32 tensors become `F32`, int32 `I32`, int64 `I64` (float64 `F64`).
 *
 * @example
 * ```ts
 * import { io, tensor } from "@convnet/convnet";
 * const bytes = io.saveBytes({ "fc.bias": tensor([0.5, -1], [2]) });
 * ```
 */
export function saveBytes(stateDict: Record<string, Tensor>, opts: SaveOptions = {}): Uint8Array {
  checkEndian("saveBytes");
  if (stateDict === null || typeof stateDict !== "object") {
    throw new Error(
      `saveBytes: stateDict must be an object of name → Tensor, got ${String(stateDict)}`,
    );
  }
  const header: Record<string, unknown> = {};
  if (opts.metadata !== undefined) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== "string") {
        throw new Error(
          `saveBytes: metadata ${JSON.stringify(k)} must be a string, got ${typeof v}`,
        );
      }
    }
    header.__metadata__ = { ...opts.metadata };
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of Object.entries(stateDict)) {
    if (key === "__metadata__") {
      throw new Error(`saveBytes: "__metadata__" is reserved and cannot name a tensor`);
    }
    if (t === null || typeof t !== "object" || typeof t.toHost !== "function") {
      throw new Error(`saveBytes: stateDict[${JSON.stringify(key)}] is not a Tensor`);
    }
    const st = TO_ST[t.dtype as Dtype];
    if (st === undefined) {
      throw new Error(
        `saveBytes: tensor ${JSON.stringify(key)} has dtype ${t.dtype}; ` +
          `expected float32, float64, int32 or int64`,
      );
    }
    const arr = t.toHost();
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    header[key] = { dtype: st, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * Writes a state dict to `path` in safetensors format, atomically and durably (see
 * {@linkcode writeFileAtomic}): the bytes go to a temporary file in the same folder, which is
 * fsynced and renamed over `path`; a killed save's temporary file is removed by the next save.
 *
 * @example
 * ```ts
 * import { io, tensor } from "@convnet/convnet";
 * await io.save({ w: tensor([1, 2, 3, 4], [2, 2]) }, "model.safetensors");
 * ```
 */
export async function save(
  stateDict: Record<string, Tensor>,
  path: string,
  opts: SaveOptions = {},
): Promise<void> {
  const bytes = saveBytes(stateDict, opts);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    const cause = (e as Error).cause as Error | undefined;
    throw new Error(`save: cannot write ${path}: ${(cause ?? e as Error).message}`, { cause: cause ?? e });
  }
}

function product(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Parses safetensors bytes into tensors and metadata, checking the header thoroughly:
 * every error names the file (`name`), the tensor key and what was wrong.
 *
 * @example
 * ```ts
 * import { io, tensor } from "@convnet/convnet";
 * const { tensors, metadata } = io.parseSafetensors(
 *   io.saveBytes({ b: tensor([1], [1]) }, { metadata: { format: "pt" } }),
 * );
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, name = "<bytes>"): Safetensors {
  checkEndian("load");
  const fail = (what: string): never => {
    throw new Error(`load: ${name}: ${what}`);
  };
  if (bytes.length < 8) {
    fail(`file has ${bytes.length} bytes; a safetensors file needs at least 8 (header length)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const n = Number(n64);
  if (n > bytes.length - 8) {
    fail(`header length ${n} exceeds the ${bytes.length - 8} bytes after the length field`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail(`header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(`header is not a JSON object (got ${Array.isArray(header) ? "array" : typeof header})`);
  }
  const metadata: Record<string, string> = {};
  const entries: { key: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, info] of Object.entries(header as Record<string, unknown>)) {
    const k = JSON.stringify(key);
    if (key === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        fail(`__metadata__ must be an object of strings`);
      }
      for (const [mk, mv] of Object.entries(info as Record<string, unknown>)) {
        if (typeof mv !== "string") {
          fail(`__metadata__[${JSON.stringify(mk)}] must be a string, got ${JSON.stringify(mv)}`);
        }
        metadata[mk] = mv as string;
      }
      continue;
    }
    if (info === null || typeof info !== "object" || Array.isArray(info)) {
      fail(`tensor ${k}: entry must be an object with dtype, shape and data_offsets`);
    }
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    const known = typeof dtype === "string" ? FROM_ST[dtype] : undefined;
    if (known === undefined) {
      fail(
        `tensor ${k}: dtype ${JSON.stringify(dtype)} is not supported; expected one of ` +
          `${Object.keys(FROM_ST).join(", ")}`,
      );
    }
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      fail(`tensor ${k}: shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      fail(
        `tensor ${k}: data_offsets ${JSON.stringify(offsets)} must be two non-negative ` +
          `integers [begin, end]`,
      );
    }
    const [begin, end] = offsets as number[];
    if (end < begin) fail(`tensor ${k}: data_offsets [${begin}, ${end}] end before they begin`);
    const want = product(shape as number[]) * known!.bytes;
    if (end - begin !== want) {
      fail(
        `tensor ${k}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ` +
          `${dtype} shape [${(shape as number[]).join(", ")}] needs ${want}`,
      );
    }
    entries.push({ key, dtype: known!.dtype, shape: shape as number[], begin, end });
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const e of sorted) {
    const k = JSON.stringify(e.key);
    if (e.begin > pos) {
      fail(
        `tensor ${k}: data_offsets begin at ${e.begin} but ${
          prev ? `tensor ${prev} ends` : "the data section starts"
        } at ${pos}: a gap of ${e.begin - pos} bytes`,
      );
    }
    if (e.begin < pos) {
      fail(
        `tensor ${k}: data_offsets begin at ${e.begin}, overlapping tensor ${prev} ` +
          `which ends at ${pos}`,
      );
    }
    pos = e.end;
    prev = k;
  }
  if (pos !== dataLength) {
    fail(
      pos < dataLength
        ? `data section has ${dataLength} bytes but the tensors end at ${pos}: ` +
          `${dataLength - pos} trailing bytes`
        : `tensor ${prev}: data_offsets end at ${pos} but the data section has only ` +
          `${dataLength} bytes (file truncated?)`,
    );
  }
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    // slice() copies, which also gives the typed array the alignment it needs.
    const buf = bytes.buffer.slice(
      bytes.byteOffset + dataStart + e.begin,
      bytes.byteOffset + dataStart + e.end,
    ) as ArrayBuffer;
    const values = e.dtype === "float32"
      ? new Float32Array(buf)
      : e.dtype === "int32"
      ? new Int32Array(buf)
      : e.dtype === "int64"
      ? new BigInt64Array(buf)
      : new Float64Array(buf);
    tensors[e.key] = tensor(values, e.shape, { dtype: e.dtype });
  }
  return { tensors, metadata };
}

/**
 * Reads a state dict from safetensors bytes (see {@linkcode parseSafetensors} for the checks).
 *
 * @example
 * ```ts
 * import { io, tensor } from "@convnet/convnet";
 * const dict = io.loadBytes(io.saveBytes({ w: tensor([1, 2], [2]) }));
 * dict.w.shape; // [2]
 * ```
 */
export function loadBytes(bytes: Uint8Array, name?: string): Record<string, Tensor> {
  return parseSafetensors(bytes, name).tensors;
}

/**
 * Reads a state dict from a safetensors file, e.g. one written by PyTorch's
 * `safetensors.torch.save_file(model.state_dict(), path)`.
 *
 * @example
 * ```ts
 * import { io } from "@convnet/convnet";
 * const dict = await io.load("model.safetensors");
 * Object.keys(dict); // ["conv1.weight", "conv1.bias", ...]
 * ```
 */
export async function load(path: string): Promise<Record<string, Tensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`load: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseSafetensors(bytes, path).tensors;
}
