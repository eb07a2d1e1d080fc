/**
 * Fast 2-d convolution on float32: a direct path for 3×3 / stride 1 / padding 1 (the seed's
 * conv1 and most CNN layers) and im2col + the fast GEMM (gemm_fast.ts) for every other geometry.
 *
 * Every function computes a range [lo, hi) of one dimension of its output (samples, or
 * sample × out-channel pairs, or out channels), so that threads can split the work with each
 * output element computed by exactly one of them. Sums run in the same order whatever the
 * range, so the result does not depend on the split.
 *
 * Napkin math for the seed's conv1 (1 → 16 channels, 28×28): 226 kFLOP per sample each way.
 * The direct 3×3 loops run at about 5 GFLOP/s (45 µs per sample), the reference at 1.3.
 *
 * @module
 */
import type { Conv2dGeometry } from "../backend.ts";
import { gemmBlock } from "./gemm_fast.ts";

// Per-thread scratch, grown on demand and reused (each worker has its own copy of this module).
let xPad: Float64Array = new Float64Array(0); // one sample, zero-padded by 1 on every side, as float64
let plane64: Float64Array = new Float64Array(0); // one output plane's sums
let sums: Float64Array = new Float64Array(0); // weight-gradient sums over the batch
let col: Float32Array = new Float32Array(0); // im2col of one sample (one group)

/** Whether the direct 3×3 kernels apply: 3×3, stride 1, padding 1, no dilation, no groups. */
export function isConv3x3(g: Conv2dGeometry): boolean {
  return g.kh === 3 && g.kw === 3 && g.strideH === 1 && g.strideW === 1 && g.padH === 1 && g.padW === 1 &&
    g.dilationH === 1 && g.dilationW === 1 && g.groups === 1;
}

/** Copies sample `b` of `x` (all channels) into `xPad` as float64 planes of (h + 2) × (w + 2) with a zero border. */
function padSample(x: Float32Array, b: number, g: Conv2dGeometry): void {
  const { c: C, h: H, w: W } = g;
  const pw = W + 2, pp = (H + 2) * pw, size = C * pp;
  if (xPad.length < size) xPad = new Float64Array(size);
  else xPad.fill(0, 0, size);
  for (let c = 0; c < C; c++) {
    const src = (b * C + c) * H * W;
    for (let r = 0; r < H; r++) {
      const d = c * pp + (r + 1) * pw + 1, s = src + r * W;
      for (let q = 0; q < W; q++) xPad[d + q] = x[s + q];
    }
  }
}

/**
 * `y = conv2d(x, w) + bias` for 3×3 / stride 1 / padding 1, for the (sample, out-channel)
 * pairs r = b·k + oc in [lo, hi).
 */
export function conv3x3Forward(
  y: Float32Array,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
): void {
  conv3x3Planes(x, w, bias, g, lo, hi, (r) => [y, r * g.h * g.w]);
}

/**
 * The output planes r = b·k + oc in [lo, hi) of a 3×3 / stride 1 / padding 1 convolution (bias
 * included), each written where `target(r)` says ([array, offset]) just before it is computed;
 * `done(r)`, if given, runs once it is.
 * Sums run in float64: the bias, then each input channel's 9 products (summed first), rounded to
 * float32 once, as the last channel's sums are stored. The 3×3 window slides along each row:
 * 3 new loads and 9 multiply-adds per output, the 9 weights in locals. At about 9 cycles per
 * output (18 float64 operations, two per cycle) this is V8's scalar ceiling.
 */
export function conv3x3Planes(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
  target: (r: number) => [Float32Array, number],
  done?: (r: number) => void,
): void {
  const { c: C, h: H, w: W, k: K } = g;
  const pw = W + 2, pp = (H + 2) * pw, plane = H * W;
  if (plane64.length < plane) plane64 = new Float64Array(plane);
  const acc = plane64;
  let padded = -1;
  for (let r = lo; r < hi; r++) {
    const b = Math.floor(r / K), k = r - b * K;
    if (b !== padded) padSample(x, padded = b, g);
    const [out, off] = target(r);
    const bv = bias ? bias[k] : 0;
    if (C > 1) acc.fill(bv, 0, plane); // channels before the last add up here
    for (let c = 0; c < C; c++) {
      const wo = (k * C + c) * 9, last = c === C - 1;
      const w00 = w[wo], w01 = w[wo + 1], w02 = w[wo + 2];
      const w10 = w[wo + 3], w11 = w[wo + 4], w12 = w[wo + 5];
      const w20 = w[wo + 6], w21 = w[wo + 7], w22 = w[wo + 8];
      for (let o = 0; o < H; o++) {
        const r0 = c * pp + o * pw, r1 = r0 + pw, r2 = r1 + pw, ao = o * W;
        let a0 = xPad[r0], a1 = xPad[r0 + 1], b0 = xPad[r1], b1 = xPad[r1 + 1], c0 = xPad[r2], c1 = xPad[r2 + 1];
        if (!last) {
          for (let q = 0; q < W; q++) {
            const a2 = xPad[r0 + q + 2], b2 = xPad[r1 + q + 2], c2 = xPad[r2 + q + 2];
            acc[ao + q] += w00 * a0 + w01 * a1 + w02 * a2 + w10 * b0 + w11 * b1 + w12 * b2 + w20 * c0 +
              w21 * c1 + w22 * c2;
            a0 = a1, a1 = a2, b0 = b1, b1 = b2, c0 = c1, c1 = c2;
          }
        } else if (C > 1) {
          for (let q = 0; q < W; q++) {
            const a2 = xPad[r0 + q + 2], b2 = xPad[r1 + q + 2], c2 = xPad[r2 + q + 2];
            out[off + ao + q] = acc[ao + q] + (w00 * a0 + w01 * a1 + w02 * a2 + w10 * b0 + w11 * b1 + w12 * b2 +
              w20 * c0 + w21 * c1 + w22 * c2);
            a0 = a1, a1 = a2, b0 = b1, b1 = b2, c0 = c1, c1 = c2;
          }
        } else {
          for (let q = 0; q < W; q++) { // one input channel (the first layer): bias + the 9 products
            const a2 = xPad[r0 + q + 2], b2 = xPad[r1 + q + 2], c2 = xPad[r2 + q + 2];
            out[off + ao + q] = bv + (w00 * a0 + w01 * a1 + w02 * a2 + w10 * b0 + w11 * b1 + w12 * b2 +
              w20 * c0 + w21 * c1 + w22 * c2);
            a0 = a1, a1 = a2, b0 = b1, b1 = b2, c0 = c1, c1 = c2;
          }
        }
      }
    }
    done?.(r);
  }
}

/**
 * `dw = ∂(Σ y·dy)/∂w` for 3×3 / stride 1 / padding 1, for out channels [lo, hi): each of the
 * 9 taps sums dy·x over the batch in float64. Two columns per iteration halve the chains of
 * dependent additions (the loop is bound by add latency, not by loads).
 */
export function conv3x3BackwardWeight(
  dw: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
): void {
  const { n, c: C, h: H, w: W, k: K } = g;
  const pw = W + 2, pp = (H + 2) * pw, plane = H * W, w2 = W & ~1;
  const count = (hi - lo) * C * 9;
  if (sums.length < count) sums = new Float64Array(count);
  sums.fill(0, 0, count);
  for (let b = 0; b < n; b++) {
    padSample(x, b, g);
    for (let k = lo; k < hi; k++) {
      const yo = (b * K + k) * plane;
      for (let c = 0; c < C; c++) {
        let s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0, s20 = 0, s21 = 0, s22 = 0;
        for (let o = 0; o < H; o++) {
          const r0 = c * pp + o * pw, r1 = r0 + pw, r2 = r1 + pw, ao = yo + o * W;
          let q = 0;
          for (; q < w2; q += 2) {
            const d = dy[ao + q], e = dy[ao + q + 1];
            s00 += d * xPad[r0 + q] + e * xPad[r0 + q + 1];
            s01 += d * xPad[r0 + q + 1] + e * xPad[r0 + q + 2];
            s02 += d * xPad[r0 + q + 2] + e * xPad[r0 + q + 3];
            s10 += d * xPad[r1 + q] + e * xPad[r1 + q + 1];
            s11 += d * xPad[r1 + q + 1] + e * xPad[r1 + q + 2];
            s12 += d * xPad[r1 + q + 2] + e * xPad[r1 + q + 3];
            s20 += d * xPad[r2 + q] + e * xPad[r2 + q + 1];
            s21 += d * xPad[r2 + q + 1] + e * xPad[r2 + q + 2];
            s22 += d * xPad[r2 + q + 2] + e * xPad[r2 + q + 3];
          }
          if (q < W) { // odd width: the last column
            const d = dy[ao + q];
            s00 += d * xPad[r0 + q], s01 += d * xPad[r0 + q + 1], s02 += d * xPad[r0 + q + 2];
            s10 += d * xPad[r1 + q], s11 += d * xPad[r1 + q + 1], s12 += d * xPad[r1 + q + 2];
            s20 += d * xPad[r2 + q], s21 += d * xPad[r2 + q + 1], s22 += d * xPad[r2 + q + 2];
          }
        }
        const s = ((k - lo) * C + c) * 9;
        sums[s] += s00, sums[s + 1] += s01, sums[s + 2] += s02;
        sums[s + 3] += s10, sums[s + 4] += s11, sums[s + 5] += s12;
        sums[s + 6] += s20, sums[s + 7] += s21, sums[s + 8] += s22;
      }
    }
  }
  const off = lo * C * 9;
  for (let i = 0; i < count; i++) dw[off + i] = sums[i];
}

/** `db[k] = Σ dy[:, k, :, :]` for out channels [lo, hi), four partial sums per plane. */
export function conv2dBackwardBias(
  db: Float32Array,
  dy: Float32Array,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
): void {
  const plane = g.oh * g.ow, p4 = plane & ~3;
  for (let k = lo; k < hi; k++) {
    let s = 0;
    for (let b = 0; b < g.n; b++) {
      const off = (b * g.k + k) * plane;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
      for (; i < p4; i += 4) s0 += dy[off + i], s1 += dy[off + i + 1], s2 += dy[off + i + 2], s3 += dy[off + i + 3];
      for (; i < plane; i++) s0 += dy[off + i];
      s += (s0 + s1) + (s2 + s3);
    }
    db[k] = s;
  }
}

// ---- every other geometry: im2col + GEMM ----

/**
 * Unfolds group `gr` of sample `b` into `col` [cg·kh·kw, oh·ow]: row (c, i, j) holds the input
 * pixel under tap (i, j) for every output position, 0 where it falls in the padding.
 */
function im2col(x: Float32Array, b: number, gr: number, g: Conv2dGeometry): void {
  const cg = g.c / g.groups, ohw = g.oh * g.ow;
  const size = cg * g.kh * g.kw * ohw;
  if (col.length < size) col = new Float32Array(size);
  let row = 0;
  for (let c = 0; c < cg; c++) {
    const xOff = (b * g.c + gr * cg + c) * g.h * g.w;
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++, row++) {
        const dst = row * ohw;
        for (let o = 0; o < g.oh; o++) {
          const ih = o * g.strideH - g.padH + i * g.dilationH, d = dst + o * g.ow;
          if (ih < 0 || ih >= g.h) {
            col.fill(0, d, d + g.ow);
            continue;
          }
          const src = xOff + ih * g.w, iw0 = j * g.dilationW - g.padW;
          for (let q = 0; q < g.ow; q++) {
            const iw = iw0 + q * g.strideW;
            col[d + q] = iw >= 0 && iw < g.w ? x[src + iw] : 0;
          }
        }
      }
    }
  }
}

/** Adds `col` back into group `gr` of sample `b` of `dx` (the transpose of im2col). */
function col2imAdd(dx: Float32Array, b: number, gr: number, g: Conv2dGeometry): void {
  const cg = g.c / g.groups, ohw = g.oh * g.ow;
  let row = 0;
  for (let c = 0; c < cg; c++) {
    const xOff = (b * g.c + gr * cg + c) * g.h * g.w;
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++, row++) {
        for (let o = 0; o < g.oh; o++) {
          const ih = o * g.strideH - g.padH + i * g.dilationH;
          if (ih < 0 || ih >= g.h) continue;
          const src = row * ohw + o * g.ow, dst = xOff + ih * g.w, iw0 = j * g.dilationW - g.padW;
          for (let q = 0; q < g.ow; q++) {
            const iw = iw0 + q * g.strideW;
            if (iw >= 0 && iw < g.w) dx[dst + iw] += col[src + q];
          }
        }
      }
    }
  }
}

/** `y = conv2d(x, w) + bias` for samples [lo, hi): per group, y_b = w_g · im2col(x_b). */
export function convIm2colForward(
  y: Float32Array,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
): void {
  const kg = g.k / g.groups, depth = (g.c / g.groups) * g.kh * g.kw, ohw = g.oh * g.ow;
  const opts = { m: kg, n: ohw, k: depth, transA: false, transB: false, alpha: 1, beta: 0 };
  for (let b = lo; b < hi; b++) {
    for (let gr = 0; gr < g.groups; gr++) {
      im2col(x, b, gr, g);
      const yOff = (b * g.k + gr * kg) * ohw;
      const yg = y.subarray(yOff, yOff + kg * ohw);
      gemmBlock(yg, w.subarray(gr * kg * depth, (gr + 1) * kg * depth), col, opts, 0, kg, 0, ohw);
      if (bias) {
        for (let k = 0; k < kg; k++) {
          const bv = bias[gr * kg + k];
          for (let p = k * ohw; p < (k + 1) * ohw; p++) yg[p] += bv;
        }
      }
    }
  }
}

/** `dx = ∂(Σ y·dy)/∂x` for samples [lo, hi): col = w_gᵀ · dy_b, then col2im. */
export function convIm2colBackwardInput(
  dx: Float32Array,
  dy: Float32Array,
  w: Float32Array,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
): void {
  const kg = g.k / g.groups, depth = (g.c / g.groups) * g.kh * g.kw, ohw = g.oh * g.ow;
  const opts = { m: depth, n: ohw, k: kg, transA: true, transB: false, alpha: 1, beta: 0 };
  if (col.length < depth * ohw) col = new Float32Array(depth * ohw);
  const plane = g.c * g.h * g.w;
  dx.fill(0, lo * plane, hi * plane);
  for (let b = lo; b < hi; b++) {
    for (let gr = 0; gr < g.groups; gr++) {
      const dyOff = (b * g.k + gr * kg) * ohw;
      gemmBlock(
        col,
        w.subarray(gr * kg * depth, (gr + 1) * kg * depth),
        dy.subarray(dyOff, dyOff + kg * ohw),
        opts,
        0,
        depth,
        0,
        ohw,
      );
      col2imAdd(dx, b, gr, g);
    }
  }
}

/** `dw = ∂(Σ y·dy)/∂w` for out channels [lo, hi): Σ_b dy_b · im2col(x_b)ᵀ, summed in float64. */
export function convIm2colBackwardWeight(
  dw: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  g: Conv2dGeometry,
  lo: number,
  hi: number,
): void {
  const kg = g.k / g.groups, depth = (g.c / g.groups) * g.kh * g.kw, ohw = g.oh * g.ow;
  const count = (hi - lo) * depth;
  if (sums.length < count) sums = new Float64Array(count);
  const acc = sums.subarray(0, count);
  acc.fill(0);
  for (let b = 0; b < g.n; b++) {
    let imaged = -1;
    for (let k = lo; k < hi;) {
      // The out channels of [k, hi) that share k's group: one GEMM against that group's columns.
      const gr = Math.floor(k / kg), kEnd = Math.min(hi, (gr + 1) * kg);
      if (gr !== imaged) im2col(x, b, imaged = gr, g);
      const dyOff = (b * g.k + k) * ohw;
      const opts = { m: kEnd - k, n: depth, k: ohw, transA: false, transB: true, alpha: 1, beta: 1 };
      const rows = acc.subarray((k - lo) * depth, (kEnd - lo) * depth);
      gemmBlock(rows, dy.subarray(dyOff, dyOff + (kEnd - k) * ohw), col, opts, 0, kEnd - k, 0, depth);
      k = kEnd;
    }
  }
  for (let i = 0; i < count; i++) dw[lo * depth + i] = acc[i];
}
