/**
 * Geometries in the tests' short form: a convolution's (3×3 kernels with padding 1 unless told
 * otherwise) and a square pooling's.
 *
 * @module
 */
import { type Conv2dGeometry, conv2dGeometry, type Pool2dGeometry } from "../src/backend/backend.ts";
import { checkedPool2dGeometry } from "../src/ops/_conv_pool_checks.ts";

/** `conv2dGeometry(n, c, h, w, k, kh ?? 3, kw ?? 3, { stride, padding: pad ?? [1, 1], dilation, groups })`. */
export function geometry(
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  o: { kh?: number; kw?: number; stride?: [number, number]; pad?: [number, number]; dil?: [number, number] } & {
    groups?: number;
  } = {},
): Conv2dGeometry {
  const opts = { stride: o.stride, padding: o.pad ?? [1, 1], dilation: o.dil, groups: o.groups } as const;
  return conv2dGeometry(n, c, h, w, k, o.kh ?? 3, o.kw ?? 3, opts);
}

/** A square pooling's geometry: `k`×`k` windows, stride and padding on both axes, on `[n, c, h, w]`. */
export function poolGeometry(
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  stride: number,
  pad: number,
): Pool2dGeometry {
  return checkedPool2dGeometry("poolGeometry", [n, c, h, w], { kernelSize: k, stride, padding: pad });
}
