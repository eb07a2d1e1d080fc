/**
 * The fast TypeScript backend: the reference's contract with fast float32 paths where they
 * measurably win (conv2d_fast.ts, gemm_fast.ts, pool2d_fast.ts, elementwise_fast.ts),
 * recycled storage (_alloc.ts), and the big kernels split across worker threads (_threads.ts).
 * Everything else, and float64, runs the reference's loops.
 *
 * Every method says what it reads ({@linkcode reads}: a recycled block is zeroed before it is
 * read) and what it writes in full (`overwritten`: the block needs no zeroing).
 *
 * @module
 */
import type { AxisGeometry, Backend, Pool2dGeometry } from "../backend.ts";
import { philoxFill } from "../philox.ts";
import type { FloatArray, TsStorage } from "./_types.ts";
import { randomTarget, reluBackward, tsReferenceBackend as ref } from "./reference.ts";
import { setFromHost, toHost } from "./storage.ts";
import { unary } from "./elementwise.ts";
import { copyStrided } from "./indexing.ts";
import { gemm, gemmBatch } from "./gemm.ts";
import { conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv2d.ts";
import { pool2dBackward, pool2dForward } from "./pool2d.ts";
import { adadeltaStep } from "./optim.ts";
import { isConv3x3 } from "./conv2d_fast.ts";
import { isMaxPool2x2 } from "./pool2d_fast.ts";
import { isConv3x3MaxPool2x2 } from "./conv_relu_pool_fast.ts";
import { convParams, poolParams } from "./_kernels.ts";
import { alloc, free, overwritten, readable } from "./_alloc.ts";
import { runSplit } from "./_threads.ts";
import { coversAll } from "./_walk.ts";

/** Minimum work per thread, in the unit each kernel splits (roughly 10 µs of work). */
const GRAIN = { elements: 16384, optimizer: 2048, planes: 16, convPairs: 4, gemmFlops: 50_000 };
const EMPTY = new Float32Array(0);

const isF32 = (...xs: (TsStorage | null)[]) => xs.every((x) => x === null || x instanceof Float32Array);
const f32 = (s: TsStorage) => s as Float32Array;
const f = (s: TsStorage) => s as FloatArray;
const i32 = (s: TsStorage) => s as Int32Array;

function poolFast(kind: string, g: Pool2dGeometry): boolean {
  return kind === "max" && isMaxPool2x2(g);
}

/** Readies inputs and in-place outputs for reading (see _alloc.ts: recycled storage is zeroed lazily). */
function reads(...xs: (TsStorage | null)[]): void {
  for (const x of xs) readable(x);
}

const product = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/**
 * `gather` when every row of the index repeats one value (indexSelect's expanded index, e.g. the
 * DataLoader's batch of images): a block copy per row instead of an address per element. Returns
 * false, having written nothing, when the index is not like that or a value is out of range (the
 * reference's loop then does the work or names the bad index).
 */
function gatherRows(out: TsStorage, x: TsStorage, index: TsStorage, geom: AxisGeometry): boolean {
  const { outer, n, m, inner } = geom;
  const sameType = (out instanceof Float32Array && x instanceof Float32Array) ||
    (out instanceof Int32Array && x instanceof Int32Array);
  if (!sameType || !(index instanceof Int32Array) || inner < 16 || index.length < outer * m * inner) return false;
  if (x.length < outer * n * inner || out.length < outer * m * inner) return false;
  for (let row = 0; row < outer * m * inner; row += inner) { // checked in full before anything is written
    const v = index[row];
    if (!(v >= 0 && v < n)) return false;
    for (let i = 1; i < inner; i++) if (index[row + i] !== v) return false;
  }
  const o = out as Float32Array | Int32Array, xs = x as Float32Array | Int32Array;
  for (let a = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      const row = (a * m + j) * inner, from = (a * n + index[row]) * inner;
      o.set(xs.subarray(from, from + inner), row);
    }
  }
  return true;
}

/**
 * The TypeScript backend the CPU device runs: fast float32 kernels, recycled storage, and
 * work split across `setNumThreads` threads. Numbers match the reference within float32
 * rounding, and are the same bit for bit run to run and whatever the thread count.
 *
 * @example
 * ```ts
 * import { tsBackend } from "./mod.ts";
 * const out = tsBackend.alloc("float32", 3);
 * tsBackend.fill(out, 2, 3); // out is [2, 2, 2]
 * ```
 */
export const tsBackend: Required<Backend<TsStorage>> = {
  name: "ts",
  alloc,
  fromHost(dtype, values) {
    const out = alloc(dtype, values.length);
    overwritten(out, values.length);
    setFromHost(dtype, out, values);
    return out;
  },
  toHost(dtype, s, size) {
    reads(s);
    return toHost(dtype, s, size);
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
    if (op === "relu" && isF32(out, x) && out.length >= size && x.length >= size) {
      return runSplit("relu", [f32(out), f32(x)], [], size, GRAIN.elements);
    }
    unary(op, out, x, size);
  },
  binary(op, out, a, b, bc) {
    reads(a, b);
    overwritten(out, product(bc.shape));
    ref.binary(op, out, a, b, bc);
  },
  scalar(op, out, x, s, size) {
    reads(x);
    overwritten(out, size);
    ref.scalar(op, out, x, s, size);
  },
  where(out, cond, a, b, layout) {
    reads(cond, a, b);
    overwritten(out, product(layout.shape));
    ref.where(out, cond, a, b, layout);
  },
  addInPlace(out, x, size) {
    reads(out, x);
    ref.addInPlace(out, x, size);
  },
  reduce(op, out, x, outer, n, inner) {
    reads(x);
    overwritten(out, outer * inner);
    ref.reduce(op, out, x, outer, n, inner);
  },
  copyStrided(out, x, layout) {
    reads(x);
    const full = !layout.accumulate && coversAll(layout.shape, layout.outStrides, layout.outOffset, out.length);
    if (full) overwritten(out, out.length);
    else reads(out); // the elements it does not write keep their values (zeros, if never written)
    copyStrided(out, x, layout);
  },
  gemm(c, a, b, o) {
    const { batch, strideA, strideB, strideC } = gemmBatch(c, a, b, o);
    const { m, n, k } = o;
    reads(a, b);
    if (o.beta === 0 && strideC === m * n) overwritten(c, batch * m * n);
    else reads(c);
    if (!isF32(c, a, b)) return gemm(c, a, b, o);
    // Split the longer side of c in units of 4 (the micro-kernel's width: no padded panels).
    const byRows = m >= n;
    const units = Math.ceil((byRows ? m : n) / 4);
    const flopsPerUnit = 8 * k * (byRows ? n : m);
    const params = [m, n, k, +o.transA, +o.transB, o.alpha, o.beta, +byRows];
    for (let t = 0; t < batch; t++) {
      const at = (s: TsStorage, stride: number, size: number) => f32(s).subarray(t * stride, t * stride + size);
      const ops = [at(c, strideC, m * n), at(a, strideA, m * k), at(b, strideB, k * n)];
      runSplit("gemm", ops, params, units, Math.ceil(GRAIN.gemmFlops / flopsPerUnit));
    }
  },
  gather(out, x, index, geom) {
    reads(x, index);
    overwritten(out, geom.outer * geom.m * geom.inner);
    if (!gatherRows(out, x, index, geom)) ref.gather(out, x, index, geom);
  },
  scatterAdd(out, src, index, geom) {
    reads(out, src, index);
    ref.scatterAdd(out, src, index, geom);
  },
  randomFill(out, size, opts) {
    overwritten(out, size);
    philoxFill(randomTarget(out), opts, size);
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
  reluBackward(dx, dy, x, size) {
    reads(dy, x);
    overwritten(dx, size);
    if (isF32(dx, dy, x) && dx.length >= size && dy.length >= size && x.length >= size) {
      return runSplit("reluBackward", [f32(dx), f32(dy), f32(x)], [], size, GRAIN.elements);
    }
    reluBackward(dx, dy, x, size);
  },
  conv2dReluMaxPool2dForward(y, idx, x, w, bias, conv, pool) {
    const size = pool.n * pool.c * pool.oh * pool.ow;
    reads(x, w, bias);
    overwritten(y, size);
    overwritten(idx, size);
    const f32s = isF32(y, x, w, bias);
    // One pass when the convolution is this file's (a backend built on this one may bring its own,
    // whose sums the pass must not change): the output planes never leave L1.
    if (f32s && this.conv2dForward === tsBackend.conv2dForward && isConv3x3MaxPool2x2(conv, pool)) {
      const ops = [f32(y), i32(idx), f32(x), f32(w), bias ? f32(bias) : EMPTY];
      const params = [...convParams(conv), ...poolParams("max", pool)];
      return runSplit("conv3x3ReluMaxPool2x2Forward", ops, params, conv.n * conv.k, GRAIN.convPairs);
    }
    // Otherwise through the convolution's output: the backend's convolution, then ReLU and the
    // pooling (in one pass for 2×2 windows).
    const convSize = conv.n * conv.k * conv.oh * conv.ow;
    const convOut = this.alloc(x instanceof Float64Array ? "float64" : "float32", convSize);
    this.conv2dForward(convOut, x, w, bias, conv);
    if (f32s && isMaxPool2x2(pool)) {
      const ops = [f32(y), i32(idx), f32(convOut)];
      runSplit("reluMaxPool2x2Forward", ops, poolParams("max", pool), pool.n * pool.c, GRAIN.planes);
    } else {
      this.unary("relu", convOut, convOut, convSize);
      this.pool2dForward("max", y, idx, convOut, pool);
    }
    this.free(convOut);
  },
  maxPool2dReluBackward(dconv, dy, y, idx, pool) {
    const size = pool.n * pool.c * pool.oh * pool.ow;
    reads(dy, y, idx);
    overwritten(dconv, pool.n * pool.c * pool.h * pool.w);
    if (isF32(dconv, dy, y) && isMaxPool2x2(pool)) {
      const ops = [f32(dconv), f32(dy), f32(y), i32(idx)];
      return runSplit("maxPool2x2ReluBackward", ops, poolParams("max", pool), pool.n * pool.c, GRAIN.planes);
    }
    // Every other geometry: dy masked by ReLU's gradient (y > 0), then pooling's backward.
    const masked = this.alloc(dy instanceof Float64Array ? "float64" : "float32", size);
    this.reluBackward(masked, dy, y, size);
    this.pool2dBackward("max", dconv, masked, idx, pool);
    this.free(masked);
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
};
