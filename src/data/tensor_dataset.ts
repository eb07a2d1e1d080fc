/**
 * `TensorDataset`: PyTorch's dataset of tensors that share their first dimension.
 *
 * @module
 */
import { fmtShape, type Tensor, TensorBase } from "../tensor/mod.ts";
import type { Dataset } from "./dataset.ts";

/**
 * Tensors whose first dimensions are equal, seen as a dataset: item `i` is the tuple of their
 * rows `i` (`tensor.select(0, i)`, a copy), as PyTorch's `TensorDataset(*tensors)`. The
 * `DataLoader` batches one by gathering rows (`indexSelect`), not item by item.
 *
 * @example
 * ```ts
 * import { data, Tensor, tensor } from "@convnet/convnet";
 * const x = Tensor.randn([6, 3]);
 * const y = tensor([0, 1, 0, 1, 1, 0], [6], { dtype: "int32" });
 * const ds = new data.TensorDataset(x, y);
 * const [row, label] = ds.get(2); // [3] and a rank-0 int32 tensor
 * for (const [xb, yb] of new data.DataLoader(ds, { batchSize: 4 })) {
 *   // xb: [4, 3] then [2, 3]; yb: [4] then [2]
 * }
 * ```
 */
export class TensorDataset<Ts extends Tensor[] = Tensor[]> implements Dataset<Ts> {
  /** The tensors, as given (not copied). */
  readonly tensors: Ts;

  /** Checks that there is at least one tensor and that all have the same first dimension. */
  constructor(...tensors: Ts) {
    if (tensors.length === 0) {
      throw new Error("TensorDataset: expected at least one tensor, got none");
    }
    for (const [i, t] of tensors.entries()) {
      if (!(t instanceof TensorBase)) {
        throw new Error(`TensorDataset: tensors[${i}] must be a Tensor, got ${String(t)}`);
      }
      if (t.rank === 0) {
        throw new Error(`TensorDataset: tensors[${i}] is a scalar (shape []); expected a first dimension to index`);
      }
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new Error(
          `TensorDataset: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ` +
            `${fmtShape(tensors[0].shape)}; expected equal first dimensions (the number of items)`,
        );
      }
    }
    this.tensors = tensors;
  }

  /** The number of items: the tensors' first dimension. */
  get length(): number {
    return this.tensors[0].shape[0];
  }

  /** Row `index` of every tensor. */
  get(index: number): Ts {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(
        `TensorDataset.get: index ${index} is out of range for ${this.length} items; ` +
          `expected an integer in [0, ${this.length - 1}]`,
      );
    }
    return this.tensors.map((t) => t.select(0, index)) as Ts;
  }
}
