/**
 * The convolution kernels written from primitives, for backends without fused ones: im2col
 * (one strided copy of the zero-padded input), one batched gemm over the groups, and col2im
 * (one accumulating strided copy per kernel tap) for the input gradient.
 *
 * Layouts, with G groups, cg = c / G input and kg = k / G output channels per group, S = oh·ow
 * and kd = cg·kh·kw: the columns are [G, kd, n·S] (so one gemm per group covers the whole
 * batch), the weight is [G, kg, kd] as stored, and gemm results [G, kg, n·S] are permuted to
 * y's [n, G, kg, S] by one strided copy (which also adds the bias).
 *
 * @module
 */
import type { Backend, Conv2dGeometry, DType } from "../backend/backend.ts";
import { contiguousStrides } from "../backend/shape.ts";
import type { Kernels } from "./_fused.ts";
import { padded, paddedGradient, type PlaneLayout, type Scratch, withScratch } from "./_composite.ts";

type ConvKernel = "conv2dForward" | "conv2dBackwardInput" | "conv2dBackwardWeight" | "conv2dBackwardBias";

/** The four convolution kernels as composites on `be`, for tensors of `dtype`. */
export function conv2dComposites(be: Backend, dtype: DType): Kernels<ConvKernel> {
  return {
    conv2dForward: (y, x, w, bias, g) => withScratch(be, dtype, (s) => forward(s, { y, x, w, bias }, g)),
    conv2dBackwardInput: (dx, dy, w, g) => withScratch(be, dtype, (s) => backwardInput(s, { dx, dy, w }, g)),
    conv2dBackwardWeight: (dw, dy, x, g) => withScratch(be, dtype, (s) => backwardWeight(s, { dw, dy, x }, g)),
    conv2dBackwardBias: (db, dy, g) => withScratch(be, dtype, (s) => backwardBias(s, { db, dy }, g)),
  };
}

/** Sizes derived from the geometry. */
function sizes(g: Conv2dGeometry) {
  const groups = g.groups, cg = g.c / groups, kg = g.k / groups, spatial = g.oh * g.ow;
  return { groups, cg, kg, spatial, kd: cg * g.kh * g.kw, cols: g.n * spatial };
}

function planes(g: Conv2dGeometry): PlaneLayout {
  return { planes: g.n * g.c, h: g.h, w: g.w, padH: g.padH, padW: g.padW };
}

/** The columns [G, cg, kh, kw, n, oh, ow] of x: element (tap, output position) of each window. */
function im2col(s: Scratch, x: unknown, g: Conv2dGeometry): unknown {
  const { groups, cg, kd, cols } = sizes(g);
  const xp = padded(s, x, { ...planes(g), value: 0 });
  const hp = g.h + 2 * g.padH, wp = g.w + 2 * g.padW, plane = hp * wp;
  const out = s.alloc(groups * kd * cols);
  const shape = [groups, cg, g.kh, g.kw, g.n, g.oh, g.ow];
  s.be.copyStrided(out, xp, {
    shape,
    outStrides: contiguousStrides(shape),
    outOffset: 0,
    xStrides: [cg * plane, plane, g.dilationH * wp, g.dilationW, g.c * plane, g.strideH * wp, g.strideW],
    xOffset: 0,
  });
  return out;
}

/** dy [n, G, kg, S] permuted to [G, kg, n, S], the gemm layout. */
function dyByGroup(s: Scratch, dy: unknown, g: Conv2dGeometry): unknown {
  const { groups, kg, spatial } = sizes(g);
  const shape = [groups, kg, g.n, spatial];
  const out = s.alloc(g.n * g.k * spatial);
  s.be.copyStrided(out, dy, {
    shape,
    outStrides: contiguousStrides(shape),
    outOffset: 0,
    xStrides: [kg * spatial, spatial, g.k * spatial, 1],
    xOffset: 0,
  });
  return out;
}

function forward(
  s: Scratch,
  t: { y: unknown; x: unknown; w: unknown; bias: unknown | null },
  g: Conv2dGeometry,
): void {
  const { groups, kg, kd, cols, spatial } = sizes(g);
  const columns = im2col(s, t.x, g);
  const product = s.alloc(groups * kg * cols); // [G, kg, n, S]
  s.be.gemm(product, t.w, columns, {
    m: kg,
    n: cols,
    k: kd,
    transA: false,
    transB: false,
    alpha: 1,
    beta: 0,
    batch: groups,
    strideA: kg * kd,
    strideB: kd * cols,
    strideC: kg * cols,
  });
  // y[b, grp, o, p] = product[grp, o, b, p] (+ bias[grp·kg + o]).
  const shape = [g.n, groups, kg, spatial];
  const productStrides = [spatial, kg * cols, cols, 1];
  if (t.bias === null) {
    s.be.copyStrided(t.y, product, {
      shape,
      outStrides: contiguousStrides(shape),
      outOffset: 0,
      xStrides: productStrides,
      xOffset: 0,
    });
  } else {
    s.be.binary("add", t.y, product, t.bias, { shape, aStrides: productStrides, bStrides: [0, kg, 1, 0] });
  }
}

function backwardInput(s: Scratch, t: { dx: unknown; dy: unknown; w: unknown }, g: Conv2dGeometry): void {
  const { groups, cg, kg, kd, cols, spatial } = sizes(g);
  const dyg = dyByGroup(s, t.dy, g);
  const dcols = s.alloc(groups * kd * cols); // [G, cg, kh, kw, n, S]
  s.be.gemm(dcols, t.w, dyg, {
    m: kd,
    n: cols,
    k: kg,
    transA: true,
    transB: false,
    alpha: 1,
    beta: 0,
    batch: groups,
    strideA: kg * kd,
    strideB: kg * cols,
    strideC: kd * cols,
  });
  // col2im: each tap adds its columns back at the input positions it read. Within one tap no two
  // output positions read the same input element, so each copy may accumulate.
  const { buf, finish } = paddedGradient(s, t.dx, planes(g));
  const hp = g.h + 2 * g.padH, wp = g.w + 2 * g.padW, plane = hp * wp;
  const taps = g.kh * g.kw;
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      s.be.copyStrided(buf, dcols, {
        shape: [groups, cg, g.n, g.oh, g.ow],
        outStrides: [cg * plane, plane, g.c * plane, g.strideH * wp, g.strideW],
        outOffset: i * g.dilationH * wp + j * g.dilationW,
        xStrides: [cg * taps * cols, taps * cols, spatial, g.ow, 1],
        xOffset: (i * g.kw + j) * cols,
        accumulate: true,
      });
    }
  }
  finish();
}

function backwardWeight(s: Scratch, t: { dw: unknown; dy: unknown; x: unknown }, g: Conv2dGeometry): void {
  const { groups, kg, kd, cols } = sizes(g);
  const dyg = dyByGroup(s, t.dy, g);
  const columns = im2col(s, t.x, g);
  s.be.gemm(t.dw, dyg, columns, {
    m: kg,
    n: kd,
    k: cols,
    transA: false,
    transB: true,
    alpha: 1,
    beta: 0,
    batch: groups,
    strideA: kg * cols,
    strideB: kd * cols,
    strideC: kg * kd,
  });
}

function backwardBias(s: Scratch, t: { db: unknown; dy: unknown }, g: Conv2dGeometry): void {
  const perImage = s.alloc(g.n * g.k);
  s.be.reduce("sum", perImage, t.dy, g.n * g.k, g.oh * g.ow, 1);
  s.be.reduce("sum", t.db, perImage, 1, g.n, g.k);
}
