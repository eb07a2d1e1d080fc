/**
 * The kernels that threads can split, by name: the main thread and every worker import this
 * table, so a job crosses threads as a name, operand offsets and numbers.
 *
 * Each kernel computes the part [lo, hi) of its split dimension, and every output element
 * belongs to exactly one part: no thread ever reduces another's results, so a result is the
 * same bit for bit whatever the number of threads.
 *
 * @module
 */
import type { AdadeltaParams, Conv2dGeometry, Pool2dGeometry, PoolKind } from "../backend.ts";
import { pool2dBackward, pool2dForward } from "./pool2d.ts";
import { adadeltaStep } from "./optim.ts";
import {
  conv2dBackwardBias,
  conv3x3BackwardWeight,
  conv3x3Forward,
  convIm2colBackwardInput,
  convIm2colBackwardWeight,
  convIm2colForward,
} from "./conv2d_fast.ts";
import { gemmBlock } from "./gemm_fast.ts";
import { maxPool2x2Backward, maxPool2x2Forward } from "./pool2d_fast.ts";
import { reluBackwardRange, reluRange } from "./elementwise_fast.ts";
import { adadeltaPart, adamPart, convPart, convReluMaxPoolPart, gemmPart, poolPart } from "../wasm/_instance.ts";
import { conv3x3ReluMaxPool2x2Forward, maxPool2x2ReluBackward, reluMaxPool2x2Forward } from "./conv_relu_pool_fast.ts";

/** An operand of a split kernel (an empty Float32Array stands for null). */
export type Operand = Float32Array | Float64Array | Int32Array;

/** A kernel that computes one part [lo, hi) of its output from operands and numeric parameters. */
export interface SplitKernel {
  /** How many leading operands it writes (outputs come first). */
  readonly outputs: number;
  /** Computes the part [lo, hi). */
  run(ops: Operand[], p: ArrayLike<number>, lo: number, hi: number): void;
}

const CONV_FIELDS = [
  "n",
  "c",
  "h",
  "w",
  "k",
  "kh",
  "kw",
  "oh",
  "ow",
  "strideH",
  "strideW",
  "padH",
  "padW",
  "dilationH",
  "dilationW",
  "groups",
] as const;
const POOL_FIELDS = ["n", "c", "h", "w", "kh", "kw", "oh", "ow", "strideH", "strideW", "padH", "padW"] as const;
const POOL_KINDS: PoolKind[] = ["max", "avg", "sum"];

/** A convolution's geometry as numbers, in a fixed order. */
export function convParams(g: Conv2dGeometry): number[] {
  return CONV_FIELDS.map((f) => g[f]);
}

/** A pooling's kind and geometry as numbers, in a fixed order. */
export function poolParams(kind: PoolKind, g: Pool2dGeometry): number[] {
  return [POOL_KINDS.indexOf(kind), ...POOL_FIELDS.map((f) => g[f])];
}

// Object literals, not objects filled key by key: those end up as dictionaries, and a kernel
// that reads a dictionary's property in its inner loop runs at half speed.
function conv(p: ArrayLike<number>): Conv2dGeometry {
  return {
    n: p[0],
    c: p[1],
    h: p[2],
    w: p[3],
    k: p[4],
    kh: p[5],
    kw: p[6],
    oh: p[7],
    ow: p[8],
    strideH: p[9],
    strideW: p[10],
    padH: p[11],
    padW: p[12],
    dilationH: p[13],
    dilationW: p[14],
    groups: p[15],
  };
}

function pool(p: ArrayLike<number>): [PoolKind, Pool2dGeometry] {
  const g = { n: p[1], c: p[2], h: p[3], w: p[4], kh: p[5], kw: p[6], oh: p[7], ow: p[8] };
  return [POOL_KINDS[p[0]], { ...g, strideH: p[9], strideW: p[10], padH: p[11], padW: p[12] }];
}

const f32 = (a: Operand) => a as Float32Array;
const orNull = (a: Operand) => a.length === 0 ? null : a as Float32Array;

/** The pooling geometry of planes [lo, hi) only (pooling works plane by plane). */
function planes(g: Pool2dGeometry, lo: number, hi: number): Pool2dGeometry {
  return { ...g, n: 1, c: hi - lo };
}

/** The table. Parameters are listed beside each entry. */
export const KERNELS = {
  /** [y, x, w, bias] · conv geometry · split: sample × out channel. */
  conv3x3Forward: {
    outputs: 1,
    run: (o, p, lo, hi) => conv3x3Forward(f32(o[0]), f32(o[1]), f32(o[2]), orNull(o[3]), conv(p), lo, hi),
  },
  /** [dw, dy, x] · conv geometry · split: out channels. */
  conv3x3BackwardWeight: {
    outputs: 1,
    run: (o, p, lo, hi) => conv3x3BackwardWeight(f32(o[0]), f32(o[1]), f32(o[2]), conv(p), lo, hi),
  },
  /** [db, dy] · conv geometry · split: out channels. */
  conv2dBackwardBias: {
    outputs: 1,
    run: (o, p, lo, hi) => conv2dBackwardBias(f32(o[0]), f32(o[1]), conv(p), lo, hi),
  },
  /** [y, x, w, bias] · conv geometry · split: samples. */
  convIm2colForward: {
    outputs: 1,
    run: (o, p, lo, hi) => convIm2colForward(f32(o[0]), f32(o[1]), f32(o[2]), orNull(o[3]), conv(p), lo, hi),
  },
  /** [dx, dy, w] · conv geometry · split: samples. */
  convIm2colBackwardInput: {
    outputs: 1,
    run: (o, p, lo, hi) => convIm2colBackwardInput(f32(o[0]), f32(o[1]), f32(o[2]), conv(p), lo, hi),
  },
  /** [dw, dy, x] · conv geometry · split: out channels. */
  convIm2colBackwardWeight: {
    outputs: 1,
    run: (o, p, lo, hi) => convIm2colBackwardWeight(f32(o[0]), f32(o[1]), f32(o[2]), conv(p), lo, hi),
  },
  /** [c, a, b] · m, n, k, transA, transB, alpha, beta, byRows · split: rows of c (byRows) or columns, 4 at a time. */
  gemm: {
    outputs: 1,
    run(o, p, lo, hi) {
      const opts = { m: p[0], n: p[1], k: p[2], transA: p[3] === 1, transB: p[4] === 1, alpha: p[5], beta: p[6] };
      if (p[7] === 1) gemmBlock(f32(o[0]), f32(o[1]), f32(o[2]), opts, 4 * lo, Math.min(4 * hi, opts.m), 0, opts.n);
      else gemmBlock(f32(o[0]), f32(o[1]), f32(o[2]), opts, 0, opts.m, 4 * lo, Math.min(4 * hi, opts.n));
    },
  },
  /** [y, indices, x] · pool params · split: planes. */
  maxPool2x2Forward: {
    outputs: 2,
    run: (o, p, lo, hi) => maxPool2x2Forward(f32(o[0]), o[1] as Int32Array, f32(o[2]), pool(p)[1], lo, hi),
  },
  /** [y, indices, x, w, bias] · conv geometry, then pool params · split: sample × out channel. */
  conv3x3ReluMaxPool2x2Forward: {
    outputs: 2,
    run(o, p, lo, hi) {
      const [, pg] = pool(Array.prototype.slice.call(p, CONV_FIELDS.length));
      conv3x3ReluMaxPool2x2Forward(
        f32(o[0]),
        o[1] as Int32Array,
        f32(o[2]),
        f32(o[3]),
        orNull(o[4]),
        conv(p),
        pg,
        lo,
        hi,
      );
    },
  },
  /** [y, indices, x] · pool params · split: planes. */
  reluMaxPool2x2Forward: {
    outputs: 2,
    run: (o, p, lo, hi) => reluMaxPool2x2Forward(f32(o[0]), o[1] as Int32Array, f32(o[2]), pool(p)[1], lo, hi),
  },
  /** [dconv, dy, y, indices] · pool params · split: planes. */
  maxPool2x2ReluBackward: {
    outputs: 1,
    run: (o, p, lo, hi) =>
      maxPool2x2ReluBackward(f32(o[0]), f32(o[1]), f32(o[2]), o[3] as Int32Array, pool(p)[1], lo, hi),
  },
  /** [dx, dy, indices] · pool params · split: planes. */
  maxPool2x2Backward: {
    outputs: 1,
    run: (o, p, lo, hi) => maxPool2x2Backward(f32(o[0]), f32(o[1]), o[2] as Int32Array, pool(p)[1], lo, hi),
  },
  /** [y, indices or empty, x] · pool params · split: planes (the reference loops on a slice). */
  pool2dForward: {
    outputs: 2,
    run(o, p, lo, hi) {
      const [kind, g] = pool(p);
      const py = g.oh * g.ow, px = g.h * g.w;
      const idx = o[1].length === 0 ? null : (o[1] as Int32Array).subarray(lo * py, hi * py);
      pool2dForward(kind, f32(o[0]).subarray(lo * py, hi * py), idx, f32(o[2]).subarray(lo * px), planes(g, lo, hi));
    },
  },
  /** [dx, dy, indices or empty] · pool params · split: planes. */
  pool2dBackward: {
    outputs: 1,
    run(o, p, lo, hi) {
      const [kind, g] = pool(p);
      const py = g.oh * g.ow, px = g.h * g.w;
      const idx = o[2].length === 0 ? null : (o[2] as Int32Array).subarray(lo * py, hi * py);
      pool2dBackward(kind, f32(o[0]).subarray(lo * px, hi * px), f32(o[1]).subarray(lo * py), idx, planes(g, lo, hi));
    },
  },
  /** [out, x] · split: elements. */
  relu: { outputs: 1, run: (o, _p, lo, hi) => reluRange(f32(o[0]), f32(o[1]), lo, hi) },
  /** [dx, dy, x] · split: elements. */
  reluBackward: { outputs: 1, run: (o, _p, lo, hi) => reluBackwardRange(f32(o[0]), f32(o[1]), f32(o[2]), lo, hi) },
  /** [param, squareAvg, accDelta, grad] · lr, rho, eps, weightDecay · split: elements. */
  adadelta: {
    outputs: 3,
    run(o, p, lo, hi) {
      const h: AdadeltaParams = { lr: p[0], rho: p[1], eps: p[2], weightDecay: p[3] };
      const s = (a: Operand) => f32(a).subarray(lo, hi);
      adadeltaStep(s(o[0]), s(o[3]), s(o[1]), s(o[2]), hi - lo, h);
    },
  },
  // The WebAssembly SIMD kernels (src/backend/wasm): the last operand is the job's scratch (one slot per part).
  /** [c, a, b, scratch] · m, n, k, transA, transB, alpha, beta, byRows, parts, total · split: 4 rows or 8 columns. */
  wasmGemm: { outputs: 1, run: (o, p, lo, hi) => gemmPart(o.map(f32), p, lo, hi) },
  /** [y, x, w, bias, scratch] · conv geometry, parts, total · split: samples. */
  wasmConv2dForward: { outputs: 1, run: (o, p, lo, hi) => convPart("forward", o.map(f32), p, lo, hi) },
  /** [dx, dy, w, scratch] · conv geometry, parts, total · split: samples. */
  wasmConv2dBackwardInput: { outputs: 1, run: (o, p, lo, hi) => convPart("backwardInput", o.map(f32), p, lo, hi) },
  /** [dw, dy, x, scratch] · conv geometry, parts, total · split: out channels. */
  wasmConv2dBackwardWeight: { outputs: 1, run: (o, p, lo, hi) => convPart("backwardWeight", o.map(f32), p, lo, hi) },
  /** [db, dy, scratch] · conv geometry, parts, total · split: out channels. */
  wasmConv2dBackwardBias: { outputs: 1, run: (o, p, lo, hi) => convPart("backwardBias", o.map(f32), p, lo, hi) },
  /** [param, squareAvg, accDelta, grad] · lr, rho, eps, weightDecay · split: elements. */
  wasmAdadelta: { outputs: 3, run: (o, p, lo, hi) => adadeltaPart(o.map(f32), p, lo, hi) },
  /** [param, expAvg, expAvgSq, maxExpAvgSq or empty, grad] · stepSize, bc2Sqrt, beta1, beta2, eps, weightDecay · split: elements. */
  wasmAdam: { outputs: 4, run: (o, p, lo, hi) => adamPart(o.map(f32), p, lo, hi) },
  /** [y, indices, x, w, bias, scratch] · conv geometry, pool oh, ow, parts, total · split: sample × out channel. */
  wasmConv3x3ReluMaxPool2x2: { outputs: 2, run: (o, p, lo, hi) => convReluMaxPoolPart(o, p, lo, hi) },
  /** [y, indices or empty, x, scratch] · pool params, parts, total · split: planes. */
  wasmPool2dForward: { outputs: 2, run: (o, p, lo, hi) => poolPart(false, o, p, lo, hi) },
  /** [dx, dy, indices or empty, scratch] · pool params, parts, total · split: planes. */
  wasmPool2dBackward: { outputs: 1, run: (o, p, lo, hi) => poolPart(true, o, p, lo, hi) },
} satisfies Record<string, SplitKernel>;

/** A kernel's name. */
export type KernelName = keyof typeof KERNELS;

/** The names in a fixed order: a job names its kernel by index. */
export const KERNEL_NAMES: readonly KernelName[] = Object.keys(KERNELS) as KernelName[];
