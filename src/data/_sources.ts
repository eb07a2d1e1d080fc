/**
 * What a `DataLoader` reads from, resolved once: an image dataset (bytes), a `TensorDataset`
 * (rows gathered on the device), or any other `Dataset` (items fetched and collated per step).
 * A chain of `Subset`s is folded into one index list over the dataset at its root.
 *
 * @module
 */
import { fmtShape, keep, noGrad, stack, type Tensor, tensor, TensorBase, tidy } from "../tensor/mod.ts";
import type { Device } from "../backend/backend.ts";
import { type Dataset, type ImageDataset, isImageDataset } from "./dataset.ts";
import { Subset } from "./subset.ts";
import { TensorDataset } from "./tensor_dataset.ts";

/** A loader's dataset, resolved. `indices` (over `root`) is null when every item is used in order. */
export type Source =
  | { kind: "image"; root: ImageDataset; indices: Int32Array | null }
  | { kind: "tensors"; root: TensorDataset; indices: Int32Array | null }
  | { kind: "items"; root: Dataset<unknown>; indices: null };

/** Folds `Subset`s into one index list; the root decides the kind. */
export function resolveSource(dataset: ImageDataset | Dataset<unknown>): Source {
  if (dataset instanceof Subset) {
    const inner = resolveSource(dataset.dataset);
    if (inner.kind === "items") return { kind: "items", root: dataset, indices: null };
    const indices = inner.indices === null ? dataset.indices : dataset.indices.map((i) => inner.indices![i]);
    return { ...inner, indices };
  }
  if (isImageDataset(dataset)) return { kind: "image", root: dataset, indices: null };
  if (dataset instanceof TensorDataset) return { kind: "tensors", root: dataset, indices: null };
  return { kind: "items", root: dataset, indices: null };
}

/**
 * The rows of a `TensorDataset` (at `indices`, when given) as tensors on `device`, without autograd.
 * `owned[k]` says whether tensor `k` is a copy the loader made (and frees) or the dataset's own.
 */
export function residentRows(
  source: TensorDataset,
  indices: Int32Array | null,
  device: Device,
): { tensors: Tensor[]; owned: boolean[] } {
  return noGrad(() => {
    const tensors: Tensor[] = [], owned: boolean[] = [];
    for (const t of source.tensors) {
      let out = t.to(device);
      if (indices !== null) {
        const idx = tensor(indices, [indices.length], { dtype: "int32", device });
        const picked = out.indexSelect(0, idx);
        idx.dispose();
        if (out !== t) out.dispose();
        out = picked;
      }
      // A copy outlives the epoch (and any tidy around it) until the loader's dispose().
      tensors.push(out === t ? t : keep(out));
      owned.push(out !== t);
    }
    return { tensors, owned };
  });
}

/**
 * PyTorch's `default_collate` for items that are arrays of tensors and integers: position `k` of
 * every item stacked into one tensor (tensors: `stack`, integers: an int32 `[B]` tensor), on `device`.
 * Tensors that `get` created and the batch does not hold are freed.
 */
export function collateItems(dataset: Dataset<unknown>, indices: ArrayLike<number>, device: Device): Tensor[] {
  return tidy(() => {
    const items: unknown[][] = [];
    for (let b = 0; b < indices.length; b++) {
      const item = dataset.get(indices[b]);
      if (!Array.isArray(item) || item.length === 0) {
        throw new Error(
          `DataLoader: dataset.get(${indices[b]}) returned ${describe(item)}; expected a non-empty array ` +
            `of tensors and integers, like [image, label]`,
        );
      }
      if (items.length > 0 && item.length !== items[0].length) {
        throw new Error(
          `DataLoader: dataset.get(${indices[b]}) returned ${item.length} values but dataset.get(${indices[0]}) ` +
            `returned ${items[0].length}; expected items of one length`,
        );
      }
      items.push(item);
    }
    const out: Tensor[] = [];
    for (let k = 0; k < items[0].length; k++) {
      const column = items.map((item) => item[k]);
      if (column.every((v) => v instanceof TensorBase)) {
        out.push(stackColumn(column as Tensor[], k, indices, device));
      } else if (column.every((v) => typeof v === "number")) {
        out.push(labelColumn(column as number[], k, indices, device));
      } else {
        const b = column.findIndex((v) => !(v instanceof TensorBase) && typeof v !== "number");
        const at = b >= 0 ? b : column.findIndex((v) => typeof v !== typeof column[0]);
        throw new Error(
          `DataLoader: value ${k} of dataset.get(${indices[at]}) is ${describe(column[at])} but value ${k} of ` +
            `dataset.get(${indices[0]}) is ${
              describe(column[0])
            }; expected tensors in every item or integers in every item`,
        );
      }
    }
    return out;
  });
}

function stackColumn(column: Tensor[], k: number, indices: ArrayLike<number>, device: Device): Tensor {
  const first = column[0];
  for (const [b, t] of column.entries()) {
    if (t.shape.length !== first.shape.length || t.shape.some((s, d) => s !== first.shape[d])) {
      throw new Error(
        `DataLoader: value ${k} of dataset.get(${indices[b]}) has shape ${fmtShape(t.shape)} but value ${k} of ` +
          `dataset.get(${indices[0]}) has ${fmtShape(first.shape)}; expected equal shapes to stack`,
      );
    }
    if (t.device !== first.device || t.dtype !== first.dtype) {
      throw new Error(
        `DataLoader: value ${k} of dataset.get(${indices[b]}) is ${t.dtype} on ${t.device.type} but value ${k} ` +
          `of dataset.get(${indices[0]}) is ${first.dtype} on ${first.device.type}; expected one dtype and device`,
      );
    }
  }
  return noGrad(() => stack(column, 0).to(device));
}

function labelColumn(column: number[], k: number, indices: ArrayLike<number>, device: Device): Tensor {
  const out = new Int32Array(column.length);
  for (const [b, v] of column.entries()) {
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
      throw new Error(
        `DataLoader: value ${k} of dataset.get(${indices[b]}) is ${v}; numbers in items are class labels ` +
          `(integers, batched as int32); give other values as tensors`,
      );
    }
    out[b] = v;
  }
  return tensor(out, [out.length], { dtype: "int32", device });
}

function describe(v: unknown): string {
  if (v instanceof TensorBase) return `a tensor of shape ${fmtShape(v.shape)}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === "number" ? `the number ${v}` : typeof v === "string" ? JSON.stringify(v) : String(v);
}
