/**
 * Argument checks of the CUDA backend's entry points against the buffers they are handed: a count
 * must be a non-negative integer, a dtype the one the C call reads the buffer as, and every element
 * a kernel reaches (sizes, geometry, strides and offsets) must lie inside its buffer. The native
 * library sees only pointers, so without these a call with inconsistent sizes reads or writes past
 * an allocation (on a card: an illegal address that poisons the context; on the emulator: SIGSEGV).
 *
 * Each check is a few comparisons per call, O(rank) for strided layouts, never per element; the
 * message is built only when a check fails and names the op, the argument, what was given and what
 * was expected.
 *
 * @module
 */
import type { AxisGeometry, Conv2dGeometry, DType, GemmOptions, Pool2dGeometry } from "../backend.ts";
import type { CudaStorage } from "./_storage.ts";

const INT32_MAX = 2 ** 31 - 1;

/**
 * `v` as a count: a non-negative safe integer (at most `max`), else an Error naming `fn` and `name`.
 *
 * @example
 * ```ts
 * count("fill", "size", 4); // 4
 * count("fill", "size", 1.5); // throws "cuda: fill: size must be a non-negative integer, got 1.5"
 * ```
 */
export function count(fn: string, name: string, v: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "" : ` of at most ${max}`;
    throw new Error(`cuda: ${fn}: ${name} must be a non-negative integer${range}, got ${v}`);
  }
  return v;
}

/**
 * Checks that `s` holds at least `elements` elements; `why` says what asks for them (only read on
 * failure).
 *
 * @example
 * ```ts
 * fits("fill", "out", storage, 100, "size=100");
 * ```
 */
export function fits(fn: string, what: string, s: CudaStorage, elements: number, why: string | (() => string)): void {
  if (s.size >= elements) return;
  const reason = typeof why === "string" ? why : why();
  throw new Error(
    `cuda: ${fn}: ${what} holds ${s.size} ${s.dtype} elements but ${reason} reaches ${elements}; ` +
      `expected a buffer of at least ${elements} elements`,
  );
}

/**
 * Checks that `s` holds `dtype` (the type the native call reads or writes it as).
 *
 * @example
 * ```ts
 * sameDType("copy", "out", out, x.dtype);
 * ```
 */
export function sameDType(fn: string, what: string, s: CudaStorage, dtype: DType): void {
  if (s.dtype !== dtype) throw new Error(`cuda: ${fn}: ${what} must be ${dtype}, got ${s.dtype}`);
}

/**
 * Checks the elements `offset + Σ i_d·strides_d` (every index `i` of `shape`) all lie in `s`:
 * the lowest and highest reached, from the signs of the strides.
 *
 * @example
 * ```ts
 * strided("copyStrided", "x", x, [2, 3], [3, 1], 0); // reaches 0..5
 * ```
 */
export function strided(
  fn: string,
  what: string,
  s: CudaStorage,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): void {
  if (!Number.isSafeInteger(offset)) throw new Error(`cuda: ${fn}: ${what}'s offset must be an integer, got ${offset}`);
  let lo = offset, hi = offset;
  for (let d = 0; d < shape.length; d++) {
    const extent = shape[d];
    if (extent === 0) return; // nothing is reached
    const step = strides[d];
    if (!Number.isSafeInteger(step)) {
      throw new Error(`cuda: ${fn}: ${what}'s strides must be integers, got [${strides.join(", ")}]`);
    }
    const reach = (extent - 1) * step;
    if (reach < 0) lo += reach;
    else hi += reach;
  }
  if (lo < 0 || hi >= s.size) {
    const where = lo < 0
      ? `negative strides reach before the start of ${what}`
      : `the layout reaches past the end of ${what}`;
    throw new Error(
      `cuda: ${fn}: ${where}: shape [${shape.join(", ")}] with strides [${strides.join(", ")}] and offset ${offset} ` +
        `reaches elements ${lo}..${hi} of a buffer of ${s.size}; expected them in [0, ${s.size})`,
    );
  }
}

/**
 * Checks a shape: non-negative integer extents; returns the number of elements.
 *
 * @example
 * ```ts
 * shapeSize("binary", [2, 3]); // 6
 * ```
 */
export function shapeSize(fn: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Error(`cuda: ${fn}: shape [${shape.join(", ")}] must hold non-negative integers`);
    }
    n *= d;
  }
  return count(fn, `the shape [${shape.join(", ")}]'s element count`, n);
}

/**
 * cn_gemm's sizes (int32), strides and batch against the three buffers: `a` must hold
 * `(batch − 1)·strideA + m·k` elements, `b` `(batch − 1)·strideB + k·n`, `c` `(batch − 1)·strideC + m·n`.
 *
 * @example
 * ```ts
 * checkGemm(c, a, b, { m: 2, n: 3, k: 4, transA: false, transB: false, alpha: 1, beta: 0 });
 * ```
 */
export function checkGemm(
  c: CudaStorage,
  a: CudaStorage,
  b: CudaStorage,
  o: GemmOptions,
): { batch: number; strideA: number; strideB: number; strideC: number } {
  const m = count("gemm", "m", o.m, INT32_MAX), n = count("gemm", "n", o.n, INT32_MAX);
  const k = count("gemm", "k", o.k, INT32_MAX);
  const batch = count("gemm", "batch", o.batch ?? 1, INT32_MAX);
  const strideA = count("gemm", "strideA", o.strideA ?? m * k);
  const strideB = count("gemm", "strideB", o.strideB ?? k * n);
  const strideC = count("gemm", "strideC", o.strideC ?? m * n);
  if (batch > 0) {
    const why = () => `m=${m}, n=${n}, k=${k}, batch=${batch} (strides ${strideA}, ${strideB}, ${strideC})`;
    if (m * n > 0) fits("gemm", "c", c, (batch - 1) * strideC + m * n, why);
    if (m * n * k > 0) {
      fits("gemm", "a", a, (batch - 1) * strideA + m * k, why);
      fits("gemm", "b", b, (batch - 1) * strideB + k * n, why);
    }
  }
  return { batch, strideA, strideB, strideC };
}

/**
 * The axis geometry of gather and scatterAdd: `source` (gather's x, scatterAdd's out) holds
 * outer·n·inner elements, `indexed` (the index, and gather's out or scatterAdd's src) outer·m·inner.
 *
 * @example
 * ```ts
 * checkAxis("gather", { outer: 1, n: 5, m: 3, inner: 1 }, [["x", x]], [["index", index], ["out", out]]);
 * ```
 */
export function checkAxis(
  fn: string,
  g: AxisGeometry,
  source: [string, CudaStorage][],
  indexed: [string, CudaStorage][],
): void {
  const outer = count(fn, "outer", g.outer), n = count(fn, "n", g.n);
  const m = count(fn, "m", g.m), inner = count(fn, "inner", g.inner);
  const why = () => `outer=${outer}, n=${n}, m=${m}, inner=${inner}`;
  const total = outer * m * inner;
  if (total === 0) return;
  for (const [what, s] of source) fits(fn, what, s, outer * n * inner, why);
  for (const [what, s] of indexed) fits(fn, what, s, total, why);
}

/** Element counts of a conv2d geometry's four tensors. */
export interface ConvSizes {
  /** Elements of the input (and of dx): n·c·h·w. */
  x: number;
  /** Elements of the weight (and of dw): k·(c/groups)·kh·kw. */
  w: number;
  /** Elements of the output (and of dy): n·k·oh·ow. */
  y: number;
  /** Elements of the bias: k. */
  bias: number;
}

/**
 * A conv2d geometry's fields as int32 (the C struct's), and its tensors' element counts; the native
 * side checks that the fields agree with each other (output size, groups).
 *
 * @example
 * ```ts
 * const sizes = convSizes("conv2d", geom);
 * fits("conv2d", "x", x, sizes.x, "the geometry");
 * ```
 */
export function convSizes(fn: string, g: Conv2dGeometry): ConvSizes {
  const fields = [
    ...["n", "c", "h", "w", "k", "kh", "kw", "oh", "ow"] as const,
    ...["strideH", "strideW", "padH", "padW", "dilationH", "dilationW", "groups"] as const,
  ];
  for (const f of fields) count(fn, `geometry.${f}`, g[f], INT32_MAX);
  if (g.groups < 1 || g.c % g.groups !== 0) {
    throw new Error(`cuda: ${fn}: geometry.groups must be >= 1 and divide c=${g.c}, got ${g.groups}`);
  }
  return { x: g.n * g.c * g.h * g.w, w: g.k * (g.c / g.groups) * g.kh * g.kw, y: g.n * g.k * g.oh * g.ow, bias: g.k };
}

/**
 * A pool2d geometry's fields as int32 and its tensors' element counts: x n·c·h·w, y (and indices) n·c·oh·ow.
 *
 * @example
 * ```ts
 * const { x, y } = poolSizes("maxPool2d", geom);
 * ```
 */
export function poolSizes(fn: string, g: Pool2dGeometry): { x: number; y: number } {
  const fields = ["n", "c", "h", "w", "kh", "kw", "oh", "ow", "strideH", "strideW", "padH", "padW"] as const;
  for (const f of fields) count(fn, `geometry.${f}`, g[f], INT32_MAX);
  return { x: g.n * g.c * g.h * g.w, y: g.n * g.c * g.oh * g.ow };
}

/** The text of a geometry for messages ("n=2 c=3 ..."). */
export function describeGeometry(g: Conv2dGeometry | Pool2dGeometry): string {
  return Object.entries(g).map(([k, v]) => `${k}=${v}`).join(" ");
}
