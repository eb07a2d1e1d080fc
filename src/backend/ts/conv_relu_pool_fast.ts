/**
 * One-pass conv2d + bias + ReLU + max pooling on float32, for the seed's block: a 3×3 / stride 1
 * / padding 1 convolution followed by ReLU and 2×2 / stride 2 max pooling.
 *
 * Run one by one, the three ops each make a pass over the convolution's output (125k floats at
 * batch 10): the convolution writes it, ReLU reads and writes it, pooling reads it, and each is a
 * separate job for the threads. Here each output plane stays in a scratch plane in L1 (3 KiB
 * for 28×28) and is pooled from there with ReLU folded into the window scan: the convolution's
 * output never reaches memory, and ReLU costs one comparison per window instead of a pass. The backward pass writes the pooling's gradient through the ReLU's in
 * one pass over the pooled gradient.
 *
 * The convolution's arithmetic is the unfused kernel's, and the window scan picks what the
 * unfused ReLU + pooling pick (see reluMaxPool2x2Plane), so results equal theirs bit for bit.
 * Functions cover a range [lo, hi) of planes, so threads can split them.
 *
 * @module
 */
import type { Conv2dGeometry, Pool2dGeometry } from "../backend.ts";
import { conv3x3Planes, isConv3x3 } from "./conv2d_fast.ts";
import { isMaxPool2x2, zero } from "./pool2d_fast.ts";
import { bits } from "./elementwise_fast.ts";

let convPlane: Float32Array = new Float32Array(0); // one output plane of the convolution (per thread)

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
  if (convPlane.length < plane) convPlane = new Float32Array(plane);
  const out = convPlane;
  conv3x3Planes(
    x,
    w,
    bias,
    conv,
    lo,
    hi,
    () => [out, 0],
    (r) => reluMaxPool2x2Plane(y, indices, r * pooled, out, pool),
  );
}

/** Max pooling 2×2 / stride 2 of `relu(x)` for planes [lo, hi) (ReLU and pooling in one pass). */
export function reluMaxPool2x2Forward(
  y: Float32Array,
  indices: Int32Array,
  x: Float32Array,
  g: Pool2dGeometry,
  lo: number,
  hi: number,
): void {
  const planeX = g.h * g.w, planeY = g.oh * g.ow;
  for (let p = lo; p < hi; p++) {
    reluMaxPool2x2Plane(y, indices, p * planeY, x.subarray(p * planeX, (p + 1) * planeX), g);
  }
}

/**
 * Max pooling 2×2 / stride 2 of `relu(x)` for one plane `x` (from index 0), into `y` and `indices`
 * from `yOff` on: the numbers of ReLU's pass and then the pooling's, without ReLU's pass. A
 * window's first maximum is found on the raw values; when it is positive it is also relu(x)'s
 * first maximum (ReLU only changes values below it). When it is not, relu(x) is 0 all over the
 * window, and the first element wins with +0.
 */
export function reluMaxPool2x2Plane(
  y: Float32Array,
  indices: Int32Array,
  yOff: number,
  x: Float32Array,
  g: Pool2dGeometry,
): void {
  const W = g.w;
  let yi = yOff;
  for (let o = 0; o < g.oh; o++) {
    for (let q = 0, i0 = 2 * o * W; q < g.ow; q++, i0 += 2, yi++) {
      const v0 = x[i0], v1 = x[i0 + 1], v2 = x[i0 + W], v3 = x[i0 + W + 1];
      const s = v0 + v1 + v2 + v3;
      if (s === s) {
        const top = i0 + +(v1 > v0), bottom = i0 + W + +(v3 > v2);
        const at = top + +(x[bottom] > x[top]) * (bottom - top), m = x[at];
        const positive = +(m > 0);
        indices[yi] = i0 + positive * (at - i0);
        y[yi] = m * positive + 0; // + 0: −0 becomes +0, as ReLU makes it
      } else reluFirstMaxOrNaN(y, indices, yi, x, i0, W); // a NaN, or +∞ and −∞ together
    }
  }
}

/** The reference's scan of one 2×2 window of relu(x): the first NaN, else the first maximum. */
function reluFirstMaxOrNaN(y: Float32Array, indices: Int32Array, yi: number, x: Float32Array, i0: number, W: number) {
  let best = -Infinity, at = i0;
  for (const i of [i0, i0 + 1, i0 + W, i0 + W + 1]) {
    const v = x[i] > 0 || x[i] !== x[i] ? x[i] : 0;
    if (v !== v) {
      best = v, at = i;
      break;
    }
    if (v > best) best = v, at = i;
  }
  indices[yi] = at;
  y[yi] = best;
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
