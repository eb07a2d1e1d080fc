/**
 * Over 500 lines: one short wrapper per contract method, kept together as the contract is.
 * The CUDA backend: every primitive and fused kernel of the {@linkcode Backend} contract as a thin
 * call into the native library (native/include/convnet.h) through Deno FFI. No math happens here:
 * each method turns its arguments into the C call's (device pointers, codes from the generated ops
 * table src/backend/_ops_table.ts, shapes and strides as int64 tables, geometry as Int32Arrays,
 * pointer tables: ./_staging.ts) and checks the status. Storage, its deferred zero-fill and the
 * host copies are in ./_storage.ts.
 *
 * `device("auto")` and `device("cuda")` reach this module through {@linkcode openCudaDevice};
 * importing it needs no permission: the library is opened on the first request.
 *
 * @module
 */
import type {
  Device,
  DeviceMemoryInfo,
  DType,
  FusedKernels,
  FusedPasses,
  GemmOptions,
  Primitives,
  RandomFill,
  StepKernels,
  StridedCopy,
} from "../backend.ts";
import { OPT_HYPER_SLOTS, RNG_STATE_SLOTS } from "../backend.ts";
import { BINARY_OPS, DISTRIBUTION_CODES, POOL_KIND_CODES, REDUCE_OPS, SCALAR_OPS, UNARY_OPS } from "../_ops_table.ts";
import { type CudaLibrary, openLibrary, STATUS } from "./ffi.ts";
import { type CudaDType, type CudaStorage, dtypeCode, ELEMENT_BYTES, storageOps } from "./_storage.ts";
import { Staging } from "./_staging.ts";
import { checkAxis, checkGemm, convSizes, count, fits, poolSizes, sameDType, shapeSize, strided } from "./_checks.ts";

export {
  CudaError,
  type CudaLibrary,
  type CudaSymbols,
  openLibrary,
  type OpenLibraryOptions,
  STATUS,
  SYMBOLS,
} from "./ffi.ts";
export type { CudaStorage } from "./_storage.ts";
export type * from "../backend.ts";

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

/**
 * What the native library has done since it was loaded (`cn_stats`): take the difference of two
 * readings to count a training step's work. A stream operation is a launch, a copy or a memset.
 */
export interface CudaStats {
  /** Kernel launches. */
  launches: number;
  /** CUDA graph launches (a replayed step counts one). */
  graphLaunches: number;
  /** Waits for the stream: `synchronize()`, every device-to-host copy (`item()`, `toArray()`). */
  syncs: number;
  /** Host-to-device copies and their bytes. */
  h2dCopies: number;
  /** Bytes copied from the host to the device. */
  h2dBytes: number;
  /** Device-to-host copies (each one waits). */
  d2hCopies: number;
  /** Bytes copied from the device to the host. */
  d2hBytes: number;
  /** Device-to-device copies. */
  d2dCopies: number;
  /** Bytes copied within the device. */
  d2dBytes: number;
  /** `cudaMemsetAsync` calls (zero fills). */
  memsets: number;
  /** Bytes set by them. */
  memsetBytes: number;
  /** `cudaMalloc` calls of the caching allocator (a warm training loop makes none). */
  driverAllocs: number;
  /** Bytes asked of the driver. */
  driverAllocBytes: number;
  /** `cudaFree` calls (emptying the cache). */
  driverFrees: number;
}

/**
 * The CUDA backend: a {@linkcode Backend} with every fused kernel of the contract, plus the
 * device-level calls that are not kernels.
 */
export interface CudaBackend
  extends
    Primitives<CudaStorage>,
    Required<FusedKernels<CudaStorage>>,
    Required<FusedPasses<CudaStorage>>,
    Required<StepKernels<CudaStorage>> {
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
  /** The library's counters since it was loaded (`cn_stats()`): see {@linkcode CudaStats}. */
  stats(): CudaStats;
  /** The same counters for this thread's calls only (`cn_thread_stats()`: not another worker's). */
  threadStats(): CudaStats;
  /** The names of this thread's last 16 kernel launches, oldest first (`cn_thread_launches()`). */
  threadLaunches(): string[];
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True when the copy overwrites `out` whole: offset 0, dense strides, every element once. */
function coversAll(layout: StridedCopy, outSize: number): boolean {
  if (layout.accumulate || layout.outOffset !== 0 || numel(layout.shape) < outSize) return false;
  let expect = 1;
  for (let d = layout.shape.length - 1; d >= 0; d--) {
    if (layout.shape[d] !== 1 && layout.outStrides[d] !== expect) return false;
    expect *= layout.shape[d];
  }
  return true;
}

function requireDType(fn: string, what: string, s: CudaStorage, dtype: DType): void {
  if (s.dtype !== dtype) throw new Error(`cuda: ${fn}: ${what} must be ${dtype}, got ${s.dtype}`);
}

/** The random fill's two parameters per distribution (see cn_random_fill). */
function randomParams(opts: RandomFill): [number, number] {
  switch (opts.distribution) {
    case "uniform":
      return [opts.low ?? 0, opts.high ?? 1];
    case "normal":
      return [opts.low ?? 0, opts.std ?? 1];
    case "bernoulli":
      if (opts.p === undefined || !(opts.p >= 0 && opts.p <= 1)) {
        throw new Error(`cuda: randomFill: bernoulli needs p in [0, 1], got ${opts.p}`);
      }
      return [opts.p, 0];
  }
  throw new Error(
    `cuda: randomFill: distribution ${JSON.stringify(opts.distribution)} is not one of uniform, normal, bernoulli`,
  );
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
  const store = storageOps(library);
  const { rd, wr } = store;
  const stage = new Staging();
  const [s0, s1, s2] = stage.strides;
  const stats = new BigInt64Array(4);
  const infoBuf = new Uint8Array(4096);

  /** The fused cross-entropy's sizes (int32) against its [n, c] input and n targets. */
  function checkNll(x: CudaStorage, targets: CudaStorage, n: number, c: number, what: string): void {
    const fn = "crossEntropy", why = () => `n=${n}, c=${c}`;
    requireDType(fn, what, x, "float32");
    requireDType(fn, "targets", targets, "int32");
    fits(fn, what, x, count(fn, "n", n, 2 ** 31 - 1) * count(fn, "c", c, 2 ** 31 - 1), why);
    fits(fn, "targets", targets, n, why);
  }

  /** Throws the library's error for `fn` when `status` is not 0. */
  function check(status: number, fn: string): void {
    if (status !== 0) throw fail(status, fn);
  }

  /**
   * Calls `launch` with the device pointer of an optimizer's hyper-parameters: `hyper`, which the
   * caller filled (int64 storage of OPT_HYPER_SLOTS elements holding doubles' bits), or a buffer of
   * this call's own holding `values`, freed after the launch (stream order keeps it until then).
   */
  function withHyper(
    fn: string,
    hyper: CudaStorage | undefined,
    values: number[],
    launch: (p: Deno.PointerValue) => void,
  ) {
    if (hyper) {
      requireDType(fn, "hyper", hyper, "int64");
      fits(fn, "hyper", hyper, OPT_HYPER_SLOTS, "the optimizer's hyper-parameters");
      // Written by the caller (upload) before this launch: its owed zero-fill, if any, is dropped.
      launch(wr(hyper, fn, OPT_HYPER_SLOTS));
      return;
    }
    const bits = new Float64Array(OPT_HYPER_SLOTS);
    bits.set(values);
    const own = store.fromHost("int64", new BigInt64Array(bits.buffer));
    try {
      launch(own.ptr);
    } finally {
      be.free(own);
    }
  }

  /** Calls `fn` (one of the library's calls that write JSON text into a buffer) and parses the text. */
  function readJson(fn: "cn_stats" | "cn_thread_stats" | "cn_thread_launches" | "cn_device_info"): unknown {
    check(sym[fn](infoBuf, infoBuf.length), fn);
    const end = infoBuf.indexOf(0);
    const text = new TextDecoder().decode(infoBuf.subarray(0, end < 0 ? infoBuf.length : end));
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`cuda: ${fn} returned text that is not JSON: ${JSON.stringify(text)}`, { cause: e });
    }
  }

  const be: CudaBackend = {
    name: "cuda",
    library,

    // ---- storage
    alloc(dtype, size) {
      const s = store.make(dtype, size, "alloc");
      s.zero = size > 0; // filled when first read (see ./_storage.ts)
      return s;
    },
    fromHost: (dtype, values) => store.fromHost(dtype, values),
    toHost: (dtype, s, size) => store.toHost(dtype, s, size),
    upload: (s, values) => store.upload(s, values),
    free(s) {
      if (!store.owns(s)) throw new Error(`cuda: free: expected storage allocated by this CUDA backend, got ${s}`);
      if (!s.live) return;
      s.live = false;
      const st = sym.cn_free(s.ptr);
      s.ptr = null;
      check(st, "cn_free");
    },

    // ---- elementwise
    fill(out, value, size) {
      count("fill", "size", size);
      check(sym.cn_fill(dtypeCode("fill", out.dtype), wr(out, "fill", size), value, BigInt(size)), "cn_fill");
    },
    copy(out, x, size) {
      dtypeCode("copy", x.dtype); // float64 is refused here, before the cast below
      count("copy", "size", size);
      const xp = rd(x, "copy");
      sameDType("copy", "out", out, x.dtype);
      fits("copy", "x", x, size, "size");
      const bytes = size * ELEMENT_BYTES[x.dtype as CudaDType];
      const op = wr(out, "copy", size);
      if (size > 0) check(sym.cn_memcpy_d2d(op, xp, BigInt(bytes)), "cn_memcpy_d2d");
    },
    cast(out, outType, x, xType, size) {
      const xp = rd(x, "cast");
      const oc = dtypeCode("cast", outType), xc = dtypeCode("cast", xType);
      sameDType("cast", "x", x, xType);
      sameDType("cast", "out", out, outType);
      fits("cast", "x", x, count("cast", "size", size), "size");
      check(sym.cn_cast(oc, wr(out, "cast", size), xc, xp, BigInt(size)), "cn_cast");
    },
    unary(op, out, x, size) {
      const xp = rd(x, op);
      fits(op, "x", x, count(op, "size", size), "size");
      check(sym.cn_unary(UNARY_OPS[op], dtypeCode(op, x.dtype), wr(out, op, size), xp, BigInt(size)), "cn_unary");
    },
    binary(op, out, a, b, bc) {
      const ap = rd(a, op), bp = rd(b, op);
      const rank = stage.layout(op, bc.shape, [["aStrides", bc.aStrides], ["bStrides", bc.bStrides]]);
      const size = shapeSize(op, bc.shape);
      sameDType(op, "b", b, a.dtype);
      strided(op, "a", a, bc.shape, bc.aStrides, 0);
      strided(op, "b", b, bc.shape, bc.bStrides, 0);
      const op_ = wr(out, op, size);
      check(
        sym.cn_binary(BINARY_OPS[op], dtypeCode(op, a.dtype), op_, ap, bp, rank, stage.shape, s0, s1),
        "cn_binary",
      );
    },
    scalar(op, out, x, s, size) {
      const xp = rd(x, op);
      fits(op, "x", x, count(op, "size", size), "size");
      check(sym.cn_scalar(SCALAR_OPS[op], dtypeCode(op, x.dtype), wr(out, op, size), xp, s, BigInt(size)), "cn_scalar");
    },
    where(out, cond, a, b, layout) {
      requireDType("where", "cond", cond, "int32");
      const cp = rd(cond, "where"), ap = rd(a, "where"), bp = rd(b, "where");
      const rank = stage.layout("where", layout.shape, [
        ["condStrides", layout.condStrides],
        ["aStrides", layout.aStrides],
        ["bStrides", layout.bStrides],
      ]);
      const size = shapeSize("where", layout.shape);
      sameDType("where", "b", b, a.dtype);
      sameDType("where", "out", out, a.dtype);
      strided("where", "cond", cond, layout.shape, layout.condStrides, 0);
      strided("where", "a", a, layout.shape, layout.aStrides, 0);
      strided("where", "b", b, layout.shape, layout.bStrides, 0);
      const op = wr(out, "where", size);
      check(sym.cn_where(dtypeCode("where", a.dtype), op, cp, ap, bp, rank, stage.shape, s0, s1, s2), "cn_where");
    },
    addInPlace(out, x, size) {
      const xp = rd(x, "addInPlace");
      sameDType("addInPlace", "x", x, out.dtype);
      fits("addInPlace", "x", x, count("addInPlace", "size", size), "size");
      fits("addInPlace", "out", out, size, "size");
      check(
        sym.cn_add_inplace(dtypeCode("addInPlace", out.dtype), rd(out, "addInPlace"), xp, BigInt(size)),
        "cn_add_inplace",
      );
    },
    reduce(op, out, x, outer, n, inner) {
      const xp = rd(x, op);
      const why = () => `outer=${outer}, n=${n}, inner=${inner}`;
      fits(op, "x", x, count(op, "outer", outer) * count(op, "n", n) * count(op, "inner", inner), why);
      const o = wr(out, op, outer * inner);
      check(
        sym.cn_reduce(REDUCE_OPS[op], dtypeCode(op, x.dtype), o, xp, BigInt(outer), BigInt(n), BigInt(inner)),
        "cn_reduce",
      );
    },
    copyStrided(out, x, layout) {
      const fn = "copyStrided";
      requireDType(fn, "out", out, x.dtype);
      const xp = rd(x, fn);
      const rank = stage.layout(fn, layout.shape, [["outStrides", layout.outStrides], ["xStrides", layout.xStrides]]);
      shapeSize(fn, layout.shape);
      strided(fn, "out", out, layout.shape, layout.outStrides, layout.outOffset);
      strided(fn, "x", x, layout.shape, layout.xStrides, layout.xOffset);
      const op = coversAll(layout, out.size) ? wr(out, fn, out.size) : rd(out, fn);
      check(
        sym.cn_copy_strided(
          dtypeCode(fn, x.dtype),
          op,
          xp,
          rank,
          stage.shape,
          s0,
          BigInt(layout.outOffset),
          s1,
          BigInt(layout.xOffset),
          layout.accumulate ? 1 : 0,
        ),
        "cn_copy_strided",
      );
    },

    // ---- gemm, gather/scatter, random
    linearForward(y, x, w, bias, rows, outFeatures, inFeatures) {
      const fn = "linear";
      for (const [name, s] of [["y", y], ["x", x], ["w", w], ["bias", bias]] as const) {
        if (s) requireDType(fn, name, s, "float32");
      }
      const m = count(fn, "rows", rows, 0x7fffffff), n = count(fn, "outFeatures", outFeatures, 0x7fffffff);
      const k = count(fn, "inFeatures", inFeatures, 0x7fffffff);
      fits(fn, "x", x, m * k, "rows × inFeatures");
      fits(fn, "w", w, n * k, "outFeatures × inFeatures");
      if (bias) fits(fn, "bias", bias, n, "outFeatures");
      const xp = rd(x, fn), wp = rd(w, fn), bp = bias ? rd(bias, fn) : null;
      check(sym.cn_linear_forward(wr(y, fn, m * n), xp, wp, bp, m, n, k), "cn_linear_forward");
    },
    linearBackwardWeightBias(dw, db, dy, x, rows, outFeatures, inFeatures) {
      const fn = "linear";
      for (const [name, s] of [["dw", dw], ["db", db], ["dy", dy], ["x", x]] as const) {
        requireDType(fn, name, s, "float32");
      }
      const m = count(fn, "rows", rows, 0x7fffffff), n = count(fn, "outFeatures", outFeatures, 0x7fffffff);
      const k = count(fn, "inFeatures", inFeatures, 0x7fffffff);
      fits(fn, "dy", dy, m * n, "rows × outFeatures");
      fits(fn, "x", x, m * k, "rows × inFeatures");
      const dyp = rd(dy, fn), xp = rd(x, fn), dwp = wr(dw, fn, n * k), dbp = wr(db, fn, n);
      check(sym.cn_linear_backward_weight_bias(dwp, dbp, dyp, xp, m, n, k), "cn_linear_backward_weight_bias");
    },
    gemm(c, a, b, o: GemmOptions) {
      const ap = rd(a, "gemm"), bp = rd(b, "gemm");
      for (const [name, s] of [["c", c], ["a", a], ["b", b]] as const) requireDType("gemm", name, s, "float32");
      const { batch, strideA, strideB, strideC } = checkGemm(c, a, b, o);
      const mn = o.m * o.n;
      // beta = 0: c is only written (never read, NaN included), as in BLAS
      const covered = batch === 1 || strideC === mn ? batch * mn : 0;
      const cp = o.beta === 0 ? wr(c, "gemm", covered) : rd(c, "gemm");
      const st = sym.cn_gemm(
        cp,
        ap,
        bp,
        o.m,
        o.n,
        o.k,
        o.transA ? 1 : 0,
        o.transB ? 1 : 0,
        o.alpha,
        o.beta,
        batch,
        BigInt(strideA),
        BigInt(strideB),
        BigInt(strideC),
      );
      check(st, "cn_gemm");
    },
    gather(out, x, index, g) {
      requireDType("gather", "index", index, "int32");
      const xp = rd(x, "gather"), ip = rd(index, "gather");
      sameDType("gather", "out", out, x.dtype);
      checkAxis("gather", g, [["x", x]], [["index", index], ["out", out]]);
      const op = wr(out, "gather", g.outer * g.m * g.inner);
      const [outer, n, m, inner] = [g.outer, g.n, g.m, g.inner].map(BigInt);
      check(sym.cn_gather(dtypeCode("gather", x.dtype), op, xp, ip, outer, n, m, inner), "cn_gather");
    },
    gatherRows(outs, sources, rowSizes, n, index) {
      const fn = "gatherRows";
      if (
        sources.length < 1 || sources.length > 2 || outs.length !== sources.length || rowSizes.length !== sources.length
      ) {
        throw new Error(
          `${fn}: expected one or two sources with as many outputs and row sizes, got ${sources.length} sources, ` +
            `${outs.length} outputs, ${rowSizes.length} row sizes`,
        );
      }
      const ptrs: [Deno.PointerValue, Deno.PointerValue, bigint][] = sources.map((x, s) => {
        if (ELEMENT_BYTES[x.dtype as CudaDType] !== 4) {
          throw new Error(`${fn}: source ${s} is ${x.dtype}; expected float32 or int32`);
        }
        sameDType(fn, `out ${s}`, outs[s], x.dtype);
        const row = rowSizes[s];
        if (!Number.isSafeInteger(row) || row < 0 || x.size !== n * row) {
          throw new Error(`${fn}: source ${s} holds ${x.size} elements; expected ${n} rows of ${row}`);
        }
        return [wr(outs[s], fn, index.length * row), rd(x, fn), BigInt(row)];
      });
      const [o0, x0, r0] = ptrs[0], [o1, x1, r1] = ptrs[1] ?? [null, null, 0n];
      const st = sym.cn_gather_rows(o0, x0, r0, o1, x1, r1, BigInt(n), index, BigInt(index.length));
      check(st, "cn_gather_rows");
    },
    scatterAdd(out, src, index, g) {
      requireDType("scatterAdd", "index", index, "int32");
      const sp = rd(src, "scatterAdd"), ip = rd(index, "scatterAdd"), op = rd(out, "scatterAdd");
      sameDType("scatterAdd", "out", out, src.dtype);
      checkAxis("scatterAdd", g, [["out", out]], [["index", index], ["src", src]]);
      const [outer, n, m, inner] = [g.outer, g.n, g.m, g.inner].map(BigInt);
      check(sym.cn_scatter_add(dtypeCode("scatterAdd", src.dtype), op, sp, ip, outer, n, m, inner), "cn_scatter_add");
    },
    randomFill(out, size, opts) {
      const fn = "randomFill";
      dtypeCode(fn, out.dtype);
      requireDType(fn, "out", out, "float32");
      if (!Number.isSafeInteger(opts.offset) || opts.offset < 0) {
        throw new Error(`cuda: randomFill: offset must be a non-negative integer, got ${opts.offset}`);
      }
      count(fn, "size", size);
      const [p0, p1] = randomParams(opts);
      const seed = BigInt.asUintN(64, opts.seed);
      const dist = DISTRIBUTION_CODES[opts.distribution];
      check(
        sym.cn_random_fill(dist, wr(out, fn, size), BigInt(size), seed, BigInt(opts.offset), p0, p1),
        "cn_random_fill",
      );
    },
    randomFillState(out, size, state, opts) {
      const fn = "randomFill";
      requireDType(fn, "out", out, "float32");
      requireDType(fn, "state", state, "int64");
      fits(fn, "state", state, RNG_STATE_SLOTS, "the generator's seed, offset and ticket");
      count(fn, "size", size);
      const [p0, p1] = randomParams({ ...opts, seed: 0n, offset: 0 });
      const dist = DISTRIBUTION_CODES[opts.distribution];
      // The state was written by the caller (upload) before this launch: its owed zero-fill is dropped.
      const sp = wr(state, fn, RNG_STATE_SLOTS);
      check(sym.cn_random_fill_state(dist, wr(out, fn, size), BigInt(size), sp, p0, p1), "cn_random_fill_state");
    },

    // ---- fused kernels
    conv2dForward(y, x, w, bias, g) {
      const xp = rd(x, "conv2d"), wp = rd(w, "conv2d"), bp = bias === null ? null : rd(bias, "conv2d");
      const size = convSizes("conv2d", g), why = "the geometry";
      for (const [name, s] of [["y", y], ["x", x], ["w", w]] as const) requireDType("conv2d", name, s, "float32");
      fits("conv2d", "x", x, size.x, why);
      fits("conv2d", "w", w, size.w, why);
      if (bias !== null) fits("conv2d", "bias", bias, size.bias, why);
      const yp = wr(y, "conv2d", size.y);
      check(sym.cn_conv2d_forward(yp, xp, wp, bp, stage.conv(g)), "cn_conv2d_forward");
    },
    conv2dBackwardInput(dx, dy, w, g) {
      const dyp = rd(dy, "conv2d"), wp = rd(w, "conv2d");
      const size = convSizes("conv2d", g), why = "the geometry";
      for (const [name, s] of [["dx", dx], ["dy", dy], ["w", w]] as const) requireDType("conv2d", name, s, "float32");
      fits("conv2d", "dy", dy, size.y, why);
      fits("conv2d", "w", w, size.w, why);
      const dxp = wr(dx, "conv2d", size.x);
      check(sym.cn_conv2d_backward_input(dxp, dyp, wp, stage.conv(g)), "cn_conv2d_backward_input");
    },
    conv2dBackwardWeight(dw, dy, x, g) {
      const dyp = rd(dy, "conv2d"), xp = rd(x, "conv2d");
      const size = convSizes("conv2d", g), why = "the geometry";
      for (const [name, s] of [["dw", dw], ["dy", dy], ["x", x]] as const) requireDType("conv2d", name, s, "float32");
      fits("conv2d", "dy", dy, size.y, why);
      fits("conv2d", "x", x, size.x, why);
      const dwp = wr(dw, "conv2d", size.w);
      check(sym.cn_conv2d_backward_weight(dwp, dyp, xp, stage.conv(g)), "cn_conv2d_backward_weight");
    },
    conv2dBackwardWeightBias(dw, db, dy, x, g) {
      const dyp = rd(dy, "conv2d"), xp = rd(x, "conv2d");
      const size = convSizes("conv2d", g), why = "the geometry";
      for (const [name, s] of [["dw", dw], ["db", db], ["dy", dy], ["x", x]] as const) {
        requireDType("conv2d", name, s, "float32");
      }
      fits("conv2d", "dy", dy, size.y, why);
      fits("conv2d", "x", x, size.x, why);
      const dwp = wr(dw, "conv2d", size.w), dbp = wr(db, "conv2d", size.bias);
      check(sym.cn_conv2d_backward_weight_bias(dwp, dbp, dyp, xp, stage.conv(g)), "cn_conv2d_backward_weight_bias");
    },
    conv2dBackwardBias(db, dy, g) {
      const dyp = rd(dy, "conv2d");
      const size = convSizes("conv2d", g);
      requireDType("conv2d", "db", db, "float32");
      requireDType("conv2d", "dy", dy, "float32");
      fits("conv2d", "dy", dy, size.y, "the geometry");
      check(sym.cn_conv2d_backward_bias(wr(db, "conv2d", size.bias), dyp, stage.conv(g)), "cn_conv2d_backward_bias");
    },
    pool2dForward(kind, y, indices, x, g) {
      const fn = `${kind}Pool2d`, size = poolSizes(`${kind}Pool2d`, g), ySize = size.y;
      const xp = rd(x, fn);
      requireDType(fn, "x", x, "float32");
      requireDType(fn, "y", y, "float32");
      if (indices !== null) requireDType(fn, "indices", indices, "int32");
      fits(fn, "x", x, size.x, "the geometry");
      const yp = wr(y, fn, ySize), ip = indices === null ? null : wr(indices, fn, ySize);
      check(sym.cn_pool2d_forward(POOL_KIND_CODES[kind], yp, ip, xp, stage.pool(g)), "cn_pool2d_forward");
    },
    pool2dBackward(kind, dx, dy, indices, g) {
      const fn = `${kind}Pool2d`;
      const dyp = rd(dy, fn), ip = indices === null ? null : rd(indices, fn);
      const size = poolSizes(fn, g);
      requireDType(fn, "dx", dx, "float32");
      requireDType(fn, "dy", dy, "float32");
      fits(fn, "dy", dy, size.y, "the geometry");
      if (indices !== null) {
        requireDType(fn, "indices", indices, "int32");
        fits(fn, "indices", indices, size.y, "the geometry");
      }
      const dxp = wr(dx, fn, size.x);
      check(sym.cn_pool2d_backward(POOL_KIND_CODES[kind], dxp, dyp, ip, stage.pool(g)), "cn_pool2d_backward");
    },
    conv2dReluMaxPool2dForward(y, indices, x, w, bias, conv, pool) {
      const fn = "conv2dReluMaxPool2d";
      const xp = rd(x, fn), wp = rd(w, fn), bp = bias === null ? null : rd(bias, fn);
      const size = convSizes("conv2d", conv), pooled = poolSizes("maxPool2d", pool), why = "the geometry";
      for (const [name, s] of [["y", y], ["x", x], ["w", w]] as const) requireDType(fn, name, s, "float32");
      requireDType(fn, "indices", indices, "int32");
      fits(fn, "x", x, size.x, why);
      fits(fn, "w", w, size.w, why);
      if (bias !== null) fits(fn, "bias", bias, size.bias, why);
      const yp = wr(y, fn, pooled.y), ip = wr(indices, fn, pooled.y);
      const st = sym.cn_conv2d_relu_maxpool2d_forward(yp, ip, xp, wp, bp, stage.conv(conv), stage.pool(pool));
      check(st, "cn_conv2d_relu_maxpool2d_forward");
    },
    maxPool2dReluBackward(dconv, dy, y, indices, pool) {
      const fn = "conv2dReluMaxPool2d";
      const dyp = rd(dy, fn), yp = rd(y, fn), ip = rd(indices, fn);
      const size = poolSizes("maxPool2d", pool), why = "the geometry";
      for (const [name, s] of [["dconv", dconv], ["dy", dy], ["y", y]] as const) requireDType(fn, name, s, "float32");
      requireDType(fn, "indices", indices, "int32");
      for (const [name, s] of [["dy", dy], ["y", y], ["indices", indices]] as const) fits(fn, name, s, size.y, why);
      const dp = wr(dconv, fn, size.x);
      check(sym.cn_max_pool2d_relu_backward(dp, dyp, yp, ip, stage.pool(pool)), "cn_max_pool2d_relu_backward");
    },
    reluBackward(dx, dy, x, size) {
      const dyp = rd(dy, "reluBackward"), xp = rd(x, "reluBackward");
      for (const [name, s] of [["dx", dx], ["dy", dy], ["x", x]] as const) {
        requireDType("reluBackward", name, s, "float32");
      }
      fits("reluBackward", "dy", dy, count("reluBackward", "size", size), "size");
      fits("reluBackward", "x", x, size, "size");
      check(sym.cn_relu_backward(wr(dx, "reluBackward", size), dyp, xp, BigInt(size)), "cn_relu_backward");
    },
    logSoftmaxNllForward(loss, logp, logits, targets, n, c) {
      const fn = "crossEntropy";
      const xp = rd(logits, fn), tp = rd(targets, fn);
      checkNll(logits, targets, n, c, "logits");
      requireDType(fn, "loss", loss, "float32");
      requireDType(fn, "logp", logp, "float32");
      const st = sym.cn_log_softmax_nll_forward(wr(loss, fn, 1), wr(logp, fn, n * c), xp, tp, n, c);
      check(st, "cn_log_softmax_nll_forward");
    },
    logSoftmaxNllForwardGrad(loss, logp, dunit, logits, targets, n, c) {
      const fn = "crossEntropy";
      const xp = rd(logits, fn), tp = rd(targets, fn);
      checkNll(logits, targets, n, c, "logits");
      for (const [name, s] of [["loss", loss], ["logp", logp], ["dunit", dunit]] as const) {
        requireDType(fn, name, s, "float32");
      }
      const st = sym.cn_log_softmax_nll_forward_grad(
        wr(loss, fn, 1),
        wr(logp, fn, n * c),
        wr(dunit, fn, n * c),
        xp,
        tp,
        n,
        c,
      );
      check(st, "cn_log_softmax_nll_forward_grad");
    },
    logSoftmaxNllBackward(dlogits, logp, targets, dloss, n, c) {
      const fn = "crossEntropy";
      const lp = rd(logp, fn), tp = rd(targets, fn), dp = rd(dloss, fn);
      checkNll(logp, targets, n, c, "logp");
      requireDType(fn, "dloss", dloss, "float32");
      fits(fn, "dloss", dloss, 1, "the loss's gradient");
      check(sym.cn_log_softmax_nll_backward(wr(dlogits, fn, n * c), lp, tp, dp, n, c), "cn_log_softmax_nll_backward");
    },
    adadeltaStep(t, h) {
      const [ps, gs, sq, acc] = stage.tables("Adadelta", [t.params, t.grads, t.squareAvgs, t.accDeltas], t.sizes, rd);
      const n = t.sizes.length;
      if (n === 0) return;
      withHyper("Adadelta", t.hyper, [h.lr, h.rho, h.eps, h.weightDecay], (hy) => {
        check(sym.cn_adadelta_step(n, ps, gs, sq, acc, stage.sizes, hy), "cn_adadelta_step");
      });
    },
    sgdStep(t, h) {
      const [ps, gs, mb] = stage.tables("SGD", [t.params, t.grads, t.momentumBufs], t.sizes, rd);
      const n = t.sizes.length;
      if (n === 0) return;
      if ((h.momentum !== 0) !== (t.momentumBufs !== null)) {
        throw new Error(`cuda: SGD: momentum ${h.momentum} needs momentum buffers exactly when it is not 0`);
      }
      const values = [h.lr, h.momentum, h.dampening, h.weightDecay, h.nesterov ? 1 : 0];
      withHyper("SGD", t.hyper, values, (hy) => {
        check(sym.cn_sgd_step(n, ps, gs, mb, stage.sizes, hy, h.first ? 1 : 0), "cn_sgd_step");
      });
    },
    adamStep(t, h) {
      const lists = [t.params, t.grads, t.expAvgs, t.expAvgSqs, t.maxExpAvgSqs];
      const [ps, gs, m1, m2, mx] = stage.tables("Adam", lists, t.sizes, rd);
      const n = t.sizes.length;
      if (n === 0) return;
      if (!Number.isInteger(h.step) || h.step < 1) throw new Error(`cuda: Adam: step counts from 1, got ${h.step}`);
      const values = [h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.step - 1];
      withHyper("Adam", t.hyper, values, (hy) => {
        check(sym.cn_adam_step(n, ps, gs, m1, m2, mx, stage.sizes, hy, h.amsgrad ? 1 : 0), "cn_adam_step");
      });
    },

    // ---- device
    synchronize() {
      check(sym.cn_synchronize(), "cn_synchronize");
    },
    memoryStats() {
      check(sym.cn_memory_stats(stats), "cn_memory_stats");
      return {
        bytesInUse: Number(stats[0]),
        bytesCached: Number(stats[1]),
        peakBytesInUse: Number(stats[2]),
        blocks: Number(stats[3]),
      };
    },
    emptyCache() {
      check(sym.cn_empty_cache(), "cn_empty_cache");
    },
    setMemoryLimit(bytes) {
      if (!Number.isSafeInteger(bytes) || bytes < 0) {
        throw new Error(`cuda: setMemoryLimit: bytes must be a non-negative integer, got ${bytes}`);
      }
      check(sym.cn_set_memory_limit(BigInt(bytes)), "cn_set_memory_limit");
    },
    stats: () => readJson("cn_stats") as CudaStats,
    threadStats: () => readJson("cn_thread_stats") as CudaStats,
    threadLaunches: () => readJson("cn_thread_launches") as string[],
    deviceInfo: () => readJson("cn_device_info") as CudaDeviceInfo,
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
  /**
   * The native library's counters since it was loaded: launches, graph launches, syncs, copies by
   * direction with bytes, memsets, driver allocations ({@linkcode CudaStats}). Subtract two
   * readings to count what a span of code asked of the card.
   *
   * @example
   * ```ts
   * import { device } from "../device.ts";
   * import type { CudaDevice } from "./mod.ts";
   * const cuda = device("cuda") as CudaDevice;
   * const before = cuda.stats();
   * // ... a training step ...
   * const launches = cuda.stats().launches - before.launches;
   * ```
   */
  stats(): CudaStats;
  /**
   * `stats()` for this thread's calls only: what a test measures while other test modules run
   * in other workers of the same process (`deno test --parallel`).
   *
   * @example
   * ```ts
   * import { device } from "../device.ts";
   * import type { CudaDevice } from "./mod.ts";
   * const cuda = device("cuda") as CudaDevice;
   * const launches = cuda.threadStats().launches;
   * ```
   */
  threadStats(): CudaStats;
  /**
   * The names of this thread's last 16 kernel launches, oldest first: which kernels a step ran
   * (an op that fell off a fused path shows as its own launch).
   *
   * @example
   * ```ts
   * import { device } from "../device.ts";
   * import type { CudaDevice } from "./mod.ts";
   * const cuda = device("cuda") as CudaDevice;
   * console.log(cuda.threadLaunches()); // e.g. ["cn_gather_rows", "conv2d_relu_maxpool2d_forward", ...]
   * ```
   */
  threadLaunches(): string[];
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
    stats: () => backend.stats(),
    threadStats: () => backend.threadStats(),
    threadLaunches: () => backend.threadLaunches(),
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
