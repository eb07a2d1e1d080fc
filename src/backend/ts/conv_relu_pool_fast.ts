/**
 * One-pass conv2d + bias + ReLU + max pooling on float32, for the seed's block: a 3×3 / stride 1
 * / padding 1 convolution followed by ReLU and 2×2 / stride 2 max pooling.
 *
 * Run one by one, the three ops each make a pass over the convolution's output (125k floats at
 * batch 10): the convolution writes it, ReLU reads and writes it, pooling reads it, and each is a
 * separate job for the threads. Here each output plane's sums stay in a scratch plane in L1
 * (3 KiB for 28×28), go through ReLU there and are pooled from there: the convolution's output
 * never reaches memory. The backward pass writes the pooling's gradient through the ReLU's in
 * one pass over the pooled gradient.
 *
 * The arithmetic is the unfused kernels', operation for operation (the same float64 sums rounded
 * to float32, the same ReLU bits, the same window scan), so results equal theirs bit for bit.
 * Functions cover a range [lo, hi) of planes, so threads can split them.
 *
 * @module
 */
import type { Conv2dGeometry, Pool2dGeometry } from "../backend.ts";
import { conv3x3Planes, isConv3x3 } from "./conv2d_fast.ts";
import { isMaxPool2x2, maxPool2x2Plane, zero } from "./pool2d_fast.ts";
import { bits } from "./elementwise_fast.ts";

let relued: Float32Array = new Float32Array(0); // one output plane after ReLU (per thread)

/** Whether the one-pass kernels apply: a 3×3 / stride 1 / padding 1 convolution, 2×2 / stride 2 pooling. */
export function isConv3x3MaxPool2x2(conv: Conv2dGeometry, pool: Pool2dGeometry): boolean {
  return isConv3x3(conv) && isMaxPool2x2(pool);
}

/**
 * `y = maxPool2d(relu(conv2d(x, w) + bias))` for the convolution's (sample, out-channel) planes
 * r = b·k + oc in [lo, hi); `indices` gets each window's argmax within the convolution's plane.
 */
export function conv3x3ReluMaxPool2x2Forward(
  y: Float32Array,
  indices: Int32Array,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  conv: Conv2dGeometry,
  pool: Pool2dGeometry,
  lo: number,
  hi: number,
): void {
  const plane = conv.oh * conv.ow, pooled = pool.oh * pool.ow;
  if (relued.length < plane) relued = new Float32Array(plane);
  const out = relued, outBits = bits(relued);
  conv3x3Planes(x, w, bias, conv, lo, hi, (r, sums) => {
    for (let i = 0; i < plane; i++) {
      out[i] = sums[i]; // rounded to float32, as the convolution's output
      outBits[i] &= -!(out[i] <= 0); // ReLU as reluRange: +0 for negatives and −0, NaN kept
    }
    maxPool2x2Plane(y, indices, r * pooled, out, 0, pool);
  });
}

/**
 * The gradient at the convolution's output for planes [lo, hi): clear them, then write each
 * `dy` at its window's argmax where the pooled `y > 0` (+0 elsewhere), as max pooling's backward
 * and then ReLU's would (the windows do not overlap).
 */
export function maxPool2x2ReluBackward(
  dconv: Float32Array,
  dy: Float32Array,
  y: Float32Array,
  indices: Int32Array,
  pool: Pool2dGeometry,
  lo: number,
  hi: number,
): void {
  const planeX = pool.h * pool.w, planeY = pool.oh * pool.ow;
  zero(dconv, lo * planeX, hi * planeX);
  const dconvBits = bits(dconv), dyBits = bits(dy);
  for (let p = lo; p < hi; p++) {
    const xOff = p * planeX;
    for (let yi = p * planeY; yi < (p + 1) * planeY; yi++) dconvBits[xOff + indices[yi]] = dyBits[yi] & -(y[yi] > 0);
  }
}
