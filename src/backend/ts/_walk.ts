/**
 * Walking a strided index space shared by several operands (broadcasting, `where`, strided
 * copies) one innermost row at a time, so the per-element loop is a plain counted loop.
 *
 * The space is simplified first: dimensions of size 1 are dropped, and a dimension merges into
 * the next inner one when every operand steps through the pair as through one dimension. Same
 * shapes with no broadcasting become one row, whatever the rank; a [N, C] + [C] bias add
 * becomes N rows of C.
 *
 * @module
 */

/** A simplified index space: `rows` rows of `count` elements, and each operand's step within a row. */
export interface Walk {
  /** Outer dimensions (everything but the row). */
  outer: number[];
  /** Per operand, its strides over `outer`. */
  outerStrides: number[][];
  /** Elements per row. */
  count: number;
  /** Per operand, its step within a row. */
  step: number[];
  /** Total elements (0: nothing to visit). */
  size: number;
}

/** Simplifies `shape` walked by operands with `strides[k]` each (see the module notes). */
export function plan(shape: readonly number[], strides: readonly (readonly number[])[]): Walk {
  const size = shape.reduce((p, d) => p * d, 1);
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    dims.push(shape[d]);
    strides.forEach((s, k) => st[k].push(s[d]));
  }
  // Merge from the innermost pair outwards: dimension d folds into d + 1.
  for (let d = dims.length - 2; d >= 0; d--) {
    if (!st.every((s) => s[d] === s[d + 1] * dims[d + 1])) continue;
    dims[d + 1] *= dims[d];
    dims.splice(d, 1);
    for (const s of st) s.splice(d, 1);
  }
  if (dims.length === 0) return { outer: [], outerStrides: st, count: 1, step: st.map(() => 0), size };
  const last = dims.length - 1;
  return {
    outer: dims.slice(0, last),
    outerStrides: st.map((s) => s.slice(0, last)),
    count: dims[last],
    step: st.map((s) => s[last]),
    size,
  };
}

/**
 * Calls `row(o0, o1, o2, o3)` for every row of `w`, where `ok` is operand k's flat index of the
 * row's first element (starting from `offsets[k]`; at most 4 operands, the missing ones read 0).
 * Plain numbers rather than an array: this runs once per row, and rows can be short.
 */
export function forEachRow(
  w: Walk,
  offsets: readonly number[],
  row: (o0: number, o1: number, o2: number, o3: number) => void,
): void {
  if (w.size === 0) return;
  if (offsets.length > 4) throw new Error(`ts backend: forEachRow walks at most 4 operands, got ${offsets.length}`);
  const rank = w.outer.length, dims = w.outer, idx = new Array<number>(rank).fill(0);
  const zeros = new Array<number>(rank).fill(0);
  const s0 = w.outerStrides[0] ?? zeros, s1 = w.outerStrides[1] ?? zeros;
  const s2 = w.outerStrides[2] ?? zeros, s3 = w.outerStrides[3] ?? zeros;
  let a0 = offsets[0] ?? 0, a1 = offsets[1] ?? 0, a2 = offsets[2] ?? 0, a3 = offsets[3] ?? 0;
  for (;;) {
    row(a0, a1, a2, a3);
    let d = rank - 1;
    for (; d >= 0; d--) {
      a0 += s0[d], a1 += s1[d], a2 += s2[d], a3 += s3[d];
      if (++idx[d] < dims[d]) break;
      const n = dims[d];
      a0 -= s0[d] * n, a1 -= s1[d] * n, a2 -= s2[d] * n, a3 -= s3[d] * n;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/** The strides of a dense row-major array of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    out[d] = s;
    s *= shape[d];
  }
  return out;
}

/**
 * The lowest and highest flat index that `offset + Σ i_d·strides_d` reaches over `shape`
 * (null for an empty shape).
 */
export function reach(shape: readonly number[], strides: readonly number[], offset: number): [number, number] | null {
  let lo = offset, hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return null;
    const span = (shape[d] - 1) * strides[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  return [lo, hi];
}

/** Fails unless every index the layout reaches lies in `[0, length)`. */
export function checkReach(
  op: string,
  name: string,
  length: number,
  layout: { shape: readonly number[]; strides: readonly number[]; offset: number },
): void {
  const { shape, strides, offset } = layout;
  if (strides.length !== shape.length) {
    throw new Error(`${op}: ${name} has ${strides.length} strides for a shape of rank ${shape.length} ([${shape}])`);
  }
  const r = reach(shape, strides, offset);
  if (r !== null && (r[0] < 0 || r[1] >= length)) {
    throw new Error(
      `${op}: ${name} is read or written at elements [${r[0]}, ${r[1]}] (shape [${shape}], strides [${strides}], ` +
        `offset ${offset}) but holds ${length}`,
    );
  }
}

/**
 * Whether the layout writes each of `length` elements exactly once: offset 0, as many
 * indices as elements, and strides that are a permutation of a dense layout.
 */
export function coversAll(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  length: number,
): boolean {
  if (offset !== 0 || shape.reduce((p, d) => p * d, 1) !== length) return false;
  const dims = shape.map((n, d) => [strides[d], n]).filter(([, n]) => n !== 1).sort((x, y) => x[0] - y[0]);
  let expect = 1;
  for (const [s, n] of dims) {
    if (s !== expect) return false;
    expect *= n;
  }
  return true;
}
