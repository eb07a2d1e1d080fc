/**
 * The reference backend: the plain loops of storage.ts, elementwise.ts, reduce.ts,
 * indexing.ts, gemm.ts, conv2d.ts, pool2d.ts, softmax_xent.ts and optim.ts, fresh arrays,
 * one thread. Every other kernel (the fast backend, CUDA) is tested against it.
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { philoxFill } from "../philox.ts";
import type { FloatArray, TsStorage } from "./_types.ts";
import {
  addInPlace,
  cast,
  checkLength,
  copy,
  dtypeOf,
  fill,
  makeArray,
  numeric,
  setFromHost,
  toHost,
} from "./storage.ts";
import { binary, scalar, unary, where } from "./elementwise.ts";
import { reduce } from "./reduce.ts";
import { copyStrided, gather, scatterAdd } from "./indexing.ts";
import { gemm } from "./gemm.ts";
import { conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv2d.ts";
import { pool2dBackward, pool2dForward } from "./pool2d.ts";
import { logSoftmaxNllBackward, logSoftmaxNllForward } from "./softmax_xent.ts";
import { adadeltaStep, adamStep, sgdStep } from "./optim.ts";
import { conv2dReluMaxPool2dForward, maxPool2dReluBackward } from "./conv_relu_pool.ts";

const f = (s: TsStorage) => s as FloatArray;
const i32 = (s: TsStorage) => s as Int32Array;

/** `out` as float storage for randomFill. */
export function randomTarget(out: TsStorage): FloatArray {
  if (out instanceof Float32Array || out instanceof Float64Array) return out;
  throw new Error(`randomFill: out must be float32 or float64 storage, got ${dtypeOf(out)}`);
}

/** `dx = x > 0 ? dy : 0` (so dx is +0 where x ≤ 0 or x is NaN, whatever dy holds). */
export function reluBackward(dx: TsStorage, dy: TsStorage, x: TsStorage, size: number): void {
  const d = numeric("reluBackward", dx), g = numeric("reluBackward", dy), xs = numeric("reluBackward", x);
  checkLength("reluBackward", "dy", g, size);
  checkLength("reluBackward", "x", xs, size);
  checkLength("reluBackward", "dx", d, size);
  for (let i = 0; i < size; i++) d[i] = xs[i] > 0 ? g[i] : 0;
}

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
export const tsReferenceBackend: Required<Backend<TsStorage>> = {
  name: "ts-reference",
  alloc: makeArray,
  fromHost(dtype, values) {
    const out = makeArray(dtype, values.length);
    setFromHost(dtype, out, values);
    return out;
  },
  toHost,
  free() {},
  fill,
  copy,
  cast,
  unary,
  binary,
  scalar,
  where,
  addInPlace,
  reduce,
  copyStrided,
  gemm,
  gather,
  scatterAdd,
  randomFill: (out, size, opts) => philoxFill(randomTarget(out), opts, size),
  conv2dForward: (y, x, w, bias, g) => conv2dForward(f(y), f(x), f(w), bias && f(bias), g),
  conv2dBackwardInput: (dx, dy, w, g) => conv2dBackwardInput(f(dx), f(dy), f(w), g),
  conv2dBackwardWeight: (dw, dy, x, g) => conv2dBackwardWeight(f(dw), f(dy), f(x), g),
  conv2dBackwardBias: (db, dy, g) => conv2dBackwardBias(f(db), f(dy), g),
  pool2dForward: (kind, y, idx, x, g) => pool2dForward(kind, f(y), idx && i32(idx), f(x), g),
  pool2dBackward: (kind, dx, dy, idx, g) => pool2dBackward(kind, f(dx), f(dy), idx && i32(idx), g),
  reluBackward,
  conv2dReluMaxPool2dForward: (y, idx, x, w, bias, conv, pool) =>
    conv2dReluMaxPool2dForward(f(y), i32(idx), f(x), f(w), bias && f(bias), conv, pool),
  maxPool2dReluBackward: (dconv, dy, y, idx, pool) => maxPool2dReluBackward(f(dconv), f(dy), f(y), i32(idx), pool),
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
};
