// Generated from native/ops.def by scripts/gen_ops_table.ts: do not edit (tests/ops_table_test.ts checks it).

/**
 * The op codes shared by C, CUDA and TypeScript (one table: native/ops.def), and each op's formula
 * for the TypeScript backends (float32 rounding happens on store).
 *
 * @module
 */

/** Unary elementwise ops. */
export type UnaryOp = "neg" | "exp" | "log" | "relu" | "sqrt" | "abs" | "sigmoid" | "tanh";
/** Unary op codes. */
export const UNARY_OPS: Readonly<Record<UnaryOp, number>> = {
  neg: 0,
  exp: 1,
  log: 2,
  relu: 3,
  sqrt: 4,
  abs: 5,
  sigmoid: 6,
  tanh: 7,
};

/** Binary elementwise ops (broadcasting); comparisons write int32 0/1. */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "eq" | "ne" | "gt" | "lt" | "ge" | "le";
/** Binary op codes. */
export const BINARY_OPS: Readonly<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  eq: 4,
  ne: 5,
  gt: 6,
  lt: 7,
  ge: 8,
  le: 9,
};

/** Ops between a tensor and a number `s` (`rsub` is `s - x`, `rdiv` is `s / x`); comparisons write int32 0/1. */
export type ScalarOp =
  | "add"
  | "sub"
  | "rsub"
  | "mul"
  | "div"
  | "rdiv"
  | "pow"
  | "max"
  | "min"
  | "eq"
  | "ne"
  | "gt"
  | "lt"
  | "ge"
  | "le";
/** Tensor-number op codes. */
export const SCALAR_OPS: Readonly<Record<ScalarOp, number>> = {
  add: 0,
  sub: 1,
  rsub: 2,
  mul: 3,
  div: 4,
  rdiv: 5,
  pow: 6,
  max: 7,
  min: 8,
  eq: 9,
  ne: 10,
  gt: 11,
  lt: 12,
  ge: 13,
  le: 14,
};

/** Reductions over the middle axis of [outer, n, inner]. */
export type ReduceOp = "sum" | "max" | "argmax" | "min" | "argmin";
/** Reduction op codes. */
export const REDUCE_OPS: Readonly<Record<ReduceOp, number>> = { sum: 0, max: 1, argmax: 2, min: 3, argmin: 4 };

/** Each unary op on one number. */
export const UNARY_FNS: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  relu: (x) => x > 0 || x !== x ? x : 0,
  sqrt: (x) => Math.sqrt(x),
  abs: (x) => Math.abs(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
};

/** Each binary op on two numbers. */
export const BINARY_FNS: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  eq: (a, b) => a === b ? 1 : 0,
  ne: (a, b) => a !== b ? 1 : 0,
  gt: (a, b) => a > b ? 1 : 0,
  lt: (a, b) => a < b ? 1 : 0,
  ge: (a, b) => a >= b ? 1 : 0,
  le: (a, b) => a <= b ? 1 : 0,
};

/** Each tensor-number op (`x` the element, `s` the number). */
export const SCALAR_FNS: Record<ScalarOp, (x: number, s: number) => number> = {
  add: (x, s) => x + s,
  sub: (x, s) => x - s,
  rsub: (x, s) => s - x,
  mul: (x, s) => x * s,
  div: (x, s) => x / s,
  rdiv: (x, s) => s / x,
  pow: (x, s) => x ** s,
  max: (x, s) => x > s || x !== x ? x : s,
  min: (x, s) => x < s || x !== x ? x : s,
  eq: (x, s) => x === s ? 1 : 0,
  ne: (x, s) => x !== s ? 1 : 0,
  gt: (x, s) => x > s ? 1 : 0,
  lt: (x, s) => x < s ? 1 : 0,
  ge: (x, s) => x >= s ? 1 : 0,
  le: (x, s) => x <= s ? 1 : 0,
};

/** The binary and scalar ops that compare: they write int32 0/1 whatever the operands' dtype. */
export const COMPARISONS: ReadonlySet<string> = new Set(["eq", "ne", "gt", "lt", "ge", "le"]);

/** Element type codes of native storage (float64 has none: it lives on the TypeScript backends only). */
export const DTYPE_CODES: Readonly<Record<"float32" | "int32" | "int64", number>> = { float32: 0, int32: 1, int64: 2 };

/** Distribution codes of the native random fill. */
export const DISTRIBUTION_CODES: Readonly<Record<"uniform" | "normal" | "bernoulli", number>> = {
  uniform: 0,
  normal: 1,
  bernoulli: 2,
};

/** Pooling kind codes of the native pooling kernels. */
export const POOL_KIND_CODES: Readonly<Record<"max" | "avg" | "sum", number>> = { max: 0, avg: 1, sum: 2 };

/** The status codes every native function returns (0 = ok). */
export const STATUS_CODES: Readonly<Record<"OK" | "INVALID" | "OOM" | "CUDA" | "NO_DEVICE" | "KERNEL", number>> = {
  OK: 0,
  INVALID: 1,
  OOM: 2,
  CUDA: 3,
  NO_DEVICE: 4,
  KERNEL: 5,
};
