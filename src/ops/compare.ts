/**
 * Comparisons: `eq ne gt lt ge le` against a tensor (broadcasting) or a number. They give int32
 * 0/1 (PyTorch gives bool) and have no gradient; `where` takes their result.
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { binaryRaw, scalarRaw } from "./_kernels.ts";

type Comparison = "eq" | "ne" | "gt" | "lt" | "ge" | "le";

function compare<T extends TensorBase>(op: Comparison, a: T, b: TensorBase | number): T {
  return typeof b === "number" ? scalarRaw(op, a, b) : binaryRaw(op, a, b);
}

/**
 * 1 where `a == b`, else 0, as int32 (broadcasting like `add`).
 *
 * @example
 * ```ts
 * import { eq, tensor } from "@convnet/convnet";
 * eq(tensor([1, 2, 3]), tensor([1, 0, 3])).sum().item(); // 2
 * ```
 */
export function eq<T extends TensorBase>(a: T, b: TensorBase | number): T {
  return compare("eq", a, b);
}

/**
 * 1 where `a != b`, else 0, as int32.
 *
 * @example
 * ```ts
 * import { ne, tensor } from "@convnet/convnet";
 * ne(tensor([1, 2, 3]), 2).toArray(); // Int32Array [1, 0, 1]
 * ```
 */
export function ne<T extends TensorBase>(a: T, b: TensorBase | number): T {
  return compare("ne", a, b);
}

/**
 * 1 where `a > b`, else 0, as int32.
 *
 * @example
 * ```ts
 * import { gt, tensor } from "@convnet/convnet";
 * gt(tensor([1, 2, 3]), 2).toArray(); // Int32Array [0, 0, 1]
 * ```
 */
export function gt<T extends TensorBase>(a: T, b: TensorBase | number): T {
  return compare("gt", a, b);
}

/**
 * 1 where `a < b`, else 0, as int32.
 *
 * @example
 * ```ts
 * import { lt, tensor } from "@convnet/convnet";
 * lt(tensor([1, 2, 3]), 2).toArray(); // Int32Array [1, 0, 0]
 * ```
 */
export function lt<T extends TensorBase>(a: T, b: TensorBase | number): T {
  return compare("lt", a, b);
}

/**
 * 1 where `a >= b`, else 0, as int32.
 *
 * @example
 * ```ts
 * import { ge, tensor } from "@convnet/convnet";
 * ge(tensor([1, 2, 3]), 2).toArray(); // Int32Array [0, 1, 1]
 * ```
 */
export function ge<T extends TensorBase>(a: T, b: TensorBase | number): T {
  return compare("ge", a, b);
}

/**
 * 1 where `a <= b`, else 0, as int32.
 *
 * @example
 * ```ts
 * import { le, tensor } from "@convnet/convnet";
 * le(tensor([1, 2, 3]), 2).toArray(); // Int32Array [1, 1, 0]
 * ```
 */
export function le<T extends TensorBase>(a: T, b: TensorBase | number): T {
  return compare("le", a, b);
}
