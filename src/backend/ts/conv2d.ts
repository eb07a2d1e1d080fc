/**
 * Direct 2-d convolution on the CPU: the reference every other backend is checked against.
 *
 * Loops run over (batch, out channel, in channel, kernel row, kernel column), and the
 * innermost loop walks one output row, so memory is touched in order. The valid
 * range of output positions for each kernel tap is computed up front, so padding
 * costs no branches in the inner loop.
 *
 * @module
 */
import type { Conv2dGeometry } from "../backend.ts";
import type { FloatArray } from "./_types.ts";

/**
 * The output positions `o` in [0, outSize) whose input index `o * stride + offset`
 * falls inside [0, size): returns `[first, end)`.
 */
export function validRange(offset: number, stride: number, size: number, outSize: number): [number, number] {
  const first = offset >= 0 ? 0 : Math.ceil(-offset / stride);
  const end = Math.min(outSize, Math.floor((size - 1 - offset) / stride) + 1);
  return [first, Math.max(first, end)];
}

/** `y = conv2d(x, w) + bias`. */
export function conv2dForward(
  y: FloatArray,
  x: FloatArray,
  w: FloatArray,
  bias: FloatArray | null,
  g: Conv2dGeometry,
): void {
  const planeY = g.oh * g.ow;
  for (let p = 0; p < g.n * g.k; p++) y.fill(bias ? bias[p % g.k] : 0, p * planeY, (p + 1) * planeY);
  forEachRow(g, (wi, xi, y0, y1) => {
    const wv = w[wi];
    for (let yi = y0; yi < y1; yi++, xi += g.strideW) y[yi] += wv * x[xi];
  });
}

/** `dx = ∂(Σ y·dy)/∂x`: the forward loops with the roles of x and y swapped (a scatter). */
export function conv2dBackwardInput(dx: FloatArray, dy: FloatArray, w: FloatArray, g: Conv2dGeometry): void {
  dx.fill(0);
  forEachRow(g, (wi, xi, y0, y1) => {
    const wv = w[wi];
    for (let yi = y0; yi < y1; yi++, xi += g.strideW) dx[xi] += wv * dy[yi];
  });
}

/**
 * The loop nest the forward pass and the input gradient share: for each (batch, out channel,
 * in channel of its group, kernel tap, output row) the weight's index, the first input index
 * (the following ones step by strideW) and the output row's valid range [y0, y1).
 */
function forEachRow(g: Conv2dGeometry, fn: (wi: number, xi: number, y0: number, y1: number) => void): void {
  const cg = g.c / g.groups, kg = g.k / g.groups;
  const planeX = g.h * g.w, planeY = g.oh * g.ow;
  for (let b = 0; b < g.n; b++) {
    for (let oc = 0; oc < g.k; oc++) {
      const yOff = (b * g.k + oc) * planeY;
      const group = Math.floor(oc / kg);
      for (let icg = 0; icg < cg; icg++) {
        const xOff = (b * g.c + group * cg + icg) * planeX;
        const wOff = (oc * cg + icg) * g.kh * g.kw;
        forEachTap(g, (i, j, o0, o1, q0, q1) => {
          for (let o = o0; o < o1; o++) {
            const xi = xOff + (o * g.strideH - g.padH + i * g.dilationH) * g.w + q0 * g.strideW - g.padW +
              j * g.dilationW;
            fn(wOff + i * g.kw + j, xi, yOff + o * g.ow + q0, yOff + o * g.ow + q1);
          }
        });
      }
    }
  }
}

/** `dw = ∂(Σ y·dy)/∂w`: each weight gathers its products over the batch, summed in float64. */
export function conv2dBackwardWeight(dw: FloatArray, dy: FloatArray, x: FloatArray, g: Conv2dGeometry): void {
  const cg = g.c / g.groups, kg = g.k / g.groups;
  const planeX = g.h * g.w, planeY = g.oh * g.ow;
  for (let oc = 0; oc < g.k; oc++) {
    const group = Math.floor(oc / kg);
    for (let icg = 0; icg < cg; icg++) {
      const wOff = (oc * cg + icg) * g.kh * g.kw;
      forEachTap(g, (i, j, o0, o1, q0, q1) => {
        let s = 0;
        for (let b = 0; b < g.n; b++) {
          const yOff = (b * g.k + oc) * planeY;
          const xOff = (b * g.c + group * cg + icg) * planeX;
          for (let o = o0; o < o1; o++) {
            let xi = xOff + (o * g.strideH - g.padH + i * g.dilationH) * g.w +
              q0 * g.strideW - g.padW + j * g.dilationW;
            const yEnd = yOff + o * g.ow + q1;
            for (let yi = yOff + o * g.ow + q0; yi < yEnd; yi++, xi += g.strideW) s += dy[yi] * x[xi];
          }
        }
        dw[wOff + i * g.kw + j] = s;
      });
    }
  }
}

/** `db[k] = Σ dy[:, k, :, :]`. */
export function conv2dBackwardBias(db: FloatArray, dy: FloatArray, g: Conv2dGeometry): void {
  const planeY = g.oh * g.ow;
  for (let oc = 0; oc < g.k; oc++) {
    let s = 0;
    for (let b = 0; b < g.n; b++) {
      const off = (b * g.k + oc) * planeY;
      for (let p = off; p < off + planeY; p++) s += dy[p];
    }
    db[oc] = s;
  }
}

/** Calls `fn` for each kernel tap (i, j) with the output rows [o0, o1) and columns [q0, q1) it touches. */
function forEachTap(
  g: Conv2dGeometry,
  fn: (i: number, j: number, o0: number, o1: number, q0: number, q1: number) => void,
): void {
  for (let i = 0; i < g.kh; i++) {
    const [o0, o1] = validRange(i * g.dilationH - g.padH, g.strideH, g.h, g.oh);
    if (o0 >= o1) continue;
    for (let j = 0; j < g.kw; j++) {
      const [q0, q1] = validRange(j * g.dilationW - g.padW, g.strideW, g.w, g.ow);
      if (q0 < q1) fn(i, j, o0, o1, q0, q1);
    }
  }
}
