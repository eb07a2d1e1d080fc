/**
 * What the composites of the fused kernels share: temporary buffers freed together, and
 * padded copies (the padding written once, so the kernel taps need no bounds checks).
 *
 * @module
 */
import type { Backend, DType, HostArray } from "../backend/backend.ts";

/** Temporary buffers of one composite call; `free()` returns them all to the backend. */
export class Scratch {
  readonly #bufs: unknown[] = [];

  /** Temporaries on `be`, of `dtype` unless told otherwise. */
  constructor(readonly be: Backend, readonly dtype: DType) {}

  /** `size` zeroed elements. */
  alloc(size: number, dtype: DType = this.dtype): unknown {
    const s = this.be.alloc(dtype, size);
    this.#bufs.push(s);
    return s;
  }

  /** A copy of host values (a table computed from the geometry). */
  upload(dtype: DType, values: HostArray): unknown {
    const s = this.be.fromHost(dtype, values);
    this.#bufs.push(s);
    return s;
  }

  /** Frees every buffer this scratch handed out. */
  free(): void {
    for (const s of this.#bufs.splice(0)) this.be.free(s);
  }
}

/** Runs `fn` with a {@linkcode Scratch} and frees its buffers afterwards, even on error. */
export function withScratch<R>(be: Backend, dtype: DType, fn: (scratch: Scratch) => R): R {
  const scratch = new Scratch(be, dtype);
  try {
    return fn(scratch);
  } finally {
    scratch.free();
  }
}

/** `planes` images of h × w, and the rows and columns of padding on each side. */
export interface PlaneLayout {
  /** Images (batch × channels). */
  planes: number;
  /** Image height. */
  h: number;
  /** Image width. */
  w: number;
  /** Rows of padding above and below. */
  padH: number;
  /** Columns of padding left and right. */
  padW: number;
}

/**
 * `x` ([planes, h, w]) inside a border of `value` ([planes, h + 2·padH, w + 2·padW]); `x` itself
 * when there is no padding.
 */
export function padded(scratch: Scratch, x: unknown, l: PlaneLayout & { value: number }): unknown {
  if (l.padH === 0 && l.padW === 0) return x;
  const hp = l.h + 2 * l.padH, wp = l.w + 2 * l.padW;
  const out = scratch.alloc(l.planes * hp * wp);
  if (l.value !== 0) scratch.be.fill(out, l.value, l.planes * hp * wp);
  scratch.be.copyStrided(out, x, {
    shape: [l.planes, l.h, l.w],
    outStrides: [hp * wp, wp, 1],
    outOffset: l.padH * wp + l.padW,
    xStrides: [l.h * l.w, l.w, 1],
    xOffset: 0,
  });
  return out;
}

/** Copies the interior of the padded `xp` ([planes, h + 2·padH, w + 2·padW]) into `out` ([planes, h, w]). */
export function cropInto(be: Backend, out: unknown, xp: unknown, l: PlaneLayout): void {
  const hp = l.h + 2 * l.padH, wp = l.w + 2 * l.padW;
  be.copyStrided(out, xp, {
    shape: [l.planes, l.h, l.w],
    outStrides: [l.h * l.w, l.w, 1],
    outOffset: 0,
    xStrides: [hp * wp, wp, 1],
    xOffset: l.padH * wp + l.padW,
  });
}

/**
 * A zeroed buffer to accumulate a padded gradient into, and how to finish: `out` itself (cleared)
 * when there is no padding, else a padded temporary whose interior `finish()` copies into `out`.
 */
export function paddedGradient(scratch: Scratch, out: unknown, l: PlaneLayout): { buf: unknown; finish: () => void } {
  if (l.padH === 0 && l.padW === 0) {
    scratch.be.fill(out, 0, l.planes * l.h * l.w);
    return { buf: out, finish: () => {} };
  }
  const buf = scratch.alloc(l.planes * (l.h + 2 * l.padH) * (l.w + 2 * l.padW));
  return { buf, finish: () => cropInto(scratch.be, out, buf, l) };
}
