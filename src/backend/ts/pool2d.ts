/**
 * Max, average and sum pooling on the CPU, with PyTorch's window rules: a window starts at
 * `o * stride - pad`; average pooling divides by the window clipped to the padded input
 * (count_include_pad); max pooling treats padding as −∞ and keeps the first maximum (NaN wins).
 *
 * @module
 */
import type { Pool2dGeometry, PoolKind } from "../backend.ts";
import type { FloatArray } from "./_types.ts";

/** Pools `x` into `y`; for max pooling, `indices` receives each window's argmax (`ih * w + iw`). */
export function pool2dForward(
  kind: PoolKind,
  y: FloatArray,
  indices: Int32Array | null,
  x: FloatArray,
  g: Pool2dGeometry,
): void {
  forEachWindow(g, (xOff, yi, { h0, h1, w0, w1, area }) => {
    if (kind === "max") {
      let best = -Infinity, at = h0 * g.w + w0;
      window: for (let ih = h0; ih < h1; ih++) {
        for (let iw = w0; iw < w1; iw++) {
          const v = x[xOff + ih * g.w + iw];
          if (v > best || Number.isNaN(v)) {
            best = v;
            at = ih * g.w + iw;
            if (Number.isNaN(v)) break window; // the first NaN wins, as in PyTorch
          }
        }
      }
      y[yi] = best;
      indices![yi] = at;
    } else {
      let s = 0;
      for (let ih = h0; ih < h1; ih++) {
        for (let iw = w0; iw < w1; iw++) s += x[xOff + ih * g.w + iw];
      }
      y[yi] = kind === "avg" ? s / area : s;
    }
  });
}

/** Scatters `dy` into `dx` (overwritten). */
export function pool2dBackward(
  kind: PoolKind,
  dx: FloatArray,
  dy: FloatArray,
  indices: Int32Array | null,
  g: Pool2dGeometry,
): void {
  dx.fill(0);
  forEachWindow(g, (xOff, yi, { h0, h1, w0, w1, area }) => {
    if (kind === "max") {
      dx[xOff + indices![yi]] += dy[yi];
      return;
    }
    const v = kind === "avg" ? dy[yi] / area : dy[yi];
    for (let ih = h0; ih < h1; ih++) {
      for (let iw = w0; iw < w1; iw++) dx[xOff + ih * g.w + iw] += v;
    }
  });
}

/** One pooling window: its rows [h0, h1) and columns [w0, w1) inside the input, and its size clipped to the padded input. */
interface Window {
  h0: number;
  h1: number;
  w0: number;
  w1: number;
  area: number;
}

/** Calls `fn` for every output element, in order, with its plane's input offset, its index and its window. */
function forEachWindow(g: Pool2dGeometry, fn: (xOff: number, yi: number, win: Window) => void): void {
  const planeX = g.h * g.w, planeY = g.oh * g.ow;
  const win: Window = { h0: 0, h1: 0, w0: 0, w1: 0, area: 0 };
  for (let p = 0; p < g.n * g.c; p++) {
    for (let o = 0; o < g.oh; o++) {
      const hs = o * g.strideH - g.padH;
      const he = Math.min(hs + g.kh, g.h + g.padH);
      win.h0 = Math.max(hs, 0);
      win.h1 = Math.min(he, g.h);
      for (let q = 0; q < g.ow; q++) {
        const ws = q * g.strideW - g.padW;
        const we = Math.min(ws + g.kw, g.w + g.padW);
        win.w0 = Math.max(ws, 0);
        win.w1 = Math.min(we, g.w);
        win.area = (he - hs) * (we - ws);
        fn(p * planeX, p * planeY + o * g.ow + q, win);
      }
    }
  }
}
