/**
 * Pixel transforms: torchvision's `ToTensor()` and `Normalize(mean, std)`, rounded as
 * PyTorch rounds them in float32.
 *
 * A byte has only 256 values, so a transform is a 256-entry lookup table; turning a
 * batch of bytes into floats is one table lookup per pixel.
 *
 * @module
 */
import { type Tensor, tensor } from "../tensor/mod.ts";

/** A per-pixel map from bytes to float32: `fround(fround(fround(b / 255) - mean) / std)`. */
export interface PixelTransform {
  /** The mean subtracted (after scaling to [0, 1]); 0 for plain `toTensor()`. */
  readonly mean: number;
  /** The standard deviation divided by; 1 for plain `toTensor()`. */
  readonly std: number;
  /** `table[b]` is the float32 value byte `b` becomes. */
  readonly table: Float32Array;
}

/**
 * Like torchvision's `ToTensor()`: byte `b` becomes the float32 `b / 255`.
 *
 * @example
 * ```ts
 * import { toTensor } from "./transforms.ts";
 * toTensor().table[255]; // 1
 * ```
 */
export function toTensor(): PixelTransform {
  return normalize(0, 1);
}

/**
 * Like torchvision's `Compose([ToTensor(), Normalize((mean,), (std,))])`:
 * `y = fround(fround(x - fround(mean)) / fround(std))` with `x = fround(b / 255)`.
 *
 * @example
 * ```ts
 * import { normalize } from "./transforms.ts";
 * const t = normalize(0.1307, 0.3081);
 * t.table[0]; // -0.42421296...
 * ```
 */
export function normalize(mean: number, std: number): PixelTransform {
  if (typeof mean !== "number" || !Number.isFinite(mean)) {
    throw new Error(`normalize: mean must be a finite number, got ${String(mean)}`);
  }
  if (typeof std !== "number" || !Number.isFinite(std) || Math.fround(std) === 0) {
    throw new Error(`normalize: std must be a finite non-zero number, got ${String(std)}`);
  }
  const m = Math.fround(mean);
  const s = Math.fround(std);
  const table = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const x = Math.fround(b / 255);
    table[b] = Math.fround(Math.fround(x - m) / s);
  }
  return { mean, std, table };
}

/**
 * Maps `bytes` through `transform` into `out` (a new Float32Array when not given).
 *
 * @example
 * ```ts
 * import { applyTransform, toTensor } from "./transforms.ts";
 * applyTransform(new Uint8Array([0, 255]), toTensor()); // Float32Array [0, 1]
 * ```
 */
export function applyTransform(
  bytes: Uint8Array,
  transform: PixelTransform = toTensor(),
  out: Float32Array = new Float32Array(bytes.length),
): Float32Array {
  if (out.length !== bytes.length) {
    throw new Error(
      `applyTransform: out has ${out.length} elements but bytes has ${bytes.length}; ` +
        `expected equal lengths`,
    );
  }
  const table = transform.table;
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]];
  return out;
}

/**
 * Turns image bytes into a float32 tensor of the given shape through `transform`.
 *
 * @example
 * ```ts
 * import { imagesToTensor, normalize } from "./transforms.ts";
 * const x = imagesToTensor(new Uint8Array(784), [1, 1, 28, 28], normalize(0.1307, 0.3081));
 * ```
 */
export function imagesToTensor(
  bytes: Uint8Array,
  shape: number[],
  transform: PixelTransform = toTensor(),
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== bytes.length) {
    throw new Error(
      `imagesToTensor: shape [${shape.join(", ")}] holds ${size} elements but bytes has ` +
        `${bytes.length}; expected equal`,
    );
  }
  return tensor(applyTransform(bytes, transform), shape, { dtype: "float32" });
}
