/**
 * The TypeScript backend: kernels in plain TypeScript on typed arrays, on any machine.
 *
 * Two backends live here. {@linkcode tsReferenceBackend} is the plain loops of conv2d.ts,
 * pool2d.ts, gemm.ts, elementwise.ts, softmax_xent.ts and optim.ts: the reference every
 * other kernel (the fast paths below, CUDA) is tested against. {@linkcode tsBackend} is what
 * the CPU device runs: the same contract, with fast float32 paths where they measurably win
 * (conv2d_fast.ts, gemm_fast.ts, pool2d_fast.ts, elementwise_fast.ts), recycled storage,
 * and the big kernels split across worker threads ({@linkcode setNumThreads}). Everything
 * else, and float64, runs the reference.
 *
 * @module
 */
import type { Backend, DType, Pool2dGeometry } from "../backend.ts";
import type { FloatArray, TsStorage } from "./_types.ts";
import { conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv2d.ts";
import { pool2dBackward, pool2dForward } from "./pool2d.ts";
import { gemm } from "./gemm.ts";
import { logSoftmaxNllBackward, logSoftmaxNllForward } from "./softmax_xent.ts";
import { adadeltaStep, adamStep, sgdStep } from "./optim.ts";
import { binary, expand, reduce, scalar, unary } from "./elementwise.ts";
import { isConv3x3 } from "./conv2d_fast.ts";
import { isMaxPool2x2 } from "./pool2d_fast.ts";
import { convParams, poolParams } from "./_kernels.ts";
import { alloc, free, overwritten, readable } from "./_alloc.ts";
import { numThreads, runSplit, startThreads } from "./_threads.ts";

export type { FloatArray, TsStorage } from "./_types.ts";

function makeArray(dtype: DType, size: number): Float32Array | Float64Array | Int32Array {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
  }
}

const f = (s: TsStorage) => s as FloatArray;
const i32 = (s: TsStorage) => s as Int32Array;

/**
 * The reference backend: plain, readable loops, fresh arrays, one thread.
 *
 * @example
 * ```ts
 * import { tsReferenceBackend } from "./mod.ts";
 * const out = tsReferenceBackend.alloc("float32", 3);
 * tsReferenceBackend.fill(out, 2, 3); // out is [2, 2, 2]
 * ```
 */
export const tsReferenceBackend: Backend<TsStorage> = {
  name: "ts-reference",
  alloc: makeArray,
  fromHost(dtype, values) {
    const out = makeArray(dtype, values.length);
    out.set(values);
    return out;
  },
  toHost(dtype, s, size) {
    const out = makeArray(dtype, size);
    out.set(s.subarray(0, size));
    return out;
  },
  free() {},
  fill: (out, value, size) => void out.fill(value, 0, size),
  copy: (out, x, size) => void out.set(x.subarray(0, size)),
  cast(out, outType, x, _xType, size) {
    if (outType === "int32") { for (let i = 0; i < size; i++) out[i] = Math.trunc(x[i]); }
    else for (let i = 0; i < size; i++) out[i] = x[i];
  },
  unary,
  binary,
  scalar,
  addInPlace(out, x, size) {
    for (let i = 0; i < size; i++) out[i] += x[i];
  },
  reduce,
  expand,
  gemm: (c, a, b, o) => gemm(f(c), f(a), f(b), o),
  conv2dForward: (y, x, w, bias, g) => conv2dForward(f(y), f(x), f(w), bias && f(bias), g),
  conv2dBackwardInput: (dx, dy, w, g) => conv2dBackwardInput(f(dx), f(dy), f(w), g),
  conv2dBackwardWeight: (dw, dy, x, g) => conv2dBackwardWeight(f(dw), f(dy), f(x), g),
  conv2dBackwardBias: (db, dy, g) => conv2dBackwardBias(f(db), f(dy), g),
  pool2dForward: (kind, y, idx, x, g) => pool2dForward(kind, f(y), idx && i32(idx), f(x), g),
  pool2dBackward: (kind, dx, dy, idx, g) => pool2dBackward(kind, f(dx), f(dy), idx && i32(idx), g),
  logSoftmaxNllForward: (loss, logp, logits, t, n, c) =>
    logSoftmaxNllForward(f(loss), f(logp), f(logits), i32(t), n, c),
  logSoftmaxNllBackward: (dl, logp, t, dloss, n, c) => logSoftmaxNllBackward(f(dl), f(logp), i32(t), f(dloss), n, c),
  adadeltaStep(t, h) {
    t.params.forEach((p, i) => adadeltaStep(f(p), f(t.grads[i]), f(t.squareAvgs[i]), f(t.accDeltas[i]), t.sizes[i], h));
  },
  sgdStep(t, h) {
    t.params.forEach((p, i) => sgdStep(f(p), f(t.grads[i]), t.momentumBufs && f(t.momentumBufs[i]), t.sizes[i], h));
  },
  adamStep(t, h) {
    t.params.forEach((p, i) =>
      adamStep(
        f(p),
        f(t.grads[i]),
        f(t.expAvgs[i]),
        f(t.expAvgSqs[i]),
        t.maxExpAvgSqs && f(t.maxExpAvgSqs[i]),
        t.sizes[i],
        h,
      )
    );
  },
  uploadBytes: (bytes) => bytes.slice(),
  gatherNormalize(images, labels, bytes, labelBytes, idx, { pixels, mean, std }) {
    const img = f(images), lab = labels as Int32Array, src = bytes as Uint8Array, lsrc = labelBytes as Uint8Array;
    // The float32 roundings of PyTorch's ToTensor + Normalize, tabulated per byte value.
    const table = new Float32Array(256);
    const m = Math.fround(mean), s = Math.fround(std);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    for (let b = 0; b < idx.length; b++) {
      const from = idx[b] * pixels, to = b * pixels;
      for (let p = 0; p < pixels; p++) img[to + p] = table[src[from + p]];
      lab[b] = lsrc[idx[b]];
    }
  },
};

// ---- the fast backend ----

const ref = tsReferenceBackend;

/** Minimum work per thread, in the unit each kernel splits (roughly 10 µs of work). */
const GRAIN = { elements: 16384, optimizer: 2048, planes: 16, convPairs: 4, gemmFlops: 50_000 };
const EMPTY = new Float32Array(0);

const isF32 = (...xs: (TsStorage | null)[]) => xs.every((x) => x === null || x instanceof Float32Array);
const f32 = (s: TsStorage) => s as Float32Array;

function sameLayout(bc: { shape: readonly number[]; aStrides: readonly number[]; bStrides: readonly number[] }) {
  let expect = 1;
  for (let d = bc.shape.length - 1; d >= 0; d--) {
    if (bc.shape[d] !== 1 && (bc.aStrides[d] !== expect || bc.bStrides[d] !== expect)) return false;
    expect *= bc.shape[d];
  }
  return true;
}

function poolFast(kind: string, g: Pool2dGeometry): boolean {
  return kind === "max" && isMaxPool2x2(g);
}

/** Readies inputs and in-place outputs for reading (see _alloc.ts: recycled storage is zeroed lazily). */
function reads(...xs: (TsStorage | null)[]): void {
  for (const x of xs) readable(x);
}

/**
 * The TypeScript backend the CPU device runs: fast float32 kernels, recycled storage, and
 * work split across {@linkcode setNumThreads} threads. Numbers match the reference within
 * float32 rounding, and are the same bit for bit run to run and whatever the thread count.
 * Every method says what it reads (`reads`) and what it writes in full (`overwritten`).
 *
 * @example
 * ```ts
 * import { tsBackend } from "./mod.ts";
 * const out = tsBackend.alloc("float32", 3);
 * tsBackend.fill(out, 2, 3); // out is [2, 2, 2]
 * ```
 */
export const tsBackend: Backend<TsStorage> = {
  name: "ts",
  alloc,
  fromHost(dtype, values) {
    const out = alloc(dtype, values.length);
    overwritten(out, values.length);
    out.set(values);
    return out;
  },
  toHost(dtype, s, size) {
    reads(s);
    return ref.toHost(dtype, s, size);
  },
  free,
  fill(out, value, size) {
    overwritten(out, size);
    ref.fill(out, value, size);
  },
  copy(out, x, size) {
    reads(x);
    overwritten(out, size);
    ref.copy(out, x, size);
  },
  cast(out, outType, x, xType, size) {
    reads(x);
    overwritten(out, size);
    ref.cast(out, outType, x, xType, size);
  },
  unary(op, out, x, size) {
    reads(x);
    overwritten(out, size);
    if (op === "relu" && isF32(out, x)) return runSplit("relu", [f32(out), f32(x)], [], size, GRAIN.elements);
    unary(op, out, x, size);
  },
  binary(op, out, a, b, bc) {
    const size = bc.shape.reduce((p, d) => p * d, 1);
    reads(a, b);
    overwritten(out, size);
    if (op === "reluGrad" && isF32(out, a, b) && sameLayout(bc)) {
      return runSplit("reluGrad", [f32(out), f32(a), f32(b)], [], size, GRAIN.elements);
    }
    binary(op, out, a, b, bc);
  },
  scalar(op, out, x, s, size) {
    reads(x);
    overwritten(out, size);
    scalar(op, out, x, s, size);
  },
  addInPlace(out, x, size) {
    reads(out, x);
    ref.addInPlace(out, x, size);
  },
  reduce(op, out, x, outer, n, inner) {
    reads(x);
    overwritten(out, outer * inner);
    reduce(op, out, x, outer, n, inner);
  },
  expand(out, x, bc) {
    reads(x);
    overwritten(out, bc.shape.reduce((p, d) => p * d, 1));
    expand(out, x, bc);
  },
  gemm(c, a, b, o) {
    reads(a, b);
    if (o.beta === 0) overwritten(c, o.m * o.n);
    else reads(c);
    if (!isF32(c, a, b)) return gemm(f(c), f(a), f(b), o);
    // Split the longer side of c in units of 4 (the micro-kernel's width: no padded panels).
    const byRows = o.m >= o.n;
    const units = Math.ceil((byRows ? o.m : o.n) / 4);
    const flopsPerUnit = 8 * o.k * (byRows ? o.n : o.m);
    const params = [o.m, o.n, o.k, +o.transA, +o.transB, o.alpha, o.beta, +byRows];
    runSplit("gemm", [f32(c), f32(a), f32(b)], params, units, Math.ceil(GRAIN.gemmFlops / flopsPerUnit));
  },
  conv2dForward(y, x, w, bias, g) {
    reads(x, w, bias);
    overwritten(y, g.n * g.k * g.oh * g.ow);
    if (!isF32(y, x, w, bias)) return conv2dForward(f(y), f(x), f(w), bias && f(bias), g);
    const ops = [f32(y), f32(x), f32(w), bias ? f32(bias) : EMPTY];
    if (isConv3x3(g)) runSplit("conv3x3Forward", ops, convParams(g), g.n * g.k, GRAIN.convPairs);
    else runSplit("convIm2colForward", ops, convParams(g), g.n, 1);
  },
  conv2dBackwardInput(dx, dy, w, g) {
    reads(dy, w);
    overwritten(dx, g.n * g.c * g.h * g.w);
    if (!isF32(dx, dy, w)) return conv2dBackwardInput(f(dx), f(dy), f(w), g);
    runSplit("convIm2colBackwardInput", [f32(dx), f32(dy), f32(w)], convParams(g), g.n, 1);
  },
  conv2dBackwardWeight(dw, dy, x, g) {
    reads(dy, x);
    overwritten(dw, g.k * (g.c / g.groups) * g.kh * g.kw);
    if (!isF32(dw, dy, x)) return conv2dBackwardWeight(f(dw), f(dy), f(x), g);
    const name = isConv3x3(g) ? "conv3x3BackwardWeight" : "convIm2colBackwardWeight";
    runSplit(name, [f32(dw), f32(dy), f32(x)], convParams(g), g.k, 1);
  },
  conv2dBackwardBias(db, dy, g) {
    reads(dy);
    overwritten(db, g.k);
    if (!isF32(db, dy)) return conv2dBackwardBias(f(db), f(dy), g);
    runSplit("conv2dBackwardBias", [f32(db), f32(dy)], convParams(g), g.k, 1);
  },
  pool2dForward(kind, y, idx, x, g) {
    const size = g.n * g.c * g.oh * g.ow;
    reads(x);
    overwritten(y, size);
    overwritten(idx, size);
    if (!isF32(y, x)) return pool2dForward(kind, f(y), idx && i32(idx), f(x), g);
    const name = poolFast(kind, g) ? "maxPool2x2Forward" : "pool2dForward";
    runSplit(name, [f32(y), idx ? i32(idx) : EMPTY, f32(x)], poolParams(kind, g), g.n * g.c, GRAIN.planes);
  },
  pool2dBackward(kind, dx, dy, idx, g) {
    reads(dy, idx);
    overwritten(dx, g.n * g.c * g.h * g.w);
    if (!isF32(dx, dy)) return pool2dBackward(kind, f(dx), f(dy), idx && i32(idx), g);
    const name = poolFast(kind, g) ? "maxPool2x2Backward" : "pool2dBackward";
    runSplit(name, [f32(dx), f32(dy), idx ? i32(idx) : EMPTY], poolParams(kind, g), g.n * g.c, GRAIN.planes);
  },
  logSoftmaxNllForward(loss, logp, logits, targets, n, c) {
    reads(logits, targets);
    overwritten(loss, 1);
    overwritten(logp, n * c);
    ref.logSoftmaxNllForward(loss, logp, logits, targets, n, c);
  },
  logSoftmaxNllBackward(dlogits, logp, targets, dloss, n, c) {
    reads(logp, targets, dloss);
    overwritten(dlogits, n * c);
    ref.logSoftmaxNllBackward(dlogits, logp, targets, dloss, n, c);
  },
  adadeltaStep(t, h) {
    t.params.forEach((p, i) => {
      const ops = [p, t.squareAvgs[i], t.accDeltas[i], t.grads[i]];
      reads(...ops);
      if (!isF32(...ops)) {
        return adadeltaStep(f(p), f(t.grads[i]), f(t.squareAvgs[i]), f(t.accDeltas[i]), t.sizes[i], h);
      }
      runSplit("adadelta", ops.map(f32), [h.lr, h.rho, h.eps, h.weightDecay], t.sizes[i], GRAIN.optimizer);
    });
  },
  sgdStep(t, h) {
    reads(...t.params, ...t.grads, ...(t.momentumBufs ?? []));
    ref.sgdStep(t, h);
  },
  adamStep(t, h) {
    reads(...t.params, ...t.grads, ...t.expAvgs, ...t.expAvgSqs, ...(t.maxExpAvgSqs ?? []));
    ref.adamStep(t, h);
  },
  uploadBytes: (bytes) => bytes.slice(),
  gatherNormalize(images, labels, bytes, labelBytes, idx, opts) {
    reads(bytes, labelBytes);
    overwritten(images, idx.length * opts.pixels);
    overwritten(labels, idx.length);
    ref.gatherNormalize(images, labels, bytes, labelBytes, idx, opts);
  },
};

/**
 * Runs the TypeScript backend's big kernels on `n` threads: this one and n − 1 workers
 * (default 1, or the environment variable `CONVNET_THREADS`). Blocks until the workers
 * have started. Each output element is computed by exactly one thread with the same
 * arithmetic whatever `n`, so results are bit-identical run to run and across thread counts.
 * Tensors created from now on live in shared memory that the workers can reach; earlier
 * ones still work (through temporary copies).
 *
 * @example
 * ```ts
 * import { getNumThreads, setNumThreads } from "./mod.ts";
 * setNumThreads(navigator.hardwareConcurrency);
 * console.log(getNumThreads());
 * setNumThreads(1);
 * ```
 */
export function setNumThreads(n: number): void {
  startThreads(n);
}

/**
 * The number of threads the TypeScript backend runs on.
 *
 * @example
 * ```ts
 * import { getNumThreads } from "./mod.ts";
 * getNumThreads(); // 1 unless setNumThreads or CONVNET_THREADS said otherwise
 * ```
 */
export function getNumThreads(): number {
  return numThreads();
}

function envThreads(): number {
  let v: string | undefined;
  try {
    v = Deno.env.get("CONVNET_THREADS");
  } catch {
    return 1; // no --allow-env
  }
  if (v === undefined || v === "") return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`ts backend: CONVNET_THREADS=${JSON.stringify(v)} is not valid; expected a positive integer`);
  }
  return n;
}

const initial = envThreads();
if (initial > 1) startThreads(initial);
