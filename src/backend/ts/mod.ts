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
