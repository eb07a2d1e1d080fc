/**
 * The WebAssembly SIMD backend of the CPU: the fast TypeScript backend (src/backend/ts/fast.ts) with
 * the kernels where compiled f32x4 code measurably wins replaced by native/wasm/*.c (GEMM and the
 * three convolution kernels). Everything else, float64, and anything the heap cannot hold runs the
 * TypeScript loops, which stay the reference the tests compare with.
 *
 * Storage lives in the CPU heap, one shared `WebAssembly.Memory` (src/backend/ts/_alloc.ts), whatever
 * the thread count: a tensor's view is addressed by the kernels in place. Storage outside it (made
 * before, or when the heap is full) goes through a copy. Work splits across the threads of
 * `setNumThreads` as in the TypeScript backend (src/backend/ts/_threads.ts), each output element
 * computed by one thread in an order that does not depend on the split: results are the same bit for
 * bit run to run and whatever the thread count.
 *
 * @module
 */
import type { Backend, Conv2dGeometry, DType, Pool2dGeometry, PoolKind } from "../backend.ts";
import type { TsStorage } from "../ts/_types.ts";
import { tsBackend } from "../ts/fast.ts";
import { gemmBatch } from "../ts/gemm.ts";
import { setFromHost } from "../ts/storage.ts";
import { isMaxPool2x2 } from "../ts/pool2d_fast.ts";
import { convParams, poolParams } from "../ts/_kernels.ts";
import { alloc, free, heapAllocOrNull, inSharedHeap, overwritten, readable } from "../ts/_alloc.ts";
import { numThreads, runSplit } from "../ts/_threads.ts";
import { GEMM_COLS_UNIT, GEMM_ROWS_UNIT, isDirectConv3x3, SLOT_HEADER, wasmKernels } from "./_instance.ts";

export { wasmUnavailable } from "./_instance.ts";

/** Minimum work per thread: about 20 µs of the wasm kernels' arithmetic (they run at 20+ GFLOP/s). */
const GRAIN_FLOPS = 400_000;
const EMPTY = new Float32Array(0);
/** Minimum elements per thread for the optimizer steps (memory-bound: about 10 µs each). */
const GRAIN_ELEMENTS = 16384;

const isF32 = (...xs: (TsStorage | null)[]) => xs.every((x) => x === null || x instanceof Float32Array);

/**
 * How many parts to split [0, total) into: one per thread, each at least `grain` units. runSplit is then
 * given the grain ⌊total / parts⌋, with which it makes exactly these parts (the scratch has one slot each).
 */
function partsOf(total: number, grain: number): number {
  return Math.max(1, Math.min(numThreads(), Math.floor(total / grain)));
}

/** `slotFloats` floats of scratch for each of `parts` parts (16-float aligned slots, headers included). */
function scratchFor(parts: number, slotFloats: number): Float32Array | null {
  const slot = Math.ceil((SLOT_HEADER / 4 + slotFloats) / 16) * 16;
  return heapAllocOrNull("float32", parts * slot) as Float32Array | null;
}

/**
 * Runs `kernel` on operands that all live in the heap: those outside it are copied in (outputs, the
 * first `outputs`, are copied back after), then freed. Returns false, having run nothing, when the heap
 * cannot hold a copy (the caller then runs the TypeScript kernel).
 */
function inHeap(ops: Float32Array[], outputs: number, kernel: (ops: Float32Array[]) => void): boolean {
  const moved = ops.map((a) => {
    if (a.length === 0 || inSharedHeap(a)) return a;
    const copy = heapAllocOrNull(a instanceof Int32Array ? "int32" : "float32", a.length) as Float32Array | null;
    copy?.set(a);
    return copy;
  });
  if (moved.includes(null)) {
    moved.forEach((m, i) => m !== null && m !== ops[i] && free(m));
    return false;
  }
  const heapOps = moved as Float32Array[];
  try {
    kernel(heapOps);
  } finally {
    heapOps.forEach((m, i) => {
      if (m === ops[i]) return;
      if (i < outputs) ops[i].set(m);
      free(m);
    });
  }
  return true;
}

/** Runs a convolution kernel split over `total` units (samples or out channels); false if the heap is full. */
function conv(
  name: "wasmConv2dForward" | "wasmConv2dBackwardInput" | "wasmConv2dBackwardWeight" | "wasmConv2dBackwardBias",
  ops: Float32Array[],
  g: Conv2dGeometry,
  total: number,
): boolean {
  const depth = name === "wasmConv2dBackwardBias" ? 0.5 : (g.c / g.groups) * g.kh * g.kw; // the bias: 1 add
  const flopsPerUnit = 2 * g.n * g.k * g.oh * g.ow * depth / total;
  const parts = partsOf(total, Math.max(1, Math.ceil(GRAIN_FLOPS / flopsPerUnit)));
  const params = convParams(g);
  const geom = heapAllocOrNull("int32", 16) as Int32Array | null;
  if (geom === null) return false;
  geom.set(params);
  const kernels = wasmKernels();
  const slotFloats = name === "wasmConv2dBackwardBias"
    ? 0
    : isDirectConv3x3(params) && name !== "wasmConv2dBackwardInput"
    ? kernels.conv3x3_scratch_floats(geom.byteOffset)
    : kernels.conv2d_scratch_floats(geom.byteOffset);
  free(geom);
  const scratch = scratchFor(parts, slotFloats);
  if (scratch === null) return false;
  try {
    return inHeap(ops, 1, (heapOps) => {
      runSplit(name, [...heapOps, scratch], [...params, parts, total], total, Math.floor(total / parts));
    });
  } finally {
    free(scratch);
  }
}

/** Runs a pooling kernel split over planes; false if the heap is full. */
function pool(
  name: "wasmPool2dForward" | "wasmPool2dBackward",
  ops: Float32Array[],
  outputs: number,
  kind: PoolKind,
  g: Pool2dGeometry,
): boolean {
  const total = g.n * g.c, perPlane = g.oh * g.ow * g.kh * g.kw; // one add or compare per window element
  const parts = partsOf(total, Math.max(1, Math.ceil(GRAIN_FLOPS / 4 / perPlane)));
  const scratch = scratchFor(parts, 0);
  if (scratch === null) return false;
  try {
    return inHeap(ops, outputs, (h) => {
      runSplit(name, [...h, scratch], [...poolParams(kind, g), parts, total], total, Math.floor(total / parts));
    });
  } finally {
    free(scratch);
  }
}

/**
 * The CPU backend with WebAssembly SIMD kernels: the TypeScript backend's contract and storage, GEMM
 * and conv2d (forward, backward-input, backward-weight) compiled from native/wasm/*.c. Float32 only;
 * float64 runs the TypeScript loops.
 *
 * @example
 * ```ts
 * import { wasmBackend } from "./mod.ts";
 * const c = wasmBackend.alloc("float32", 4);
 * const a = wasmBackend.fromHost("float32", new Float32Array([1, 2, 3, 4]));
 * wasmBackend.gemm(c, a, a, { m: 2, n: 2, k: 2, transA: false, transB: false, alpha: 1, beta: 0 }); // [7, 10, 15, 22]
 * ```
 */
export const wasmBackend: Required<Backend<TsStorage>> = {
  ...tsBackend,
  name: "wasm",
  /** Storage in the heap the kernels address (plain arrays once it is full). */
  alloc(dtype: DType, size: number): TsStorage {
    return (size > 0 ? heapAllocOrNull(dtype, size) : null) ?? alloc(dtype, size);
  },
  fromHost(dtype, values) {
    const out = this.alloc(dtype, values.length);
    overwritten(out, values.length);
    setFromHost(dtype, out, values);
    return out;
  },
  gemm(c, a, b, o) {
    const { batch, strideA, strideB, strideC } = gemmBatch(c, a, b, o);
    const { m, n, k } = o;
    if (!isF32(c, a, b) || m * n === 0) return tsBackend.gemm(c, a, b, o);
    readable(a), readable(b);
    if (o.beta === 0 && strideC === m * n) overwritten(c, batch * m * n);
    else readable(c);
    // Split the side of c with more tiles, in the micro-kernel's units (4 rows or 8 columns).
    const rowUnits = Math.ceil(m / GEMM_ROWS_UNIT), colUnits = Math.ceil(n / GEMM_COLS_UNIT);
    const byRows = rowUnits >= colUnits, units = byRows ? rowUnits : colUnits;
    const flopsPerUnit = 2 * k * (byRows ? GEMM_ROWS_UNIT * n : GEMM_COLS_UNIT * m);
    const parts = partsOf(units, Math.max(1, Math.ceil(GRAIN_FLOPS / flopsPerUnit)));
    const scratch = scratchFor(parts, wasmKernels().gemm_scratch_floats());
    if (scratch === null) return tsBackend.gemm(c, a, b, o);
    const params = [m, n, k, +o.transA, +o.transB, o.alpha, o.beta, +byRows, parts, units];
    const run = (h: Float32Array[]) => runSplit("wasmGemm", [...h, scratch], params, units, Math.floor(units / parts));
    try {
      for (let t = 0; t < batch; t++) {
        const at = (s: TsStorage, stride: number, size: number) =>
          (s as Float32Array).subarray(t * stride, t * stride + size);
        const ops = [at(c, strideC, m * n), at(a, strideA, m * k), at(b, strideB, k * n)];
        if (!inHeap(ops, 1, run)) tsBackend.gemm(ops[0], ops[1], ops[2], { ...o, batch: 1 });
      }
    } finally {
      free(scratch);
    }
  },
  conv2dForward(y, x, w, bias, g) {
    if (!isF32(y, x, w, bias)) return tsBackend.conv2dForward(y, x, w, bias, g);
    readable(x), readable(w), readable(bias);
    overwritten(y, g.n * g.k * g.oh * g.ow);
    const ops = [y, x, w, bias ?? EMPTY] as Float32Array[];
    const units = isDirectConv3x3(convParams(g)) ? g.n * g.k : g.n; // (sample, out channel) pairs, or samples
    if (!conv("wasmConv2dForward", ops, g, units)) tsBackend.conv2dForward(y, x, w, bias, g);
  },
  conv2dReluMaxPool2dForward(y, idx, x, w, bias, g, pool) {
    const params = convParams(g);
    if (!isF32(y, x, w, bias) || !isDirectConv3x3(params) || !isMaxPool2x2(pool)) {
      return tsBackend.conv2dReluMaxPool2dForward.call(this, y, idx, x, w, bias, g, pool); // through this.conv2dForward
    }
    readable(x), readable(w), readable(bias);
    overwritten(y, pool.n * pool.c * pool.oh * pool.ow);
    overwritten(idx, pool.n * pool.c * pool.oh * pool.ow);
    // Per thread: the convolution's scratch, then one output plane (16-float aligned).
    const geom = heapAllocOrNull("int32", 16) as Int32Array | null;
    if (geom === null) return tsBackend.conv2dReluMaxPool2dForward.call(this, y, idx, x, w, bias, g, pool);
    geom.set(params);
    const slotFloats = wasmKernels().conv3x3_scratch_floats(geom.byteOffset) + Math.ceil(g.oh * g.ow / 16) * 16;
    free(geom);
    const total = g.n * g.k, flopsPerUnit = 2 * g.oh * g.ow * g.c * 9;
    const parts = partsOf(total, Math.max(1, Math.ceil(GRAIN_FLOPS / flopsPerUnit)));
    const scratch = scratchFor(parts, slotFloats);
    const ops = [y, idx, x, w, bias ?? EMPTY] as Float32Array[];
    const run = (h: Float32Array[]) =>
      runSplit(
        "wasmConv3x3ReluMaxPool2x2",
        [...h, scratch!],
        [...params, pool.oh, pool.ow, parts, total],
        total,
        Math.floor(total / parts),
      );
    try {
      if (scratch !== null && inHeap(ops, 2, run)) return;
    } finally {
      if (scratch !== null) free(scratch);
    }
    tsBackend.conv2dReluMaxPool2dForward.call(this, y, idx, x, w, bias, g, pool);
  },
  pool2dForward(kind, y, idx, x, g) {
    // 2×2 max pooling stays on the TypeScript backend's branch-free pass (the fused conv path pools with it).
    if (!isF32(y, x) || (kind === "max" && isMaxPool2x2(g))) return tsBackend.pool2dForward(kind, y, idx, x, g);
    const size = g.n * g.c * g.oh * g.ow;
    readable(x);
    overwritten(y, size);
    overwritten(idx, size);
    const ops = [y, idx ?? EMPTY, x] as Float32Array[];
    if (!pool("wasmPool2dForward", ops, 2, kind, g)) tsBackend.pool2dForward(kind, y, idx, x, g);
  },
  pool2dBackward(kind, dx, dy, idx, g) {
    if (!isF32(dx, dy) || (kind === "max" && isMaxPool2x2(g))) return tsBackend.pool2dBackward(kind, dx, dy, idx, g);
    readable(dy), readable(idx);
    overwritten(dx, g.n * g.c * g.h * g.w);
    const ops = [dx, dy, idx ?? EMPTY] as Float32Array[];
    if (!pool("wasmPool2dBackward", ops, 1, kind, g)) tsBackend.pool2dBackward(kind, dx, dy, idx, g);
  },
  conv2dBackwardInput(dx, dy, w, g) {
    if (!isF32(dx, dy, w)) return tsBackend.conv2dBackwardInput(dx, dy, w, g);
    readable(dy), readable(w);
    overwritten(dx, g.n * g.c * g.h * g.w);
    if (isDirectConv3x3(convParams(g))) {
      // The direct 3×3 forward on dy with the weights flipped and their channels swapped, padded by 2 − padding
      // (a full correlation): dx[c] = Σ_k dy[k] ⋆ w'[c, k].
      const flipped = heapAllocOrNull("float32", w.length) as Float32Array | null;
      if (flipped !== null) {
        const wf = w as Float32Array;
        for (let k = 0; k < g.k; k++) {
          for (let c = 0; c < g.c; c++) {
            for (let t = 0; t < 9; t++) flipped[(c * g.k + k) * 9 + t] = wf[(k * g.c + c) * 9 + 8 - t];
          }
        }
        const swapped = {
          ...g,
          c: g.k,
          k: g.c,
          h: g.oh,
          w: g.ow,
          oh: g.h,
          ow: g.w,
          padH: 2 - g.padH,
          padW: 2 - g.padW,
        };
        const ran = conv("wasmConv2dForward", [dx, dy, flipped, EMPTY] as Float32Array[], swapped, g.n * g.c);
        free(flipped);
        if (ran) return;
      }
    } else if (conv("wasmConv2dBackwardInput", [dx, dy, w] as Float32Array[], g, g.n)) return;
    tsBackend.conv2dBackwardInput(dx, dy, w, g);
  },
  conv2dBackwardWeight(dw, dy, x, g) {
    if (!isF32(dw, dy, x)) return tsBackend.conv2dBackwardWeight(dw, dy, x, g);
    readable(dy), readable(x);
    overwritten(dw, g.k * (g.c / g.groups) * g.kh * g.kw);
    if (!conv("wasmConv2dBackwardWeight", [dw, dy, x] as Float32Array[], g, g.k)) {
      tsBackend.conv2dBackwardWeight(dw, dy, x, g);
    }
  },
  conv2dBackwardBias(db, dy, g) {
    if (!isF32(db, dy)) return tsBackend.conv2dBackwardBias(db, dy, g);
    readable(dy);
    overwritten(db, g.k);
    if (!conv("wasmConv2dBackwardBias", [db, dy] as Float32Array[], g, g.k)) tsBackend.conv2dBackwardBias(db, dy, g);
  },
  adadeltaStep(t, h) {
    t.params.forEach((p, i) => {
      const ops = [p, t.squareAvgs[i], t.accDeltas[i], t.grads[i]];
      const size = t.sizes[i];
      const one = { params: [p], grads: [t.grads[i]], squareAvgs: [t.squareAvgs[i]], accDeltas: [t.accDeltas[i]] };
      if (!isF32(...ops)) return tsBackend.adadeltaStep({ ...one, sizes: [size] }, h);
      for (const s of ops) readable(s);
      const heapOps = (ops as Float32Array[]).map((s) => s.subarray(0, size));
      const params = [h.lr, h.rho, h.eps, h.weightDecay];
      const run = (o: Float32Array[]) => runSplit("wasmAdadelta", o, params, size, GRAIN_ELEMENTS);
      if (!inHeap(heapOps, 3, run)) tsBackend.adadeltaStep({ ...one, sizes: [size] }, h);
    });
  },
  adamStep(t, h) {
    // As PyTorch's Python: the bias corrections in float64, the element-wise update in float32.
    const stepSize = h.lr / (1 - h.beta1 ** h.step), bc2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
    const params = [stepSize, bc2Sqrt, h.beta1, h.beta2, h.eps, h.weightDecay];
    t.params.forEach((p, i) => {
      const maxSq = t.maxExpAvgSqs && h.amsgrad ? t.maxExpAvgSqs[i] : null;
      const ops = [p, t.expAvgs[i], t.expAvgSqs[i], maxSq, t.grads[i]];
      const size = t.sizes[i];
      const one = {
        params: [p],
        grads: [t.grads[i]],
        expAvgs: [t.expAvgs[i]],
        expAvgSqs: [t.expAvgSqs[i]],
        maxExpAvgSqs: t.maxExpAvgSqs && [t.maxExpAvgSqs[i]],
        sizes: [size],
      };
      if (!isF32(...ops)) return tsBackend.adamStep(one, h);
      for (const s of ops) readable(s);
      const heapOps = ops.map((s) => s === null ? EMPTY : (s as Float32Array).subarray(0, size));
      const run = (o: Float32Array[]) => runSplit("wasmAdam", o, params, size, GRAIN_ELEMENTS);
      if (!inHeap(heapOps, 4, run)) tsBackend.adamStep(one, h);
    });
  },
};
