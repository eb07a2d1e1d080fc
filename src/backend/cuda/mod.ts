/**
 * The CUDA backend: every kernel of the {@linkcode Backend} contract as a thin call into the native
 * library (native/include/convnet.h) through Deno FFI. No math happens here: each method turns its
 * arguments into the C call's (device pointers, enum codes, geometry packed into an Int32Array in
 * the struct's field order, shapes as BigInt64Array, pointer tables as BigUint64Array) and checks
 * the status. The small host arrays are allocated once and reused, since the C side reads them
 * only during the call.
 *
 * `alloc` promises zeroed storage. Most outputs are overwritten whole by the next kernel, so the
 * zero-fill is deferred: new storage is marked `zero`, a kernel that reads it (an input, an
 * accumulator, an optimizer state, `toHost`) fills it first, and a kernel that overwrites it whole
 * drops the fill. In the seed's training step that removes 18 of 37 launches.
 *
 * `device("auto")` and `device("cuda")` reach this module through {@linkcode openCudaDevice};
 * importing it needs no permission: the library is opened on the first request.
 *
 * @module
 */
import type {
  AdadeltaParams,
  AdadeltaTensors,
  AdamParams,
  AdamTensors,
  Backend,
  BinaryOp,
  Broadcast,
  Conv2dGeometry,
  Device,
  DeviceMemoryInfo,
  DType,
  Pool2dGeometry,
  PoolKind,
  ReduceOp,
  ScalarOp,
  SgdParams,
  SgdTensors,
  UnaryOp,
} from "../backend.ts";
import { type CudaLibrary, openLibrary, STATUS } from "./ffi.ts";

export {
  CudaError,
  type CudaLibrary,
  type CudaSymbols,
  openLibrary,
  type OpenLibraryOptions,
  STATUS,
  SYMBOLS,
} from "./ffi.ts";
export type * from "../backend.ts";

/** Device storage: a pointer from `cn_alloc` and what it holds. */
export interface CudaStorage {
  /** The device pointer (null once freed, or for an empty allocation). */
  ptr: Deno.PointerValue;
  /** The pointer as a number, for pointer tables. */
  addr: bigint;
  /** Element type; "uint8" only for datasets uploaded with `uploadBytes`. */
  readonly dtype: DType | "uint8";
  /** Elements. */
  readonly size: number;
  /** Bytes asked of the allocator. */
  readonly bytes: number;
  /** False after `free`. */
  live: boolean;
  /** A zero-fill is owed: done before the first read, dropped when a kernel overwrites it whole. */
  zero: boolean;
}

/** What `cn_device_info` reports about the card (the emulator reports itself the same way). */
export interface CudaDeviceInfo {
  /** The card's name, e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** Compute capability, e.g. "9.0". */
  cc?: string;
  /** Streaming multiprocessors. */
  sms?: number;
  /** Device memory in bytes. */
  memory?: number;
  /** SM clock in kHz (with the SM count and cc: the FP32 ceiling). */
  clockKHz?: number;
  /** Memory clock in kHz (with the bus width: the bandwidth ceiling). */
  memoryClockKHz?: number;
  /** Memory bus width in bits. */
  memoryBusBits?: number;
  /** Any other fields the library reports (driver and runtime versions, ...). */
  [key: string]: unknown;
}

/** The CUDA backend plus the device-level calls that are not kernels. */
export interface CudaBackend extends Backend<CudaStorage> {
  /** The library it calls. */
  readonly library: CudaLibrary;
  /** Waits for every queued kernel; reports asynchronous kernel errors. */
  synchronize(): void;
  /** The caching allocator's numbers. */
  memoryStats(): DeviceMemoryInfo;
  /** Returns cached blocks to the driver. */
  emptyCache(): void;
  /** Caps in-use + cached bytes (0 = no cap); asking for more is an out-of-memory error. */
  setMemoryLimit(bytes: number): void;
  /** `cn_device_info()`, parsed. */
  deviceInfo(): CudaDeviceInfo;
}

const FLOAT64_MESSAGE = "cuda: float64 tensors are not supported on the CUDA backend; use float32";

const DTYPE_CODE = { float32: 0, int32: 1 } as const;
const UNARY_CODE: Record<UnaryOp, number> = { neg: 0, exp: 1, log: 2, relu: 3, sqrt: 4, abs: 5 };
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, eq: 4, reluGrad: 5 };
const SCALAR_CODE: Record<ScalarOp, number> = { add: 0, sub: 1, rsub: 2, mul: 3, div: 4, rdiv: 5, pow: 6 };
const REDUCE_CODE: Record<ReduceOp, number> = { sum: 0, max: 1, argmax: 2 };
const POOL_CODE: Record<PoolKind, number> = { max: 0, avg: 1, sum: 2 };
const MAX_RANK = 8;

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function dtypeCode(fn: string, dtype: DType | "uint8"): number {
  if (dtype === "float32" || dtype === "int32") return DTYPE_CODE[dtype];
  if (dtype === "float64") throw new Error(FLOAT64_MESSAGE);
  throw new Error(`cuda: ${fn}: dtype ${dtype} is not supported; expected float32 or int32`);
}

/**
 * Builds the CUDA backend on an opened library (see {@linkcode openLibrary}). `cn_init` must have
 * succeeded on it (as {@linkcode cudaDevice} does).
 *
 * @example
 * ```ts
 * import { createCudaBackend, openLibrary } from "./mod.ts";
 * const lib = openLibrary({ path: "native/build/libconvnet_emu.so" });
 * lib.check(lib.symbols.cn_init(), "cn_init");
 * const be = createCudaBackend(lib);
 * const x = be.fromHost("float32", new Float32Array([1, 2, 3]));
 * be.toHost("float32", x, 3); // Float32Array [1, 2, 3]
 * be.free(x);
 * ```
 */
export function createCudaBackend(library: CudaLibrary): CudaBackend {
  const sym = library.symbols;
  const fail = library.error;

  // Staging arrays, reused by every call (the C side reads them only while the call runs).
  const ptrOut = new BigUint64Array(1);
  const stats = new BigInt64Array(4);
  const conv = new Int32Array(16); // cn_conv2d_geom
  const pool = new Int32Array(12); // cn_pool2d_geom
  const shape = new BigInt64Array(MAX_RANK);
  const aStrides = new BigInt64Array(MAX_RANK);
  const bStrides = new BigInt64Array(MAX_RANK);
  const infoBuf = new Uint8Array(4096);
  let tables = new BigUint64Array(0); // five pointer tables of `cap` entries, then...
  let sizes = new BigInt64Array(0); // ...one sizes table
  let cap = 0;

  function freed(fn: string): Error {
    return new Error(`cuda: ${fn}: the storage was freed and cannot be used`);
  }

  function zeroNow(s: CudaStorage): void {
    s.zero = false;
    const st = sym.cn_fill(dtypeCode("alloc", s.dtype), s.ptr, 0, BigInt(s.size));
    if (st !== 0) throw fail(st, "cn_fill");
  }

  /**
   * The device pointer of storage a kernel reads (or updates in place): the owed zero-fill first.
   * A freed handle is an error, never a dangling pointer. Take every read pointer of a call before
   * its write pointers, so that an output that is also an input is filled.
   */
  function rd(s: CudaStorage, fn: string): Deno.PointerValue {
    if (!s.live) throw freed(fn);
    if (s.zero) zeroNow(s);
    return s.ptr;
  }

  /** The device pointer of storage a kernel overwrites: `size` elements from the start. */
  function wr(s: CudaStorage, fn: string, size: number): Deno.PointerValue {
    if (!s.live) throw freed(fn);
    if (s.zero) {
      if (size >= s.size) s.zero = false; // every element is written: the fill is not needed
      else zeroNow(s);
    }
    return s.ptr;
  }

  function make(dtype: DType | "uint8", size: number, elemBytes: number): CudaStorage {
    const bytes = size * elemBytes;
    const s = sym.cn_alloc(ptrOut, BigInt(bytes));
    if (s !== 0) throw fail(s, "cn_alloc");
    const addr = ptrOut[0];
    return { ptr: Deno.UnsafePointer.create(addr), addr, dtype, size, bytes, live: true, zero: false };
  }

  function upload(s: CudaStorage, host: ArrayBufferView): void {
    if (s.bytes === 0) return;
    const st = sym.cn_memcpy_h2d(s.ptr, host as BufferSource, BigInt(s.bytes));
    if (st !== 0) throw fail(st, "cn_memcpy_h2d");
  }

  /** Packs a broadcast layout into the shape/stride tables; returns the rank passed to C. */
  function packBroadcast(fn: string, bc: Broadcast, withB: boolean): number {
    const rank = bc.shape.length;
    if (rank > MAX_RANK) {
      throw new Error(`cuda: ${fn}: rank ${rank} (shape [${bc.shape.join(", ")}]) is too high; expected at most 8`);
    }
    if (rank === 0) { // a scalar: one element, read at stride 0
      shape[0] = 1n;
      aStrides[0] = 0n;
      bStrides[0] = 0n;
      return 1;
    }
    for (let d = 0; d < rank; d++) {
      shape[d] = BigInt(bc.shape[d]);
      aStrides[d] = BigInt(bc.aStrides[d]);
      if (withB) bStrides[d] = BigInt(bc.bStrides[d]);
    }
    return rank;
  }

  /** Fills pointer table `slot` (0..4) with the lists' pointers; null lists stay null. */
  function packTables(fn: string, lists: (CudaStorage[] | null)[], n: number[]): (BigUint64Array | null)[] {
    const count = n.length;
    if (count > cap) {
      cap = Math.max(count, 2 * cap, 16);
      tables = new BigUint64Array(5 * cap);
      sizes = new BigInt64Array(cap);
    }
    const out: (BigUint64Array | null)[] = [];
    lists.forEach((list, slot) => {
      if (list === null) return out.push(null);
      if (list.length !== count) {
        throw new Error(`cuda: ${fn}: ${list.length} tensors in one list but ${count} sizes; expected equal counts`);
      }
      const t = tables.subarray(slot * cap, slot * cap + count);
      for (let i = 0; i < count; i++) {
        rd(list[i], `${fn} (tensor ${i})`); // optimizer steps read and update every list
        t[i] = list[i].addr;
      }
      out.push(t);
    });
    for (let i = 0; i < count; i++) sizes[i] = BigInt(n[i]);
    return out;
  }

  function packConv(g: Conv2dGeometry): Int32Array {
    conv[0] = g.n, conv[1] = g.c, conv[2] = g.h, conv[3] = g.w;
    conv[4] = g.k, conv[5] = g.kh, conv[6] = g.kw;
    conv[7] = g.oh, conv[8] = g.ow;
    conv[9] = g.strideH, conv[10] = g.strideW;
    conv[11] = g.padH, conv[12] = g.padW;
    conv[13] = g.dilationH, conv[14] = g.dilationW;
    conv[15] = g.groups;
    return conv;
  }

  function packPool(g: Pool2dGeometry): Int32Array {
    pool[0] = g.n, pool[1] = g.c, pool[2] = g.h, pool[3] = g.w;
    pool[4] = g.kh, pool[5] = g.kw;
    pool[6] = g.oh, pool[7] = g.ow;
    pool[8] = g.strideH, pool[9] = g.strideW;
    pool[10] = g.padH, pool[11] = g.padW;
    return pool;
  }

  const be: CudaBackend = {
    name: "cuda",
    library,

    alloc(dtype, size) {
      dtypeCode("alloc", dtype);
      const s = make(dtype, size, 4);
      s.zero = size > 0; // filled when first read (see the module doc)
      return s;
    },
    fromHost(dtype, values) {
      dtypeCode("fromHost", dtype);
      const host = dtype === "float32"
        ? (values instanceof Float32Array ? values : Float32Array.from(values))
        : (values instanceof Int32Array ? values : Int32Array.from(values));
      const s = make(dtype, host.length, 4);
      upload(s, host);
      return s;
    },
    toHost(dtype, s, size) {
      dtypeCode("toHost", dtype);
      if (size > s.size) throw new Error(`cuda: toHost: ${size} elements asked of a storage of ${s.size}`);
      const out = dtype === "float32" ? new Float32Array(size) : new Int32Array(size);
      const src = rd(s, "toHost");
      if (size === 0) return out;
      const st = sym.cn_memcpy_d2h(out, src, BigInt(size * 4));
      if (st !== 0) throw fail(st, "cn_memcpy_d2h");
      return out;
    },
    free(s) {
      if (!s.live) return;
      s.live = false;
      const st = sym.cn_free(s.ptr);
      s.ptr = null;
      if (st !== 0) throw fail(st, "cn_free");
    },

    fill(out, value, size) {
      const st = sym.cn_fill(dtypeCode("fill", out.dtype), wr(out, "fill", size), value, BigInt(size));
      if (st !== 0) throw fail(st, "cn_fill");
    },
    copy(out, x, size) {
      const xp = rd(x, "copy");
      const op = wr(out, "copy", size);
      if (size === 0) return;
      const st = sym.cn_memcpy_d2d(op, xp, BigInt(size * 4));
      if (st !== 0) throw fail(st, "cn_memcpy_d2d");
    },
    cast(out, outType, x, xType, size) {
      const xp = rd(x, "cast");
      const st = sym.cn_cast(
        dtypeCode("cast", outType),
        wr(out, "cast", size),
        dtypeCode("cast", xType),
        xp,
        BigInt(size),
      );
      if (st !== 0) throw fail(st, "cn_cast");
    },
    unary(op, out, x, size) {
      const xp = rd(x, op);
      const st = sym.cn_unary(UNARY_CODE[op], dtypeCode(op, x.dtype), wr(out, op, size), xp, BigInt(size));
      if (st !== 0) throw fail(st, "cn_unary");
    },
    binary(op, out, a, b, bc) {
      const ap = rd(a, op), bp = rd(b, op);
      const rank = packBroadcast(op, bc, true);
      const st = sym.cn_binary(
        BINARY_CODE[op],
        dtypeCode(op, a.dtype),
        wr(out, op, numel(bc.shape)),
        ap,
        bp,
        rank,
        shape,
        aStrides,
        bStrides,
      );
      if (st !== 0) throw fail(st, "cn_binary");
    },
    scalar(op, out, x, s, size) {
      const xp = rd(x, op);
      const st = sym.cn_scalar(SCALAR_CODE[op], dtypeCode(op, x.dtype), wr(out, op, size), xp, s, BigInt(size));
      if (st !== 0) throw fail(st, "cn_scalar");
    },
    addInPlace(out, x, size) {
      const xp = rd(x, "addInPlace");
      const st = sym.cn_add_inplace(dtypeCode("addInPlace", out.dtype), rd(out, "addInPlace"), xp, BigInt(size));
      if (st !== 0) throw fail(st, "cn_add_inplace");
    },
    reduce(op, out, x, outer, n, inner) {
      const xp = rd(x, op);
      const st = sym.cn_reduce(
        REDUCE_CODE[op],
        dtypeCode(op, x.dtype),
        wr(out, op, outer * inner),
        xp,
        BigInt(outer),
        BigInt(n),
        BigInt(inner),
      );
      if (st !== 0) throw fail(st, "cn_reduce");
    },
    expand(out, x, bc) {
      const xp = rd(x, "expand");
      const rank = packBroadcast("expand", bc, false);
      const op = wr(out, "expand", numel(bc.shape));
      const st = sym.cn_expand(dtypeCode("expand", x.dtype), op, xp, rank, shape, aStrides);
      if (st !== 0) throw fail(st, "cn_expand");
    },

    gemm(c, a, b, o) {
      const ap = rd(a, "gemm"), bp = rd(b, "gemm");
      // beta = 0: c is only written (never read, NaN included), as in BLAS
      const cp = o.beta === 0 ? wr(c, "gemm", o.m * o.n) : rd(c, "gemm");
      const st = sym.cn_gemm(cp, ap, bp, o.m, o.n, o.k, o.transA ? 1 : 0, o.transB ? 1 : 0, o.alpha, o.beta);
      if (st !== 0) throw fail(st, "cn_gemm");
    },

    conv2dForward(y, x, w, bias, g) {
      const xp = rd(x, "conv2d"), wp = rd(w, "conv2d"), bp = bias === null ? null : rd(bias, "conv2d");
      const yp = wr(y, "conv2d", g.n * g.k * g.oh * g.ow);
      const st = sym.cn_conv2d_forward(yp, xp, wp, bp, packConv(g));
      if (st !== 0) throw fail(st, "cn_conv2d_forward");
    },
    conv2dBackwardInput(dx, dy, w, g) {
      const dyp = rd(dy, "conv2d"), wp = rd(w, "conv2d");
      const dxp = wr(dx, "conv2d", g.n * g.c * g.h * g.w);
      const st = sym.cn_conv2d_backward_input(dxp, dyp, wp, packConv(g));
      if (st !== 0) throw fail(st, "cn_conv2d_backward_input");
    },
    conv2dBackwardWeight(dw, dy, x, g) {
      const dyp = rd(dy, "conv2d"), xp = rd(x, "conv2d");
      const dwp = wr(dw, "conv2d", g.k * (g.c / g.groups) * g.kh * g.kw);
      const st = sym.cn_conv2d_backward_weight(dwp, dyp, xp, packConv(g));
      if (st !== 0) throw fail(st, "cn_conv2d_backward_weight");
    },
    conv2dBackwardBias(db, dy, g) {
      const dyp = rd(dy, "conv2d");
      const st = sym.cn_conv2d_backward_bias(wr(db, "conv2d", g.k), dyp, packConv(g));
      if (st !== 0) throw fail(st, "cn_conv2d_backward_bias");
    },

    pool2dForward(kind, y, indices, x, g) {
      const fn = `${kind}Pool2d`, ySize = g.n * g.c * g.oh * g.ow;
      const xp = rd(x, fn);
      const yp = wr(y, fn, ySize), ip = indices === null ? null : wr(indices, fn, ySize);
      const st = sym.cn_pool2d_forward(POOL_CODE[kind], yp, ip, xp, packPool(g));
      if (st !== 0) throw fail(st, "cn_pool2d_forward");
    },
    pool2dBackward(kind, dx, dy, indices, g) {
      const fn = `${kind}Pool2d`;
      const dyp = rd(dy, fn), ip = indices === null ? null : rd(indices, fn);
      const dxp = wr(dx, fn, g.n * g.c * g.h * g.w);
      const st = sym.cn_pool2d_backward(POOL_CODE[kind], dxp, dyp, ip, packPool(g));
      if (st !== 0) throw fail(st, "cn_pool2d_backward");
    },

    logSoftmaxNllForward(loss, logp, logits, targets, n, c) {
      const fn = "crossEntropy";
      const xp = rd(logits, fn), tp = rd(targets, fn);
      const st = sym.cn_log_softmax_nll_forward(wr(loss, fn, 1), wr(logp, fn, n * c), xp, tp, n, c);
      if (st !== 0) throw fail(st, "cn_log_softmax_nll_forward");
    },
    logSoftmaxNllBackward(dlogits, logp, targets, dloss, n, c) {
      const fn = "crossEntropy";
      const lp = rd(logp, fn), tp = rd(targets, fn), dp = rd(dloss, fn);
      const st = sym.cn_log_softmax_nll_backward(wr(dlogits, fn, n * c), lp, tp, dp, n, c);
      if (st !== 0) throw fail(st, "cn_log_softmax_nll_backward");
    },

    adadeltaStep(t: AdadeltaTensors<CudaStorage>, h: AdadeltaParams) {
      const [ps, gs, sq, acc] = packTables("Adadelta", [t.params, t.grads, t.squareAvgs, t.accDeltas], t.sizes);
      const n = t.sizes.length;
      if (n === 0) return;
      const st = sym.cn_adadelta_step(n, ps, gs, sq, acc, sizes, h.lr, h.rho, h.eps, h.weightDecay);
      if (st !== 0) throw fail(st, "cn_adadelta_step");
    },
    sgdStep(t: SgdTensors<CudaStorage>, h: SgdParams) {
      const [ps, gs, mb] = packTables("SGD", [t.params, t.grads, t.momentumBufs], t.sizes);
      const n = t.sizes.length;
      if (n === 0) return;
      const st = sym.cn_sgd_step(
        n,
        ps,
        gs,
        mb,
        sizes,
        h.lr,
        h.momentum,
        h.dampening,
        h.nesterov ? 1 : 0,
        h.weightDecay,
        h.first ? 1 : 0,
      );
      if (st !== 0) throw fail(st, "cn_sgd_step");
    },
    adamStep(t: AdamTensors<CudaStorage>, h: AdamParams) {
      const [ps, gs, m1, m2, mx] = packTables(
        "Adam",
        [t.params, t.grads, t.expAvgs, t.expAvgSqs, t.maxExpAvgSqs],
        t.sizes,
      );
      const n = t.sizes.length;
      if (n === 0) return;
      const st = sym.cn_adam_step(
        n,
        ps,
        gs,
        m1,
        m2,
        mx,
        sizes,
        h.lr,
        h.beta1,
        h.beta2,
        h.eps,
        h.weightDecay,
        h.amsgrad ? 1 : 0,
        h.step,
      );
      if (st !== 0) throw fail(st, "cn_adam_step");
    },

    uploadBytes(bytes) {
      const s = make("uint8", bytes.length, 1);
      upload(s, bytes);
      return s;
    },
    gatherNormalize(images, labels, bytes, labelBytes, idx, { pixels, mean, std }) {
      if (idx.length === 0) return;
      const fn = "gatherNormalize";
      const bp = rd(bytes, fn), lp = rd(labelBytes, fn);
      const st = sym.cn_gather_normalize(
        wr(images, fn, idx.length * pixels),
        wr(labels, fn, idx.length),
        bp,
        lp,
        idx,
        idx.length,
        pixels,
        mean,
        std,
      );
      if (st !== 0) throw fail(st, "cn_gather_normalize");
    },

    synchronize() {
      library.check(sym.cn_synchronize(), "cn_synchronize");
    },
    memoryStats() {
      library.check(sym.cn_memory_stats(stats), "cn_memory_stats");
      return {
        bytesInUse: Number(stats[0]),
        bytesCached: Number(stats[1]),
        peakBytesInUse: Number(stats[2]),
        blocks: Number(stats[3]),
      };
    },
    emptyCache() {
      library.check(sym.cn_empty_cache(), "cn_empty_cache");
    },
    setMemoryLimit(bytes) {
      if (!Number.isSafeInteger(bytes) || bytes < 0) {
        throw new Error(`cuda: setMemoryLimit: bytes must be a non-negative integer, got ${bytes}`);
      }
      library.check(sym.cn_set_memory_limit(BigInt(bytes)), "cn_set_memory_limit");
    },
    deviceInfo() {
      library.check(sym.cn_device_info(infoBuf, infoBuf.length), "cn_device_info");
      const end = infoBuf.indexOf(0);
      const text = new TextDecoder().decode(infoBuf.subarray(0, end < 0 ? infoBuf.length : end));
      try {
        return JSON.parse(text) as CudaDeviceInfo;
      } catch (e) {
        throw new Error(`cuda: cn_device_info returned text that is not JSON: ${JSON.stringify(text)}`, { cause: e });
      }
    },
  };
  return be;
}

/** The CUDA device: a {@linkcode Device} whose backend is a {@linkcode CudaBackend}. */
export interface CudaDevice extends Device {
  /** Always "cuda". */
  readonly type: "cuda";
  /** The backend, with its device-level calls. */
  readonly backend: CudaBackend;
  /** What the library says about the card. */
  readonly info: CudaDeviceInfo;
}

function describe(info: CudaDeviceInfo, lib: CudaLibrary): string {
  const gib = info.memory === undefined ? "" : `, ${(info.memory / 2 ** 30).toFixed(0)} GiB`;
  const cc = info.cc === undefined ? "" : `, cc ${info.cc}`;
  const sms = info.sms === undefined ? "" : `, ${info.sms} SMs`;
  return `cuda (${info.name}${cc}${sms}${gib}; ${lib.path})`;
}

/**
 * Opens a CUDA device on a library: `cn_init` (the driver answers and a device exists), then
 * `cn_device_info`. Throws an Error saying what is missing ("no CUDA device found", ...).
 *
 * @example
 * ```ts
 * import { cudaDevice, openLibrary } from "./mod.ts";
 * const dev = cudaDevice(openLibrary({ path: "native/build/libconvnet_emu.so" }));
 * console.log(dev.description); // "cuda (CPU emulation ...; native/build/libconvnet_emu.so)"
 * ```
 */
export function cudaDevice(lib: CudaLibrary): CudaDevice {
  const st = lib.symbols.cn_init();
  if (st !== 0) {
    const e = lib.error(st, "cn_init");
    const msg = e.message.replace(/^cuda: (cn_init: )?/, "");
    throw new Error(st === STATUS.NO_DEVICE ? msg || "no CUDA device found" : `${lib.path}: ${msg}`, { cause: e });
  }
  const backend = createCudaBackend(lib);
  const info = backend.deviceInfo();
  return {
    type: "cuda",
    backend,
    info,
    description: describe(info, lib),
    memory: () => backend.memoryStats(),
  };
}

let opened: CudaDevice | null = null;
let failure: Error | null = null;

/**
 * The process's CUDA device, opened on the first call from the library {@linkcode openLibrary}
 * finds (`CONVNET_LIB`, then native/build/libconvnet_cuda.so); later calls return the same device,
 * or throw the same error. `device("auto")` and `device("cuda")` call this.
 *
 * @example
 * ```ts
 * import { openCudaDevice } from "./mod.ts";
 * try {
 *   console.log(openCudaDevice().description);
 * } catch (e) {
 *   console.log(`no CUDA: ${(e as Error).message}`);
 * }
 * ```
 */
export function openCudaDevice(): CudaDevice {
  if (opened) return opened;
  if (failure) throw failure;
  try {
    opened = cudaDevice(openLibrary());
    return opened;
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    throw failure;
  }
}
