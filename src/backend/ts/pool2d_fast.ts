/**
 * Fast 2×2 / stride 2 max pooling on float32 (the seed's MaxPool2d(2)), without branches.
 *
 * After a ReLU, which of a window's four values is largest is a coin toss, and a
 * mispredicted branch costs more than the whole window's arithmetic: the reference's
 * compare-and-branch loop runs at about 4 ns per input, this one at about 1. Comparisons
 * become 0/1 integers that pick the index arithmetically; the value is then loaded from
 * that index, so it is exactly the input's. Windows holding a NaN (rare) take the
 * reference's path, which keeps PyTorch's rule: the first NaN wins, else the first maximum.
 *
 * Functions cover the planes (sample × channel) [lo, hi), so threads can split them.
 *
 * @module
 */
import type { Pool2dGeometry } from "../backend.ts";

/** Whether the fast path applies: 2×2 windows, stride 2, no padding. */
export function isMaxPool2x2(g: Pool2dGeometry): boolean {
  return g.kh === 2 && g.kw === 2 && g.strideH === 2 && g.strideW === 2 && g.padH === 0 && g.padW === 0;
}

/** Max pooling 2×2 / stride 2 of planes [lo, hi); `indices` gets each window's argmax as `ih·w + iw`. */
export function maxPool2x2Forward(
  y: Float32Array,
  indices: Int32Array,
  x: Float32Array,
  g: Pool2dGeometry,
  lo: number,
  hi: number,
): void {
  const planeX = g.h * g.w, planeY = g.oh * g.ow;
  for (let p = lo; p < hi; p++) maxPool2x2Plane(y, indices, p * planeY, x, p * planeX, g);
}

/** Max pooling 2×2 / stride 2 of the plane of `x` at `xOff` into `y` and `indices` from `yOff` on. */
export function maxPool2x2Plane(
  y: Float32Array,
  indices: Int32Array,
  yOff: number,
  x: Float32Array,
  xOff: number,
  g: Pool2dGeometry,
): void {
  const W = g.w;
  let yi = yOff;
  for (let o = 0; o < g.oh; o++) {
    for (let q = 0, i0 = 2 * o * W + 0; q < g.ow; q++, i0 += 2, yi++) {
      // Window (row-major): i0, i0 + 1, i0 + W, i0 + W + 1, relative to the plane.
      const v0 = x[xOff + i0], v1 = x[xOff + i0 + 1], v2 = x[xOff + i0 + W], v3 = x[xOff + i0 + W + 1];
      const s = v0 + v1 + v2 + v3;
      let at: number;
      if (s === s) {
        // No NaN: the first maximum. Ties keep the earlier index, as a strict > scan does.
        const top = i0 + +(v1 > v0); // 0/1 → index within the top pair
        const bottom = i0 + W + +(v3 > v2);
        const bottomWins = +(x[xOff + bottom] > x[xOff + top]);
        at = top + bottomWins * (bottom - top);
      } else at = firstMaxOrNaN(x, xOff, i0, W); // a NaN, or +∞ and −∞ together
      indices[yi] = at;
      y[yi] = x[xOff + at];
    }
  }
}

/** The reference's scan of one 2×2 window: the first NaN, else the first maximum. */
function firstMaxOrNaN(x: Float32Array, xOff: number, i0: number, W: number): number {
  let best = -Infinity, at = i0;
  for (const i of [i0, i0 + 1, i0 + W, i0 + W + 1]) {
    const v = x[xOff + i];
    if (v !== v) return i;
    if (v > best) best = v, at = i;
  }
  return at;
}

/**
 * The gradient of 2×2 / stride 2 max pooling for planes [lo, hi): clear dx, then write each
 * dy at its window's argmax (windows do not overlap, so nothing adds up). Clearing with a
 * bulk fill and scattering beats writing every window's four inputs one by one (0.05 ms
 * against 0.08 at batch 10).
 */
export function maxPool2x2Backward(
  dx: Float32Array,
  dy: Float32Array,
  indices: Int32Array,
  g: Pool2dGeometry,
  lo: number,
  hi: number,
): void {
  const planeX = g.h * g.w, planeY = g.oh * g.ow;
  zero(dx, lo * planeX, hi * planeX);
  for (let p = lo; p < hi; p++) {
    const xOff = p * planeX;
    for (let yi = p * planeY; yi < (p + 1) * planeY; yi++) dx[xOff + indices[yi]] = dy[yi];
  }
}

/** `a.fill(0, from, to)`, 8 bytes at a time where aligned (Float32Array.fill on shared memory goes element by element). */
export function zero(a: Float32Array, from: number, to: number): void {
  const start = a.byteOffset + 4 * from, bytes = 4 * (to - from);
  if (start % 8 === 0 && bytes % 8 === 0) new Float64Array(a.buffer, start, bytes / 8).fill(0);
  else a.fill(0, from, to);
}
