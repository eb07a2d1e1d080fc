/**
 * The TypeScript backend: plain loops over typed arrays. It runs everywhere and is the
 * reference every other backend is tested against.
 *
 * @module
 */
import type { Backend, DType } from "../backend.ts";
import type { FloatArray, TsStorage } from "./_types.ts";
import { conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv2d.ts";
import { pool2dBackward, pool2dForward } from "./pool2d.ts";
import { gemm } from "./gemm.ts";
import { logSoftmaxNllBackward, logSoftmaxNllForward } from "./softmax_xent.ts";
import { adadeltaStep, adamStep, sgdStep } from "./optim.ts";
import { binary, expand, reduce, scalar, unary } from "./elementwise.ts";

export type { FloatArray, TsStorage } from "./_types.ts";

function makeArray(dtype: DType, size: number): TsStorage {
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
 * The TypeScript backend object.
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
  adadeltaStep: (p, g, sa, ad, size, h) => adadeltaStep(f(p), f(g), f(sa), f(ad), size, h),
  sgdStep: (p, g, buf, size, h) => sgdStep(f(p), f(g), buf && f(buf), size, h),
  adamStep: (p, g, m, v, vmax, size, h) => adamStep(f(p), f(g), f(m), f(v), vmax && f(vmax), size, h),
};
