/**
 * The fused passes of the CPU backends written as the reference's loops in a row: conv2d (+ bias),
 * ReLU, max pooling, and the pooling's gradient through the ReLU. The reference backend runs
 * these; the fast backend runs them for every geometry its one-pass kernels
 * (conv_relu_pool_fast.ts) do not cover, and its kernels are tested against these.
 *
 * @module
 */
import type { Conv2dGeometry, Pool2dGeometry } from "../backend.ts";
import type { FloatArray } from "./_types.ts";
import { conv2dForward } from "./conv2d.ts";
import { pool2dBackward, pool2dForward } from "./pool2d.ts";
import { unary } from "./elementwise.ts";

/** A fresh zeroed array of `like`'s type. */
function scratch(like: FloatArray, size: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size);
}

/** `y = maxPool2d(relu(conv2d(x, w) + bias))`, `indices` each window's argmax in its conv-output plane. */
export function conv2dReluMaxPool2dForward(
  y: FloatArray,
  indices: Int32Array,
  x: FloatArray,
  w: FloatArray,
  bias: FloatArray | null,
  conv: Conv2dGeometry,
  pool: Pool2dGeometry,
): void {
  const size = conv.n * conv.k * conv.oh * conv.ow;
  const convOut = scratch(x, size);
  conv2dForward(convOut, x, w, bias, conv);
  unary("relu", convOut, convOut, size);
  pool2dForward("max", y, indices, convOut, pool);
}

/**
 * The gradient at the convolution's output: max pooling's backward of `dy` masked by `y > 0`.
 * Equal to pooling's backward followed by ReLU's: the windows whose argmax is a given element all
 * pooled `relu` of it, so `y > 0` there exactly where the convolution's output is positive.
 */
export function maxPool2dReluBackward(
  dconv: FloatArray,
  dy: FloatArray,
  y: FloatArray,
  indices: Int32Array,
  pool: Pool2dGeometry,
): void {
  const size = pool.n * pool.c * pool.oh * pool.ow;
  const masked = scratch(dy, size);
  for (let i = 0; i < size; i++) masked[i] = y[i] > 0 ? dy[i] : 0; // ReLU's backward, as reference.ts
  pool2dBackward("max", dconv, masked, indices, pool);
}
