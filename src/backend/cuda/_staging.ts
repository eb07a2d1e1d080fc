/**
 * Host-side staging for the CUDA backend's calls: shapes and strides as int64 tables, geometry
 * structs as Int32Arrays in the C struct's field order, pointer tables for the multi-tensor
 * optimizer steps. The arrays are allocated once and reused, since the C side reads them only
 * while the call runs.
 *
 * @module
 */
import type { Conv2dGeometry, Pool2dGeometry } from "../backend.ts";
import type { CudaStorage } from "./_storage.ts";

/** The native library's largest rank (CN_MAX_RANK). */
export const MAX_RANK = 8;

/** Reusable staging arrays of one backend. */
export class Staging {
  /** The shape of the last packed layout. */
  readonly shape: BigInt64Array = new BigInt64Array(MAX_RANK);
  /** Up to three operands' strides of the last packed layout. */
  readonly strides: [BigInt64Array, BigInt64Array, BigInt64Array] = [
    new BigInt64Array(MAX_RANK),
    new BigInt64Array(MAX_RANK),
    new BigInt64Array(MAX_RANK),
  ];
  readonly #conv = new Int32Array(16); // cn_conv2d_geom
  readonly #pool = new Int32Array(12); // cn_pool2d_geom
  #tables = new BigUint64Array(0); // five pointer tables of #cap entries
  #sizes = new BigInt64Array(0);
  #cap = 0;

  /**
   * Packs a shape and one stride array per operand into the int64 tables; returns the rank. A rank
   * above 8 or a stride array of another length is an Error naming `fn` and the operand.
   */
  layout(fn: string, shape: readonly number[], operands: [string, readonly number[]][]): number {
    const rank = shape.length;
    if (rank > MAX_RANK) {
      throw new Error(`cuda: ${fn}: rank ${rank} (shape [${shape.join(", ")}]) is too high; expected at most 8`);
    }
    for (let d = 0; d < rank; d++) this.shape[d] = BigInt(shape[d]);
    operands.forEach(([name, strides], p) => {
      if (strides.length !== rank) {
        throw new Error(
          `cuda: ${fn}: ${name} has ${strides.length} entries for a shape of rank ${rank} ([${shape.join(", ")}])`,
        );
      }
      for (let d = 0; d < rank; d++) this.strides[p][d] = BigInt(strides[d]);
    });
    return rank;
  }

  /** cn_conv2d_geom, field by field. */
  conv(g: Conv2dGeometry): Int32Array {
    const c = this.#conv;
    c[0] = g.n, c[1] = g.c, c[2] = g.h, c[3] = g.w;
    c[4] = g.k, c[5] = g.kh, c[6] = g.kw;
    c[7] = g.oh, c[8] = g.ow;
    c[9] = g.strideH, c[10] = g.strideW;
    c[11] = g.padH, c[12] = g.padW;
    c[13] = g.dilationH, c[14] = g.dilationW;
    c[15] = g.groups;
    return c;
  }

  /** cn_pool2d_geom, field by field. */
  pool(g: Pool2dGeometry): Int32Array {
    const p = this.#pool;
    p[0] = g.n, p[1] = g.c, p[2] = g.h, p[3] = g.w;
    p[4] = g.kh, p[5] = g.kw;
    p[6] = g.oh, p[7] = g.ow;
    p[8] = g.strideH, p[9] = g.strideW;
    p[10] = g.padH, p[11] = g.padW;
    return p;
  }

  /**
   * Pointer tables (slot i for list i) of the lists' device pointers, each taken with `pointer`
   * (which also checks the storage); null lists stay null. The sizes go to {@linkcode Staging.sizes}.
   */
  tables(
    fn: string,
    lists: (CudaStorage[] | null)[],
    sizes: number[],
    pointer: (s: CudaStorage, fn: string) => unknown,
  ): (BigUint64Array | null)[] {
    const count = sizes.length;
    if (count > this.#cap) {
      this.#cap = Math.max(count, 2 * this.#cap, 16);
      this.#tables = new BigUint64Array(5 * this.#cap);
      this.#sizes = new BigInt64Array(this.#cap);
    }
    const out = lists.map((list, slot) => {
      if (list === null) return null;
      if (list.length !== count) {
        throw new Error(`cuda: ${fn}: ${list.length} tensors in one list but ${count} sizes; expected equal counts`);
      }
      const t = this.#tables.subarray(slot * this.#cap, slot * this.#cap + count);
      for (let i = 0; i < count; i++) {
        const s = list[i];
        pointer(s, `${fn} (tensor ${i})`); // optimizer steps read and update every list
        const size = sizes[i];
        if (!Number.isSafeInteger(size) || size < 0) {
          throw new Error(`cuda: ${fn}: sizes[${i}] must be a non-negative integer, got ${size}`);
        }
        if (s.dtype !== "float32" || s.size < size) {
          throw new Error(
            `cuda: ${fn}: tensor ${i} of list ${slot} holds ${s.size} ${s.dtype} elements; ` +
              `expected at least sizes[${i}] = ${size} float32 elements`,
          );
        }
        t[i] = s.addr;
      }
      return t;
    });
    for (let i = 0; i < count; i++) this.#sizes[i] = BigInt(sizes[i]);
    return out;
  }

  /** The sizes table filled by the last {@linkcode Staging.tables} call. */
  get sizes(): BigInt64Array {
    return this.#sizes;
  }
}
