/**
 * Saving and loading state dicts (safetensors format).
 *
 * @example
 * ```ts
 * import { load, save } from "./mod.ts";
 * import { tensor } from "../tensor/mod.ts";
 * await save({ w: tensor([1, 2], [2]) }, "model.safetensors");
 * const dict = await load("model.safetensors");
 * ```
 *
 * @module
 */
export {
  load,
  loadBytes,
  parseSafetensors,
  type Safetensors,
  save,
  saveBytes,
  type SaveOptions,
} from "./safetensors.ts";
