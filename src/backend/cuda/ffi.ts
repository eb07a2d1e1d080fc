/**
 * The C ABI of convnet's native library (native/include/convnet.h) for `Deno.dlopen`: the one
 * symbol table, the one function that finds and opens the library, and the typed error that a
 * non-zero status becomes. Over 500 lines: the whole symbol table in one place, every parameter
 * with its C type, so that one file is checked against convnet.h.
 *
 * Where the library is looked for, in order:
 * 1. `path` given to {@linkcode openLibrary} (tests pass the emulation build this way);
 * 2. the `CONVNET_LIB` environment variable (a path, e.g. `native/build/libconvnet_emu.so` to run
 *    the whole CUDA code path on the CPU emulator);
 * 3. `native/build/libconvnet_cuda.so` of the checkout this module lives in (built by
 *    `deno task build:native`; only when convnet was loaded from local files);
 * 4. `libconvnet_cuda.so` in the user cache, `$XDG_CACHE_HOME/convnet/<version>` or
 *    `~/.cache/convnet/<version>` (built by `deno run -A jsr:@convnet/convnet/build`).
 *
 * A path given or `CONVNET_LIB` is the only candidate tried: an explicit choice that fails is an
 * error, never a silent fall-back to another library. Otherwise the first of 3 and 4 that exists is
 * opened, and when neither does, the error lists both (and what was skipped: no `--allow-env`, an
 * import over http(s)).
 *
 * @module
 */
import { STATUS_CODES } from "../_ops_table.ts";
import { granted, LIBRARY_NAME, libraryCandidates } from "./_library_search.ts";

/**
 * Every function of convnet.h, in the header's order; each parameter is commented with its C type.
 * Device pointers are "pointer" (a `Deno.PointerValue`); host arrays the call reads or writes
 * (geometry structs, shapes, pointer tables, host copies) are "buffer" (a typed array).
 */
export const SYMBOLS = {
  // ---- runtime ----
  /** const char *cn_last_error(void) */
  cn_last_error: { parameters: [], result: "pointer" },
  /** const char *cn_build_info(void) */
  cn_build_info: { parameters: [], result: "pointer" },
  /** int cn_init(void) */
  cn_init: { parameters: [], result: "i32" },
  cn_device_info: {
    parameters: [
      "buffer", // char *buf
      "i32", // int32_t buf_len
    ],
    result: "i32",
  },
  /** int cn_synchronize(void) */
  cn_synchronize: { parameters: [], result: "i32" },
  cn_stats: {
    parameters: [
      "buffer", // char *buf: receives the counters as JSON
      "i32", // int32_t buf_len
    ],
    result: "i32",
  },
  cn_thread_stats: {
    parameters: [
      "buffer", // char *buf: receives the calling thread's counters as JSON
      "i32", // int32_t buf_len
    ],
    result: "i32",
  },
  cn_thread_launches: {
    parameters: [
      "buffer", // char *buf: receives the calling thread's last 16 launch names as a JSON array
      "i32", // int32_t buf_len
    ],
    result: "i32",
  },

  // ---- device memory ----
  cn_alloc: {
    parameters: [
      "buffer", // void **ptr (a BigUint64Array(1) receives the pointer)
      "i64", // int64_t bytes
    ],
    result: "i32",
  },
  cn_free: {
    parameters: [
      "pointer", // void *ptr
    ],
    result: "i32",
  },
  /** int cn_empty_cache(void) */
  cn_empty_cache: { parameters: [], result: "i32" },
  cn_memory_stats: {
    parameters: [
      "buffer", // int64_t *stats: [in use, cached, peak in use, live blocks]
    ],
    result: "i32",
  },
  cn_set_memory_limit: {
    parameters: [
      "i64", // int64_t bytes (0 = no cap)
    ],
    result: "i32",
  },
  cn_memcpy_h2d: {
    parameters: [
      "pointer", // void *dst (device)
      "buffer", // const void *src (host)
      "i64", // int64_t bytes
    ],
    result: "i32",
  },
  cn_memcpy_d2h: {
    parameters: [
      "buffer", // void *dst (host)
      "pointer", // const void *src (device)
      "i64", // int64_t bytes
    ],
    result: "i32",
  },
  cn_memcpy_d2d: {
    parameters: [
      "pointer", // void *dst
      "pointer", // const void *src
      "i64", // int64_t bytes
    ],
    result: "i32",
  },

  // ---- CUDA graphs (native/src/graph.cu) ----
  /** int cn_capture_trace_begin(void) */
  cn_capture_trace_begin: { parameters: [], result: "i32" },
  /** int cn_capture_begin(void) */
  cn_capture_begin: { parameters: [], result: "i32" },
  cn_capture_end: {
    parameters: [
      "buffer", // void **graph (a BigUint64Array(1) receives the handle)
    ],
    result: "i32",
  },
  cn_graph_launch: {
    parameters: [
      "pointer", // void *graph
    ],
    result: "i32",
  },
  cn_graph_destroy: {
    parameters: [
      "pointer", // void *graph
    ],
    result: "i32",
  },

  // ---- elementwise (op codes: src/backend/_ops_table.ts, generated from native/ops.def) ----
  cn_fill: {
    parameters: [
      "i32", // int32_t dtype
      "pointer", // void *out
      "f64", // double value
      "i64", // int64_t n
    ],
    result: "i32",
  },
  cn_cast: {
    parameters: [
      "i32", // int32_t out_dtype
      "pointer", // void *out
      "i32", // int32_t x_dtype
      "pointer", // const void *x
      "i64", // int64_t n
    ],
    result: "i32",
  },
  cn_unary: {
    parameters: [
      "i32", // int32_t op (enum cn_unary_op)
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *x
      "i64", // int64_t n
    ],
    result: "i32",
  },
  cn_binary: {
    parameters: [
      "i32", // int32_t op (enum cn_binary_op)
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *a
      "pointer", // const void *b
      "i32", // int32_t rank
      "buffer", // const int64_t *shape
      "buffer", // const int64_t *a_strides
      "buffer", // const int64_t *b_strides
    ],
    result: "i32",
  },
  cn_scalar: {
    parameters: [
      "i32", // int32_t op (enum cn_scalar_op)
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *x
      "f64", // double s
      "i64", // int64_t n
    ],
    result: "i32",
  },
  cn_where: {
    parameters: [
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const int32_t *cond
      "pointer", // const void *a
      "pointer", // const void *b
      "i32", // int32_t rank
      "buffer", // const int64_t *shape
      "buffer", // const int64_t *cond_strides
      "buffer", // const int64_t *a_strides
      "buffer", // const int64_t *b_strides
    ],
    result: "i32",
  },
  cn_add_inplace: {
    parameters: [
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *x
      "i64", // int64_t n
    ],
    result: "i32",
  },
  cn_copy_strided: {
    parameters: [
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *x
      "i32", // int32_t rank
      "buffer", // const int64_t *shape
      "buffer", // const int64_t *out_strides
      "i64", // int64_t out_offset
      "buffer", // const int64_t *x_strides
      "i64", // int64_t x_offset
      "i32", // int32_t accumulate
    ],
    result: "i32",
  },
  cn_relu_backward: {
    parameters: [
      "pointer", // float *dx
      "pointer", // const float *dy
      "pointer", // const float *x
      "i64", // int64_t n
    ],
    result: "i32",
  },
  cn_reduce: {
    parameters: [
      "i32", // int32_t op (enum cn_reduce_op)
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *x
      "i64", // int64_t outer
      "i64", // int64_t n
      "i64", // int64_t inner
    ],
    result: "i32",
  },

  // ---- gather / scatter along an axis ----
  cn_gather: {
    parameters: [
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *x
      "pointer", // const int32_t *index
      "i64", // int64_t outer
      "i64", // int64_t n
      "i64", // int64_t m
      "i64", // int64_t inner
    ],
    result: "i32",
  },
  cn_gather_rows: {
    parameters: [
      "pointer", // void *out0
      "pointer", // const void *x0
      "i64", // int64_t row0
      "pointer", // void *out1
      "pointer", // const void *x1
      "i64", // int64_t row1
      "i64", // int64_t n
      "buffer", // const int32_t *index (host memory)
      "i64", // int64_t count
    ],
    result: "i32",
  },
  cn_scatter_add: {
    parameters: [
      "i32", // int32_t dtype
      "pointer", // void *out
      "pointer", // const void *src
      "pointer", // const int32_t *index
      "i64", // int64_t outer
      "i64", // int64_t n
      "i64", // int64_t m
      "i64", // int64_t inner
    ],
    result: "i32",
  },

  // ---- GEMM ----
  cn_linear_forward: {
    parameters: [
      "pointer", // float *y
      "pointer", // const float *x
      "pointer", // const float *w
      "pointer", // const float *bias (NULL: none)
      "i32", // int32_t m
      "i32", // int32_t n
      "i32", // int32_t k
    ],
    result: "i32",
  },
  cn_linear_backward_weight_bias: {
    parameters: [
      "pointer", // float *dw
      "pointer", // float *db
      "pointer", // const float *dy
      "pointer", // const float *x
      "i32", // int32_t rows
      "i32", // int32_t out
      "i32", // int32_t in
    ],
    result: "i32",
  },
  cn_gemm: {
    parameters: [
      "pointer", // float *c
      "pointer", // const float *a
      "pointer", // const float *b
      "i32", // int32_t m
      "i32", // int32_t n
      "i32", // int32_t k
      "i32", // int32_t trans_a
      "i32", // int32_t trans_b
      "f32", // float alpha
      "f32", // float beta
      "i32", // int32_t batch
      "i64", // int64_t stride_a
      "i64", // int64_t stride_b
      "i64", // int64_t stride_c
    ],
    result: "i32",
  },

  // ---- random numbers ----
  cn_random_fill: {
    parameters: [
      "i32", // int32_t distribution (enum cn_distribution)
      "pointer", // float *out
      "i64", // int64_t n
      "u64", // uint64_t seed
      "u64", // uint64_t offset
      "f64", // double p0
      "f64", // double p1
    ],
    result: "i32",
  },
  cn_random_fill_state: {
    parameters: [
      "i32", // int32_t distribution (enum cn_distribution)
      "pointer", // float *out
      "i64", // int64_t n
      "pointer", // uint64_t *state (device: seed, offset, 0; the launch advances the offset)
      "f64", // double p0
      "f64", // double p1
    ],
    result: "i32",
  },

  // ---- convolution ----
  cn_conv2d_forward: {
    parameters: [
      "pointer", // float *y
      "pointer", // const float *x
      "pointer", // const float *w
      "pointer", // const float *bias (may be NULL)
      "buffer", // const cn_conv2d_geom *g (16 × int32_t)
    ],
    result: "i32",
  },
  cn_conv2d_backward_input: {
    parameters: [
      "pointer", // float *dx
      "pointer", // const float *dy
      "pointer", // const float *w
      "buffer", // const cn_conv2d_geom *g
    ],
    result: "i32",
  },
  cn_conv2d_backward_weight: {
    parameters: [
      "pointer", // float *dw
      "pointer", // const float *dy
      "pointer", // const float *x
      "buffer", // const cn_conv2d_geom *g
    ],
    result: "i32",
  },
  cn_conv2d_backward_bias: {
    parameters: [
      "pointer", // float *db
      "pointer", // const float *dy
      "buffer", // const cn_conv2d_geom *g
    ],
    result: "i32",
  },
  cn_conv2d_backward_weight_bias: {
    parameters: [
      "pointer", // float *dw
      "pointer", // float *db
      "pointer", // const float *dy
      "pointer", // const float *x
      "buffer", // const cn_conv2d_geom *g
    ],
    result: "i32",
  },

  // ---- pooling ----
  cn_pool2d_forward: {
    parameters: [
      "i32", // int32_t kind (enum cn_pool_kind)
      "pointer", // float *y
      "pointer", // int32_t *indices (NULL for avg and sum)
      "pointer", // const float *x
      "buffer", // const cn_pool2d_geom *g (12 × int32_t)
    ],
    result: "i32",
  },
  cn_pool2d_backward: {
    parameters: [
      "i32", // int32_t kind
      "pointer", // float *dx
      "pointer", // const float *dy
      "pointer", // const int32_t *indices (NULL for avg and sum)
      "buffer", // const cn_pool2d_geom *g
    ],
    result: "i32",
  },
  cn_conv2d_relu_maxpool2d_forward: {
    parameters: [
      "pointer", // float *y
      "pointer", // int32_t *indices
      "pointer", // const float *x
      "pointer", // const float *w
      "pointer", // const float *bias (NULL: none)
      "buffer", // const cn_conv2d_geom *conv
      "buffer", // const cn_pool2d_geom *pool
    ],
    result: "i32",
  },
  cn_max_pool2d_relu_backward: {
    parameters: [
      "pointer", // float *dx
      "pointer", // const float *dy
      "pointer", // const float *y
      "pointer", // const int32_t *indices
      "buffer", // const cn_pool2d_geom *g
    ],
    result: "i32",
  },

  // ---- fused log-softmax + NLL ----
  cn_log_softmax_nll_forward: {
    parameters: [
      "pointer", // float *loss
      "pointer", // float *logp
      "pointer", // const float *logits
      "pointer", // const int32_t *targets
      "i32", // int32_t n
      "i32", // int32_t c
    ],
    result: "i32",
  },
  cn_log_softmax_nll_forward_grad: {
    parameters: [
      "pointer", // float *loss
      "pointer", // float *logp
      "pointer", // float *dunit
      "pointer", // const float *logits
      "pointer", // const int32_t *targets
      "i32", // int32_t n
      "i32", // int32_t c
    ],
    result: "i32",
  },
  cn_log_softmax_nll_backward: {
    parameters: [
      "pointer", // float *dlogits
      "pointer", // const float *logp
      "pointer", // const int32_t *targets
      "pointer", // const float *dloss
      "i32", // int32_t n
      "i32", // int32_t c
    ],
    result: "i32",
  },

  // ---- optimizers (pointer tables are host arrays of device pointers) ----
  cn_adadelta_step: {
    parameters: [
      "i32", // int32_t count
      "buffer", // float *const *params
      "buffer", // const float *const *grads
      "buffer", // float *const *square_avg
      "buffer", // float *const *acc_delta
      "buffer", // const int64_t *sizes
      "pointer", // double *hyper (device: lr, rho, eps, weight_decay)
    ],
    result: "i32",
  },
  cn_sgd_step: {
    parameters: [
      "i32", // int32_t count
      "buffer", // float *const *params
      "buffer", // const float *const *grads
      "buffer", // float *const *momentum_buf (NULL when momentum == 0)
      "buffer", // const int64_t *sizes
      "pointer", // double *hyper (device: lr, momentum, dampening, weight_decay, nesterov)
      "i32", // int32_t first
    ],
    result: "i32",
  },
  cn_adam_step: {
    parameters: [
      "i32", // int32_t count
      "buffer", // float *const *params
      "buffer", // const float *const *grads
      "buffer", // float *const *exp_avg
      "buffer", // float *const *exp_avg_sq
      "buffer", // float *const *max_exp_avg_sq (NULL unless amsgrad)
      "buffer", // const int64_t *sizes
      "pointer", // double *hyper (device: lr, beta1, beta2, eps, weight_decay, steps taken (advanced), decoupled decay)
      "i32", // int32_t amsgrad
    ],
    result: "i32",
  },
} as const;

/** The symbols of an opened library. */
export type CudaSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Status codes of convnet.h (`enum cn_status`), from the ops table (native/ops.def). */
export const STATUS: typeof STATUS_CODES = STATUS_CODES;

const STATUS_NAMES = ["ok", "invalid argument", "out of memory", "CUDA error", "no device", "kernel error"];

/**
 * A non-zero status from the native library: `status` is the code (see {@linkcode STATUS}),
 * `fn` the C function, and the message is the library's own (`cn_last_error()`).
 *
 * @example
 * ```ts
 * import { CudaError, STATUS } from "./ffi.ts";
 * try {
 *   // backend.alloc("float32", 1e12) ...
 * } catch (e) {
 *   if (e instanceof CudaError && e.status === STATUS.OOM) console.error(e.message);
 * }
 * ```
 */
export class CudaError extends Error {
  /** The status code the C function returned. */
  readonly status: number;
  /** The C function that failed, e.g. "cn_alloc". */
  readonly fn: string;
  /** Builds the error; the message is prefixed with "cuda: " and the function name when it lacks it. */
  constructor(fn: string, status: number, nativeMessage: string) {
    const what = nativeMessage || `failed with status ${status} (${STATUS_NAMES[status] ?? "unknown status"})`;
    super(`cuda: ${what.startsWith(fn) ? what : `${fn}: ${what}`}`);
    this.name = "CudaError";
    this.status = status;
    this.fn = fn;
  }
}

/** An opened native library: its symbols, where it came from, and the status check. */
export interface CudaLibrary {
  /** The symbols, called directly by the backend. */
  readonly symbols: CudaSymbols;
  /** The path it was opened from. */
  readonly path: string;
  /** `cn_build_info()`: CUDA version, architectures, or the emulator's description. */
  readonly buildInfo: string;
  /** Throws a {@linkcode CudaError} for `fn` when `status` is not 0. */
  check(status: number, fn: string): void;
  /** Builds the {@linkcode CudaError} for a failed call of `fn` (reads `cn_last_error()`). */
  error(status: number, fn: string): CudaError;
  /** Closes the library (only for tests: every pointer from it becomes invalid). */
  close(): void;
}

/** Options of {@linkcode openLibrary}. */
export interface OpenLibraryOptions {
  /** Open exactly this file (skips `CONVNET_LIB`, the checkout's build and the user cache). */
  path?: string;
}

function isDenied(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied || (e instanceof Error && e.name === "NotCapable");
}

/** Whether `path` is there: true, false, or undefined when it cannot be looked at (no --allow-read). */
function lookAt(path: string): { found: boolean | undefined; error?: unknown } {
  if (!granted({ name: "read", path })) return { found: undefined };
  try {
    if (!Deno.statSync(path).isFile) throw new Error(`${path} is not a file`);
    return { found: true };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { found: false, error: e };
    throw new Error(`cannot use ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Finds and opens the native library (see the module doc for the order) and reads its build
 * description. Each failure is an `Error` that names what was tried, with the underlying error as
 * `cause`: nothing found (every place looked at is listed), `--allow-ffi` is missing, or `dlopen`
 * failed (an old build missing a symbol, a library for another platform).
 *
 * @example
 * ```ts
 * import { openLibrary } from "./ffi.ts";
 * const lib = openLibrary({ path: "native/build/libconvnet_emu.so" });
 * console.log(lib.buildInfo); // "convnet native 0.1.0; CPU emulation (g++ 12...)"
 * ```
 */
export function openLibrary(opts: OpenLibraryOptions = {}): CudaLibrary {
  const { candidates, skipped } = libraryCandidates(opts.path);
  if (!granted({ name: "ffi" })) throw new Error(noFfi(candidates[0]?.path ?? LIBRARY_NAME));
  const tried: string[] = [];
  let lastMiss: unknown;
  for (const c of candidates) {
    const { found, error } = lookAt(c.path);
    if (found === false) {
      if (c.explicit) {
        const what = c.source === "CONVNET_LIB" ? `CONVNET_LIB=${c.path}` : c.path;
        throw new Error(`${what} not found${c.hint ? ` (${c.hint})` : ""}`, { cause: error });
      }
      tried.push(`${c.path} (${c.source}: ${c.hint})`);
      lastMiss = error;
      continue;
    }
    try {
      return open(c.path, c.rebuild);
    } catch (e) {
      // Without --allow-read, dlopen is how we look: a missing file there is a miss, not a failure.
      if (found === undefined && !c.explicit && /no such file/i.test((e as Error).message)) {
        tried.push(`${c.path} (${c.source}: ${c.hint})`);
        lastMiss = e;
        continue;
      }
      throw e;
    }
  }
  throw new Error(
    `native library not found: ${[...skipped, ...(tried.length ? [`tried ${tried.join(" and ")}`] : [])].join("; ")}`,
    { cause: lastMiss },
  );
}

function noFfi(path: string): string {
  return `loading ${path} needs the --allow-ffi permission (run deno with --allow-ffi or -A)`;
}

/** dlopen `path` and wrap its symbols; errors name the file, and `rebuild` when a symbol is missing. */
function open(path: string, rebuild: string): CudaLibrary {
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    if (isDenied(e)) throw new Error(noFfi(path), { cause: e });
    const msg = e instanceof Error ? e.message : String(e);
    const stale = /symbol/i.test(msg) ? `; the library may be from an older build: run ${rebuild}` : "";
    throw new Error(`could not load ${path}: ${msg}${stale}`, { cause: e });
  }
  const sym = lib.symbols;
  const cString = (p: Deno.PointerValue) => (p === null ? "" : Deno.UnsafePointerView.getCString(p));
  const error = (status: number, fn: string) => {
    let msg = cString(sym.cn_last_error());
    if (status === STATUS.OOM && !/in use/.test(msg)) {
      const s = new BigInt64Array(4);
      if (sym.cn_memory_stats(s) === 0) msg += ` (${s[0]} bytes in use, ${s[1]} cached)`;
    }
    return new CudaError(fn, status, msg);
  };
  return {
    symbols: sym,
    path,
    buildInfo: cString(sym.cn_build_info()),
    check(status, fn) {
      if (status !== 0) throw error(status, fn);
    },
    error,
    close: () => lib.close(),
  };
}
