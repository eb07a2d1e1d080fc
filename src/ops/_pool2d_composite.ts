/**
 * The pooling kernels written from primitives, for backends without fused ones. One strided copy
 * of the padded input gathers every window as [kh, kw, planes, oh, ow] (a tap, then all output
 * positions), and one reduction over the taps pools them: max (with argmax for the backward) over
 * −∞ padding, or sum over zero padding (divided by the clipped window for average pooling).
 *
 * The backward of max pooling is one scatter-add of dy at the argmax positions; that of average
 * and sum pooling adds dy back, one accumulating strided copy per tap (within one tap no two
 * windows share an input element).
 *
 * @module
 */
import type { Backend, DType, Pool2dGeometry, PoolKind } from "../backend/backend.ts";
import { contiguousStrides } from "../backend/shape.ts";
import type { Kernels } from "./_fused.ts";
import { padded, paddedGradient, type PlaneLayout, type Scratch, withScratch } from "./_composite.ts";

/** The pooling kernels as composites on `be`, for tensors of `dtype`. */
export function pool2dComposites(be: Backend, dtype: DType): Kernels<"pool2dForward" | "pool2dBackward"> {
  return {
    pool2dForward: (kind, y, indices, x, g) => withScratch(be, dtype, (s) => forward(s, kind, { y, indices, x }, g)),
    pool2dBackward: (kind, dx, dy, indices, g) =>
      withScratch(be, dtype, (s) => backward(s, kind, { dx, dy, indices }, g)),
  };
}

function planes(g: Pool2dGeometry): PlaneLayout {
  return { planes: g.n * g.c, h: g.h, w: g.w, padH: g.padH, padW: g.padW };
}

function forward(
  s: Scratch,
  kind: PoolKind,
  t: { y: unknown; indices: unknown | null; x: unknown },
  g: Pool2dGeometry,
): void {
  const { planes: count } = planes(g);
  const taps = g.kh * g.kw, spatial = g.oh * g.ow, outputs = count * spatial;
  const xp = padded(s, t.x, { ...planes(g), value: kind === "max" ? -Infinity : 0 });
  const hp = g.h + 2 * g.padH, wp = g.w + 2 * g.padW;
  const windows = s.alloc(taps * outputs);
  const shape = [g.kh, g.kw, count, g.oh, g.ow];
  s.be.copyStrided(windows, xp, {
    shape,
    outStrides: contiguousStrides(shape),
    outOffset: 0,
    xStrides: [wp, 1, hp * wp, g.strideH * wp, g.strideW],
    xOffset: 0,
  });
  if (kind === "max") {
    s.be.reduce("max", t.y, windows, 1, taps, outputs);
    if (t.indices === null) throw new Error("maxPool2d: the max pooling kernel needs an indices buffer");
    // The winning tap, then its position in the input plane (as the fused kernels report it).
    const tap = s.alloc(outputs, "int32");
    s.be.reduce("argmax", tap, windows, 1, taps, outputs);
    const table = s.upload("int32", planeIndexTable(g));
    s.be.gather(t.indices, table, tap, { outer: 1, n: taps, m: count, inner: spatial });
    return;
  }
  if (kind === "sum") {
    s.be.reduce("sum", t.y, windows, 1, taps, outputs);
    return;
  }
  const sums = s.alloc(outputs);
  s.be.reduce("sum", sums, windows, 1, taps, outputs);
  const divisors = s.upload(s.dtype, floats(s.dtype, windowSizes(g)));
  s.be.binary("div", t.y, sums, divisors, { shape: [count, spatial], aStrides: [spatial, 1], bStrides: [0, 1] });
}

function backward(
  s: Scratch,
  kind: PoolKind,
  t: { dx: unknown; dy: unknown; indices: unknown | null },
  g: Pool2dGeometry,
): void {
  const { planes: count } = planes(g);
  const spatial = g.oh * g.ow;
  if (kind === "max") {
    if (t.indices === null) throw new Error("maxPool2d: the max pooling backward needs the forward's indices");
    s.be.fill(t.dx, 0, count * g.h * g.w);
    s.be.scatterAdd(t.dx, t.dy, t.indices, { outer: count, n: g.h * g.w, m: spatial, inner: 1 });
    return;
  }
  let d = t.dy;
  if (kind === "avg") {
    d = s.alloc(count * spatial);
    const divisors = s.upload(s.dtype, floats(s.dtype, windowSizes(g)));
    s.be.binary("div", d, t.dy, divisors, { shape: [count, spatial], aStrides: [spatial, 1], bStrides: [0, 1] });
  }
  const { buf, finish } = paddedGradient(s, t.dx, planes(g));
  const hp = g.h + 2 * g.padH, wp = g.w + 2 * g.padW;
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      s.be.copyStrided(buf, d, {
        shape: [count, g.oh, g.ow],
        outStrides: [hp * wp, g.strideH * wp, g.strideW],
        outOffset: i * wp + j,
        xStrides: [spatial, g.ow, 1],
        xOffset: 0,
        accumulate: true,
      });
    }
  }
  finish();
}

/**
 * For each tap and output position [kh·kw, oh·ow], the input position it reads (`ih·w + iw`). A tap
 * in the padding maps to the window's first real position: the argmax lands on a padding tap only
 * when every value of the window is −∞, and the fused kernels then report that position.
 */
function planeIndexTable(g: Pool2dGeometry): Int32Array {
  const spatial = g.oh * g.ow;
  const table = new Int32Array(g.kh * g.kw * spatial);
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      const base = (i * g.kw + j) * spatial;
      for (let o = 0; o < g.oh; o++) {
        const top = o * g.strideH - g.padH, ih = top + i;
        for (let q = 0; q < g.ow; q++) {
          const left = q * g.strideW - g.padW, iw = left + j;
          const inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
          table[base + o * g.ow + q] = inside ? ih * g.w + iw : Math.max(top, 0) * g.w + Math.max(left, 0);
        }
      }
    }
  }
  return table;
}

/** Average pooling's divisor per output position: the window clipped to the padded input (count_include_pad). */
function windowSizes(g: Pool2dGeometry): number[] {
  const out: number[] = [];
  for (let o = 0; o < g.oh; o++) {
    const top = o * g.strideH - g.padH, rows = Math.min(top + g.kh, g.h + g.padH) - top;
    for (let q = 0; q < g.ow; q++) {
      const left = q * g.strideW - g.padW;
      out.push(rows * (Math.min(left + g.kw, g.w + g.padW) - left));
    }
  }
  return out;
}

function floats(dtype: DType, values: number[]): Float32Array | Float64Array {
  return dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values);
}
