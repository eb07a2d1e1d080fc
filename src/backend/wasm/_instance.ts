/**
 * This thread's instance of the WebAssembly SIMD kernels (native/wasm/*.c, embedded in _module.ts),
 * and the parts of a split job that src/backend/ts/_kernels.ts runs on each thread.
 *
 * Every thread (the main one and each worker of src/backend/ts/_threads.ts) instantiates the module
 * lazily on the same shared `WebAssembly.Memory`, the CPU heap of src/backend/ts/_alloc.ts: the main
 * thread takes it from the allocator, a worker from its `workerData.memory`. Operands are views of that
 * heap, so a view's `byteOffset` is the kernel's pointer.
 *
 * Scratch: the main thread allocates one block per job, `parts` slots of equal size; a part finds its
 * slot from its `lo` (runSplit gives part p the range from ⌊total·p / parts⌋). A slot starts with
 * 64 bytes of numbers (the convolution's geometry), then the kernel's floats.
 *
 * @module
 */
import { isMainThread, workerData } from "node:worker_threads";
import { WASM_MODULE_BASE64 } from "./_module.ts";
import { heapMemory, WASM_RESERVED } from "../ts/_alloc.ts";
import { reluMaxPool2x2Plane } from "../ts/conv_relu_pool_fast.ts";

/** The module's exports (pointers are byte offsets into the heap). */
export interface WasmKernels {
  gemm_scratch_floats(): number;
  gemm_f32(
    c: number,
    a: number,
    b: number,
    m: number,
    n: number,
    k: number,
    transA: number,
    transB: number,
    alpha: number,
    beta: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
    scratch: number,
  ): void;
  conv2d_scratch_floats(geom: number): number;
  conv2d_forward(y: number, x: number, w: number, bias: number, geom: number, lo: number, hi: number, s: number): void;
  conv2d_backward_input(dx: number, dy: number, w: number, geom: number, lo: number, hi: number, s: number): void;
  conv2d_backward_weight(dw: number, dy: number, x: number, geom: number, lo: number, hi: number, s: number): void;
  conv2d_backward_bias(db: number, dy: number, geom: number, lo: number, hi: number): void;
  adadelta_f32(
    param: number,
    grad: number,
    squareAvg: number,
    accDelta: number,
    lo: number,
    hi: number,
    lr: number,
    rho: number,
    oneMinusRho: number,
    eps: number,
    weightDecay: number,
  ): void;
  pool2d_forward(kind: number, y: number, indices: number, x: number, geom: number, lo: number, hi: number): void;
  pool2d_backward(kind: number, dx: number, dy: number, indices: number, geom: number, lo: number, hi: number): void;
  adam_f32(
    param: number,
    grad: number,
    expAvg: number,
    expAvgSq: number,
    maxExpAvgSq: number,
    lo: number,
    hi: number,
    stepSize: number,
    bc2Sqrt: number,
    beta1: number,
    beta2: number,
    oneMinusBeta1: number,
    oneMinusBeta2: number,
    eps: number,
    weightDecay: number,
  ): void;
  conv3x3_scratch_floats(geom: number): number;
  conv3x3_forward_plane(
    out: number,
    x: number,
    w: number,
    bias: number,
    geom: number,
    r: number,
    pad: number,
    scratch: number,
  ): void;
  conv3x3_forward(y: number, x: number, w: number, bias: number, geom: number, lo: number, hi: number, s: number): void;
  conv3x3_backward_weight(dw: number, dy: number, x: number, geom: number, lo: number, hi: number, s: number): void;
}

/** Bytes at the start of a scratch slot for numbers (16 int32). */
export const SLOT_HEADER = 64;

let compiled: WebAssembly.Module | null = null;
let kernels: WasmKernels | null = null;

/** The module, compiled once per thread (throws where WebAssembly SIMD is missing). */
function module(): WebAssembly.Module {
  if (compiled === null) {
    const bin = atob(WASM_MODULE_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/** The shared memory this thread's kernels run on, or null (no WebAssembly threads here). */
function memory(): WebAssembly.Memory | null {
  if (isMainThread) return heapMemory();
  const m = (workerData as { memory?: unknown } | null)?.memory;
  return m instanceof WebAssembly.Memory ? m : null;
}

/** This thread's kernels, instantiated on first use. Throws an Error saying what is missing. */
export function wasmKernels(): WasmKernels {
  if (kernels !== null) return kernels;
  const mem = memory();
  if (mem === null) {
    throw new Error(
      "wasm backend: no shared WebAssembly.Memory heap (this runtime lacks WebAssembly threads or " +
        "Memory.prototype.toResizableBuffer)",
    );
  }
  const instance = new WebAssembly.Instance(module(), { env: { memory: mem } });
  const heapBase = (instance.exports.__heap_base as WebAssembly.Global).value as number;
  if (heapBase > WASM_RESERVED) {
    throw new Error(`wasm backend: the module needs ${heapBase} bytes below the heap; ${WASM_RESERVED} are reserved`);
  }
  return kernels = instance.exports as unknown as WasmKernels;
}

/**
 * Why the wasm kernels cannot run here, or null when they can (the CPU device asks before choosing
 * them): a runtime without WebAssembly SIMD, threads or resizable shared buffers.
 */
export function wasmUnavailable(): string | null {
  try {
    wasmKernels();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The scratch slot (byte address) of the part that starts at `lo` in a job of `parts` parts over [0, total). */
function slot(scratch: Float32Array, lo: number, parts: number, total: number): number {
  const bytes = scratch.byteLength / parts;
  for (let p = 0; p < parts; p++) {
    if (Math.floor(total * p / parts) === lo) return scratch.byteOffset + p * bytes;
  }
  throw new Error(`wasm backend: no part of ${parts} over [0, ${total}) starts at ${lo}`);
}

/** Writes `values` (int32) into the slot's header and returns the slot's address. */
function header(scratch: Float32Array, at: number, values: ArrayLike<number>, count: number): number {
  const h = new Int32Array(scratch.buffer, at, count);
  for (let i = 0; i < count; i++) h[i] = values[i];
  return at;
}

const ptr = (a: Float32Array) => a.length === 0 ? 0 : a.byteOffset;

/** An operand of a split job (as in src/backend/ts/_kernels.ts). */
type Operand = Float32Array | Float64Array | Int32Array;

/** The GEMM tile unit: rows of c are split 4 at a time, columns 8 at a time (the micro-kernel's tile). */
export const GEMM_ROWS_UNIT = 4, GEMM_COLS_UNIT = 8;

/**
 * Part [lo, hi) of `gemm`: ops [c, a, b, scratch], params [m, n, k, transA, transB, alpha, beta, byRows,
 * parts, total]; units of 4 rows (byRows) or 8 columns of c.
 */
export function gemmPart(ops: Float32Array[], p: ArrayLike<number>, lo: number, hi: number): void {
  const [c, a, b, scratch] = ops;
  const [m, n, k, transA, transB, alpha, beta, byRows, parts, total] = Array.from(p);
  const s = slot(scratch, lo, parts, total) + SLOT_HEADER;
  const i0 = byRows ? GEMM_ROWS_UNIT * lo : 0, i1 = byRows ? Math.min(GEMM_ROWS_UNIT * hi, m) : m;
  const j0 = byRows ? 0 : GEMM_COLS_UNIT * lo, j1 = byRows ? n : Math.min(GEMM_COLS_UNIT * hi, n);
  wasmKernels().gemm_f32(
    c.byteOffset,
    a.byteOffset,
    b.byteOffset,
    m,
    n,
    k,
    transA,
    transB,
    alpha,
    beta,
    i0,
    i1,
    j0,
    j1,
    s,
  );
}

/** The convolution kernels, by their names in _kernels.ts. */
export type ConvKernel = "forward" | "backwardInput" | "backwardWeight" | "backwardBias";

/**
 * Whether a convolution runs the direct 3×3 kernels (conv3x3.c): 3×3, stride 1, padding 0 to 2, no
 * dilation, no groups. Measured faster than im2col + GEMM at every channel count tried (8, 16 and 64 in, 32 out, 28×28):
 * there the GEMM's packing of im2col costs about as much as its arithmetic. Forward then splits
 * (sample, out channel) pairs, backward-weight out channels; backward-input is the forward on dy.
 */
export function isDirectConv3x3(g: ArrayLike<number>): boolean {
  // The order of convParams: n, c, h, w, k, kh, kw, oh, ow, strideH, strideW, padH, padW, dilationH, dilationW, groups.
  return g[5] === 3 && g[6] === 3 && g[9] === 1 && g[10] === 1 && g[11] <= 2 && g[12] <= 2 && g[13] === 1 &&
    g[14] === 1 && g[15] === 1;
}

/**
 * Part [lo, hi) of a convolution: ops [out, in1, in2, (bias,) scratch], params [16 geometry numbers
 * (convParams), parts, total]. Forward and backward-input split samples, backward-weight out channels;
 * the direct 3×3 forward (see {@linkcode isDirectConv3x3}) splits (sample, out channel) pairs.
 */
export function convPart(which: ConvKernel, ops: Float32Array[], p: ArrayLike<number>, lo: number, hi: number): void {
  const scratch = ops[ops.length - 1];
  const at = slot(scratch, lo, p[16], p[17]);
  const geom = header(scratch, at, p, 16), s = at + SLOT_HEADER;
  const w = wasmKernels(), direct = isDirectConv3x3(p);
  const [o0, o1, o2] = ops;
  if (which === "forward" && direct) w.conv3x3_forward(ptr(o0), ptr(o1), ptr(o2), ptr(ops[3]), geom, lo, hi, s);
  else if (which === "forward") w.conv2d_forward(ptr(o0), ptr(o1), ptr(o2), ptr(ops[3]), geom, lo, hi, s);
  else if (which === "backwardBias") w.conv2d_backward_bias(ptr(o0), ptr(o1), geom, lo, hi);
  else if (which === "backwardInput") w.conv2d_backward_input(ptr(o0), ptr(o1), ptr(o2), geom, lo, hi, s);
  else if (direct) w.conv3x3_backward_weight(ptr(o0), ptr(o1), ptr(o2), geom, lo, hi, s);
  else w.conv2d_backward_weight(ptr(o0), ptr(o1), ptr(o2), geom, lo, hi, s);
}

/** Part [lo, hi) of an Adadelta step: ops [param, squareAvg, accDelta, grad], params [lr, rho, eps, weightDecay]. */
export function adadeltaPart(ops: Float32Array[], p: ArrayLike<number>, lo: number, hi: number): void {
  const [param, squareAvg, accDelta, grad] = ops.map(ptr);
  wasmKernels().adadelta_f32(param, grad, squareAvg, accDelta, lo, hi, p[0], p[1], 1 - p[1], p[2], p[3]);
}

/**
 * Part [lo, hi) of `y = maxPool2d(relu(conv2d(x, w) + bias))` for a direct 3×3 convolution and 2×2 /
 * stride 2 pooling, plane by plane: ops [y, indices, x, w, bias, scratch], params [16 geometry numbers,
 * the pooling's oh and ow, parts, total]; units are (sample, out channel) planes. Each plane is
 * computed by the wasm kernel into the slot (it never reaches memory) and pooled from there with ReLU by
 * the TypeScript pass the unfused path runs (reluMaxPool2x2Plane): the same numbers, bit for bit.
 */
export function convReluMaxPoolPart(ops: Operand[], p: ArrayLike<number>, lo: number, hi: number): void {
  const [y, indices, x, w, bias, scratch] = ops as [Float32Array, Int32Array, ...Float32Array[]];
  const at = slot(scratch, lo, p[18], p[19]);
  const geom = header(scratch, at, p, 16);
  const oh = p[7], ow = p[8], k = p[4], planeY = p[16] * p[17];
  const plane = new Float32Array(scratch.buffer, at + SLOT_HEADER, oh * ow);
  const s = at + SLOT_HEADER + 4 * Math.ceil(oh * ow / 16) * 16;
  const pool = {
    n: 1,
    c: 1,
    h: oh,
    w: ow,
    kh: 2,
    kw: 2,
    oh: p[16],
    ow: p[17],
    strideH: 2,
    strideW: 2,
    padH: 0,
    padW: 0,
  };
  const kernels = wasmKernels();
  let padded = -1;
  for (let r = lo; r < hi; r++) {
    const b = Math.floor(r / k);
    kernels.conv3x3_forward_plane(plane.byteOffset, ptr(x), ptr(w), ptr(bias), geom, r, +(b !== padded), s);
    padded = b;
    reluMaxPool2x2Plane(y, indices, r * planeY, plane, pool);
  }
}

/**
 * Part [lo, hi) of a pooling (planes): ops [y, indices or empty, x, scratch] forward, [dx, dy, indices or
 * empty, scratch] backward; params [poolParams (kind, then 12 geometry numbers), parts, total].
 */
export function poolPart(backward: boolean, ops: Operand[], p: ArrayLike<number>, lo: number, hi: number): void {
  const scratch = ops[3] as Float32Array;
  const at = slot(scratch, lo, p[13], p[14]);
  const geom = header(scratch, at, Array.prototype.slice.call(p, 1, 13), 12);
  const [o0, o1, o2] = ops.map((a) => a.length === 0 ? 0 : a.byteOffset);
  if (backward) wasmKernels().pool2d_backward(p[0], o0, o1, o2, geom, lo, hi);
  else wasmKernels().pool2d_forward(p[0], o0, o1, o2, geom, lo, hi);
}

/**
 * Part [lo, hi) of an Adam step: ops [param, expAvg, expAvgSq, maxExpAvgSq or empty, grad], params
 * [stepSize, bc2Sqrt, beta1, beta2, eps, weightDecay].
 */
export function adamPart(ops: Float32Array[], p: ArrayLike<number>, lo: number, hi: number): void {
  const [param, expAvg, expAvgSq, maxExpAvgSq, grad] = ops.map(ptr);
  const [stepSize, bc2Sqrt, beta1, beta2, eps, weightDecay] = Array.from(p);
  wasmKernels().adam_f32(
    param,
    grad,
    expAvg,
    expAvgSq,
    maxExpAvgSq,
    lo,
    hi,
    stepSize,
    bc2Sqrt,
    beta1,
    beta2,
    1 - beta1,
    1 - beta2,
    eps,
    weightDecay,
  );
}
