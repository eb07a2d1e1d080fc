/**
 * Device storage of the CUDA backend: allocation, the deferred zero-fill, host copies, and the
 * dtype codes (from the generated ops table).
 *
 * `alloc` promises zeroed storage. Most outputs are overwritten whole by the next kernel, so the
 * zero-fill is deferred: new storage is marked `zero`, a kernel that reads it (an input, an
 * accumulator, an optimizer state, `toHost`) fills it first, and a kernel that overwrites it whole
 * drops the fill. In the seed's training step that removes 18 of 37 launches.
 *
 * @module
 */
import type { DType, HostArray } from "../backend.ts";
import { DTYPE_CODES } from "../_ops_table.ts";
import type { CudaLibrary } from "./ffi.ts";

/** Device storage: a pointer from `cn_alloc` and what it holds. */
export interface CudaStorage {
  /** The device pointer (null once freed). */
  ptr: Deno.PointerValue;
  /** The pointer as a number, for pointer tables. */
  addr: bigint;
  /** Element type (float32, int32, or int64 as storage only). */
  readonly dtype: DType;
  /** Elements. */
  readonly size: number;
  /** Bytes asked of the allocator. */
  readonly bytes: number;
  /** False after `free`. */
  live: boolean;
  /** A zero-fill is owed: done before the first read, dropped when a kernel overwrites it whole. */
  zero: boolean;
}

/** The dtypes device storage can hold. */
export type CudaDType = keyof typeof DTYPE_CODES;

const FLOAT64_MESSAGE = "float64 tensors are not supported on the CUDA backend; use float32";

/** Bytes per element of each device dtype. */
export const ELEMENT_BYTES: Record<CudaDType, number> = { float32: 4, int32: 4, int64: 8 };

/** The native dtype code of `dtype`; float64 (and anything else) is an Error naming `fn`. */
export function dtypeCode(fn: string, dtype: DType): number {
  if (dtype === "float32" || dtype === "int32" || dtype === "int64") return DTYPE_CODES[dtype];
  if (dtype === "float64") throw new Error(`cuda: ${fn}: ${FLOAT64_MESSAGE}`);
  throw new Error(`cuda: ${fn}: dtype ${dtype} is not supported; expected float32, int32 or int64`);
}

/** Storage helpers bound to one library. */
export interface StorageOps {
  /** Allocates `size` elements (not zeroed: the caller sets `zero` or overwrites them). */
  make(dtype: DType, size: number, fn: string): CudaStorage;
  /** The pointer of storage a kernel reads or updates in place: the owed zero-fill first. */
  rd(s: CudaStorage, fn: string): Deno.PointerValue;
  /** The pointer of storage a kernel overwrites: `size` elements from the start (more than it holds: an Error). */
  wr(s: CudaStorage, fn: string, size: number): Deno.PointerValue;
  /** Whether `s` is storage this backend allocated (live or freed). */
  owns(s: CudaStorage): boolean;
  /** Copies host values into new storage of `dtype`. */
  fromHost(dtype: DType, values: HostArray): CudaStorage;
  /** Copies `size` elements back to a new host array (waits for the device). */
  toHost(dtype: DType, s: CudaStorage, size: number): HostArray;
  /** Overwrites the first `values.length` elements of `s` with host values, in stream order. */
  upload(s: CudaStorage, values: HostArray): void;
}

/** Converts host values to the typed array of `dtype`, or says why they cannot be. */
function hostArray(dtype: DType, values: HostArray): Float32Array | Int32Array | BigInt64Array {
  const name = values.constructor.name;
  if (dtype === "int64") {
    if (values instanceof BigInt64Array) return values;
    throw new Error(`cuda: fromHost: int64 values must be a BigInt64Array, got a ${name}`);
  }
  if (values instanceof BigInt64Array) {
    throw new Error(`cuda: fromHost: a BigInt64Array holds int64 values, not ${dtype}; cast after uploading as int64`);
  }
  if (dtype === "float32") return values instanceof Float32Array ? values : Float32Array.from(values);
  return values instanceof Int32Array ? values : Int32Array.from(values);
}

/**
 * Builds the storage helpers on an opened library.
 *
 * @example
 * ```ts
 * import { openLibrary } from "./ffi.ts";
 * import { storageOps } from "./_storage.ts";
 * const st = storageOps(openLibrary({ path: "native/build/libconvnet_emu.so" }));
 * const s = st.fromHost("int64", new BigInt64Array([1n, -2n]));
 * st.toHost("int64", s, 2); // BigInt64Array [1n, -2n]
 * ```
 */
export function storageOps(library: CudaLibrary): StorageOps {
  const sym = library.symbols;
  const fail = library.error;
  const ptrOut = new BigUint64Array(1);

  /** Storage this backend allocated: anything else (another backend's, a forged object) is refused. */
  const mine = new WeakSet<CudaStorage>();

  /** Throws unless `s` is live storage of this backend. */
  function usable(s: CudaStorage, fn: string): void {
    if (!mine.has(s)) {
      const got = s === null || typeof s !== "object"
        ? String(s)
        : `an object that ${
          "live" in s ? "this CUDA backend did not allocate" : "is not CUDA storage (another device's?)"
        }`;
      throw new Error(`cuda: ${fn}: expected storage allocated by this CUDA backend, got ${got}`);
    }
    if (!s.live) throw new Error(`cuda: ${fn}: the storage was freed and cannot be used`);
  }

  function zeroNow(s: CudaStorage): void {
    s.zero = false;
    const st = sym.cn_fill(dtypeCode("alloc", s.dtype), s.ptr, 0, BigInt(s.size));
    if (st !== 0) throw fail(st, "cn_fill");
  }

  const ops: StorageOps = {
    make(dtype, size, fn) {
      dtypeCode(fn, dtype);
      const elem = ELEMENT_BYTES[dtype as CudaDType];
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new Error(`cuda: ${fn}: size must be a non-negative integer, got ${size}`);
      }
      const bytes = size * elem;
      const st = sym.cn_alloc(ptrOut, BigInt(bytes));
      if (st !== 0) throw fail(st, "cn_alloc");
      const addr = ptrOut[0];
      const s = { ptr: Deno.UnsafePointer.create(addr), addr, dtype, size, bytes, live: true, zero: false };
      mine.add(s);
      return s;
    },
    owns: (s) => mine.has(s),
    rd(s, fn) {
      usable(s, fn);
      if (s.zero) zeroNow(s);
      return s.ptr;
    },
    wr(s, fn, size) {
      usable(s, fn);
      if (size > s.size) {
        throw new Error(
          `cuda: ${fn}: the output holds ${s.size} ${s.dtype} elements but the call writes ${size}; ` +
            `expected a buffer of at least ${size} elements`,
        );
      }
      if (s.zero) {
        if (size >= s.size) s.zero = false; // every element is written: the fill is not needed
        else zeroNow(s);
      }
      return s.ptr;
    },
    fromHost(dtype, values) {
      dtypeCode("fromHost", dtype);
      const host = hostArray(dtype, values);
      const s = ops.make(dtype, host.length, "fromHost");
      if (s.bytes > 0) {
        const st = sym.cn_memcpy_h2d(s.ptr, host as BufferSource, BigInt(s.bytes));
        if (st !== 0) throw fail(st, "cn_memcpy_h2d");
      }
      return s;
    },
    upload(s, values) {
      usable(s, "upload");
      const host = hostArray(s.dtype, values);
      if (host.length > s.size) {
        throw new Error(`cuda: upload: ${host.length} values given for a storage of ${s.size} ${s.dtype} elements`);
      }
      if (host.length === 0) return;
      if (s.zero) {
        if (host.length >= s.size) s.zero = false;
        else zeroNow(s);
      }
      const st = sym.cn_memcpy_h2d(s.ptr, host as BufferSource, BigInt(host.byteLength));
      if (st !== 0) throw fail(st, "cn_memcpy_h2d");
    },
    toHost(dtype, s, size) {
      dtypeCode("toHost", dtype);
      usable(s, "toHost");
      if (dtype !== s.dtype) throw new Error(`cuda: toHost: the storage holds ${s.dtype}, not ${dtype}`);
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new Error(`cuda: toHost: size must be a non-negative integer, got ${size}`);
      }
      if (size > s.size) throw new Error(`cuda: toHost: ${size} elements asked of a storage of ${s.size}`);
      const out = dtype === "float32"
        ? new Float32Array(size)
        : dtype === "int32"
        ? new Int32Array(size)
        : new BigInt64Array(size);
      const src = ops.rd(s, "toHost");
      if (size === 0) return out;
      const st = sym.cn_memcpy_d2h(out, src, BigInt(out.byteLength));
      if (st !== 0) throw fail(st, "cn_memcpy_d2h");
      return out;
    },
  };
  return ops;
}
